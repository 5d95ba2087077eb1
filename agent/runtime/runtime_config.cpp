#include "agent/runtime/runtime_config.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tutti::runtime {

namespace {

using json = nlohmann::json;

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(what); }

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string str(const json& v, const std::string& field) {
  if (!v.is_string()) bad(field + " must be a string");
  return v.get<std::string>();
}

uint64_t u64(const json& v, const std::string& field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    bad(field + " must be a non-negative integer");
  }
  return v.get<uint64_t>();
}

std::vector<std::string> strings(const json& v, const std::string& field) {
  if (!v.is_array()) bad(field + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(str(s, field));
  return out;
}

const std::vector<std::string>& capabilityNames() {
  static const std::vector<std::string> names = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
      "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
      "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
      "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
      "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
      "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return names;
}

uint64_t capabilitySet(const json& v, const std::string& field) {
  uint64_t set = 0;
  for (const auto& name : strings(v, field)) {
    int n = capabilityNumber(name);
    if (n < 0) bad(field + ": unknown capability '" + name + "'");
    set |= 1ull << n;
  }
  return set;
}

int rlimitNumber(const std::string& name) {
  static const std::map<std::string, int> names = {
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK}};
  auto it = names.find(name);
  return it == names.end() ? -1 : it->second;
}

// Mount options: flags the kernel takes as MS_*, propagation, and the rest
// as the data string (as mount(8) splits them).
void mountOptions(const std::vector<std::string>& options, Mount& m) {
  struct Flag {
    bool clear;
    unsigned long flag;
  };
  static const std::map<std::string, Flag> flags = {
      {"ro", {false, MS_RDONLY}},       {"rw", {true, MS_RDONLY}},
      {"nosuid", {false, MS_NOSUID}},   {"suid", {true, MS_NOSUID}},
      {"nodev", {false, MS_NODEV}},     {"dev", {true, MS_NODEV}},
      {"noexec", {false, MS_NOEXEC}},   {"exec", {true, MS_NOEXEC}},
      {"sync", {false, MS_SYNCHRONOUS}}, {"async", {true, MS_SYNCHRONOUS}},
      {"dirsync", {false, MS_DIRSYNC}}, {"remount", {false, MS_REMOUNT}},
      {"mand", {false, MS_MANDLOCK}},   {"nomand", {true, MS_MANDLOCK}},
      {"atime", {true, MS_NOATIME}},    {"noatime", {false, MS_NOATIME}},
      {"diratime", {true, MS_NODIRATIME}}, {"nodiratime", {false, MS_NODIRATIME}},
      {"relatime", {false, MS_RELATIME}}, {"norelatime", {true, MS_RELATIME}},
      {"strictatime", {false, MS_STRICTATIME}}, {"nostrictatime", {true, MS_STRICTATIME}},
      {"bind", {false, MS_BIND}},       {"rbind", {false, MS_BIND | MS_REC}},
      {"defaults", {false, 0}}};
  static const std::map<std::string, unsigned long> propagation = {
      {"private", MS_PRIVATE},          {"rprivate", MS_PRIVATE | MS_REC},
      {"slave", MS_SLAVE},              {"rslave", MS_SLAVE | MS_REC},
      {"shared", MS_SHARED},            {"rshared", MS_SHARED | MS_REC},
      {"unbindable", MS_UNBINDABLE},    {"runbindable", MS_UNBINDABLE | MS_REC}};
  for (const auto& o : options) {
    if (auto f = flags.find(o); f != flags.end()) {
      if (f->second.clear) {
        m.flags &= ~f->second.flag;
      } else {
        m.flags |= f->second.flag;
      }
    } else if (auto p = propagation.find(o); p != propagation.end()) {
      m.propagation |= p->second;
    } else {
      m.data += (m.data.empty() ? "" : ",") + o;
    }
  }
}

