#include "agent/runtime/container_init.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "agent/runtime/seccomp_filter.hpp"

namespace tutti::runtime {

namespace {

// Writes what failed (with errno's text unless `err` is 0) for the runtime
// and ends the child.
[[noreturn]] void fail(int syncFd, const std::string& what, int err) {
  std::string message = err != 0 ? what + ": " + std::strerror(err) : what;
  ssize_t ignored = ::write(syncFd, message.data(), message.size());
  (void)ignored;
  ::_exit(1);
}

[[noreturn]] void failErrno(int syncFd, const std::string& what) { fail(syncFd, what, errno); }

std::string fdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Opens `path` (absolute, inside the root at `rootFd`) resolving every
// symlink as if `rootFd` were "/": nothing an image holds can point
// outside it. -1 with errno on failure.
int openInRoot(int rootFd, const std::string& path, int flags) {
  std::string rel = path;
  while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, rootFd, rel.c_str(), &how, sizeof how));
}

std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      // Lexically, clamped at the root (as RESOLVE_IN_ROOT treats it).
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(part);
  }
  return out;
}

// The directory `path` inside the root, made (0755) where missing — also
// where an image's symlink points (inside the root) at nothing yet; an
// O_PATH descriptor.
int directoryInRoot(int rootFd, const std::string& path, int syncFd, int depth = 0) {
  if (depth > 16) fail(syncFd, "too many levels of symbolic links under " + path, 0);
  std::string prefix;
  int fd = openInRoot(rootFd, "/", O_PATH | O_DIRECTORY);
  if (fd < 0) failErrno(syncFd, "cannot open the root filesystem");
  for (const auto& part : components(path)) {
    std::string parent = prefix.empty() ? "/" : prefix;
    prefix += "/" + part;
    int next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      char target[4096];
      ssize_t n = ::readlinkat(fd, part.c_str(), target, sizeof target - 1);
      if (n > 0) {
        // A link to a directory that does not exist yet: make it where the
        // link leads, resolved inside the root.
        target[n] = '\0';
        std::string to = target[0] == '/' ? target : parent + "/" + target;
        ::close(directoryInRoot(rootFd, to, syncFd, depth + 1));
      } else if (::mkdirat(fd, part.c_str(), 0755) != 0 && errno != EEXIST) {
        failErrno(syncFd, "cannot create " + prefix + " in the container");
      }
      next = openInRoot(rootFd, prefix, O_PATH | O_DIRECTORY);
    }
    if (next < 0) failErrno(syncFd, "cannot open " + prefix + " in the container");
    ::close(fd);
    fd = next;
  }
  return fd;
}

// The file `path` inside the root, made empty where missing (a dangling
// symlink in its place is replaced); an O_PATH descriptor.
int fileInRoot(int rootFd, const std::string& path, int syncFd) {
  auto parts = components(path);
  if (parts.empty()) fail(syncFd, "mount destination " + path + " is not a file", 0);
  std::string name = parts.back();
  std::string parent = path.substr(0, path.rfind('/'));
  int dir = directoryInRoot(rootFd, parent.empty() ? "/" : parent, syncFd);
  int fd = openInRoot(rootFd, path, O_PATH);
  if (fd < 0 && errno == ENOENT) {
    int made = ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (made < 0 && errno == EEXIST) {
      ::unlinkat(dir, name.c_str(), 0);  // a symlink to nothing
      made = ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    }
    if (made < 0) failErrno(syncFd, "cannot create " + path + " in the container");
    ::close(made);
    fd = openInRoot(rootFd, path, O_PATH);
  }
  if (fd < 0) failErrno(syncFd, "cannot open " + path + " in the container");
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    fail(syncFd, "mount destination " + path + " is a directory, its source a file", 0);
  }
  ::close(dir);
  return fd;
}

// The per-mount flags `path` has now (what a bind remount must repeat).
unsigned long mountFlagsOf(const std::string& path) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long out = 0;
  if (sv.f_flag & ST_RDONLY) out |= MS_RDONLY;
  if (sv.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) out |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

constexpr unsigned long kPerMountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                         MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
                                         MS_STRICTATIME;

// nodev on the mount at `path` and every mount below it (a bind's
// submounts too); mount_setattr where the kernel has it (5.12), else the
// top mount only.
void makeNodev(const std::string& path, int syncFd, const std::string& what);

