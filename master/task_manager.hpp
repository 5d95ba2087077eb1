// TaskManager: launches (accept validation), kills, status updates,
// acknowledgements, reconciliation and framework messages. Loop thread only.
//
// Task lifecycle at the master: added as TASK_STAGING when an accept is
// valid; follows the agent's updates; its resources go back to the
// allocator when it reaches a terminal state; it is removed (to the
// framework's completed tasks) once the terminal update is acknowledged, or
// at once for updates the master itself generates (they need no ack).
#pragma once

#include <array>
#include <set>
#include <vector>

#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/state.hpp"
#include "master/validation.hpp"

namespace tutti::master {

class Master;

class TaskManager {
 public:
  explicit TaskManager(Master& master);

  void onAccept(const ConnectionId& from, const wire::AcceptCall& m);
  void onKill(const ConnectionId& from, const wire::KillCall& m);
  void onAcknowledge(const ConnectionId& from, const wire::AcknowledgeCall& m);
  void onReconcile(const ConnectionId& from, const wire::ReconcileCall& m);
  void onMessage(const ConnectionId& from, const wire::MessageCall& m);
  // Takes the message to own: its status is kept and forwarded without copies.
  void onStatusUpdate(const ConnectionId& from, wire::StatusUpdateMessage&& m);
  void onExecutorToFramework(const ConnectionId& from, const wire::ExecutorToFrameworkMessage& m);
  // A custom executor ended: the agent forgets it and its framework hears
  // executorLost (a FAILURE event with the executor id and status).
  void onExitedExecutor(const ConnectionId& from, const wire::ExitedExecutorMessage& m);

  // The agent is unreachable or gone: its tasks become `partitionAwareState`
  // (TASK_UNREACHABLE or TASK_GONE) for partition-aware frameworks and
  // TASK_LOST for the others.
  void agentLost(AgentRecord& agent, TaskState partitionAwareState, Reason reason,
                 const std::string& message);
  // A registered agent reconnected and reported its tasks.
  void reconcileAgentTasks(AgentRecord& agent, const std::vector<Task>& reported,
                           const std::vector<ExecutorInfo>& executors);
  // An agent (re-)admitted with tasks: an unreachable agent that came back,
  // or an agent unknown to this master.
  void addAgentTasks(AgentRecord& agent, std::vector<Task>&& tasks,
                     const std::vector<ExecutorInfo>& executors, bool wasUnreachable);
  // The framework is being torn down: its tasks are killed and completed.
  void frameworkRemoved(FrameworkRecord& fw);

  // Non-terminal tasks in each state (for metrics and state).
  int64_t activeCount(TaskState s) const { return active_[static_cast<size_t>(s)]; }

  // Executors hold their own resources (ExecutorInfo::resources), as in
  // Mesos: charged to the framework and the agent when the executor first
  // appears there, released when it exits or its agent or framework goes.
  void chargeExecutor(AgentRecord& agent, const FrameworkID& fwId, const ExecutorInfo& e);
  // `toAllocator`: give the resources back to the allocator too (not when
  // it already forgot the agent or the framework).
  void releaseExecutor(AgentRecord& agent, const FrameworkID& fwId, const ExecutorID& exId,
                       bool toAllocator);
  void releaseExecutors(AgentRecord& agent, const FrameworkID& fwId, bool toAllocator);

 private:
  TaskStatus masterStatus(const Task& task, TaskState state, Reason reason,
                          const std::string& message) const;
  void addTask(FrameworkRecord& fw, AgentRecord& agent, const TaskInfo& info);
  void addReportedTask(FrameworkRecord& fw, AgentRecord& agent, Task task);
  void setState(TaskRecord& rec, TaskState state);
  // Gives a terminal task's resources back (to the allocator when
  // `toAllocator`; not when the agent itself is gone). `agent` is the
  // task's agent (null when the master no longer has it).
  void release(FrameworkRecord& fw, TaskRecord& rec, AgentRecord* agent, bool toAllocator);
  // Moves the task out of the active set, to completed or unreachable.
  void removeTask(FrameworkRecord& fw, const TaskID& id);
  void sendUpdate(FrameworkRecord& fw, TaskStatus status);
  // Sends ShutdownFrameworkMessage for every torn-down framework the agent
  // still runs tasks or executors of.
  void shutdownCompletedFrameworks(AgentRecord& agent, const std::vector<Task>& tasks,
                                   const std::vector<ExecutorInfo>& executors);
  // RESERVE / UNRESERVE inside an accept: converts part of `available`.
  void applyReservation(FrameworkRecord& fw, AgentRecord& agent, const std::string& role,
                        const Offer::Operation& op, Resources& available);
  // CREATE/DESTROY of persistent volumes out of `available` (the accept's
  // offers), the agent told through its checkpointed resources. An invalid
  // operation is logged, counted (master/invalid_operations) and skipped.
  void applyVolumes(FrameworkRecord& fw, AgentRecord& agent, const std::string& role,
                    const Offer::Operation& op, Resources& available);
  // LAUNCH_GROUP inside an accept: the whole group launches (one
  // RunTaskGroupMessage) or every task of it gets TASK_ERROR.
  void launchGroup(FrameworkRecord& fw, AgentRecord& agent, const Offer::Operation& op,
                   const LaunchContext& ctx, Resources& available, std::set<TaskID>& launching);
  void dropLaunches(FrameworkRecord& fw, const wire::AcceptCall& m, const std::string& why);
  // Nothing while the task's agent is still expected back after a failover
  // (Mesos answers only once it knows).
  std::optional<TaskStatus> reconcileOne(const FrameworkRecord& fw, const TaskID& taskId,
                                         const AgentID& agentId) const;

  Master& master_;
  std::array<int64_t, 14> active_{};
  std::array<Counter*, 14> terminal_{};
  Counter& validUpdates_;
  Counter& invalidUpdates_;
  Counter& invalidTasks_;
  Counter& taskLaunches_;
  Counter& reconciliations_;
};

}  // namespace tutti::master
