// CommandExecutor: the built-in executor (tutti-executor). It runs one
// command task with /bin/sh -c (or argv when shell is false) in the sandbox,
// reports TASK_STARTING, TASK_RUNNING and TASK_FINISHED / TASK_FAILED (with
// the exit status), and kills the task's process group on request: SIGTERM,
// the kill policy's grace period (default 3s), then SIGKILL; TASK_KILLED.
// A task's health check runs next to it (health_checker.hpp): changes come
// as TASK_RUNNING with `healthy` (reason TASK_HEALTH_CHECK_STATUS_UPDATED),
// and too many failures in a row kill the task (TASK_KILLED, healthy=false).
//
// The task's environment: the executor's (minus its own variables), then
// TUTTI_TASK_ID / MESOS_TASK_ID, MESOS_SANDBOX, HOST (the agent's hostname),
// PORT0..PORTn, PORT (= PORT0) and PORTS (comma-separated) from the task's
// `ports` resources in order, then the command's own variables.
//
// Threads: Executor callbacks arrive on the driver's thread and are posted
// to the executor's own Loop, which owns all state. tutti-executor gives
// the driver that same loop, so the whole executor runs on one thread.
#pragma once

#include <optional>

#include "agent/executor/health_checker.hpp"
#include "common/loop.hpp"
#include "common/process.hpp"
#include "tutti/executor.hpp"

namespace tutti::executor {

class CommandExecutor final : public Executor {
 public:
  // `loop` runs on the executor's main thread; `done` is called on it when
  // the executor has finished (its task ended and every update was
  // acknowledged, or it was told to shut down).
  CommandExecutor(Loop& loop, std::function<void()> done);
  ~CommandExecutor() override;
  void setDriver(ExecutorDriver* driver) { driver_ = driver; }

  void registered(ExecutorDriver*, const ExecutorInfo&, const FrameworkInfo& framework,
                  const AgentInfo& agent) override;
  void reregistered(ExecutorDriver*, const AgentInfo&) override {}
  void disconnected(ExecutorDriver*) override {}
  void launchTask(ExecutorDriver*, const TaskInfo& task) override;
  void killTask(ExecutorDriver*, const TaskID& taskId,
                const std::optional<KillPolicy>& killPolicy) override;
  void frameworkMessage(ExecutorDriver*, const std::string& data) override;
  void shutdown(ExecutorDriver*, std::chrono::nanoseconds gracePeriod) override;
  void error(ExecutorDriver*, const std::string& message) override;

  static constexpr Duration kDefaultGracePeriod = 3s;

 private:
  void launch(const TaskInfo& task);
  // The task in its image, through the OCI runtime (TUTTI_OCI_* from the
  // agent): `runc run --detach`; the executor is the child subreaper that
  // inherits the container's init when `run` exits, and
  // waits for it itself (no runtime process stays behind per container).
  void launchInContainer(const TaskInfo& task);
  // Runs `runtime [--root R] args…` with the task's environment and the
  // executor's stdio (the container inherits it); `done` gets its status.
  void runRuntime(std::vector<std::string> args,
                  std::function<void(std::optional<int> status)> done);
  // `run` ended: the container runs (RUNNING, then wait for its init), or
  // it failed or a kill came first (its state goes, then the update).
  void onContainerStarted(std::optional<int> status);
  // Reports the container's end once its runtime state is deleted.
  void deleteContainerThen(std::function<void()> report);
  // Spawns `o` as the task (rlimits applied), reports TASK_RUNNING, starts
  // the health checks.
  void start(SpawnOptions& o);
  // `sig` to the task's process group (and the container's init).
  void signalTask(int sig);
  // TASK_RUNNING and the health checks.
  void onStarted(const std::vector<std::string>& env);
  // A pidfd of the container's init, or -1 (no pid file, or the pid is not
  // this executor's child).
  int openContainerInit() const;
  void kill(Duration grace);
  void armEscalation(Duration grace);
  void onExit(std::optional<int> status);
  void update(TaskState state, const std::string& message, std::optional<Reason> reason = {},
              std::optional<int> exitStatus = {}, std::optional<bool> healthy = {});
  void onHealth(const HealthChecker::Event& event);
  void finishWhenAcknowledged();

  Loop& loop_;
  std::function<void()> done_;
  ExecutorDriver* driver_ = nullptr;
  ProcessWatcher watcher_;
  FrameworkInfo framework_;
  std::string hostname_;  // the agent's
  std::unique_ptr<HealthChecker> health_;
  bool killedUnhealthy_ = false;
  std::string unhealthyMessage_;
  std::optional<TaskInfo> task_;
  // --switch_user: the ids the agent chose for the task (TUTTI_TASK_*);
  // unset: the executor's own.
  std::optional<Credentials> taskIds_;
  pid_t pid_ = -1;
  struct Oci {
    std::string bundle;  // empty: a plain task
    std::string runtime;
    std::string root;
    std::string id;
    // A pidfd of the container's init (from <bundle>/init.pid, written by
    // `runc run`), opened while it is our child: a signal through it can
    // never reach a process that reused the pid.
    int initFd = -1;
    std::vector<std::string> env;  // the task's environment, for the runtime
    pid_t runtimePid = -1;         // a running `runc run|delete`
    // The agent removes the runtime's record of a container that ended by
    // itself (its own runtime's, without a process: TUTTI_OCI_AGENT_DELETES).
    bool agentDeletes = false;
  } oci_;
  bool running_ = false;
  bool killing_ = false;
  bool terminal_ = false;
  bool shutdownRequested_ = false;
  Loop::TimerId escalation_ = 0;
  TimePoint escalationAt_{0};
  Loop::TimerId shutdownDeadline_ = 0;
  Duration ackPoll_{0};
  bool driverGone_ = false;
  bool finished_ = false;  // the driver stopped (agent gone): nobody will ack
};

}  // namespace tutti::executor
