// Mesos's RLimitInfo types ("RLMT_NOFILE", ...) and applying them
// (the posix/rlimits isolator). Any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti {

// The RLIMIT_* resource of a Mesos rlimit type; nullopt when unknown.
std::optional<int> rlimitResource(const std::string& type);
// The OCI runtime spec's name: "RLMT_NOFILE" → "RLIMIT_NOFILE".
std::string ociRlimitName(const std::string& type);
// The argv prefix that starts a command with `limits` applied:
// util-linux's `prlimit --nofile=SOFT:HARD ... --` (no limit: "unlimited"),
// so the limits are set in the child between fork and exec and never on
// the caller. Errors: InvalidArgument for an unknown type, PermissionDenied
// for raising a hard limit above this process's without root, NotFound
// when prlimit is not installed.
Result<std::vector<std::string>> prlimitCommand(const std::vector<RLimit>& limits);

}  // namespace tutti
