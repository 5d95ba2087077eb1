// MaintenanceManager: the maintenance schedule and the modes of the machines
// in it (/master/maintenance/schedule, /master/machine/down,
// /master/machine/up, /master/maintenance/status), as Mesos's maintenance
// primitives. Owned by the Master; loop thread only. Kept in the registry
// and restored by a new leader.
//
//   UP ──schedule──► DRAINING ──machine/down──► DOWN ──machine/up──► UP
//    ▲                   │
//    └──left out of a new schedule
//
// DRAINING: offers of the machine's agents carry its unavailability.
// DOWN: its agents are told to shut down and removed (their tasks become
// TASK_GONE_BY_OPERATOR for partition-aware frameworks, TASK_LOST for the
// others), and agents on it are refused when they (re-)register.
// Inverse offers are not implemented.
//
// Every change is validated first: an invalid request returns
// InvalidArgument (HTTP 400) and changes nothing. A valid one takes effect
// at once in memory and `durable` runs once the registry holds it (with the
// registry's error if the write failed; the master then steps down).
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "master/maintenance.hpp"
#include "master/registry/registry.hpp"

namespace tutti::master {

class Master;

class MaintenanceManager {
 public:
  explicit MaintenanceManager(Master& master) : master_(master) {}

  // After a failover: what the registry holds. Machines of the schedule
  // without a stored mode are DRAINING; modes of machines not in the
  // schedule are dropped (with a warning).
  void restore(const MaintenanceState& state);

  // Replaces the schedule (validateSchedule). Machines in it become
  // DRAINING, or stay DOWN; machines left out become UP. Outstanding offers
  // of agents whose unavailability changed are rescinded, so that the next
  // ones carry the new one.
  Status updateSchedule(const MaintenanceSchedule& schedule, Registry::Done durable);
  // DRAINING → DOWN for each machine (all must be DRAINING in the schedule).
  Status startMaintenance(const std::vector<MachineID>& ids, Registry::Done durable);
  // DOWN → UP for each machine (all must be DOWN); they leave the schedule,
  // and windows left empty are dropped.
  Status stopMaintenance(const std::vector<MachineID>& ids, Registry::Done durable);

  const MaintenanceSchedule& schedule() const { return schedule_; }
  // Machines in the schedule (DRAINING or DOWN); every other machine is UP.
  const std::map<MachineID, MachineMode>& modes() const { return modes_; }
  MachineMode modeOf(const MachineID& id) const;

  // The unavailability of the agent's machine when that is in the schedule
  // (the earliest, when several machine ids in the schedule name it).
  std::optional<Unavailability> unavailabilityOf(const AgentInfo& agent) const;
  // The DOWN machine the agent runs on, if any.
  std::optional<MachineID> downMachineOf(const AgentInfo& agent) const;

 private:
  // The ids are valid, scheduled, and all in `mode`; else why not, saying
  // they cannot be `action` ("brought down").
  Status requireScheduledIn(const std::vector<MachineID>& ids, MachineMode mode,
                            const char* action) const;
  // Checked: only the transitions drawn above (and a mode to itself).
  void transition(const MachineID& id, MachineMode to);
  MaintenanceState state() const;
  // Rescinds the offers of registered agents whose unavailability differs
  // from `before`.
  void rescindChanged(const std::map<AgentID, std::optional<Unavailability>>& before);
  std::map<AgentID, std::optional<Unavailability>> unavailabilities() const;

  Master& master_;
  MaintenanceSchedule schedule_;
  std::map<MachineID, MachineMode> modes_;          // DRAINING or DOWN
  std::map<MachineID, Unavailability> windowOf_;    // each scheduled machine's
};

}  // namespace tutti::master
