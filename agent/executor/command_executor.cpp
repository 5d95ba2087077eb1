#include "agent/executor/command_executor.hpp"

#include <glog/logging.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>

extern char** environ;

namespace tutti::executor {

namespace {
// Variables meant for the executor only, not for the task.
const std::set<std::string> kExecutorOnly = {
    "TUTTI_AGENT_ENDPOINT", "TUTTI_RECOVERY_TIMEOUT", "TUTTI_EXECUTOR_HEARTBEAT_INTERVAL",
    "GLOG_logtostderr"};
}  // namespace

CommandExecutor::CommandExecutor(Loop& loop, std::function<void()> done)
    : loop_(loop),
      done_([this, done = std::move(done)] {
        // Several paths may end the executor (the task's end, a shutdown
        // deadline, an error); the owner hears it once.
        if (finished_) return;
        finished_ = true;
        done();
      }),
      watcher_(loop) {}

void CommandExecutor::registered(ExecutorDriver*, const ExecutorInfo&,
                                 const FrameworkInfo& framework, const AgentInfo& agent) {
  loop_.post("executor.registered", [this, framework, host = agent.hostname] {
    framework_ = framework;
    hostname_ = host;
  });
}

void CommandExecutor::launchTask(ExecutorDriver*, const TaskInfo& task) {
  loop_.post("executor.launch", [this, task] { launch(task); });
}

void CommandExecutor::killTask(ExecutorDriver*, const TaskID& taskId,
                               const std::optional<KillPolicy>& killPolicy) {
  loop_.post("executor.kill", [this, taskId, killPolicy] {
    if (!task_ || task_->taskId != taskId) return;
    Duration grace = kDefaultGracePeriod;
    if (killPolicy) {
      grace = killPolicy->gracePeriod;
    } else if (task_->killPolicy) {
      grace = task_->killPolicy->gracePeriod;
    }
    kill(grace);
  });
}

void CommandExecutor::frameworkMessage(ExecutorDriver*, const std::string& data) {
  LOG(INFO) << "Framework message of " << data.size() << " bytes (ignored by the command executor)";
}

void CommandExecutor::shutdown(ExecutorDriver*, std::chrono::nanoseconds gracePeriod) {
  loop_.post("executor.shutdown", [this, gracePeriod] {
    shutdownRequested_ = true;
    // Whatever happens, this executor is gone within the grace period: the
    // agent (or the driver, giving up on a vanished agent) asked for it,
    // and acknowledgements may never come.
    if (!shutdownDeadline_) {
      shutdownDeadline_ = loop_.after(gracePeriod, "executor.shutdown_deadline", [this] {
        if (running_) killProcessGroup(pid_, SIGKILL);
        done_();
      });
    }
    if (!running_) {
      if (task_ && !terminal_) {
        update(TaskState::TASK_KILLED, "Executor shut down before the task started");
        finishWhenAcknowledged();
        return;
      }
      if (!task_ || gracePeriod.count() == 0) done_();
      return;
    }
    // Leave a little of the agent's grace period for our own exit.
    Duration grace = std::max<Duration>(Duration(0), gracePeriod - 1s);
    if (task_->killPolicy) grace = std::min(grace, Duration(task_->killPolicy->gracePeriod));
    kill(grace);
  });
}

void CommandExecutor::error(ExecutorDriver*, const std::string& message) {
  LOG(ERROR) << "Executor error: " << message;
  loop_.post("executor.error", [this] {
    if (running_) killProcessGroup(pid_, SIGKILL);
    done_();
  });
}

void CommandExecutor::update(TaskState state, const std::string& message,
                             std::optional<Reason> reason, std::optional<int> exitStatus,
                             std::optional<bool> healthy) {
  TaskStatus s;
  s.taskId = task_->taskId;
  s.state = state;
  s.message = message;
  s.reason = reason;
  s.exitStatus = exitStatus;
  s.healthy = healthy;
  if (driver_->sendStatusUpdate(s) != DriverStatus::DRIVER_RUNNING) driverGone_ = true;
  if (isTerminal(state)) terminal_ = true;
}

void CommandExecutor::launch(const TaskInfo& task) {
  if (task_ && task_->taskId == task.taskId) {
    // The same launch again (an agent that restarted before recording that
    // it had sent it): nothing to do.
    LOG(WARNING) << "Ignoring a second launch of task " << task.taskId;
    return;
  }
  if (task_) {
    TaskStatus s;
    s.taskId = task.taskId;
    s.state = TaskState::TASK_FAILED;
    s.message = "The command executor runs one task; it already runs " + task_->taskId.value;
    driver_->sendStatusUpdate(s);
    return;
  }
  task_ = task;
  if (shutdownRequested_) {
    update(TaskState::TASK_KILLED, "Executor shut down before the task started");
    finishWhenAcknowledged();
    return;
  }
  if (!task.command) {
    update(TaskState::TASK_FAILED, "The command executor needs a task with a command",
           Reason::REASON_TASK_INVALID);
    finishWhenAcknowledged();
    return;
  }
  const CommandInfo& cmd = *task.command;
  if (cmd.user && !cmd.user->empty()) {
    const char* me = std::getenv("USER");
    if (!me || *cmd.user != me) {
      update(TaskState::TASK_FAILED,
             "Running a task as another user ('" + *cmd.user + "') is not supported yet",
             Reason::REASON_TASK_INVALID);
      finishWhenAcknowledged();
      return;
    }
  }
  update(TaskState::TASK_STARTING, "");

  SpawnOptions o;
  if (cmd.shell) {
    o.argv = {"/bin/sh", "-c", cmd.value};
  } else {
    o.argv = cmd.arguments.empty() ? std::vector<std::string>{cmd.value} : cmd.arguments;
    o.argv[0] = cmd.value;
  }
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string name = kv.substr(0, eq);
    if (kExecutorOnly.count(name)) continue;
    env[name] = kv.substr(eq + 1);
  }
  env["TUTTI_TASK_ID"] = task.taskId.value;
  env["MESOS_TASK_ID"] = task.taskId.value;
  if (env.count("TUTTI_SANDBOX")) env["MESOS_SANDBOX"] = env["TUTTI_SANDBOX"];
  if (!hostname_.empty()) env["HOST"] = hostname_;
  std::vector<uint64_t> ports;
  for (const Resource& r : task.resources) {
    if (r.name != "ports" || r.type != Resource::Type::RANGES) continue;
    for (const Range& range : r.ranges) {
      for (uint64_t p = range.begin; p <= range.end && ports.size() < 1000; ++p) ports.push_back(p);
    }
  }
  std::string list;
  for (size_t i = 0; i < ports.size(); ++i) {
    env["PORT" + std::to_string(i)] = std::to_string(ports[i]);
    list += (i ? "," : "") + std::to_string(ports[i]);
  }
  if (!ports.empty()) {
    env["PORT"] = std::to_string(ports[0]);
    env["PORTS"] = list;
  }
  for (const auto& v : cmd.environment) env[v.name] = v.value;
  for (const auto& [k, v] : env) o.env.push_back(k + "=" + v);
  o.newProcessGroup = true;  // killable as a group; stdout/stderr: the sandbox files
  o.stdinPath = "/dev/null";

