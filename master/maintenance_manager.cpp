#include "master/maintenance_manager.hpp"

#include <glog/logging.h>

#include <set>

#include "master/master.hpp"

namespace tutti::master {

namespace {
// One registry record holds the whole schedule; ZooKeeper's nodes hold at
// most 1 MiB.
constexpr size_t kMaxRecordBytes = 768 * 1024;

bool allowed(MachineMode from, MachineMode to) {
  if (from == to) return true;  // a new schedule for a machine already in one
  switch (from) {
    case MachineMode::kUp: return to == MachineMode::kDraining;
    case MachineMode::kDraining: return to == MachineMode::kDown || to == MachineMode::kUp;
    case MachineMode::kDown: return to == MachineMode::kUp;
  }
  return false;
}
}  // namespace

MachineMode MaintenanceManager::modeOf(const MachineID& id) const {
  auto it = modes_.find(id);
  return it == modes_.end() ? MachineMode::kUp : it->second;
}

void MaintenanceManager::transition(const MachineID& id, MachineMode to) {
  MachineMode from = modeOf(id);
  CHECK(allowed(from, to)) << "machine " << toString(id) << ": " << toString(from) << " -> "
                           << toString(to);
  if (from != to) {
    LOG(INFO) << "Machine '" << toString(id) << "' is " << toString(to) << " (was "
              << toString(from) << ")";
  }
  if (to == MachineMode::kUp) {
    modes_.erase(id);
  } else {
    modes_[id] = to;
  }
}

MaintenanceState MaintenanceManager::state() const { return MaintenanceState{schedule_, modes_}; }

void MaintenanceManager::restore(const MaintenanceState& state) {
  schedule_ = state.schedule;
  modes_.clear();
  windowOf_.clear();
  for (const auto& window : schedule_.windows) {
    for (const auto& id : window.machineIds) {
      windowOf_[id] = window.unavailability;
      auto it = state.modes.find(id);
      modes_[id] = it != state.modes.end() && it->second == MachineMode::kDown
                       ? MachineMode::kDown
                       : MachineMode::kDraining;
    }
  }
  for (const auto& [id, mode] : state.modes) {
    if (!windowOf_.count(id)) {
      LOG(WARNING) << "The registry holds mode " << toString(mode) << " for machine '"
                   << toString(id) << "', which is not in the schedule; it is UP";
    }
  }
  if (!modes_.empty()) {
    LOG(INFO) << "Recovered a maintenance schedule of " << schedule_.windows.size()
              << " windows and " << modes_.size() << " machines";
  }
}

std::map<AgentID, std::optional<Unavailability>> MaintenanceManager::unavailabilities() const {
  std::map<AgentID, std::optional<Unavailability>> out;
  for (const auto& [id, agent] : master_.agents().all()) {
    if (agent.state == AgentState::kRegistered) out[id] = unavailabilityOf(agent.info);
  }
  return out;
}

void MaintenanceManager::rescindChanged(
    const std::map<AgentID, std::optional<Unavailability>>& before) {
  for (const auto& [id, was] : before) {
    const AgentRecord* agent = master_.agents().find(id);
    if (!agent || agent->offers.empty()) continue;
    if (unavailabilityOf(agent->info) != was) {
      master_.offers().rescindOffersOfAgentAndRecover(id);
    }
  }
}

Status MaintenanceManager::updateSchedule(const MaintenanceSchedule& schedule,
                                          Registry::Done durable) {
  Status s = validateSchedule(schedule, modes_);
  if (!s.ok()) return s;
  // The modes after the change: DOWN machines stay DOWN, the others drain.
  std::map<MachineID, MachineMode> next;
  for (const auto& window : schedule.windows) {
    for (const auto& id : window.machineIds) {
      next[id] = modeOf(id) == MachineMode::kDown ? MachineMode::kDown : MachineMode::kDraining;
    }
  }
  size_t bytes = encodeRegistryMaintenance(MaintenanceState{schedule, next}).size();
  if (bytes > kMaxRecordBytes) {
    return Status::InvalidArgument("The schedule is too large (" + std::to_string(bytes / 1024) +
                                   " KiB stored; at most " +
                                   std::to_string(kMaxRecordBytes / 1024) + " KiB)");
  }

  auto before = unavailabilities();
  // Machines left out come back UP (validation made sure none is DOWN).
  std::vector<MachineID> leaving;
  for (const auto& [id, _] : modes_) {
    if (!next.count(id)) leaving.push_back(id);
  }
  for (const auto& id : leaving) transition(id, MachineMode::kUp);
  for (const auto& [id, mode] : next) transition(id, mode);
  schedule_ = schedule;
  windowOf_.clear();
  for (const auto& window : schedule_.windows) {
    for (const auto& id : window.machineIds) windowOf_[id] = window.unavailability;
  }
  master_.registry().setMaintenance(state(), std::move(durable));
  LOG(INFO) << "Updated the maintenance schedule: " << schedule_.windows.size() << " windows, "
            << next.size() << " machines";
  rescindChanged(before);
  return Status::OK();
}

Status MaintenanceManager::requireScheduledIn(const std::vector<MachineID>& ids,
                                              MachineMode mode, const char* action) const {
  Status s = validateMachineList(ids);
  if (!s.ok()) return s;
  for (const auto& id : ids) {
    if (!windowOf_.count(id)) {
      return Status::InvalidArgument("Machine '" + toString(id) +
                                     "' is not part of a maintenance schedule");
    }
    if (modeOf(id) != mode) {
      return Status::InvalidArgument("Machine '" + toString(id) + "' is " +
                                     toString(modeOf(id)) + ", not " + toString(mode) +
                                     ", and cannot be " + action);
    }
  }
  return Status::OK();
}

Status MaintenanceManager::startMaintenance(const std::vector<MachineID>& ids,
                                            Registry::Done durable) {
  Status s = requireScheduledIn(ids, MachineMode::kDraining, "brought down");
  if (!s.ok()) return s;
  for (const auto& id : ids) transition(id, MachineMode::kDown);
  master_.registry().setMaintenance(state(), std::move(durable));

  // Agents on machines now DOWN are shut down. Admitting ones too: they
  // must not become registered on a DOWN machine.
  std::vector<std::pair<AgentID, MachineID>> down;
  for (const auto& [agentId, agent] : master_.agents().all()) {
    if (agent.state != AgentState::kRegistered && agent.state != AgentState::kAdmitting) continue;
    if (auto machine = downMachineOf(agent.info)) down.emplace_back(agentId, *machine);
  }
  for (const auto& [agentId, machine] : down) {
    master_.agents().removeAgentByOperator(
        agentId, "Machine '" + toString(machine) + "' is DOWN for maintenance");
  }
  return Status::OK();
}

Status MaintenanceManager::stopMaintenance(const std::vector<MachineID>& ids,
                                           Registry::Done durable) {
  Status s = requireScheduledIn(ids, MachineMode::kDown, "brought up");
  if (!s.ok()) return s;
  std::set<MachineID> up(ids.begin(), ids.end());
  for (const auto& id : ids) {
    transition(id, MachineMode::kUp);
    windowOf_.erase(id);
  }
  std::vector<MaintenanceWindow> windows;
  for (auto& window : schedule_.windows) {
    std::erase_if(window.machineIds, [&](const MachineID& id) { return up.count(id) > 0; });
    if (!window.machineIds.empty()) windows.push_back(std::move(window));
  }
  schedule_.windows = std::move(windows);
  master_.registry().setMaintenance(state(), std::move(durable));
  return Status::OK();
}

std::optional<Unavailability> MaintenanceManager::unavailabilityOf(const AgentInfo& agent) const {
  if (windowOf_.empty()) return std::nullopt;
  std::optional<Unavailability> earliest;
  for (const auto& id : machineIdsOf(agent)) {
    auto it = windowOf_.find(id);
    if (it == windowOf_.end()) continue;
    if (!earliest || it->second.start < earliest->start) earliest = it->second;
  }
  return earliest;
}

std::optional<MachineID> MaintenanceManager::downMachineOf(const AgentInfo& agent) const {
  if (modes_.empty()) return std::nullopt;
  for (const auto& id : machineIdsOf(agent)) {
    if (modeOf(id) == MachineMode::kDown) return id;
  }
  return std::nullopt;
}

}  // namespace tutti::master
