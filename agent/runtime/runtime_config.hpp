// tutti-runtime's reading of an OCI bundle's config.json (runtime-spec
// 1.0). tutti-runtime is not a general OCI runtime: it implements what the
// agent's bundles use (agent/containerizer/oci/oci_spec.cpp) and refuses,
// naming the field, any config that asks for more — a user namespace,
// hooks, namespaces joined by path, cgroup resources other than devices —
// rather than run a container with less isolation than its config says.
//
// Pure parsing: no system calls. Errors are std::invalid_argument whose
// message names the field.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tutti::runtime {

struct Mount {
  std::string destination;  // absolute, inside the container
  std::string type;         // "bind" for bind mounts
  std::string source;
  unsigned long flags = 0;             // MS_* from the options
  unsigned long propagation = 0;       // MS_PRIVATE/MS_SLAVE/MS_SHARED (+MS_REC)
  std::string data;                    // options the kernel reads (mode=755, size=…)
  bool bind() const;
};

struct Rlimit {
  std::string name;  // RLIMIT_NOFILE, …
  int resource = 0;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t valueTwo = 0;
  std::string op;  // SCMP_CMP_*
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<unsigned> errnoRet;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string defaultAction;
  std::optional<unsigned> defaultErrnoRet;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<SeccompRule> syscalls;
};

struct DeviceRule {
  bool allow = false;
  char type = 'a';       // a, c, b
  int64_t major = -1;    // -1: any
  int64_t minor = -1;
  std::string access;    // some of r, w, m
};

struct Config {
  // process
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additionalGids;
  std::optional<mode_t> umask;
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
  bool capabilitiesGiven = false;  // absent: the process keeps none
  std::vector<Rlimit> rlimits;
  bool noNewPrivileges = false;
  std::optional<int> oomScoreAdj;
  // root and mounts
  std::string rootPath;  // absolute (resolved against the bundle)
  bool rootReadonly = false;
  std::vector<Mount> mounts;
  unsigned long rootfsPropagation = 0;  // 0: MS_SLAVE|MS_REC, as runc
  // linux
  int namespaces = 0;  // CLONE_NEW* flags
  std::string hostname;
  std::string cgroupsPath;
  std::vector<DeviceRule> devices;
  std::optional<Seccomp> seccomp;
  std::vector<std::string> maskedPaths;
  std::vector<std::string> readonlyPaths;
};

// Parses `text` (config.json of the bundle at `bundle`).
Config parseConfig(const std::string& text, const std::string& bundle);

// CAP_CHOWN → 0, …; -1 for an unknown name.
int capabilityNumber(const std::string& name);

}  // namespace tutti::runtime
