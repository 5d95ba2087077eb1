#include "agent/containerizer/oci/oci_spec.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/rlimits.hpp"
#include "common/task_env.hpp"

namespace tutti::agent::oci {

namespace {

using json = nlohmann::json;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool allDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10;
}

constexpr size_t kMaxAccountFileBytes = 4 << 20;

// Opens <rootfs>/<path> resolving every symlink inside the root filesystem
// (openat2 with RESOLVE_IN_ROOT: an image's "/etc/passwd -> /dev/zero" or
// "etc -> /root" cannot reach the host's files). -1 when that is not a
// readable regular file.
int openInRoot(const std::string& rootfs, const std::string& path) {
  int root = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return -1;
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how)));
  if (fd < 0 && errno == ENOSYS) {
    // Kernels before 5.6: no symlink at all on the way.
    fd = ::openat(root, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    std::string dir = path.substr(0, path.rfind('/'));
    struct stat dst;
    if (fd >= 0 && (::fstatat(root, dir.c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISDIR(dst.st_mode))) {
      ::close(fd);
      fd = -1;
    }
  }
  ::close(root);
  struct stat st;
  if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
                  static_cast<size_t>(st.st_size) > kMaxAccountFileBytes)) {
    ::close(fd);
    fd = -1;
  }
  return fd;
}

// Lines of the image's passwd/group file as fields; none when the file is
// missing, not a regular file or larger than kMaxAccountFileBytes.
std::vector<std::vector<std::string>> readColonFile(const std::string& rootfs,
                                                    const std::string& path) {
  std::vector<std::vector<std::string>> out;
  int fd = openInRoot(rootfs, path);
  if (fd < 0) return out;
  std::string text;
  char buf[65536];
  ssize_t n;
  while (text.size() <= kMaxAccountFileBytes && (n = ::read(fd, buf, sizeof buf)) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ':')) fields.push_back(f);
    out.push_back(std::move(fields));
  }
  return out;
}

