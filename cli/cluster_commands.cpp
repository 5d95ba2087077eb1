#include <ctime>

#include "cli/commands.hpp"
#include "cli/table.hpp"

namespace tutti::cli {

namespace {
using json::Json;

std::string str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
double num(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : 0.0;
}
// "used/total" of a scalar from two resource objects.
std::string usage(const Json& used, const Json& total, const char* name) {
  return formatNumber(num(used, name)) + "/" + formatNumber(num(total, name));
}
std::string joined(const Json& array) {
  std::string out;
  if (!array.is_array()) return out;
  for (const auto& v : array) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += ",";
    out += v.get<std::string>();
  }
  return out;
}
Status needOneArgument(const CommandLine& c, const char* what) {
  if (c.args.size() == 1 && !c.args[0].empty()) return Status::OK();
  return Status::InvalidArgument(std::string("Expected one argument: the ") + what);
}
}  // namespace

Status masterInfo(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto state = m.getJson("/master/state-summary");
  if (!state.ok()) return state.status();
  if (c.json) {
    out << state->dump(2) << "\n";
    return Status::OK();
  }
  const Json& leader = (*state)["leader_info"];
  out << "leader    " << str(*state, "id") << " at " << m.host() << ":" << m.port() << "\n";
  out << "hostname  " << str(*state, "hostname") << "\n";
  if (leader.is_object()) out << "messages  " << str(leader, "message_address") << "\n";
  out << "version   " << str(*state, "version") << "\n";
  std::time_t started = static_cast<std::time_t>(num(*state, "start_time"));
  char when[64] = "";
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&started));
  out << "started   " << when << "\n";
  out << "agents    " << (*state)["slaves"].size() << "\n";
  out << "frameworks " << (*state)["frameworks"].size() << "\n";
  return Status::OK();
}

Status agentList(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto slaves = m.getJson("/master/slaves");
  if (!slaves.ok()) return slaves.status();
  if (c.json) {
    out << slaves->dump(2) << "\n";
    return Status::OK();
  }
  Table t({"ID", "HOSTNAME", "STATE", "CPUS", "MEM", "DISK", "TASKS"});
  for (const char* group : {"slaves", "recovered_slaves", "unreachable_slaves"}) {
    for (const auto& a : (*slaves)[group]) {
      std::string state = std::string(group) == "slaves"             ? "active"
                          : std::string(group) == "recovered_slaves" ? "recovered"
                                                                     : "unreachable";
      t.add({str(a, "id"), str(a, "hostname") + ":" + formatNumber(num(a, "port")), state,
             usage(a["used_resources"], a["resources"], "cpus"),
             usage(a["used_resources"], a["resources"], "mem"),
             usage(a["used_resources"], a["resources"], "disk"),
             formatNumber(num(a, "task_count"))});
    }
  }
  t.print(out);
  return Status::OK();
}

Status agentGone(MasterClient& m, const CommandLine& c, std::ostream& out) {
  Status s = needOneArgument(c, "agent id");
  if (!s.ok()) return s;
  Json call{{"type", "MARK_AGENT_GONE"},
            {"mark_agent_gone", {{"agent_id", {{"value", c.args[0]}}}}}};
  auto r = m.request("POST", "/api/v1", call.dump());
  if (!r.ok()) return r.status();
  s = checkAnswer(*r, "Marking agent " + c.args[0] + " gone");
  if (!s.ok()) return s;
  out << "Agent " << c.args[0] << " is gone\n";
  return Status::OK();
}

Status frameworkList(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto fws = m.getJson("/master/frameworks");
  if (!fws.ok()) return fws.status();
  if (c.json) {
    out << fws->dump(2) << "\n";
    return Status::OK();
  }
  Table t({"ID", "NAME", "ROLES", "STATE", "TASKS", "CPUS", "MEM"});
  auto add = [&](const Json& f, const std::string& state) {
    t.add({str(f, "id"), str(f, "name"), joined(f["roles"]), state,
           formatNumber(num(f, "task_count")), formatNumber(num(f["used_resources"], "cpus")),
           formatNumber(num(f["used_resources"], "mem"))});
  };
  for (const auto& f : (*fws)["frameworks"]) {
    add(f, f.value("active", false) ? "active" : "disconnected");
  }
  if (c.has("all")) {
    for (const auto& f : (*fws)["completed_frameworks"]) add(f, "completed");
  }
  t.print(out);
  return Status::OK();
}

Status frameworkTeardown(MasterClient& m, const CommandLine& c, std::ostream& out) {
  Status s = needOneArgument(c, "framework id");
  if (!s.ok()) return s;
  auto r = m.request("POST", "/master/teardown", Json{{"framework_id", c.args[0]}}.dump());
  if (!r.ok()) return r.status();
  s = checkAnswer(*r, "Tearing down framework " + c.args[0]);
  if (!s.ok()) return s;
  out << "Framework " << c.args[0] << " was torn down\n";
  return Status::OK();
}

Status roleList(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto roles = m.getJson("/master/roles");
  if (!roles.ok()) return roles.status();
  if (c.json) {
    out << roles->dump(2) << "\n";
    return Status::OK();
  }
  Table t({"ROLE", "WEIGHT", "FRAMEWORKS", "ALLOCATED CPUS", "ALLOCATED MEM", "RESERVED CPUS",
           "QUOTA CPUS"});
  for (const auto& r : (*roles)["roles"]) {
    std::string quota;
    if (r.contains("quota")) {
      quota = formatNumber(num(r["quota"]["guarantee"], "cpus"));
      double limit = num(r["quota"]["limit"], "cpus");
      if (limit > 0) quota += ".." + formatNumber(limit);
    }
    t.add({str(r, "name"), formatNumber(num(r, "weight")),
           formatNumber(static_cast<double>(r["frameworks"].size())),
           formatNumber(num(r["allocated"], "cpus")), formatNumber(num(r["allocated"], "mem")),
           formatNumber(num(r["reserved"], "cpus")), quota});
  }
  t.print(out);
  return Status::OK();
}

}  // namespace tutti::cli
