// CommandExecutor: the built-in executor (tutti-executor), in one of two
// kinds, as in Mesos:
//
// - kCommand (Mesos's command executor): started by the agent for one
//   command task; it runs that task (task_run.hpp: a command, or a
//   container the agent prepared) and ends once the task's terminal update
//   is acknowledged. A second task is refused with TASK_FAILED.
// - kDefault (Mesos's default executor, TUTTI_EXECUTOR_TYPE=default): runs
//   the tasks of LAUNCH_GROUPs naming it, each in its own process group with
//   its own sandbox `<executor sandbox>/tasks/<task id>` (its cwd, stdout,
//   stderr, and MESOS_SANDBOX). A group starts whole or not at all, and its
//   tasks end together: when one ends other than TASK_FINISHED, the others
//   are killed (each with its kill policy). A task id may be used again once
//   its task ended. It ends once no task is left running and every update
//   is acknowledged.
//
// Both report updates through the driver, kill on request (the kill
// policy's grace period, default 3s, then SIGKILL), and on shutdown kill
// everything within the agent's grace period.
//
// Threads: Executor callbacks arrive on the driver's thread and are posted
// to the executor's own Loop, which owns all state. tutti-executor gives
// the driver that same loop, so the whole executor runs on one thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "agent/executor/task_run.hpp"
#include "agent/volumes.hpp"
#include "common/loop.hpp"
#include "common/process.hpp"
#include "tutti/executor.hpp"

namespace tutti::executor {

class CommandExecutor final : public Executor {
 public:
  enum class Kind { kCommand, kDefault };

  // `loop` runs on the executor's main thread; `done` is called on it when
  // the executor has finished (its tasks ended and every update was
  // acknowledged, or it was told to shut down).
  CommandExecutor(Loop& loop, std::function<void()> done, Kind kind = Kind::kCommand);
  ~CommandExecutor() override;
  void setDriver(ExecutorDriver* driver) { driver_ = driver; }

  void registered(ExecutorDriver*, const ExecutorInfo&, const FrameworkInfo& framework,
                  const AgentInfo& agent) override;
  void reregistered(ExecutorDriver*, const AgentInfo&) override {}
  void disconnected(ExecutorDriver*) override {}
  void launchTask(ExecutorDriver*, const TaskInfo& task) override;
  void launchGroup(ExecutorDriver*, const std::vector<TaskInfo>& tasks) override;
  void killTask(ExecutorDriver*, const TaskID& taskId,
                const std::optional<KillPolicy>& killPolicy) override;
  void frameworkMessage(ExecutorDriver*, const std::string& data) override;
  void shutdown(ExecutorDriver*, std::chrono::nanoseconds gracePeriod) override;
  void error(ExecutorDriver*, const std::string& message) override;

  static constexpr Duration kDefaultGracePeriod = TaskRun::kDefaultGracePeriod;

 private:
  void launch(std::vector<TaskInfo> tasks, bool group);
  // How the task runs: environment, sandbox, ids, container (from the
  // agent's TUTTI_* variables). Fails when the task's sandbox cannot be made.
  Result<TaskRun::Options> runOptions(const TaskInfo& task);
  void fail(const TaskID& taskId, const std::string& message, Reason reason);
  void onTaskEnded(const TaskID& taskId);
  bool anyActive() const;
  // Forgets tasks that ended earlier (never one whose callback is running).
  void forgetEnded();
  void finishWhenAcknowledged();

  Loop& loop_;
  std::function<void()> done_;
  const Kind kind_;
  ExecutorDriver* driver_ = nullptr;
  ProcessWatcher watcher_;
  FrameworkInfo framework_;
  std::string hostname_;  // the agent's
  std::vector<std::string> baseEnv_;  // ours minus the executor's own variables
  std::map<TaskID, std::unique_ptr<TaskRun>> tasks_;
  // A LAUNCH_GROUP's members, shared by each of them (kDefault).
  std::map<TaskID, std::shared_ptr<const std::vector<TaskID>>> groupOf_;
  // Default executor: each running task's sandbox and the links to its
  // persistent volumes there, removed when the task ends.
  std::map<TaskID, std::pair<std::string, std::vector<agent::VolumeLink>>> volumeLinks_;
  bool shutdownRequested_ = false;
  Loop::TimerId shutdownDeadline_ = 0;
  Duration ackPoll_{0};
  bool driverGone_ = false;
  bool finished_ = false;  // done_ was called
};

}  // namespace tutti::executor
