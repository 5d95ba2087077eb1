#include "common/rlimits.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace tutti {

std::optional<int> rlimitResource(const std::string& type) {
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
  auto it = kTypes.find(type);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::string ociRlimitName(const std::string& type) {
  return "RLIMIT_" + (type.rfind("RLMT_", 0) == 0 ? type.substr(5) : type);
}

Status applyRlimits(const std::vector<RLimit>& limits) {
  for (const auto& l : limits) {
    auto resource = rlimitResource(l.type);
    if (!resource) return Status::InvalidArgument("unknown rlimit type '" + l.type + "'");
    rlimit value;
    value.rlim_cur = l.soft ? static_cast<rlim_t>(*l.soft) : RLIM_INFINITY;
    value.rlim_max = l.hard ? static_cast<rlim_t>(*l.hard) : RLIM_INFINITY;
    if (::setrlimit(*resource, &value) != 0) {
      std::string why = std::strerror(errno);
      return errno == EPERM ? Status::PermissionDenied("cannot set " + l.type + ": " + why)
                            : Status::InvalidArgument("cannot set " + l.type + ": " + why);
    }
  }
  return Status::OK();
}

std::vector<RLimit> currentRlimits(const std::vector<RLimit>& limits) {
  std::vector<RLimit> out;
  for (const auto& l : limits) {
    auto resource = rlimitResource(l.type);
    rlimit old;
    if (!resource || ::getrlimit(*resource, &old) != 0) continue;
    RLimit r{l.type, std::nullopt, std::nullopt};
    if (old.rlim_cur != RLIM_INFINITY) r.soft = old.rlim_cur;
    if (old.rlim_max != RLIM_INFINITY) r.hard = old.rlim_max;
    out.push_back(r);
  }
  return out;
}

}  // namespace tutti