void remountBind(const std::string& path, unsigned long add, unsigned long remove, int syncFd,
                 const std::string& what) {
  unsigned long flags = (mountFlagsOf(path) | add) & ~remove;
  if (::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | flags, nullptr) != 0) {
    failErrno(syncFd, "cannot remount " + what);
  }
}

void makeNodev(const std::string& path, int syncFd, const std::string& what) {
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_NODEV;
  if (::syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0) {
    return;
  }
  if (errno != ENOSYS) failErrno(syncFd, "cannot make " + what + " nodev");
  remountBind(path, MS_NODEV, 0, syncFd, what);
}

void mountOne(int rootFd, const Mount& m, bool nodev, int syncFd) {
  bool dir = true;
  if (m.bind()) {
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) failErrno(syncFd, "bind mount source " + m.source);
    dir = S_ISDIR(st.st_mode);
  }
  int fd = dir ? directoryInRoot(rootFd, m.destination, syncFd)
               : fileInRoot(rootFd, m.destination, syncFd);
  std::string target = fdPath(fd);
  if (m.bind()) {
    if (::mount(m.source.c_str(), target.c_str(), nullptr, MS_BIND | (m.flags & MS_REC),
                nullptr) != 0) {
      failErrno(syncFd, "cannot bind " + m.source + " at " + m.destination);
    }
    unsigned long want = m.flags & kPerMountFlags;
    if (want != 0 || nodev) {
      int mounted = openInRoot(rootFd, m.destination, O_PATH);
      if (mounted < 0) failErrno(syncFd, "cannot open " + m.destination + " after mounting it");
      // "rw" clears what the source had only when asked; others add.
      if (want != 0) remountBind(fdPath(mounted), want, 0, syncFd, m.destination);
      if (nodev) makeNodev(fdPath(mounted), syncFd, m.destination);
      ::close(mounted);
    }
  } else {
    unsigned long flags = m.flags & ~(MS_BIND | MS_REC);
    if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), flags,
                m.data.empty() ? nullptr : m.data.c_str()) != 0) {
      failErrno(syncFd, "cannot mount " + m.type + " at " + m.destination);
    }
  }
  if (m.propagation != 0) {
    int mounted = openInRoot(rootFd, m.destination, O_PATH);
    if (mounted < 0 || ::mount(nullptr, fdPath(mounted).c_str(), nullptr, m.propagation, nullptr) != 0) {
      failErrno(syncFd, "cannot set the propagation of " + m.destination);
    }
    ::close(mounted);
  }
  ::close(fd);
}

// /dev's nodes on the container's own /dev tmpfs, as runc makes them;
// every name made relative to that mount (`devFd`, resolved inside the
// root): an image whose /dev is a symlink cannot send them to the host.
void makeDevices(int devFd, bool withPts, int syncFd) {
  struct Node {
    const char* name;
    unsigned major, minor;
  };
  const Node nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
                        {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  for (const auto& n : nodes) {
    if (::mknodat(devFd, n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) == 0) continue;
    if (errno == EEXIST) continue;
    // No CAP_MKNOD here: the host's node, bound.
    int fd = ::openat(devFd, n.name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) failErrno(syncFd, std::string("cannot create /dev/") + n.name);
    std::string host = std::string("/dev/") + n.name;
    if (::mount(host.c_str(), fdPath(fd).c_str(), nullptr, MS_BIND, nullptr) != 0) {
      failErrno(syncFd, "cannot bind " + host);
    }
    ::close(fd);
  }
  struct Link {
    const char* target;
    const char* name;
  };
  const Link links[] = {{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"},
                        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                        {"/proc/kcore", "core"},     {"pts/ptmx", "ptmx"}};
  for (const auto& l : links) {
    if (!withPts && std::strcmp(l.name, "ptmx") == 0) continue;
    if (::symlinkat(l.target, devFd, l.name) != 0 && errno != EEXIST) {
      failErrno(syncFd, std::string("cannot link /dev/") + l.name);
    }
  }
}

void maskPaths(const Config& c, int syncFd) {
  for (const auto& p : c.maskedPaths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) continue;  // nothing to hide
    int rc = S_ISDIR(st.st_mode)
                 ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, nullptr)
                 : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (rc != 0) failErrno(syncFd, "cannot mask " + p);
  }
  for (const auto& p : c.readonlyPaths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) continue;
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      failErrno(syncFd, "cannot make " + p + " read-only");
    }
    remountBind(p, MS_RDONLY, 0, syncFd, p);
  }
}

