// TaskRun: one task inside tutti-executor, from launch to its terminal
// update. It runs the command with /bin/sh -c (or argv when shell is false)
// or, when the agent prepared an OCI bundle, the task's container through
// the runtime; reports TASK_STARTING, TASK_RUNNING and TASK_FINISHED /
// TASK_FAILED (with the exit status); kills the task's process group on
// request: SIGTERM, the kill policy's grace period, then SIGKILL
// (TASK_KILLED). Its health check runs next to it (health_checker.hpp):
// changes come as TASK_RUNNING with `healthy` (reason
// TASK_HEALTH_CHECK_STATUS_UPDATED), and too many failures in a row kill the
// task (TASK_KILLED, healthy=false).
//
// The task's environment: `Options::env` (the executor's, minus its own
// variables), then TUTTI_TASK_ID / MESOS_TASK_ID, MESOS_SANDBOX, HOST,
// PORT0..PORTn, PORT and PORTS (common/task_env.hpp), then the command's
// own variables.
//
// Owned by the executor (command_executor.hpp); everything runs on the
// executor's loop thread. `report` gets each update; `ended` is called once,
// right after the terminal one. Neither may destroy the TaskRun.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/executor/health_checker.hpp"
#include "common/loop.hpp"
#include "common/process.hpp"
#include "tutti/types.hpp"

namespace tutti::executor {

class TaskRun {
 public:
  struct Options {
    const FrameworkInfo* framework = nullptr;  // outlives the run
    std::string hostname;                      // the agent's
    std::vector<std::string> env;              // NAME=value, before the task's own
    std::string sandbox;                       // MESOS_SANDBOX / TUTTI_SANDBOX
    // The task's working directory (its path, and an open descriptor the
    // child and its COMMAND health checks enter, owned by the run); empty /
    // -1: the executor's.
    std::string workingDir;
    int workingDirFd = -1;
    // The task's stdout and stderr (the run owns and closes them); -1: the
    // executor's.
    int stdoutFd = -1;
    int stderrFd = -1;
    std::optional<Credentials> ids;  // --switch_user: the task's; unset: ours
    bool pidNamespace = false;       // namespaces/pid
    // The OCI bundle the agent prepared (TUTTI_OCI_*); empty: a plain task.
    std::string ociBundle;
    std::string ociRuntime = "runc";
    std::string ociRoot;
    std::string ociId;
    bool ociAgentDeletes = false;
    // tutti-fetcher: with it, the task's URIs are fetched into its working
    // directory (as its user, output to its stdout and stderr) before it
    // starts, while it is still TASK_STAGING (the default executor's tasks;
    // a command task's are fetched by the agent). `cache: true` URIs are
    // fetched directly (the agent's cache is not shared with executors).
    std::string fetcher;
  };

  static constexpr Duration kDefaultGracePeriod = std::chrono::seconds(3);

  TaskRun(Loop& loop, ProcessWatcher& watcher, TaskInfo task, Options options,
          std::function<void(TaskStatus)> report, std::function<void()> ended);
  ~TaskRun();
  TaskRun(const TaskRun&) = delete;
  TaskRun& operator=(const TaskRun&) = delete;

  const TaskInfo& task() const { return task_; }
  bool running() const { return running_; }
  bool terminal() const { return terminal_; }

  // STARTING, then the command (or container), RUNNING and its checks;
  // first its URIs (Options::fetcher): a failed fetch ends it TASK_FAILED
  // (REASON_CONTAINER_LAUNCH_FAILED) with tutti-fetcher's last words.
  void start();
  // SIGTERM now, SIGKILL after `grace`; a later kill with a shorter grace
  // escalates. Nothing when the task is not running, except while its URIs
  // are fetched: the fetch stops and the task ends TASK_KILLED.
  void kill(Duration grace);
  // The grace of a kill without a policy of its own.
  Duration graceWithout(const std::optional<KillPolicy>& override) const;
  void signal(int sig);
  // Ends a task that never started: TASK_KILLED with `message`.
  void endUnstarted(const std::string& message);
  // Kills it as kill() with its own kill policy, and reports TASK_KILLED
  // with `message` (unless a kill was already under way): a group's other
  // tasks when one of them failed. A task not started ends at once.
  void killWithMessage(const std::string& message);
  // The latest state reported (TASK_STAGING before any).
  TaskState state() const { return state_; }

 private:
  void fetchThenStart();
  void onFetched(std::optional<int> status);
  void stopFetching();
  void launchInContainer();
  void runRuntime(std::vector<std::string> args,
                  std::function<void(std::optional<int> status)> done);
  void onContainerStarted(std::optional<int> status);
  void deleteContainerThen(std::function<void()> report);
  void spawn(SpawnOptions& o);
  void onStarted(const std::vector<std::string>& env);
  void closeOutput();
  int openContainerInit() const;
  void armEscalation(Duration grace);
  void onExit(std::optional<int> status);
  void onHealth(const HealthChecker::Event& event);
  void update(TaskState state, const std::string& message, std::optional<Reason> reason = {},
              std::optional<int> exitStatus = {}, std::optional<bool> healthy = {});

  Loop& loop_;
  ProcessWatcher& watcher_;
  TaskInfo task_;
  Options options_;
  std::function<void(TaskStatus)> report_;
  std::function<void()> ended_;
  std::unique_ptr<HealthChecker> health_;
  bool killedUnhealthy_ = false;
  std::string unhealthyMessage_;
  std::optional<std::string> killedBecause_;
  TaskState state_ = TaskState::TASK_STAGING;
  pid_t pid_ = -1;
  int initFd_ = -1;  // a pidfd of the container's init (see openContainerInit)
  std::vector<std::string> ociEnv_;  // the task's environment, for the runtime
  pid_t runtimePid_ = -1;            // a running `runc run|delete`
  pid_t fetcherPid_ = -1;            // a running tutti-fetcher
  bool fetched_ = false;
  bool running_ = false;
  bool killing_ = false;
  bool terminal_ = false;
  Loop::TimerId escalation_ = 0;
  TimePoint escalationAt_{0};
};

}  // namespace tutti::executor
