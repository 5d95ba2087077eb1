// The environment a task sees about itself (DESIGN §8, Mesos's and
// Marathon's names): TUTTI_TASK_ID/MESOS_TASK_ID, the sandbox as
// TUTTI_SANDBOX/MESOS_SANDBOX, HOST, and its port resources as PORT0..n,
// PORT and PORTS. Shared by the command executor (plain tasks) and the
// agent (tasks in an image, whose sandbox path differs inside). Pure.
#pragma once

#include <map>
#include <string>

#include "tutti/types.hpp"

namespace tutti {

std::map<std::string, std::string> taskEnvironment(const TaskInfo& task, const std::string& sandbox,
                                                   const std::string& hostname);

}  // namespace tutti