  auto pid = spawnProcess(o);
  if (!pid.ok()) {
    update(TaskState::TASK_FAILED, "Failed to launch the command: " + pid.error(),
           Reason::REASON_COMMAND_EXECUTOR_FAILED);
    finishWhenAcknowledged();
    return;
  }
  pid_ = *pid;
  running_ = true;
  Status w = watcher_.watch(pid_, [this](pid_t, std::optional<int> status) { onExit(status); });
  if (!w.ok()) {
    // Ended before we could watch it (pidfd_open after exit): reap now.
    int st = 0;
    onExit(::waitpid(pid_, &st, 0) == pid_ ? std::optional<int>(st) : std::nullopt);
    return;
  }
  update(TaskState::TASK_RUNNING, "");
  if (task.healthCheck) {
    char cwd[4096];
    std::string dir = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    health_ = std::make_unique<HealthChecker>(loop_, *task.healthCheck, o.env, dir,
                                              [this](const HealthChecker::Event& e) { onHealth(e); });
    health_->start();
  }
}

void CommandExecutor::onHealth(const HealthChecker::Event& event) {
  if (!running_ || killing_ || terminal_) return;
  if (event.killTask) {
    LOG(WARNING) << event.message;
    killedUnhealthy_ = true;
    unhealthyMessage_ = event.message;
    health_->stop();
    Duration grace = task_->killPolicy ? Duration(task_->killPolicy->gracePeriod)
                                       : kDefaultGracePeriod;
    kill(grace);
    return;
  }
  update(TaskState::TASK_RUNNING, event.message, Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
         std::nullopt, event.healthy);
}

