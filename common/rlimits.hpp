// Mesos's RLimitInfo types ("RLMT_NOFILE", ...) and applying them
// (the posix/rlimits isolator). Any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti {

// The RLIMIT_* resource of a Mesos rlimit type; nullopt when unknown.
std::optional<int> rlimitResource(const std::string& type);
// The OCI runtime spec's name: "RLMT_NOFILE" → "RLIMIT_NOFILE".
std::string ociRlimitName(const std::string& type);
// The same from the resource: RLIMIT_NOFILE → "RLIMIT_NOFILE".
std::string rlimitName(int resource);
// The limits to set in a task's child (SpawnOptions::limits: between its
// fork and exec, never on the caller); no value means unlimited (for
// RLMT_NOFILE: the kernel's ceiling, fs.nr_open). Errors:
// InvalidArgument for an unknown type or a soft limit above the hard one,
// PermissionDenied for raising a hard limit above this process's without
// root.
Result<std::vector<ResourceLimit>> resourceLimits(const std::vector<RLimit>& limits);

}  // namespace tutti
