#include "frameworks/services/app_views.hpp"

#include "frameworks/services/resident.hpp"

namespace tutti::services {

using nlohmann::json;

namespace {
// Marathon's task field for a resident instance's volumes.
json localVolumes(const ResidentSlot& slot) {
  json volumes = json::array();
  for (const auto& v : slot.volumes) {
    volumes.push_back({{"containerPath", v.containerPath}, {"persistenceId", v.persistenceId}});
  }
  return volumes;
}
}  // namespace

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
  if (slot != app.slots.end()) j["localVolumes"] = localVolumes(slot->second);
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

namespace {

// A resident app's slot with no task: listed so that it can be seen and
// wiped (DELETE /v2/apps/{id}/tasks/{id}?wipe=true).
json reservedView(const AppRecord& app, const ResidentSlot& slot) {
  json j = {{"id", reservedTaskId(app.def.id, slot.id)},
            {"appId", app.def.id},
            {"host", slot.host},
            {"ports", json::array()},
            {"servicePorts", json::array()},
            {"slaveId", slot.agentId},
            {"stagedAt", nullptr},
            {"startedAt", nullptr},
            {"version", app.configVersion},
            {"state", "TASK_RESERVED"},
            {"localVolumes", localVolumes(slot)},
            {"healthCheckResults", json::array()}};
  for (const auto& p : app.def.portDefinitions) j["servicePorts"].push_back(p.port);
  return j;
}

// The app's tasks and its slots with no task.
void addTasks(const AppRecord& app, json* tasks) {
  for (const auto& [_, t] : app.tasks) tasks->push_back(taskView(app, t));
  for (const auto& [_, slot] : app.slots) {
    if (slot.taskId.empty() && !slot.wipe) tasks->push_back(reservedView(app, slot));
  }
}

}  // namespace

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
  }
  if (withTasks) addTasks(app, &tasks);
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
    addTasks(app, &tasks);
  }
  return json{{"tasks", tasks}};
}

json deploymentView(const std::string& appId, const Deployment& d) {
  json action = {{"action", actionName(d.kind)}, {"app", appId}};
  return {{"id", d.id},
          {"version", d.version},
          {"affectedApps", {appId}},
          {"steps", {{{"actions", {action}}}}},
          {"currentActions", {action}},
          {"currentStep", 1},
          {"totalSteps", 1}};
}

json deploymentsView(const AppMap& apps) {
  json list = json::array();
  for (const auto& [id, app] : apps) {
    if (app.deployment) list.push_back(deploymentView(id, *app.deployment));
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
