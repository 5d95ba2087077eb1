// JSON forms of the maintenance primitives, shaped as Mesos's endpoints
// shape them (so that Mesos tools and scripts carry over):
//
//   MachineID       {"hostname": "h", "ip": "1.2.3.4"}     (either may be left out)
//   Unavailability  {"start": {"nanoseconds": N}, "duration": {"nanoseconds": N}}
//   schedule        {"windows": [{"machine_ids": [MachineID…], "unavailability": U}]}
//   status          {"draining_machines": [{"id": MachineID}], "down_machines": [MachineID…]}
//
// Parsers never throw: a value of the wrong type, a missing field or a bad
// machine id is InvalidArgument with the path of the offending field
// ("windows[0].machine_ids[2].ip: …"). Unknown fields are ignored, as
// Mesos's JSON-to-protobuf parsing does. Nanoseconds are integers (or
// strings holding one, as protobuf's JSON mapping allows for int64).
// Parsed machine ids are normalised (makeMachineId); the schedule's rules
// across windows and machine modes are checked by the MaintenanceManager.
#pragma once

#include <vector>

#include "common/json.hpp"
#include "master/maintenance.hpp"

namespace tutti::master {

class MaintenanceManager;

Result<MaintenanceSchedule> parseMaintenanceSchedule(const json::Json& j);
// A JSON array of machine ids (the body of /machine/down and /machine/up).
Result<std::vector<MachineID>> parseMachineIds(const json::Json& j);

json::Json machineIdJson(const MachineID& id);
json::Json unavailabilityJson(const Unavailability& u);
json::Json maintenanceScheduleJson(const MaintenanceSchedule& schedule);
json::Json maintenanceStatusJson(const MaintenanceManager& maintenance);

}  // namespace tutti::master
