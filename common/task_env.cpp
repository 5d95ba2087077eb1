#include "common/task_env.hpp"

#include <vector>

namespace tutti {

std::vector<std::string> commandArgv(const CommandInfo& command) {
  if (command.shell) return {"/bin/sh", "-c", command.value};
  std::vector<std::string> argv =
      command.arguments.empty() ? std::vector<std::string>{command.value} : command.arguments;
  argv[0] = command.value;
  return argv;
}

std::map<std::string, std::string> taskEnvironment(const TaskInfo& task, const std::string& sandbox,
                                                   const std::string& hostname) {
  std::map<std::string, std::string> env;
  env["TUTTI_TASK_ID"] = task.taskId.value;
  env["MESOS_TASK_ID"] = task.taskId.value;
  if (!sandbox.empty()) {
    env["TUTTI_SANDBOX"] = sandbox;
    env["MESOS_SANDBOX"] = sandbox;
  }
  if (!hostname.empty()) env["HOST"] = hostname;
  std::vector<uint64_t> ports;
  for (const Resource& r : task.resources) {
    if (r.name != "ports" || r.type != Resource::Type::RANGES) continue;
    for (const Range& range : r.ranges) {
      for (uint64_t p = range.begin; p <= range.end && ports.size() < 1000; ++p) ports.push_back(p);
    }
  }
  std::string list;
  for (size_t i = 0; i < ports.size(); ++i) {
    env["PORT" + std::to_string(i)] = std::to_string(ports[i]);
    list += (i ? "," : "") + std::to_string(ports[i]);
  }
  if (!ports.empty()) {
    env["PORT"] = std::to_string(ports[0]);
    env["PORTS"] = list;
  }
  return env;
}

}  // namespace tutti