void makeDirectories(const std::string& path) {
  std::string prefix;
  for (const auto& part : components(path)) {
    prefix += "/" + part;
    ::mkdir(prefix.c_str(), 0755);
  }
}

int lastCapability() {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char buf[16] = {};
  int last = CAP_LAST_CAP;
  if (fd >= 0) {
    if (::read(fd, buf, sizeof buf - 1) > 0) last = std::atoi(buf);
    ::close(fd);
  }
  return last;
}

std::string findProgram(const Config& c) {
  const std::string& name = c.args[0];
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : c.env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  }
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// The home directory of `uid` in the container's /etc/passwd; "/" when it
// has none.
std::string homeOf(uid_t uid) {
  // Only a regular file of sane size (an image's FIFO must not hang us).
  int fd = ::open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd < 0) return "/";
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20)) {
    ::close(fd);
    return "/";
  }
  FILE* f = ::fdopen(fd, "r");
  if (!f) {
    ::close(fd);
    return "/";
  }
  char line[4096];
  std::string home = "/";
  while (std::fgets(line, sizeof line, f)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ':')) fields.push_back(field);
    if (fields.size() >= 6 && fields[2] == std::to_string(uid)) {
      home = fields[5];
      while (!home.empty() && (home.back() == '\n' || home.back() == '\r')) home.pop_back();
      if (home.empty()) home = "/";
      break;
    }
  }
  std::fclose(f);
  return home;
}

// Step 6 of the header: from the process's limits to its execve.
[[noreturn]] void becomeProcess(const Config& c, const InitOptions& o, int syncFd) {
  std::vector<std::string> env = c.env;
  if (std::none_of(env.begin(), env.end(), [](const std::string& e) { return e.rfind("HOME=", 0) == 0; })) {
    env.push_back("HOME=" + homeOf(c.uid));
  }
  ::umask(c.umask.value_or(022));
  for (const auto& l : c.rlimits) {
    struct rlimit r {
      static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)
    };
    if (::setrlimit(static_cast<__rlimit_resource>(l.resource), &r) != 0) {
      failErrno(syncFd, "cannot set " + l.name + " to " + std::to_string(l.soft) + "/" +
                            std::to_string(l.hard));
    }
  }
  if (c.oomScoreAdj) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    std::string v = std::to_string(*c.oomScoreAdj);
    if (fd < 0 || ::write(fd, v.data(), v.size()) < 0) failErrno(syncFd, "cannot set oomScoreAdj");
    ::close(fd);
  }
  if (c.seccomp && !o.seccomp) fail(syncFd, "seccomp: the filter was not compiled", 0);
  if (c.seccomp && !c.noNewPrivileges) {
    // Without no_new_privs the filter needs CAP_SYS_ADMIN, still held here.
    std::string e = loadSeccomp(*o.seccomp);
    if (!e.empty()) fail(syncFd, e, 0);
  }
  uint64_t keep = o.dropMknod ? ~(1ull << CAP_MKNOD) : ~0ull;
  uint64_t bounding = c.bounding & keep;
  int last = lastCapability();
  for (int cap = 0; cap <= last; ++cap) {
    if (!(bounding & (1ull << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
        errno != EINVAL) {
      failErrno(syncFd, "cannot drop capability " + std::to_string(cap));
    }
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) failErrno(syncFd, "PR_SET_KEEPCAPS");
  if (::setgroups(c.additionalGids.size(), c.additionalGids.data()) != 0) {
    failErrno(syncFd, "cannot set the supplementary groups");
  }
  if (::setresgid(c.gid, c.gid, c.gid) != 0) failErrno(syncFd, "cannot set gid " + std::to_string(c.gid));
  if (::setresuid(c.uid, c.uid, c.uid) != 0) failErrno(syncFd, "cannot set uid " + std::to_string(c.uid));
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  // A change of credentials resets both (to the host's suid_dumpable, and
  // no death signal): set again.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  uint64_t effective = c.effective & keep, permitted = c.permitted & keep,
           inheritable = c.inheritable & keep;
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) != 0) failErrno(syncFd, "cannot set the capabilities");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= last; ++cap) {
    if ((c.ambient & keep & (1ull << cap)) &&
        ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) {
      failErrno(syncFd, "cannot raise ambient capability " + std::to_string(cap));
    }
  }
  if (::chdir(c.cwd.c_str()) != 0) failErrno(syncFd, "cannot enter the working directory " + c.cwd);
  std::string program = findProgram(c);
  if (program.empty()) {
    fail(syncFd, "exec: \"" + c.args[0] + "\": executable file not found in $PATH", 0);
  }
  if (c.noNewPrivileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    failErrno(syncFd, "cannot set no_new_privs");
  }
  if (c.seccomp && c.noNewPrivileges) {
    std::string e = loadSeccomp(*o.seccomp);
    if (!e.empty()) fail(syncFd, e, 0);
  }
  std::vector<char*> argv, envp;
  for (const auto& a : c.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // The container's init outlives the runtime (`run --detach`).
  if (!o.exec) ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  ::execve(program.c_str(), argv.data(), envp.data());
  failErrno(syncFd, "exec " + program);
}