void parseProcess(const json& p, Config& c) {
  if (const json* t = member(p, "terminal"); t && t->is_boolean() && t->get<bool>()) {
    bad("process.terminal: tutti-runtime runs containers without a terminal");
  }
  const json* args = member(p, "args");
  if (!args) bad("process.args is required");
  c.args = strings(*args, "process.args");
  if (c.args.empty() || c.args[0].empty()) bad("process.args must name a program");
  if (const json* env = member(p, "env")) c.env = strings(*env, "process.env");
  if (const json* cwd = member(p, "cwd")) c.cwd = str(*cwd, "process.cwd");
  if (c.cwd.empty() || c.cwd[0] != '/') bad("process.cwd must be an absolute path");
  if (const json* user = member(p, "user")) {
    if (const json* v = member(*user, "uid")) c.uid = static_cast<uid_t>(u64(*v, "process.user.uid"));
    if (const json* v = member(*user, "gid")) c.gid = static_cast<gid_t>(u64(*v, "process.user.gid"));
    if (const json* v = member(*user, "umask")) {
      c.umask = static_cast<mode_t>(u64(*v, "process.user.umask") & 07777);
    }
    if (const json* v = member(*user, "additionalGids")) {
      if (!v->is_array()) bad("process.user.additionalGids must be an array");
      for (const auto& g : *v) c.additionalGids.push_back(static_cast<gid_t>(u64(g, "process.user.additionalGids")));
    }
    if (member(*user, "username")) bad("process.user.username is for Windows");
  }
  if (const json* caps = member(p, "capabilities")) {
    c.capabilitiesGiven = true;
    if (const json* v = member(*caps, "bounding")) c.bounding = capabilitySet(*v, "process.capabilities.bounding");
    if (const json* v = member(*caps, "effective")) c.effective = capabilitySet(*v, "process.capabilities.effective");
    if (const json* v = member(*caps, "permitted")) c.permitted = capabilitySet(*v, "process.capabilities.permitted");
    if (const json* v = member(*caps, "inheritable")) c.inheritable = capabilitySet(*v, "process.capabilities.inheritable");
    if (const json* v = member(*caps, "ambient")) c.ambient = capabilitySet(*v, "process.capabilities.ambient");
  }
  if (const json* limits = member(p, "rlimits")) {
    if (!limits->is_array()) bad("process.rlimits must be an array");
    for (const auto& l : *limits) {
      Rlimit r;
      const json* type = member(l, "type");
      if (!type) bad("process.rlimits[].type is required");
      r.name = str(*type, "process.rlimits[].type");
      r.resource = rlimitNumber(r.name);
      if (r.resource < 0) bad("process.rlimits: unknown type '" + type->get<std::string>() + "'");
      const json* soft = member(l, "soft");
      const json* hard = member(l, "hard");
      if (!soft || !hard) bad("process.rlimits[] needs soft and hard");
      r.soft = u64(*soft, "process.rlimits[].soft");
      r.hard = u64(*hard, "process.rlimits[].hard");
      if (r.soft > r.hard) bad("process.rlimits: soft above hard for " + type->get<std::string>());
      c.rlimits.push_back(r);
    }
  }
  if (const json* v = member(p, "noNewPrivileges")) {
    if (!v->is_boolean()) bad("process.noNewPrivileges must be a boolean");
    c.noNewPrivileges = v->get<bool>();
  }
  if (const json* v = member(p, "oomScoreAdj")) {
    if (!v->is_number_integer()) bad("process.oomScoreAdj must be an integer");
    c.oomScoreAdj = v->get<int>();
  }
  for (const char* unsupported : {"apparmorProfile", "selinuxLabel", "consoleSize", "ioPriority",
                                  "scheduler", "execCPUAffinity"}) {
    if (member(p, unsupported)) bad(std::string("process.") + unsupported + " is not supported");
  }
}

