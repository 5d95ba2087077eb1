#include "common/rlimits.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>

namespace tutti {

namespace {
const std::map<std::string, int>& rlimitTypes() {
  static const std::map<std::string, int> kTypes = {
      {"RLMT_AS", RLIMIT_AS},
      {"RLMT_CORE", RLIMIT_CORE},
      {"RLMT_CPU", RLIMIT_CPU},
      {"RLMT_DATA", RLIMIT_DATA},
      {"RLMT_FSIZE", RLIMIT_FSIZE},
      {"RLMT_LOCKS", RLIMIT_LOCKS},
      {"RLMT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLMT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLMT_NICE", RLIMIT_NICE},
      {"RLMT_NOFILE", RLIMIT_NOFILE},
      {"RLMT_NPROC", RLIMIT_NPROC},
      {"RLMT_RSS", RLIMIT_RSS},
      {"RLMT_RTPRIO", RLIMIT_RTPRIO},
      {"RLMT_RTTIME", RLIMIT_RTTIME},
      {"RLMT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLMT_STACK", RLIMIT_STACK},
  };
  return kTypes;
}
}  // namespace

std::optional<int> rlimitResource(const std::string& type) {
  auto it = rlimitTypes().find(type);
  if (it == rlimitTypes().end()) return std::nullopt;
  return it->second;
}

std::string rlimitName(int resource) {
  for (const auto& [type, r] : rlimitTypes()) {
    if (r == resource) return ociRlimitName(type);
  }
  return "resource " + std::to_string(resource);
}

std::string ociRlimitName(const std::string& type) {
  return "RLIMIT_" + (type.rfind("RLMT_", 0) == 0 ? type.substr(5) : type);
}

namespace {
// /proc/sys/fs/nr_open: the most RLIMIT_NOFILE may be (1048576 by default).
rlim_t openFilesCeiling() {
  std::ifstream in("/proc/sys/fs/nr_open");
  rlim_t n = 0;
  if (in >> n && n > 0) return n;
  return 1048576;
}
}  // namespace

Result<std::vector<ResourceLimit>> resourceLimits(const std::vector<RLimit>& limits) {
  std::vector<ResourceLimit> out;
  for (const auto& l : limits) {
    auto resource = rlimitResource(l.type);
    if (!resource) return Status::InvalidArgument("unknown rlimit type '" + l.type + "'");
    rlimit current;
    if (::geteuid() != 0 && ::getrlimit(*resource, &current) == 0 &&
        current.rlim_max != RLIM_INFINITY && (!l.hard || *l.hard > current.rlim_max)) {
      return Status::PermissionDenied("cannot raise the hard limit of " + l.type + " above " +
                                      std::to_string(current.rlim_max) + " without root");
    }
    ResourceLimit r;
    r.resource = *resource;
    // Open files cannot be unlimited: "unlimited" is the kernel's ceiling.
    const rlim_t unlimited = *resource == RLIMIT_NOFILE ? openFilesCeiling() : RLIM_INFINITY;
    r.soft = l.soft ? static_cast<rlim_t>(*l.soft) : unlimited;
    r.hard = l.hard ? static_cast<rlim_t>(*l.hard) : unlimited;
    if (r.soft > r.hard) {
      return Status::InvalidArgument("the soft limit of " + l.type + " is above its hard limit");
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace tutti
