// TaskFactory: turns an app definition into the TaskInfo of one instance on
// one offer — resources (cpus, mem, disk and host ports taken from what is
// left of the offer), command or args, environment (the app's env plus
// Marathon's MARATHON_APP_* variables; the agent adds PORT0..N, HOST),
// labels, image, and the first health check mapped to the executor's
// (Mesos-style checks: they run next to the task, Marathon's MESOS_HTTP).
// Pure: no I/O, no threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "frameworks/services/app.hpp"
#include "tutti/types.hpp"

namespace tutti::services {

struct InstanceLaunch {
  TaskInfo task;
  std::vector<uint32_t> ports;  // host ports, in portDefinitions order
};

// The instance `taskId` of `app` on `offer`, using only `left` (what is left
// of the offer); nullopt when it does not fit. With `reserved` (a resident
// instance's reserved resources and volumes, resident.hpp), the task uses
// those instead of unreserved cpus, mem and disk; its ports are unreserved.
std::optional<InstanceLaunch> buildInstance(const AppDefinition& app,
                                            const std::string& configVersion,
                                            const std::string& taskId, const Offer& offer,
                                            const Resources& left,
                                            const Resources* reserved = nullptr);

// "<safe app id>.<uuid>", Marathon's task id form; appIdOfTask() inverts it.
std::string newTaskId(const std::string& appId);
std::optional<std::string> appIdOfTask(const std::string& taskId);

}  // namespace tutti::services
