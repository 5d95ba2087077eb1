// The agent's resources: from --resources, completed by detection as Mesos
// does for what the flag leaves out — cpus from the host, mem = total − 1GB
// when total ≥ 2GB (else half), disk from the work_dir filesystem (minus
// 5GB headroom when it is ≥ 10GB, else half), ports [31000-32000].
#pragma once

#include <string>

#include "tutti/resources.hpp"

namespace tutti::agent {

Result<Resources> agentResources(const std::string& flag, const std::string& workDir);

}  // namespace tutti::agent
