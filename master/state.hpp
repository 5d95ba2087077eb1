// The master's records of agents, frameworks, tasks and offers.
//
// Owned by the managers (agent_manager.hpp, …) and only touched on the
// master's loop thread. Every record with a lifecycle has a state enum;
// transitions happen in the manager that owns the record.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/cow.hpp"
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

// What the state endpoints show of an agent (state_snapshot.hpp): a copy
// made when a snapshot is taken, kept and shared by later snapshots until the
// agent changes.
struct AgentView {
  AgentID id;
  AgentInfo info;
  AgentState state = AgentState::kRegistered;
  std::string version;
  double registeredTime = 0;
  double reregisteredTime = 0;
  Resources total;
  Resources used;
  Resources offered;
  size_t taskCount = 0;
};

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
  // The latest snapshot's view of this agent; AgentManager drops it on
  // every non-const lookup (the only way to reach a record to change it).
  mutable std::shared_ptr<const AgentView> view;
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
  // Shared copy-on-write with state snapshots (state_snapshot.hpp): change it
  // through task.mut().
  Cow<Task> task;
  // Resources were given back to the allocator (the task is terminal).
  bool released = false;
};

// A task the master has removed (terminal and acknowledged), kept for the
// state endpoints as the JSON they print of it (completedTask(),
// state_snapshot.hpp) with the two fields code looks at. About 0.7 KB
// where the Task was about 3 KB (its statuses, resources and ids): 1,000
// per framework are kept, so this is most of a big master's task memory.
// Immutable, shared with state snapshots.
struct CompletedTask {
  TaskID taskId;
  TaskState state = TaskState::TASK_FINISHED;
  std::string json;
};

// What the state endpoints show of a framework (state_snapshot.hpp), its
// executors aside: built when a snapshot is taken, kept and shared by later
// snapshots until the framework (or one of its tasks or offers) changes.
struct FrameworkView {
  FrameworkID id;
  FrameworkInfo info;
  FrameworkState state = FrameworkState::kActive;
  double registeredTime = 0;
  double reregisteredTime = 0;
  double unregisteredTime = 0;
  Resources used;
  Resources offered;
  std::vector<std::shared_ptr<const Task>> tasks;
  std::vector<std::shared_ptr<const Task>> unreachableTasks;
  std::vector<std::shared_ptr<const CompletedTask>> completedTasks;
  std::vector<std::shared_ptr<const Offer>> offers;
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
  // Bounded (--max_completed_tasks_per_framework, and 1000 unreachable);
  // immutable, shared with state snapshots.
  std::deque<std::shared_ptr<const CompletedTask>> completedTasks;
  std::map<TaskID, std::shared_ptr<const Task>> unreachableTasks;
  std::unordered_set<OfferID> offers;
  std::set<std::string> suppressedRoles;
  Resources used;     // by tasks
  Resources offered;  // in outstanding offers
  Loop::TimerId heartbeatTimer = 0;
  Loop::TimerId failoverTimer = 0;
  // The latest snapshot's view; FrameworkManager drops it on every non-const
  // lookup (the way every change reaches a record) and state change.
  mutable std::shared_ptr<const FrameworkView> view;

  bool partitionAware() const { return info.hasCapability(FrameworkCapability::PARTITION_AWARE); }
};

struct OfferRecord {
  // Immutable, shared with state snapshots. Without what only the
  // framework reads (hostname, url, attributes, executorIds: empty here).
  std::shared_ptr<const Offer> offer;
  Loop::TimerId timeoutTimer = 0;
};

}  // namespace tutti::master
