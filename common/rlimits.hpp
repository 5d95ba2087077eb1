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
// setrlimit() on the calling process for each (no limits: unlimited), so
// that what it starts inherits them. The first failure is returned
// (InvalidArgument for an unknown type, PermissionDenied when raising a
// hard limit without the privilege).
Status applyRlimits(const std::vector<RLimit>& limits);
// This process's current limits of the same types as `limits` (to put them
// back after a child inherited `limits`).
std::vector<RLimit> currentRlimits(const std::vector<RLimit>& limits);

}  // namespace tutti
