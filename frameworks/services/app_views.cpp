#include "frameworks/services/app_views.hpp"

namespace tutti::services {

using nlohmann::json;

json taskView(const AppRecord& app, const TaskRecord& t) {
  json j = {{"id", t.id},
            {"appId", app.def.id},
            {"host", t.host},
            {"ports", t.ports},
            {"slaveId", t.agentId},
            {"stagedAt", isoTime(t.stagedAt)},
            {"startedAt", t.startedAt > 0 ? json(isoTime(t.startedAt)) : json(nullptr)},
            {"version", t.version},
            {"state", toString(t.phase)},
            {"servicePorts", json::array()}};
  for (const auto& p : app.def.portDefinitions) j["servicePorts"].push_back(p.port);
  auto slot = t.slotId.empty() ? app.slots.end() : app.slots.find(t.slotId);
  if (slot != app.slots.end()) {
    json volumes = json::array();
    for (const auto& v : slot->second.volumes) {
      volumes.push_back({{"containerPath", v.containerPath}, {"persistenceId", v.persistenceId}});
    }
    j["localVolumes"] = volumes;
  }
  json results = json::array();
  if (!app.def.healthChecks.empty() && t.healthy) {
    std::string when = isoTime(t.lastHealthChange);
    results.push_back({{"alive", *t.healthy},
                       {"consecutiveFailures", t.healthFailures},
                       {"firstSuccess", nullptr},
                       {"lastSuccess", *t.healthy ? json(when) : json(nullptr)},
                       {"lastFailure", *t.healthy ? json(nullptr) : json(when)},
                       {"taskId", t.id}});
  }
  j["healthCheckResults"] = results;
  return j;
}

json appView(const AppRecord& app, bool withTasks) {
  json j = toJson(app.def);
  int staged = 0, running = 0, healthy = 0, unhealthy = 0;
  json tasks = json::array();
  for (const auto& [_, t] : app.tasks) {
    if (t.phase == TaskPhase::kRunning) {
      ++running;
    } else if (t.phase != TaskPhase::kKilling) {
      ++staged;
    }
    if (t.healthy && *t.healthy) ++healthy;
    if (t.healthy && !*t.healthy) ++unhealthy;
    if (withTasks) tasks.push_back(taskView(app, t));
  }
  j["tasksStaged"] = staged;
  j["tasksRunning"] = running;
  j["tasksHealthy"] = healthy;
  j["tasksUnhealthy"] = unhealthy;
  j["version"] = app.version;
  j["versionInfo"] = {{"lastScalingAt", app.version}, {"lastConfigChangeAt", app.configVersion}};
  j["deployments"] = json::array();
  if (app.deployment) j["deployments"].push_back({{"id", app.deployment->id}});
  if (withTasks) j["tasks"] = tasks;
  if (!app.lastFailure.empty()) j["lastTaskFailure"] = {{"message", app.lastFailure}};
  return j;
}

json tasksView(const AppMap& apps, const std::string& onlyApp) {
  json tasks = json::array();
  for (const auto& [id, app] : apps) {
    if (!onlyApp.empty() && id != onlyApp) continue;
    for (const auto& [_, t] : app.tasks) tasks.push_back(taskView(app, t));
  }
  return json{{"tasks", tasks}};
}

json deploymentsView(const AppMap& apps) {
  json list = json::array();
  for (const auto& [id, app] : apps) {
    if (!app.deployment) continue;
    const Deployment& d = *app.deployment;
    json action = {{"action", actionName(d.kind)}, {"app", id}};
    list.push_back({{"id", d.id},
                    {"version", d.version},
                    {"affectedApps", {id}},
                    {"steps", {{{"actions", {action}}}}},
                    {"currentActions", {action}},
                    {"currentStep", 1},
                    {"totalSteps", 1}});
  }
  return list;
}

std::string endpointsText(const AppMap& apps, const std::string& onlyApp) {
  std::string out;
  for (const auto& [id, app] : apps) {
    if (!onlyApp.empty() && id != onlyApp) continue;
    for (size_t i = 0; i < app.def.portDefinitions.size(); ++i) {
      out += safeAppId(id) + "\t" + std::to_string(app.def.portDefinitions[i].port) + "\t";
      for (const auto& [_, t] : app.tasks) {
        if (t.phase != TaskPhase::kRunning || i >= t.ports.size()) continue;
        out += t.host + ":" + std::to_string(t.ports[i]) + "\t";
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace tutti::services