// The default seccomp filter: everything is allowed except what lets a
// process out of its container or into the kernel's administration (as
// Docker's default profile: kernel modules and kexec, new user and other
// namespaces, keyrings, bpf, perf, ptrace of other processes' memory, the
// clock, swap, reboot). clone3 answers ENOSYS so libcs fall back to clone,
// whose namespace flags can be checked.
json seccompProfile() {
  const char* denied[] = {"acct", "add_key", "bpf", "clock_adjtime", "clock_settime",
                          "create_module", "delete_module", "finit_module", "fsconfig",
                          "fsmount", "fsopen", "fspick", "get_kernel_syms",
                          "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
                          "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
                          "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
                          "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
                          "process_vm_readv", "process_vm_writev", "query_module", "quotactl",
                          "reboot", "request_key", "set_mempolicy", "setns", "settimeofday",
                          "swapoff", "swapon", "_sysctl", "syslog", "umount", "umount2",
                          "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old"};
  json syscalls = json::array();
  json names = json::array();
  for (const char* n : denied) names.push_back(n);
  syscalls.push_back({{"names", names}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", EPERM}});
  syscalls.push_back(
      {{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  // clone with any namespace flag: one rule per flag (the rules of a
  // syscall are alternatives, the conditions of a rule all hold).
  for (uint64_t flag : {0x00020000ull /*NEWNS*/, 0x02000000ull /*NEWCGROUP*/,
                        0x04000000ull /*NEWUTS*/, 0x08000000ull /*NEWIPC*/,
                        0x10000000ull /*NEWUSER*/, 0x20000000ull /*NEWPID*/,
                        0x40000000ull /*NEWNET*/}) {
    syscalls.push_back({{"names", {"clone"}},
                        {"action", "SCMP_ACT_ERRNO"},
                        {"errnoRet", EPERM},
                        {"args", {{{"index", 0},
                                   {"value", flag},
                                   {"valueTwo", flag},
                                   {"op", "SCMP_CMP_MASKED_EQ"}}}}});
  }
  json arches = json::array();
#if defined(__x86_64__)
  arches = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
#elif defined(__aarch64__)
  arches = {"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"};
#endif
  return json{{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", arches},
              {"syscalls", syscalls}};
}

}  // namespace

Result<ProcessUser> resolveUser(const std::string& rootfs, const std::string& user) {
  ProcessUser out;
  if (user.empty() || user == "root" || user == "0") return out;
  std::string name = user.substr(0, user.find(':'));
  std::string group = user.find(':') == std::string::npos ? "" : user.substr(user.find(':') + 1);
  auto passwd = readColonFile(rootfs, "etc/passwd");
  bool found = false;
  for (const auto& f : passwd) {
    if (f.size() < 4) continue;
    if (f[0] == name || (allDigits(name) && f[2] == name)) {
      if (!allDigits(f[2]) || !allDigits(f[3])) continue;
      out.uid = static_cast<uint32_t>(std::stoul(f[2]));
      out.gid = static_cast<uint32_t>(std::stoul(f[3]));
      found = true;
      break;
    }
  }
  if (!found) {
    if (!allDigits(name)) {
      return Status::InvalidArgument("user '" + name + "' is not in the image's /etc/passwd");
    }
    out.uid = out.gid = static_cast<uint32_t>(std::stoul(name));
  }
  auto groups = readColonFile(rootfs, "etc/group");
  if (!group.empty()) {
    bool g = false;
    for (const auto& f : groups) {
      if (f.size() >= 3 && (f[0] == group || (allDigits(group) && f[2] == group)) &&
          allDigits(f[2])) {
        out.gid = static_cast<uint32_t>(std::stoul(f[2]));
        g = true;
        break;
      }
    }
    if (!g) {
      if (!allDigits(group)) {
        return Status::InvalidArgument("group '" + group + "' is not in the image's /etc/group");
      }
      out.gid = static_cast<uint32_t>(std::stoul(group));
    }
  }
  // Supplementary groups that list the user by name.
  for (const auto& f : groups) {
    if (f.size() < 4 || !allDigits(f[2])) continue;
    std::stringstream members(f[3]);
    std::string m;
    while (std::getline(members, m, ',')) {
      uint32_t gid = static_cast<uint32_t>(std::stoul(f[2]));
      if (m == name && gid != out.gid) out.additionalGids.push_back(gid);
    }
  }
  return out;
}

Result<ContainerProcess> containerProcess(const TaskInfo& task, const images::ImageConfig& image,
                                          const std::string& hostname) {
  ContainerProcess p;
  const CommandInfo* cmd = task.command ? &*task.command : nullptr;
  bool taskCommand = cmd && !cmd->value.empty();
  if (taskCommand) {
    p.args = commandArgv(*cmd);
  } else {
    p.args = image.entrypoint;
    bool taskArgs = cmd && !cmd->arguments.empty();
    const auto& rest = taskArgs ? cmd->arguments : image.cmd;
    p.args.insert(p.args.end(), rest.begin(), rest.end());
    if (p.args.empty()) {
      return Status::InvalidArgument(
          "the task has no command and its image no Entrypoint or Cmd to run");
    }
  }
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto set = [&](const std::string& k, const std::string& v) {
    if (!env.count(k)) order.push_back(k);
    env[k] = v;
  };
  set("PATH", kDefaultPath);
  for (const auto& kv : image.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& [k, v] : taskEnvironment(task, kSandboxMount, hostname)) set(k, v);
  if (cmd) {
    for (const auto& v : cmd->environment) set(v.name, v.value);
  }
  for (const auto& k : order) p.env.push_back(k + "=" + env[k]);
  p.cwd = taskCommand ? kSandboxMount : (image.workingDir.empty() ? "/" : image.workingDir);
  if (p.cwd[0] != '/') p.cwd = "/" + p.cwd;
  p.user = cmd && cmd->user && !cmd->user->empty() ? *cmd->user : image.user;
  return p;
}

std::string makeConfig(const SpecOptions& o) {
  // Docker's default capability set (enough for ordinary programs, none of
  // the ones that administer the host) without CAP_NET_RAW: containers
  // share the host's network here, where raw sockets could read and forge
  // the host's traffic.
  const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_SETGID",       "CAP_SETUID",     "CAP_SETFCAP",
      "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
      "CAP_AUDIT_WRITE"};
  json user{{"uid", o.user.uid}, {"gid", o.user.gid}};
  if (!o.user.additionalGids.empty()) user["additionalGids"] = o.user.additionalGids;
  json rlimits = json::array();
  bool nofile = false;
  for (const auto& l : o.rlimits) {
    const uint64_t kInfinity = ~0ull;
    rlimits.push_back({{"type", ociRlimitName(l.type)},
                       {"soft", l.soft.value_or(kInfinity)},
                       {"hard", l.hard.value_or(kInfinity)}});
    nofile = nofile || l.type == "RLMT_NOFILE";
  }
  if (!nofile) {
    // As a plain process task does (and as Mesos's containers do), the
    // container inherits the agent's open-file limit, not runc's 1024.
    struct rlimit own {};
    if (::getrlimit(RLIMIT_NOFILE, &own) == 0) {
      auto value = [](rlim_t v) -> uint64_t { return v == RLIM_INFINITY ? ~0ull : v; };
      rlimits.push_back(
          {{"type", "RLIMIT_NOFILE"}, {"soft", value(own.rlim_cur)}, {"hard", value(own.rlim_max)}});
    }
  }
  json process{{"terminal", false},
               {"user", user},
               {"args", o.process.args},
               {"env", o.process.env},
               {"cwd", o.process.cwd},
               {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
               {"rlimits", rlimits},
               {"noNewPrivileges", true}};
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", kSandboxMount},
       {"type", "bind"},
       {"source", o.sandbox},
       {"options", {"rbind", "rw"}}},
  });
  for (const auto& [host, path] : o.volumes) {
    mounts.push_back({{"destination", std::string(kSandboxMount) + "/" + path},
                      {"type", "bind"},
                      {"source", host},
                      {"options", {"rbind", "rw"}}});
  }
  // Host networking (no network namespace, as Mesos without a CNI
  // network): the container resolves names as the host does.
  for (const char* f : {"/etc/resolv.conf", "/etc/hosts"}) {
    if (::access(f, R_OK) == 0) {
      mounts.push_back(
          {{"destination", f}, {"type", "bind"}, {"source", f}, {"options", {"rbind", "ro"}}});
    }
  }
  json namespaces = json::array({{{"type", "ipc"}}, {{"type", "mount"}}});
  if (o.pidNamespace) namespaces.push_back({{"type", "pid"}});
  json linux{{"namespaces", namespaces},
             {"cgroupsPath", o.cgroupsPath},
             {"seccomp", seccompProfile()},
             {"resources", {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
             {"maskedPaths",
              {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
               "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
               "/proc/scsi"}},
             {"readonlyPaths",
              {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
  json config{{"ociVersion", "1.0.2"},
              {"process", process},
              {"root", {{"path", "rootfs"}, {"readonly", false}}},
              {"mounts", mounts},
              {"linux", linux}};
  // Names and values from the task and the image need not be UTF-8: the
  // runtime gets U+FFFD in their place rather than the agent an exception.
  return config.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace tutti::agent::oci