void joinDevicesCgroup(const InitOptions& o, int syncFd) {
  if (o.devicesCgroup.empty()) return;
  int fd = ::open((o.devicesCgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "0", 1) != 1) failErrno(syncFd, "cannot join " + o.devicesCgroup);
  ::close(fd);
}

// Waits for the runtime's go byte; EOF (it died first) ends the child.
void awaitGo(const InitOptions& o) {
  if (o.goFd < 0) return;
  char go = 0;
  ssize_t n;
  while ((n = ::read(o.goFd, &go, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) ::_exit(1);
  ::close(o.goFd);
}

}  // namespace

void runContainerInit(const Config& c, const InitOptions& o, int syncFd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Nothing happens before the runtime has recorded our pid.
  awaitGo(o);
  // Every descriptor but stdio ends at the execve.
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  ::umask(0);
  joinDevicesCgroup(o, syncFd);
  if (::setsid() < 0) failErrno(syncFd, "setsid");
  unsigned long propagation = c.rootfsPropagation ? c.rootfsPropagation : MS_SLAVE | MS_REC;
  if (::mount(nullptr, "/", nullptr, propagation, nullptr) != 0) {
    failErrno(syncFd, "cannot set the propagation of /");
  }
  const std::string& rootfs = c.rootPath;
  if (::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    failErrno(syncFd, "cannot bind the root filesystem " + rootfs);
  }
  if (o.dropMknod) makeNodev(rootfs, syncFd, "the root filesystem");
  int rootFd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) failErrno(syncFd, "cannot open the root filesystem " + rootfs);
  bool ownDev = false, pts = false;
  for (const auto& m : c.mounts) {
    mountOne(rootFd, m, o.dropMknod, syncFd);
    if (m.destination == "/dev" && !m.bind()) ownDev = true;
    if (m.destination == "/dev/pts") pts = true;
  }
  if (ownDev) {
    int devFd = openInRoot(rootFd, "/dev", O_PATH | O_DIRECTORY);
    if (devFd < 0) failErrno(syncFd, "cannot open /dev in the container");
    makeDevices(devFd, pts, syncFd);
    ::close(devFd);
  }
  if (::fchdir(rootFd) != 0) failErrno(syncFd, "cannot enter the root filesystem");
  ::close(rootFd);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) failErrno(syncFd, "pivot_root");
  // The old root is stacked on "."; detached, nothing of the host is left.
  if (::umount2(".", MNT_DETACH) != 0) failErrno(syncFd, "cannot detach the host's root");
  if (::chdir("/") != 0) failErrno(syncFd, "chdir /");
  if (c.rootReadonly) remountBind("/", MS_RDONLY, 0, syncFd, "/ read-only");
  maskPaths(c, syncFd);
  if (!c.hostname.empty() && ::sethostname(c.hostname.data(), c.hostname.size()) != 0) {
    failErrno(syncFd, "cannot set the hostname");
  }
  makeDirectories(c.cwd);
  becomeProcess(c, o, syncFd);
}

void runExecProcess(const Config& c, const InitOptions& o, int syncFd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  awaitGo(o);  // armed, and the runtime still there
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  InitOptions exec = o;
  exec.exec = true;
  becomeProcess(c, exec, syncFd);
}

}  // namespace tutti::runtime
