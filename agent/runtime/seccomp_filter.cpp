#include "agent/runtime/seccomp_filter.hpp"

#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <map>

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

std::string loadSeccomp(const Seccomp& s, bool viaNoNewPrivileges) {
  uint32_t def = 0;
  if (!action(s.defaultAction, s.defaultErrnoRet, def)) {
    return "seccomp: unknown default action " + s.defaultAction;
  }
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) return "seccomp: cannot create a filter";
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  for (const auto& arch : s.architectures) {
    std::string name = arch.rfind("SCMP_ARCH_", 0) == 0 ? lower(arch.substr(10)) : lower(arch);
    uint32_t token = seccomp_arch_resolve_name(name.c_str());
    if (token == 0) continue;  // an architecture this libseccomp does not know
    int rc = seccomp_arch_add(ctx, token);
    if (rc != 0 && rc != -EEXIST) {
      return "seccomp: cannot add architecture " + arch + ": " + std::strerror(-rc);
    }
  }
  for (const auto& rule : s.syscalls) {
    uint32_t act = 0;
    if (!action(rule.action, rule.errnoRet, act)) return "seccomp: unknown action " + rule.action;
    if (act == def) continue;  // the default already does it
    std::vector<scmp_arg_cmp> args;
    for (const auto& a : rule.args) {
      scmp_compare op;
      if (!compareOp(a.op, op)) return "seccomp: unknown operator " + a.op;
      args.push_back(scmp_arg_cmp{a.index, op, a.value, a.valueTwo});
    }
    for (const auto& name : rule.names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // not a system call of this architecture
      int rc = seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(args.size()),
                                      args.empty() ? nullptr : args.data());
      if (rc != 0 && rc != -EEXIST) {
        return "seccomp: cannot add the rule for " + name + ": " + std::strerror(-rc);
      }
    }
  }
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, viaNoNewPrivileges ? 1 : 0);
  if (rc != 0) return std::string("seccomp: ") + std::strerror(-rc);
  rc = seccomp_load(ctx);
  if (rc != 0) return std::string("seccomp: cannot load the filter: ") + std::strerror(-rc);
  return "";
}

}  // namespace tutti::runtime
