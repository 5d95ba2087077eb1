// The master's records of agents, frameworks, tasks and offers.
//
// Owned by the managers (agent_manager.hpp, …) and only touched on the
// master's loop thread. Every record with a lifecycle has a state enum;
// transitions happen in the manager that owns the record.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/loop.hpp"
#include "common/transport.hpp"
#include "tutti/types.hpp"

namespace tutti::master {

enum class AgentState {
  kAdmitting,    // (re-)registering: waiting for the registry to record it
  kRegistered,   // connected and answering pings
  kRecovered,    // known from the registry after a failover; not back yet
  kUnreachable,  // missed too many pings (or never came back); may re-register
};
const char* toString(AgentState s);

struct AgentRecord {
  AgentID id;
  AgentInfo info;
  AgentState state = AgentState::kRegistered;
  ConnectionId conn;
  std::string version;
  double registeredTime = 0;
  double reregisteredTime = 0;
  double unreachableTime = 0;
  Resources total;
  std::map<FrameworkID, Resources> used;  // by tasks, allocated form
  Resources offered;
  std::unordered_set<OfferID> offers;
  std::map<FrameworkID, std::unordered_set<TaskID>> tasks;
  std::map<FrameworkID, std::map<ExecutorID, ExecutorInfo>> executors;
  // Health.
  int missedPings = 0;
  bool pongSinceLastPing = true;
  Loop::TimerId pingTimer = 0;

  Resources usedTotal() const;
  // Mesos's libprocess-style pid, which tools show: slave(1)@ip:port.
  std::string pid() const;
};

enum class FrameworkState {
  kActive,        // subscribed and connected: gets offers
  kDisconnected,  // connection lost; waits for failover_timeout
  kCompleted,     // torn down; kept for /master/state
};
const char* toString(FrameworkState s);

struct TaskRecord {
  Task task;
  // Resources were given back to the allocator (the task is terminal).
  bool released = false;
};

struct FrameworkRecord {
  FrameworkID id;
  FrameworkInfo info;
  FrameworkState state = FrameworkState::kActive;
  ConnectionId conn;
  double registeredTime = 0;
  double reregisteredTime = 0;
  double unregisteredTime = 0;
  std::unordered_map<TaskID, TaskRecord> tasks;  // not yet removed
  std::deque<Task> completedTasks;               // bounded
  std::map<TaskID, Task> unreachableTasks;       // bounded
  std::unordered_set<OfferID> offers;
  std::set<std::string> suppressedRoles;
  Resources used;     // by tasks
  Resources offered;  // in outstanding offers
  Loop::TimerId heartbeatTimer = 0;
  Loop::TimerId failoverTimer = 0;

  bool partitionAware() const { return info.hasCapability(FrameworkCapability::PARTITION_AWARE); }
};

struct OfferRecord {
  Offer offer;
  Loop::TimerId timeoutTimer = 0;
};

}  // namespace tutti::master
