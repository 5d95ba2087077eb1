#include "frameworks/services/app_record.hpp"
#include "common/json.hpp"

#include <ctime>

namespace tutti::services {

using nlohmann::json;

const char* toString(TaskPhase phase) {
  switch (phase) {
    case TaskPhase::kStaging: return "TASK_STAGING";
    case TaskPhase::kStarting: return "TASK_STARTING";
    case TaskPhase::kRunning: return "TASK_RUNNING";
    case TaskPhase::kKilling: return "TASK_KILLING";
  }
  return "TASK_STAGING";
}

const char* actionName(Deployment::Kind kind) {
  switch (kind) {
    case Deployment::Kind::kStart: return "StartApplication";
    case Deployment::Kind::kScale: return "ScaleApplication";
    case Deployment::Kind::kRestart: return "RestartApplication";
    case Deployment::Kind::kStop: return "StopApplication";
  }
  return "ScaleApplication";
}

bool AppRecord::isReady(const TaskRecord& t) const {
  if (t.phase != TaskPhase::kRunning) return false;
  // An old instance ran under another definition (maybe without health
  // checks): running and not reported unhealthy is ready.
  if (!isCurrent(t)) return t.healthy.value_or(true);
  return def.healthChecks.empty() || t.healthy.value_or(false);
}

std::string isoTime(double epochSeconds) {
  time_t secs = static_cast<time_t>(epochSeconds);
  int millis = static_cast<int>((epochSeconds - static_cast<double>(secs)) * 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

namespace {
json attributesJson(const Attributes& attributes) {
  json out = json::object();
  for (const auto& a : attributes) out[a.name] = a.value;
  return out;
}

Attributes attributesFrom(const json& j) {
  Attributes out;
  for (const auto& [k, v] : j.items()) out.push_back({k, v.get<std::string>()});
  return out;
}
}  // namespace

json toStoredJson(const AppRecord& app) {
  json j;
  j["app"] = toJson(app.def);
  j["version"] = app.version;
  j["config_version"] = app.configVersion;
  j["deleting"] = app.deleting;
  json tasks = json::array();
  for (const auto& [id, t] : app.tasks) {
    tasks.push_back({{"id", t.id}, {"agent_id", t.agentId}, {"host", t.host},
                     {"attributes", attributesJson(t.attributes)}, {"ports", t.ports}, {"version", t.version},
                     {"staged_at", t.stagedAt}, {"started_at", t.startedAt},
                     {"killing", t.phase == TaskPhase::kKilling}, {"slot", t.slotId}});
  }
  j["tasks"] = tasks;
  json slots = json::array();
  for (const auto& [id, s] : app.slots) {
    json volumes = json::array();
    for (const auto& v : s.volumes) {
      volumes.push_back({{"container_path", v.containerPath},
                         {"persistence_id", v.persistenceId},
                         {"size", v.sizeMb}});
    }
    slots.push_back({{"id", s.id}, {"agent_id", s.agentId}, {"host", s.host},
                     {"attributes", attributesJson(s.attributes)}, {"role", s.role}, {"principal", s.principal},
                     {"framework_id", s.frameworkId}, {"cpus", s.cpus}, {"mem", s.mem},
                     {"disk", s.disk}, {"volumes", volumes}, {"task_id", s.taskId},
                     {"confirmed", s.confirmed}, {"wipe", s.wipe},
                     {"created_at", s.createdAt}});
  }
  j["slots"] = slots;
  if (app.deployment) {
    const Deployment& d = *app.deployment;
    j["deployment"] = {{"id", d.id}, {"version", d.version}, {"kind", actionName(d.kind)},
                       {"started_at", d.startedAt},
                       {"previous", d.previous ? toJson(*d.previous) : json(nullptr)},
                       {"previous_config_version", d.previousConfigVersion}};
  }
  return j;
}

Result<AppRecord> fromStoredJson(const std::string& text) {
  auto j = tutti::json::parse(text);
  auto corrupt = [](const std::string& why) {
    return Status::InvalidArgument("corrupt app record: " + why);
  };
  if (!j.is_object()) return corrupt("not a JSON object");
  try {
    AppRecord app;
    auto parsed = parseApp(j.at("app"));
    if (!parsed.app) return corrupt("invalid app definition");
    app.def = *parsed.app;
    app.version = j.at("version").get<std::string>();
    app.configVersion = j.at("config_version").get<std::string>();
    app.deleting = j.value("deleting", false);
    for (const auto& t : j.at("tasks")) {
      TaskRecord r;
      r.id = t.at("id").get<std::string>();
      r.agentId = t.at("agent_id").get<std::string>();
      r.host = t.at("host").get<std::string>();
      r.attributes = attributesFrom(t.at("attributes"));
      r.ports = t.at("ports").get<std::vector<uint32_t>>();
      r.version = t.at("version").get<std::string>();
      r.stagedAt = t.at("staged_at").get<double>();
      r.startedAt = t.at("started_at").get<double>();
      // Until reconciliation says otherwise, a stored instance is staging.
      r.phase = t.value("killing", false) ? TaskPhase::kKilling : TaskPhase::kStaging;
      r.slotId = t.value("slot", "");
      app.tasks[r.id] = r;
    }
    for (const auto& s : j.value("slots", json::array())) {
      ResidentSlot slot;
      slot.id = s.at("id").get<std::string>();
      slot.agentId = s.at("agent_id").get<std::string>();
      slot.host = s.at("host").get<std::string>();
      slot.attributes = attributesFrom(s.at("attributes"));
      slot.role = s.at("role").get<std::string>();
      slot.principal = s.at("principal").get<std::string>();
      slot.frameworkId = s.at("framework_id").get<std::string>();
      slot.cpus = s.at("cpus").get<double>();
      slot.mem = s.at("mem").get<double>();
      slot.disk = s.at("disk").get<double>();
      for (const auto& v : s.at("volumes")) {
        slot.volumes.push_back({v.at("container_path").get<std::string>(),
                                v.at("persistence_id").get<std::string>(),
                                v.at("size").get<double>()});
      }
      slot.taskId = s.at("task_id").get<std::string>();
      slot.confirmed = s.at("confirmed").get<bool>();
      slot.wipe = s.at("wipe").get<bool>();
      slot.createdAt = s.at("created_at").get<double>();
      app.slots[slot.id] = slot;
    }
    if (j.contains("deployment")) {
      const json& d = j["deployment"];
      Deployment dep;
      dep.id = d.at("id").get<std::string>();
      dep.version = d.at("version").get<std::string>();
      std::string kind = d.at("kind").get<std::string>();
      for (auto k : {Deployment::Kind::kStart, Deployment::Kind::kScale,
                     Deployment::Kind::kRestart, Deployment::Kind::kStop}) {
        if (kind == actionName(k)) dep.kind = k;
      }
      dep.startedAt = d.at("started_at").get<double>();
      if (!d.at("previous").is_null()) {
        auto previous = parseApp(d.at("previous"));
        if (!previous.app) return corrupt("invalid previous definition");
        dep.previous = *previous.app;
      }
      dep.previousConfigVersion = d.at("previous_config_version").get<std::string>();
      app.deployment = dep;
    }
    return app;
  } catch (const json::exception& e) {
    return corrupt(e.what());
  }
}

}  // namespace tutti::services