void CommandExecutor::kill(Duration grace) {
  if (!running_) return;
  TimePoint deadline = loop_.now() + grace;
  if (killing_) {
    // A second kill with a shorter grace period escalates, as Mesos does.
    if (deadline < escalationAt_) {
      if (escalation_) loop_.cancel(escalation_);
      armEscalation(grace);
    }
    return;
  }
  killing_ = true;
  if (framework_.hasCapability(FrameworkCapability::TASK_KILLING_STATE)) {
    update(TaskState::TASK_KILLING, "");
  }
  LOG(INFO) << "Sending SIGTERM to process group " << pid_ << "; SIGKILL in "
            << toSeconds(grace) << "s";
  killProcessGroup(pid_, SIGTERM);
  armEscalation(grace);
}

void CommandExecutor::armEscalation(Duration grace) {
  escalationAt_ = loop_.now() + grace;
  if (grace.count() == 0) {
    killProcessGroup(pid_, SIGKILL);
    escalation_ = 0;
    return;
  }
  escalation_ = loop_.after(grace, "executor.escalate", [this] {
    escalation_ = 0;
    if (!running_) return;
    LOG(INFO) << "Grace period elapsed; sending SIGKILL to process group " << pid_;
    killProcessGroup(pid_, SIGKILL);
  });
}

void CommandExecutor::onExit(std::optional<int> status) {
  running_ = false;
  if (health_) health_->stop();
  if (escalation_) loop_.cancel(escalation_);
  escalation_ = 0;
  // Whatever the command left behind in its process group goes too.
  killProcessGroup(pid_, SIGKILL);
  std::string how = status ? describeWaitStatus(*status) : "ended";
  std::string message = "Command " + how;
  if (killedUnhealthy_) {
    update(TaskState::TASK_KILLED, unhealthyMessage_,
           Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, status, false);
  } else if (killing_) {
    update(TaskState::TASK_KILLED, message, std::nullopt, status);
  } else if (status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
    update(TaskState::TASK_FINISHED, message, std::nullopt, status);
  } else {
    update(TaskState::TASK_FAILED, message, Reason::REASON_COMMAND_EXECUTOR_FAILED, status);
  }
  finishWhenAcknowledged();
}

void CommandExecutor::finishWhenAcknowledged() {
  if (driver_->unacknowledgedUpdates() == 0 || driverGone_) {
    done_();
    return;
  }
  // The agent acknowledges within milliseconds when it is there; when it is
  // not, poll slowly (the driver gives up after the recovery timeout).
  ackPoll_ = std::min<Duration>(ackPoll_ == Duration(0) ? 2ms : ackPoll_ * 2, 1s);
  loop_.after(ackPoll_, "executor.await_ack", [this] { finishWhenAcknowledged(); });
}

}  // namespace tutti::executor
