// Registry: the master's durable state — what must survive a failover
// (DESIGN §7): admitted, unreachable and gone agents; frameworks; role
// weights and quota; the maintenance schedule and machine modes. Task state
// is never written here: agents are the source of truth for tasks and report
// them when they re-register.
//
// The base class keeps the state in memory and batches mutations: all
// mutations made during one turn of the loop are stored in one write, and
// their callbacks run once it is durable. A backend (in_memory, local file,
// ZooKeeper) implements load() and store(). A failed store() is fatal for a
// leading master (it must not diverge from what is stored): the owner
// decides, through the failure callback.
//
// Threads: the master's loop only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/loop.hpp"
#include "master/allocator/allocator.hpp"
#include "master/maintenance.hpp"
#include "tutti/types.hpp"

namespace tutti::master {

struct RegistryState {
  struct Agent {
    enum class State { kAdmitted, kUnreachable, kGone };
    AgentInfo info;
    State state = State::kAdmitted;
    double unreachableTime = 0;
    bool operator==(const Agent&) const = default;
  };
  std::map<AgentID, Agent> agents;
  std::map<FrameworkID, FrameworkInfo> frameworks;
  std::map<std::string, double> weights;
  std::map<std::string, Quota> quotas;
  MaintenanceState maintenance;
  bool operator==(const RegistryState&) const = default;
};

class Registry {
 public:
  using Done = std::function<void(Status)>;

  explicit Registry(Loop& loop) : loop_(loop) {}
  virtual ~Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Loads what is stored. Call once, before any mutation.
  void recover(std::function<void(Result<RegistryState>)> done);
  const RegistryState& state() const { return state_; }

  // Called when a store fails (after the mutations' callbacks got the error).
  void onFailure(std::function<void(const Status&)> fn) { onFailure_ = std::move(fn); }

  void admitAgent(const AgentInfo& info, Done done);
  void markUnreachable(const AgentID& id, double time, Done done);
  void markGone(const AgentID& id, Done done);
  void removeAgent(const AgentID& id, Done done);
  void addFramework(const FrameworkInfo& info, Done done);
  void removeFramework(const FrameworkID& id, Done done);
  void setWeights(const std::map<std::string, double>& weights, Done done);
  void setQuota(const std::string& role, const std::optional<Quota>& quota, Done done);
  // Replaces the maintenance schedule and machine modes (stored as one record).
  void setMaintenance(const MaintenanceState& maintenance, Done done);

  uint64_t writes() const { return writes_; }
  virtual const char* name() const = 0;

 protected:
  struct Dirty {
    std::set<AgentID> agents;
    std::set<FrameworkID> frameworks;
    std::set<std::string> roles;
    bool maintenance = false;
    bool empty() const {
      return agents.empty() && frameworks.empty() && roles.empty() && !maintenance;
    }
  };
  virtual void load(std::function<void(Result<RegistryState>)> done) = 0;
  // Makes `state` durable; `dirty` names what changed since the last store.
  virtual void store(const RegistryState& state, const Dirty& dirty, Done done) = 0;

  Loop& loop_;

 private:
  void schedule(Done done);
  void flush();

  RegistryState state_;
  Dirty dirty_;
  std::vector<Done> waiting_;
  bool flushScheduled_ = false;
  bool storing_ = false;
  uint64_t writes_ = 0;
  std::function<void(const Status&)> onFailure_;
};

// --registry=in_memory: nothing survives the process (tests).
std::unique_ptr<Registry> makeInMemoryRegistry(Loop& loop);
// --registry=local: one file, <dir>/registry, written atomically
// (temporary file, fsync, rename).
std::unique_ptr<Registry> makeLocalRegistry(Loop& loop, const std::string& dir);

// The registry as one Cap'n Proto message (the local file's format), and
// its pieces (the ZooKeeper backend's nodes). Decoding never throws; bad
// bytes give InvalidArgument.
std::string encodeRegistry(const RegistryState& state);
Result<RegistryState> decodeRegistry(const std::string& bytes);
std::string encodeRegistryAgent(const RegistryState::Agent& agent);
Result<RegistryState::Agent> decodeRegistryAgent(const std::string& bytes);
std::string encodeRegistryFramework(const FrameworkInfo& info);
Result<FrameworkInfo> decodeRegistryFramework(const std::string& bytes);
// Weight and quota of one role (either may be absent).
std::string encodeRegistryRole(const std::string& role, const std::optional<double>& weight,
                               const std::optional<Quota>& quota);
Status decodeRegistryRole(const std::string& bytes, RegistryState& into);
// The maintenance schedule and machine modes (the ZooKeeper backend's
// maintenance node).
std::string encodeRegistryMaintenance(const MaintenanceState& maintenance);
Result<MaintenanceState> decodeRegistryMaintenance(const std::string& bytes);

}  // namespace tutti::master
