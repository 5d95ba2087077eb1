// Maintenance primitives (Mesos's): value types, validation and the rule
// that says which agents run on which machine. Pure functions, no state:
// MaintenanceManager (maintenance_manager.hpp) keeps the schedule and the
// machines' modes.
//
// A *machine* is named by a hostname, an IP address, or both (Mesos's
// MachineID). A *window* is a set of machines and the interval during which
// they are unavailable; the *schedule* is a list of windows, and a machine
// appears in at most one of them. A machine in the schedule is DRAINING
// (offers of its agents carry the unavailability) until the operator brings
// it DOWN (its agents are shut down and may not register) and then UP again
// (it leaves the schedule). Machines outside the schedule are UP.
//
// Validation errors are InvalidArgument (HTTP 400) with a message that names
// the offending machine.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tutti/types.hpp"

namespace tutti::master {

struct MachineID {
  std::string hostname;  // lower case; empty when only the IP names it
  std::string ip;        // canonical text form (IPv4 or IPv6); may be empty
  auto operator<=>(const MachineID&) const = default;
  bool operator==(const MachineID&) const = default;
};
// "host (1.2.3.4)", "host" or "1.2.3.4", for messages and logs.
std::string toString(const MachineID& id);

// The registry stores these numbers (proto/registry.capnp).
enum class MachineMode {
  kUp = 0,        // not scheduled for maintenance (not kept: the default)
  kDraining = 1,  // in the schedule: offers carry the unavailability
  kDown = 2,      // taken down by the operator: agents shut down and refused
};
const char* toString(MachineMode mode);

struct MaintenanceWindow {
  std::vector<MachineID> machineIds;
  Unavailability unavailability;
  bool operator==(const MaintenanceWindow&) const = default;
};

struct MaintenanceSchedule {
  std::vector<MaintenanceWindow> windows;
  bool operator==(const MaintenanceSchedule&) const = default;
};

// What the registry keeps: the schedule and the mode of every machine in it
// (DRAINING or DOWN).
struct MaintenanceState {
  MaintenanceSchedule schedule;
  std::map<MachineID, MachineMode> modes;
  bool empty() const { return schedule.windows.empty() && modes.empty(); }
  bool operator==(const MaintenanceState&) const = default;
};

// Bounds that keep a schedule small enough for one registry record (a
// ZooKeeper node holds at most 1 MiB).
constexpr size_t kMaxMaintenanceMachines = 10'000;
constexpr size_t kMaxMachineHostnameLength = 255;

// Builds a MachineID from what an operator typed: the hostname is lower-cased,
// the IP parsed (IPv4 or IPv6) and printed in canonical form. Needs a
// hostname or an IP; a hostname must be at most 255 printable characters
// without spaces.
Result<MachineID> makeMachineId(const std::string& hostname, const std::string& ip);

// Checks an unavailability: its duration, when given, is not negative.
Status validateUnavailability(const Unavailability& u);

// Checks a list of machines (for /machine/down and /machine/up, and each
// window): not empty, no machine twice, each made by makeMachineId.
Status validateMachineList(const std::vector<MachineID>& ids);

// Checks a new schedule against the current machine modes, as Mesos does:
// every window is valid (see above), a machine appears in one window only,
// at most kMaxMaintenanceMachines machines, and every machine that is DOWN
// now stays in the schedule (bring it up first).
Status validateSchedule(const MaintenanceSchedule& schedule,
                        const std::map<MachineID, MachineMode>& modes);

// The machine ids that name the machine of an agent: its hostname alone,
// its IP alone, and both together. The IP is AgentInfo::ip, or the hostname
// when that is an IP address. A machine id in the schedule applies to an
// agent when it is one of these, i.e. when each field it gives matches.
std::vector<MachineID> machineIdsOf(const AgentInfo& agent);

}  // namespace tutti::master
