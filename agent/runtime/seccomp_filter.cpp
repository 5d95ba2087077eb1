#include "agent/runtime/seccomp_filter.hpp"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>

namespace tutti::runtime {

namespace {

bool action(const std::string& name, std::optional<unsigned> errnoRet, uint32_t& out) {
  unsigned e = errnoRet.value_or(EPERM);
  if (name == "SCMP_ACT_ALLOW") {
    out = SCMP_ACT_ALLOW;
  } else if (name == "SCMP_ACT_ERRNO") {
    out = SCMP_ACT_ERRNO(e);
  } else if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") {
    out = SCMP_ACT_KILL;
  } else if (name == "SCMP_ACT_KILL_PROCESS") {
    out = SCMP_ACT_KILL_PROCESS;
  } else if (name == "SCMP_ACT_TRAP") {
    out = SCMP_ACT_TRAP;
  } else if (name == "SCMP_ACT_LOG") {
    out = SCMP_ACT_LOG;
  } else if (name == "SCMP_ACT_TRACE") {
    out = SCMP_ACT_TRACE(e);
  } else {
    return false;
  }
  return true;
}

bool compareOp(const std::string& name, scmp_compare& out) {
  static const std::map<std::string, scmp_compare> ops = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  auto it = ops.find(name);
  if (it == ops.end()) return false;
  out = it->second;
  return true;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

namespace {

// Everything that decides the program, in a fixed order; every string
// with its length in front, so that no two filters read the same.
std::string canonical(const Seccomp& s) {
  std::string out = "tutti-runtime seccomp v2";
  auto add = [&out](const std::string& field) {
    out += ";" + std::to_string(field.size()) + ":" + field;
  };
  const scmp_version* v = seccomp_version();
  add(v ? std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro)
        : "?");
  add(std::to_string(seccomp_arch_native()));
  add(s.defaultAction);
  add(std::to_string(s.defaultErrnoRet.value_or(EPERM)));
  add(std::to_string(s.architectures.size()));
  for (const auto& a : s.architectures) add(a);
  add(std::to_string(s.syscalls.size()));
  for (const auto& r : s.syscalls) {
    add(r.action);
    add(std::to_string(r.errnoRet.value_or(EPERM)));
    add(std::to_string(r.names.size()));
    for (const auto& n : r.names) add(n);
    add(std::to_string(r.args.size()));
    for (const auto& a : r.args) {
      add(std::to_string(a.index));
      add(a.op);
      add(std::to_string(a.value));
      add(std::to_string(a.valueTwo));
    }
  }
  return out;
}

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// "sum=" and 16 hex digits of the program's FNV-1a.
std::string checksum(const std::string& program) {
  char sum[32];
  std::snprintf(sum, sizeof sum, "sum=%016llx", static_cast<unsigned long long>(fnv1a(program)));
  return sum;
}
constexpr size_t kSumLength = 4 + 16 + 1;  // with its newline

std::string readAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

SeccompProgram fromBytes(const std::string& bytes) {
  SeccompProgram p;
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0 ||
      bytes.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return p;
  }
  p.instructions.resize(bytes.size() / sizeof(sock_filter));
  std::memcpy(p.instructions.data(), bytes.data(), bytes.size());
  return p;
}

SeccompProgram compile(const Seccomp& s) {
  uint32_t def = 0;
  if (!action(s.defaultAction, s.defaultErrnoRet, def)) {
    throw std::runtime_error("seccomp: unknown default action " + s.defaultAction);
  }
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) throw std::runtime_error("seccomp: cannot create a filter");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  auto fail = [](const std::string& what, int rc) {
    throw std::runtime_error("seccomp: " + what + ": " + std::strerror(-rc));
  };
  for (const auto& arch : s.architectures) {
    std::string name = arch.rfind("SCMP_ARCH_", 0) == 0 ? lower(arch.substr(10)) : lower(arch);
    uint32_t token = seccomp_arch_resolve_name(name.c_str());
    if (token == 0) continue;  // an architecture this libseccomp does not know
    int rc = seccomp_arch_add(ctx, token);
    if (rc != 0 && rc != -EEXIST) fail("cannot add architecture " + arch, rc);
  }
  for (const auto& rule : s.syscalls) {
    uint32_t act = 0;
    if (!action(rule.action, rule.errnoRet, act)) {
      throw std::runtime_error("seccomp: unknown action " + rule.action);
    }
    if (act == def) continue;  // the default already does it
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.args) {
      scmp_compare op;
      if (!compareOp(a.op, op)) throw std::runtime_error("seccomp: unknown operator " + a.op);
      args.push_back(scmp_arg_cmp{a.index, op, a.value, a.valueTwo});
    }
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a system call of this architecture
      int rc = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(args.size()),
                                      args.empty() ? nullptr : args.data());
      if (rc != 0 && rc != -EEXIST) fail("cannot add the rule for " + name, rc);
    }
  }
  int fd = ::memfd_create("seccomp", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  int rc = seccomp_export_bpf(ctx, fd);
  std::string bytes;
  if (rc == 0 && ::lseek(fd, 0, SEEK_SET) == 0) bytes = readAll(fd);
  ::close(fd);
  if (rc != 0) fail("cannot compile the filter", rc);
  SeccompProgram p = fromBytes(bytes);
  if (p.instructions.empty()) throw std::runtime_error("seccomp: the compiled filter is not BPF");
  return p;
}

}  // namespace

SeccompProgram compileSeccomp(const Seccomp& s, const std::string& cacheDir) {
  const std::string key = canonical(s);
  std::string path;
  if (!cacheDir.empty()) {
    char name[32];
    std::snprintf(name, sizeof name, "/seccomp-%016llx", static_cast<unsigned long long>(fnv1a(key)));
    path = cacheDir + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      std::string text = readAll(fd);
      ::close(fd);
      // <key>\n<checksum of the program>\n<program>: only this very
      // filter's program is taken, and only whole.
      if (text.size() > key.size() + kSumLength + 1 && text.compare(0, key.size(), key) == 0 &&
          text[key.size()] == '\n' && text[key.size() + kSumLength] == '\n') {
        std::string program = text.substr(key.size() + kSumLength + 1);
        if (text.compare(key.size() + 1, kSumLength - 1, checksum(program)) == 0) {
          SeccompProgram p = fromBytes(program);
          p.cachePath = path;
          if (!p.instructions.empty()) return p;
        }
      }
    }
  }
  SeccompProgram p = compile(s);
  if (!path.empty()) {
    // Written aside and renamed: concurrent runs each write a whole file.
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string program(reinterpret_cast<const char*>(p.instructions.data()),
                          p.instructions.size() * sizeof(sock_filter));
      std::string text = key + "\n" + checksum(program) + "\n" + program;
      bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::close(fd);
      if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
    }
    p.cachePath = path;
  }
  return p;
}

std::string loadSeccomp(const SeccompProgram& program) {
  struct sock_fprog prog = {};
  prog.len = static_cast<unsigned short>(program.instructions.size());
  prog.filter = const_cast<sock_filter*>(program.instructions.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return std::string("seccomp: cannot load the filter: ") + std::strerror(errno);
  }
  return "";
}

}  // namespace tutti::runtime
