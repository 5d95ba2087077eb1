// The environment a task sees about itself (DESIGN §8, Mesos's and
// Marathon's names): TUTTI_TASK_ID/MESOS_TASK_ID, the sandbox as
// TUTTI_SANDBOX/MESOS_SANDBOX, HOST, and its port resources as PORT0..n,
// PORT and PORTS. Shared by the command executor (plain tasks) and the
// agent (tasks in an image, whose sandbox path differs inside). Pure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tutti/types.hpp"

namespace tutti {

std::map<std::string, std::string> taskEnvironment(const TaskInfo& task, const std::string& sandbox,
                                                   const std::string& hostname);

// How a command runs (Mesos's rule): `/bin/sh -c value` when `shell`, else
// `value` as the program with `arguments` (whose first is argv[0]'s slot).
std::vector<std::string> commandArgv(const CommandInfo& command);

}  // namespace tutti
