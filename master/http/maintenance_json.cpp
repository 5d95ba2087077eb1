#include "master/http/maintenance_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "master/maintenance_manager.hpp"

namespace tutti::master {

namespace {
using json::Json;

Status error(const std::string& path, const std::string& what) {
  return Status::InvalidArgument("'" + path + "': " + what);
}

Result<int64_t> parseNanos(const Json& j, const std::string& path) {
  if (j.is_number_integer() && !j.is_number_unsigned()) return j.get<int64_t>();
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return error(path, "out of range");
    }
    return static_cast<int64_t>(v);
  }
  if (j.is_number_float()) {
    double v = j.get<double>();
    // 2^63 is the first double beyond int64's range.
    if (!std::isfinite(v) || std::trunc(v) != v || v >= 9223372036854775808.0 ||
        v < -9223372036854775808.0) {
      return error(path, "expected an integer number of nanoseconds");
    }
    return static_cast<int64_t>(v);
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
      return error(path, "expected an integer number of nanoseconds");
    }
    return v;
  }
  return error(path, "expected an integer number of nanoseconds");
}

// {"nanoseconds": N}
Result<int64_t> parseTime(const Json& j, const std::string& path) {
  if (!j.is_object()) return error(path, "expected an object {\"nanoseconds\": N}");
  auto it = j.find("nanoseconds");
  if (it == j.end()) return error(path + ".nanoseconds", "missing");
  return parseNanos(*it, path + ".nanoseconds");
}

Result<Unavailability> parseUnavailability(const Json& j, const std::string& path) {
  if (!j.is_object()) return error(path, "expected an object with 'start'");
  auto start = j.find("start");
  if (start == j.end()) return error(path + ".start", "missing");
  auto s = parseTime(*start, path + ".start");
  if (!s.ok()) return s.status();
  Unavailability u;
  u.start = std::chrono::nanoseconds(*s);
  auto duration = j.find("duration");
  if (duration != j.end() && !duration->is_null()) {
    auto d = parseTime(*duration, path + ".duration");
    if (!d.ok()) return d.status();
    if (*d < 0) return error(path + ".duration", "cannot be negative");
    u.duration = std::chrono::nanoseconds(*d);
  }
  return u;
}

Result<MachineID> parseMachineId(const Json& j, const std::string& path) {
  if (!j.is_object()) return error(path, "expected an object {\"hostname\", \"ip\"}");
  std::string fields[2];
  const char* names[2] = {"hostname", "ip"};
  for (int i = 0; i < 2; ++i) {
    auto it = j.find(names[i]);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return error(path + "." + names[i], "expected a string");
    fields[i] = it->get<std::string>();
  }
  auto id = makeMachineId(fields[0], fields[1]);
  if (!id.ok()) return error(path, id.error());
  return *id;
}

Result<std::vector<MachineID>> parseMachineList(const Json& j, const std::string& path,
                                                size_t& budget) {
  if (!j.is_array()) return error(path, "expected an array of machine ids");
  if (j.size() > budget) {
    return Status::InvalidArgument("Too many machines: at most " +
                                   std::to_string(kMaxMaintenanceMachines) + " are allowed");
  }
  budget -= j.size();
  std::vector<MachineID> ids;
  ids.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    auto id = parseMachineId(j[i], path + "[" + std::to_string(i) + "]");
    if (!id.ok()) return id.status();
    ids.push_back(*id);
  }
  return ids;
}
}  // namespace

Result<MaintenanceSchedule> parseMaintenanceSchedule(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument("Expected a JSON object {\"windows\": [...]}");
  MaintenanceSchedule schedule;
  auto windows = j.find("windows");
  if (windows == j.end() || windows->is_null()) return schedule;  // the empty schedule
  if (!windows->is_array()) return error("windows", "expected an array");
  size_t budget = kMaxMaintenanceMachines;
  for (size_t w = 0; w < windows->size(); ++w) {
    const Json& window = (*windows)[w];
    std::string path = "windows[" + std::to_string(w) + "]";
    if (!window.is_object()) {
      return error(path, "expected an object {\"machine_ids\", \"unavailability\"}");
    }
    MaintenanceWindow out;
    auto ids = window.find("machine_ids");
    if (ids == window.end()) return error(path + ".machine_ids", "missing");
    auto parsed = parseMachineList(*ids, path + ".machine_ids", budget);
    if (!parsed.ok()) return parsed.status();
    out.machineIds = std::move(parsed).value();
    auto u = window.find("unavailability");
    if (u == window.end()) return error(path + ".unavailability", "missing");
    auto unavailability = parseUnavailability(*u, path + ".unavailability");
    if (!unavailability.ok()) return unavailability.status();
    out.unavailability = *unavailability;
    schedule.windows.push_back(std::move(out));
  }
  return schedule;
}

Result<std::vector<MachineID>> parseMachineIds(const Json& j) {
  if (!j.is_array()) {
    return Status::InvalidArgument(
        "Expected a JSON array of machine ids [{\"hostname\": ..., \"ip\": ...}]");
  }
  size_t budget = kMaxMaintenanceMachines;
  return parseMachineList(j, "machines", budget);
}

Json machineIdJson(const MachineID& id) {
  Json j = Json::object();
  if (!id.hostname.empty()) j["hostname"] = id.hostname;
  if (!id.ip.empty()) j["ip"] = id.ip;
  return j;
}

Json unavailabilityJson(const Unavailability& u) {
  Json j{{"start", {{"nanoseconds", u.start.count()}}}};
  if (u.duration) j["duration"] = {{"nanoseconds", u.duration->count()}};
  return j;
}

Json maintenanceScheduleJson(const MaintenanceSchedule& schedule) {
  Json windows = Json::array();
  for (const auto& w : schedule.windows) {
    Json ids = Json::array();
    for (const auto& id : w.machineIds) ids.push_back(machineIdJson(id));
    windows.push_back(
        {{"machine_ids", ids}, {"unavailability", unavailabilityJson(w.unavailability)}});
  }
  return {{"windows", windows}};
}

Json maintenanceStatusJson(const MaintenanceManager& maintenance) {
  Json draining = Json::array();
  Json down = Json::array();
  for (const auto& [id, mode] : maintenance.modes()) {
    if (mode == MachineMode::kDraining) draining.push_back({{"id", machineIdJson(id)}});
    if (mode == MachineMode::kDown) down.push_back(machineIdJson(id));
  }
  return {{"draining_machines", draining}, {"down_machines", down}};
}

}  // namespace tutti::master
