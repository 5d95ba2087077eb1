// tutti volume list | destroy: the persistent volumes the master knows (from
// /master/state's reserved_resources_full), and their destruction through
// /master/destroy-volumes with the volume as the master reports it.
#include "cli/commands.hpp"
#include "cli/table.hpp"

namespace tutti::cli {

namespace {
using json::Json;

std::string text(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

struct Volume {
  std::string agentId;
  std::string hostname;
  std::string role;
  Json resource;  // Mesos's full form, as the master wrote it
};

// Every volume of every agent in the master's state.
std::vector<Volume> volumesOf(const Json& state) {
  std::vector<Volume> out;
  if (!state.is_object() || !state.contains("slaves") || !state["slaves"].is_array()) return out;
  for (const auto& agent : state["slaves"]) {
    if (!agent.is_object() || !agent.contains("reserved_resources_full")) continue;
    const Json& byRole = agent["reserved_resources_full"];
    if (!byRole.is_object()) continue;
    for (const auto& [role, list] : byRole.items()) {
      if (!list.is_array()) continue;
      for (const auto& r : list) {
        if (!r.is_object() || !r.contains("disk") || !r["disk"].is_object() ||
            !r["disk"].contains("persistence")) {
          continue;
        }
        out.push_back({text(agent, "id"), text(agent, "hostname"), role, r});
      }
    }
  }
  return out;
}

std::string persistenceId(const Volume& v) { return text(v.resource["disk"]["persistence"], "id"); }

// "k=v,k=v" of the innermost reservation's labels (either JSON form).
std::string labelsOf(const Json& resource) {
  if (!resource.contains("reservations") || !resource["reservations"].is_array() ||
      resource["reservations"].empty()) {
    return "";
  }
  const Json& top = resource["reservations"].back();
  if (!top.is_object() || !top.contains("labels")) return "";
  Json list = top["labels"];
  if (list.is_object() && list.contains("labels")) list = list["labels"];
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& l : list) {
    if (!out.empty()) out += ",";
    out += text(l, "key") + "=" + text(l, "value");
  }
  return out;
}
}  // namespace

Status volumeList(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto state = m.getJson("/master/state");
  if (!state.ok()) return state.status();
  std::vector<Volume> volumes = volumesOf(*state);
  if (c.json) {
    Json list = Json::array();
    for (const auto& v : volumes) {
      list.push_back({{"agent_id", v.agentId}, {"hostname", v.hostname}, {"role", v.role},
                      {"volume", v.resource}});
    }
    out << list.dump(2) << "\n";
    return Status::OK();
  }
  Table t({"AGENT", "HOST", "ROLE", "ID", "PATH", "MB", "PRINCIPAL", "LABELS"});
  for (const auto& v : volumes) {
    const Json& disk = v.resource["disk"];
    double mb = v.resource.contains("scalar") && v.resource["scalar"].is_object() &&
                        v.resource["scalar"].contains("value") &&
                        v.resource["scalar"]["value"].is_number()
                    ? v.resource["scalar"]["value"].get<double>()
                    : 0.0;
    t.add({v.agentId, v.hostname, v.role, persistenceId(v),
           disk.contains("volume") ? text(disk["volume"], "container_path") : "",
           formatNumber(mb), text(disk["persistence"], "principal"), labelsOf(v.resource)});
  }
  t.print(out);
  return Status::OK();
}

Status volumeDestroy(MasterClient& m, const CommandLine& c, std::ostream& out) {
  if (c.args.size() != 2 || c.args[0].empty() || c.args[1].empty()) {
    return Status::InvalidArgument("Expected two arguments: the agent id and the persistence id");
  }
  auto state = m.getJson("/master/state");
  if (!state.ok()) return state.status();
  for (const auto& v : volumesOf(*state)) {
    if (v.agentId != c.args[0] || persistenceId(v) != c.args[1]) continue;
    Json body = {{"agent_id", v.agentId}, {"volumes", Json::array({v.resource})}};
    auto r = m.request("POST", "/master/destroy-volumes", body.dump());
    if (!r.ok()) return r.status();
    Status s = checkAnswer(*r, "Destroying volume " + c.args[1]);
    if (!s.ok()) return s;
    out << "Volume " << c.args[1] << " on agent " << c.args[0]
        << " was destroyed (its data is gone)\n";
    return Status::OK();
  }
  return Status::NotFound("No volume '" + c.args[1] + "' on agent '" + c.args[0] + "'");
}

}  // namespace tutti::cli
