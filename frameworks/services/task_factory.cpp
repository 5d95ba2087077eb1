#include "frameworks/services/task_factory.hpp"

#include <algorithm>
#include <set>

#include "common/ids.hpp"

namespace tutti::services {
namespace {

// Host ports for the app's port definitions out of `free` (sorted ranges);
// nullopt when there are not enough, or a required one is missing.
std::optional<std::vector<uint32_t>> pickPorts(const AppDefinition& app,
                                               const std::vector<Range>& free) {
  std::vector<uint32_t> picked;
  std::set<uint64_t> used;
  auto available = [&](uint64_t p) {
    if (used.count(p)) return false;
    return std::any_of(free.begin(), free.end(),
                       [&](const Range& r) { return p >= r.begin && p <= r.end; });
  };
  for (const auto& def : app.portDefinitions) {
    if (app.requirePorts) {
      if (!available(def.port)) return std::nullopt;
      used.insert(def.port);
      picked.push_back(def.port);
      continue;
    }
    bool found = false;
    for (const auto& r : free) {
      for (uint64_t p = r.begin; p <= r.end && !found; ++p) {
        if (!used.count(p)) {
          used.insert(p);
          picked.push_back(static_cast<uint32_t>(p));
          found = true;
        }
      }
      if (found) break;
    }
    if (!found) return std::nullopt;
  }
  return picked;
}

std::string scalarText(const char* name, double value) {
  return std::string(name) + ":" + std::to_string(value) + ";";
}

HealthCheck executorHealthCheck(const AppHealthCheck& h, const std::vector<uint32_t>& ports) {
  HealthCheck c;
  switch (h.protocol) {
    case AppHealthCheck::Protocol::kHttp: c.type = HealthCheck::Type::HTTP; break;
    case AppHealthCheck::Protocol::kTcp: c.type = HealthCheck::Type::TCP; break;
    case AppHealthCheck::Protocol::kCommand: c.type = HealthCheck::Type::COMMAND; break;
  }
  // Marathon checks from the start; the grace period covers the warm-up.
  c.delaySeconds = 0;
  c.intervalSeconds = h.intervalSeconds;
  c.timeoutSeconds = h.timeoutSeconds;
  c.gracePeriodSeconds = h.gracePeriodSeconds;
  c.consecutiveFailures = h.maxConsecutiveFailures;
  c.httpPath = h.path;
  if (h.port) {
    c.port = *h.port;
  } else if (h.portIndex < ports.size()) {
    c.port = ports[h.portIndex];
  }
  if (h.protocol == AppHealthCheck::Protocol::kCommand) {
    CommandInfo cmd;
    cmd.value = h.command;
    c.command = cmd;
  }
  return c;
}

}  // namespace

std::optional<InstanceLaunch> buildInstance(const AppDefinition& app,
                                            const std::string& configVersion,
                                            const std::string& taskId, const Offer& offer,
                                            const Resources& left,
                                            const Resources* reserved) {
  auto ports = pickPorts(app, left.unreserved().ports());
  if (!ports) return std::nullopt;
  std::string text;
  if (!reserved) {
    text = scalarText("cpus", app.cpus) + scalarText("mem", app.mem);
    if (app.disk > 0) text += scalarText("disk", app.disk);
  }
  if (!ports->empty()) {
    std::vector<Range> ranges;
    for (uint32_t p : *ports) ranges.push_back({p, p});
    text += "ports:" + formatRanges(coalesceRanges(ranges));
  } else {
    if (!text.empty()) text.pop_back();
  }
  auto parsed = Resources::parse(text);
  if (!parsed.ok()) return std::nullopt;
  if (reserved) *parsed += *reserved;
  Resources wanted =
      offer.allocationRole.empty() ? *parsed : parsed->allocate(offer.allocationRole);
  if (!left.contains(wanted)) return std::nullopt;

  InstanceLaunch launch;
  launch.ports = *ports;
  TaskInfo& task = launch.task;
  task.name = safeAppId(app.id);
  task.taskId = TaskID(taskId);
  task.agentId = offer.agentId;
  task.resources = wanted;
  CommandInfo cmd;
  if (app.cmd) {
    cmd.value = *app.cmd;
  } else if (app.args && !app.args->empty()) {
    cmd.shell = false;
    cmd.value = (*app.args)[0];
    cmd.arguments = *app.args;
  } else {
    cmd.shell = false;  // the image's entrypoint
  }
  if (app.user) cmd.user = *app.user;
  cmd.uris = app.fetch;
  for (const auto& [k, v] : app.env) cmd.environment.push_back({k, v});
  cmd.environment.push_back({"MARATHON_APP_ID", app.id});
  cmd.environment.push_back({"MARATHON_APP_VERSION", configVersion});
  task.command = cmd;
  for (const auto& [k, v] : app.labels) task.labels.push_back({k, v});
  if (!app.healthChecks.empty()) {
    task.healthCheck = executorHealthCheck(app.healthChecks[0], *ports);
  }
  if (app.image) {
    ContainerInfo container;
    container.image = Image{Image::Type::DOCKER, *app.image, true};
    task.container = container;
  }
  return launch;
}

std::string newTaskId(const std::string& appId) { return safeAppId(appId) + "." + newUuid(); }

std::optional<std::string> appIdOfTask(const std::string& taskId) {
  size_t dot = taskId.rfind('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  return appIdFromSafe(taskId.substr(0, dot));
}

}  // namespace tutti::services
