#include "common/rlimits.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/process.hpp"

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

Result<std::vector<std::string>> prlimitCommand(const std::vector<RLimit>& limits) {
  std::string prlimit = firstExecutable({"/usr/bin/prlimit", "/bin/prlimit"});
  if (prlimit.empty()) {
    return Status::NotFound("posix/rlimits needs prlimit (util-linux) on the agent");
  }
  std::vector<std::string> argv = {prlimit};
  for (const auto& l : limits) {
    auto resource = rlimitResource(l.type);
    if (!resource) return Status::InvalidArgument("unknown rlimit type '" + l.type + "'");
    rlimit current;
    if (::geteuid() != 0 && ::getrlimit(*resource, &current) == 0 &&
        current.rlim_max != RLIM_INFINITY && (!l.hard || *l.hard > current.rlim_max)) {
      return Status::PermissionDenied("cannot raise the hard limit of " + l.type + " above " +
                                      std::to_string(current.rlim_max) + " without root");
    }
    auto text = [](const std::optional<uint64_t>& v) {
      return v ? std::to_string(*v) : std::string("unlimited");
    };
    std::string name = l.type.substr(5);  // "RLMT_NOFILE" → "nofile"
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    argv.push_back("--" + name + "=" + text(l.soft) + ":" + text(l.hard));
  }
  argv.push_back("--");
  return argv;
}

}  // namespace tutti