void parseSeccomp(const json& s, Config& c) {
  Seccomp out;
  const json* def = member(s, "defaultAction");
  if (!def) bad("linux.seccomp.defaultAction is required");
  out.defaultAction = str(*def, "linux.seccomp.defaultAction");
  if (const json* v = member(s, "defaultErrnoRet")) {
    out.defaultErrnoRet = static_cast<unsigned>(u64(*v, "linux.seccomp.defaultErrnoRet"));
  }
  if (const json* v = member(s, "architectures")) {
    out.architectures = strings(*v, "linux.seccomp.architectures");
  }
  if (member(s, "listenerPath") || member(s, "flags")) {
    bad("linux.seccomp: listenerPath and flags are not supported");
  }
  if (const json* rules = member(s, "syscalls")) {
    if (!rules->is_array()) bad("linux.seccomp.syscalls must be an array");
    for (const auto& r : *rules) {
      SeccompRule rule;
      const json* names = member(r, "names");
      const json* action = member(r, "action");
      if (!names || !action) bad("linux.seccomp.syscalls[] needs names and action");
      rule.names = strings(*names, "linux.seccomp.syscalls[].names");
      rule.action = str(*action, "linux.seccomp.syscalls[].action");
      if (const json* e = member(r, "errnoRet")) {
        rule.errnoRet = static_cast<unsigned>(u64(*e, "linux.seccomp.syscalls[].errnoRet"));
      }
      if (const json* args = member(r, "args")) {
        if (!args->is_array()) bad("linux.seccomp.syscalls[].args must be an array");
        for (const auto& a : *args) {
          SeccompArg arg;
          const json* index = member(a, "index");
          const json* value = member(a, "value");
          const json* op = member(a, "op");
          if (!index || !value || !op) bad("linux.seccomp.syscalls[].args[] needs index, value, op");
          arg.index = static_cast<unsigned>(u64(*index, "args[].index"));
          if (arg.index > 5) bad("linux.seccomp.syscalls[].args[].index must be 0 to 5");
          arg.value = u64(*value, "args[].value");
          if (const json* two = member(a, "valueTwo")) arg.valueTwo = u64(*two, "args[].valueTwo");
          arg.op = str(*op, "args[].op");
          rule.args.push_back(arg);
        }
      }
      out.syscalls.push_back(std::move(rule));
    }
  }
  c.seccomp = std::move(out);
}

void parseLinux(const json& l, Config& c) {
  if (const json* ns = member(l, "namespaces")) {
    if (!ns->is_array()) bad("linux.namespaces must be an array");
    static const std::map<std::string, int> types = {
        {"pid", CLONE_NEWPID}, {"mount", CLONE_NEWNS}, {"ipc", CLONE_NEWIPC},
        {"uts", CLONE_NEWUTS}, {"network", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP}};
    for (const auto& n : *ns) {
      const json* type = member(n, "type");
      if (!type) bad("linux.namespaces[].type is required");
      std::string t = str(*type, "linux.namespaces[].type");
      auto it = types.find(t);
      if (it == types.end()) {
        bad("linux.namespaces: '" + t + "' is not supported (tutti-runtime has no user or time namespaces)");
      }
      if (member(n, "path")) bad("linux.namespaces: joining a namespace by path is not supported");
      c.namespaces |= it->second;
    }
  }
  if (!(c.namespaces & CLONE_NEWNS)) bad("linux.namespaces must include a mount namespace");
  if (const json* v = member(l, "cgroupsPath")) c.cgroupsPath = str(*v, "linux.cgroupsPath");
  if (const json* r = member(l, "resources")) {
    for (const auto& [key, value] : r->items()) {
      if (key != "devices") {
        bad("linux.resources." + key +
            " is not supported (the agent's isolator sets the container's limits)");
      }
      if (!value.is_array()) bad("linux.resources.devices must be an array");
      for (const auto& d : value) {
        DeviceRule rule;
        const json* allow = member(d, "allow");
        if (!allow || !allow->is_boolean()) bad("linux.resources.devices[].allow is required");
        rule.allow = allow->get<bool>();
        if (const json* t = member(d, "type")) {
          std::string s = str(*t, "linux.resources.devices[].type");
          if (s != "a" && s != "c" && s != "b") bad("linux.resources.devices[].type must be a, c or b");
          rule.type = s[0];
        }
        if (const json* v = member(d, "major")) rule.major = static_cast<int64_t>(u64(*v, "major"));
        if (const json* v = member(d, "minor")) rule.minor = static_cast<int64_t>(u64(*v, "minor"));
        rule.access = "rwm";
        if (const json* a = member(d, "access")) rule.access = str(*a, "linux.resources.devices[].access");
        if (rule.access.empty() || rule.access.find_first_not_of("rwm") != std::string::npos) {
          bad("linux.resources.devices[].access must be made of r, w and m");
        }
        c.devices.push_back(rule);
      }
    }
  }
  if (const json* s = member(l, "seccomp")) parseSeccomp(*s, c);
  if (const json* v = member(l, "maskedPaths")) c.maskedPaths = strings(*v, "linux.maskedPaths");
  if (const json* v = member(l, "readonlyPaths")) c.readonlyPaths = strings(*v, "linux.readonlyPaths");
  if (const json* v = member(l, "rootfsPropagation")) {
    Mount m;
    mountOptions({str(*v, "linux.rootfsPropagation")}, m);
    if (m.propagation == 0) bad("linux.rootfsPropagation: unknown value");
    c.rootfsPropagation = m.propagation;
  }
  for (const char* unsupported : {"uidMappings", "gidMappings", "devices", "sysctl",
                                  "mountLabel", "intelRdt", "personality", "timeOffsets"}) {
    const json* v = member(l, unsupported);
    if (v && !(v->is_array() && v->empty()) && !(v->is_object() && v->empty())) {
      bad(std::string("linux.") + unsupported + " is not supported");
    }
  }
  for (const auto& p : c.maskedPaths) {
    if (p.empty() || p[0] != '/') bad("linux.maskedPaths must be absolute");
  }
  for (const auto& p : c.readonlyPaths) {
    if (p.empty() || p[0] != '/') bad("linux.readonlyPaths must be absolute");
  }
}

}  // namespace

bool Mount::bind() const { return (flags & MS_BIND) != 0 || type == "bind"; }

int capabilityNumber(const std::string& name) {
  const auto& names = capabilityNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return -1;
}

Config parseConfig(const std::string& text, const std::string& bundle) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) bad("config.json is not a JSON object");
  Config c;
  const json* process = member(j, "process");
  if (!process) bad("process is required (tutti-runtime runs a process)");
  parseProcess(*process, c);
  const json* root = member(j, "root");
  const json* path = root ? member(*root, "path") : nullptr;
  if (!path) bad("root.path is required");
  c.rootPath = str(*path, "root.path");
  if (c.rootPath.empty()) bad("root.path must not be empty");
  if (c.rootPath[0] != '/') c.rootPath = bundle + "/" + c.rootPath;
  if (const json* ro = member(*root, "readonly")) c.rootReadonly = ro->is_boolean() && ro->get<bool>();
  if (const json* mounts = member(j, "mounts")) {
    if (!mounts->is_array()) bad("mounts must be an array");
    for (const auto& m : *mounts) {
      Mount out;
      const json* dest = member(m, "destination");
      if (!dest) bad("mounts[].destination is required");
      out.destination = str(*dest, "mounts[].destination");
      if (out.destination.empty() || out.destination[0] != '/') {
        bad("mounts[].destination must be absolute: '" + out.destination + "'");
      }
      if (const json* t = member(m, "type")) out.type = str(*t, "mounts[].type");
      if (const json* s = member(m, "source")) out.source = str(*s, "mounts[].source");
      if (const json* o = member(m, "options")) mountOptions(strings(*o, "mounts[].options"), out);
      if (out.bind() && !out.source.empty() && out.source[0] != '/') {
        out.source = bundle + "/" + out.source;
      }
      if (out.type.empty() && !out.bind()) bad("mounts[].type is required for " + out.destination);
      c.mounts.push_back(std::move(out));
    }
  }
  if (member(j, "hooks")) {
    const json& hooks = j["hooks"];
    if (!(hooks.is_object() && hooks.empty())) bad("hooks are not supported");
  }
  if (const json* h = member(j, "hostname")) c.hostname = str(*h, "hostname");
  const json* linux = member(j, "linux");
  if (!linux) bad("linux is required");
  parseLinux(*linux, c);
  if (!c.hostname.empty() && !(c.namespaces & CLONE_NEWUTS)) {
    bad("hostname needs a uts namespace");
  }
  return c;
}

}  // namespace tutti::runtime
