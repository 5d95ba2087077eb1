#include "agent/executor/command_executor.hpp"

#include <glog/logging.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "common/rlimits.hpp"
#include "common/task_env.hpp"

extern char** environ;

namespace tutti::executor {

namespace {
// Variables meant for the executor only, not for the task.
const std::set<std::string> kExecutorOnly = {
    "TUTTI_AGENT_ENDPOINT", "TUTTI_RECOVERY_TIMEOUT", "TUTTI_EXECUTOR_HEARTBEAT_INTERVAL",
    "GLOG_logtostderr", "TUTTI_OCI_RUNTIME", "TUTTI_OCI_ROOT", "TUTTI_OCI_BUNDLE",
    "TUTTI_OCI_AGENT_DELETES", "TUTTI_PID_NAMESPACE", "TUTTI_TASK_UID", "TUTTI_TASK_GID",
    "TUTTI_TASK_GROUPS"};

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool parseId(const std::string& text, uint32_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// The task's ids when the agent switches users (TUTTI_TASK_UID, _GID and
// _GROUPS, a comma-separated list); nullopt when it does not.
Result<std::optional<Credentials>> taskCredentials() {
  const char* uid = std::getenv("TUTTI_TASK_UID");
  if (!uid) return std::optional<Credentials>();
  Credentials c;
  std::string gid = envOr("TUTTI_TASK_GID", "");
  if (!parseId(uid, &c.uid) || !parseId(gid, &c.gid)) {
    return Status::InvalidArgument("bad TUTTI_TASK_UID/TUTTI_TASK_GID from the agent");
  }
  std::stringstream groups(envOr("TUTTI_TASK_GROUPS", ""));
  for (std::string g; std::getline(groups, g, ',');) {
    uint32_t id;
    if (!parseId(g, &id)) return Status::InvalidArgument("bad TUTTI_TASK_GROUPS from the agent");
    c.groups.push_back(id);
  }
  return std::optional<Credentials>(std::move(c));
}

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
        if (running_) signalTask(SIGKILL);
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
    if (running_) signalTask(SIGKILL);
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
  // A task in an image: the agent has prepared its OCI bundle (root
  // filesystem, config.json with the command, env, user and limits); the
  // runtime runs it in the foreground and exits with its status.
  oci_.bundle = envOr("TUTTI_OCI_BUNDLE", "");
  if (!oci_.bundle.empty()) {
    launchInContainer(task);
    return;
  }
  if (!task.command) {
    update(TaskState::TASK_FAILED, "The command executor needs a task with a command",
           Reason::REASON_TASK_INVALID);
    finishWhenAcknowledged();
    return;
  }
  const CommandInfo& cmd = *task.command;
  auto ids = taskCredentials();
  if (!ids.ok()) {
    update(TaskState::TASK_FAILED, ids.error(), Reason::REASON_COMMAND_EXECUTOR_FAILED);
    finishWhenAcknowledged();
    return;
  }
  taskIds_ = *ids;
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
  for (auto& [k, v] : taskEnvironment(task, env.count("TUTTI_SANDBOX") ? env["TUTTI_SANDBOX"] : "",
                                      hostname_)) {
    env[k] = std::move(v);
  }
  for (const auto& v : cmd.environment) env[v.name] = v.value;
  for (const auto& [k, v] : env) o.env.push_back(k + "=" + v);
  o.newProcessGroup = true;  // killable as a group; stdout/stderr: the sandbox files
  o.stdinPath = "/dev/null";
  // Both set up in the child between its fork and exec, before it drops
  // to the task's ids: no wrapper program runs with ours.
  o.credentials = taskIds_;
  // namespaces/pid: the command is pid 1 of a namespace of its own, with
  // its own /proc, and dies with the small parent we wait for.
  o.pidNamespace = envOr("TUTTI_PID_NAMESPACE", "") == "1";
  start(o);
}

void CommandExecutor::launchInContainer(const TaskInfo& task) {
  update(TaskState::TASK_STARTING, "");
  oci_.runtime = envOr("TUTTI_OCI_RUNTIME", "runc");
  oci_.root = envOr("TUTTI_OCI_ROOT", "");
  oci_.agentDeletes = envOr("TUTTI_OCI_AGENT_DELETES", "") == "1";
  oci_.id = envOr("TUTTI_CONTAINER_ID", task.taskId.value);
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    if (kExecutorOnly.count(kv.substr(0, kv.find('=')))) continue;
    oci_.env.push_back(kv);
  }
  // One `runc run --detach` creates and starts the container (one runtime
  // process instead of `create` then `start`: about a quarter less of the
  // runtime's CPU per container). Its init is the runtime's child; when
  // `run` exits it is reparented to us, and we wait for it as for a plain
  // task (even if it already ended: it waits, a zombie, for us to reap it).
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    update(TaskState::TASK_FAILED,
           std::string("Cannot become the container's subreaper: ") + std::strerror(errno),
           Reason::REASON_CONTAINER_LAUNCH_FAILED);
    finishWhenAcknowledged();
    return;
  }
  running_ = true;  // a kill now stops the runtime and reports TASK_KILLED
  runRuntime({"run", "--detach", "--bundle", oci_.bundle, "--pid-file",
              oci_.bundle + "/init.pid", oci_.id},
             [this](std::optional<int> status) { onContainerStarted(status); });
}

void CommandExecutor::runRuntime(std::vector<std::string> args,
                                 std::function<void(std::optional<int>)> done) {
  SpawnOptions o;
  o.argv = {oci_.runtime};
  if (!oci_.root.empty()) o.argv.insert(o.argv.end(), {"--root", oci_.root});
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = oci_.env;
  o.newProcessGroup = true;
  o.stdinPath = "/dev/null";
  auto pid = spawnProcess(o);
  if (!pid.ok()) {
    LOG(ERROR) << "Cannot run " << oci_.runtime << ": " << pid.error();
    loop_.post("executor.runtime_failed", [done = std::move(done)] { done(std::nullopt); });
    return;
  }
  oci_.runtimePid = *pid;
  Status w = watcher_.watch(*pid, [this, done](pid_t, std::optional<int> status) {
    oci_.runtimePid = -1;
    done(status);
  });
  if (!w.ok()) {
    int st = 0;
    oci_.runtimePid = -1;
    done(::waitpid(*pid, &st, 0) == *pid ? std::optional<int>(st) : std::nullopt);
  }
}

void CommandExecutor::onContainerStarted(std::optional<int> status) {
  bool started = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  if (started) oci_.initFd = openContainerInit();
  if (!started || oci_.initFd < 0 || killing_) {
    running_ = false;
    if (escalation_) loop_.cancel(escalation_);
    escalation_ = 0;
    std::string why =
        killing_ ? "Killed while its container was being started"
                 : !started ? oci_.runtime + " run " +
                                  (status ? describeWaitStatus(*status) : std::string("failed")) +
                                  " (its messages are in the task's stderr)"
                            : "The container's init (" + oci_.bundle +
                                  "/init.pid) is not this executor's child";
    bool killed = killing_;
    // --force: a container that started and is not ours to wait for, or
    // one a kill caught mid-start, ends with its state.
    deleteContainerThen([this, why, killed] {
      if (killed) {
        update(TaskState::TASK_KILLED, why);
      } else {
        update(TaskState::TASK_FAILED, why, Reason::REASON_CONTAINER_LAUNCH_FAILED);
      }
      finishWhenAcknowledged();
    });
    return;
  }
  std::ifstream in(oci_.bundle + "/init.pid");
  in >> pid_;
  // RUNNING goes out before the watch can report the end (its callback
  // runs on a later turn of the loop).
  onStarted(oci_.env);
  Status w = watcher_.watch(pid_, [this](pid_t, std::optional<int> s) { onExit(s); });
  if (!w.ok()) {
    int st = 0;
    onExit(::waitpid(pid_, &st, 0) == pid_ ? std::optional<int>(st) : std::nullopt);
  }
}

void CommandExecutor::deleteContainerThen(std::function<void()> report) {
  runRuntime({"delete", "--force", oci_.id},
             [report = std::move(report)](std::optional<int>) { report(); });
}

void CommandExecutor::start(SpawnOptions& o) {
  const TaskInfo& task = *task_;
  // posix/rlimits: a plain task's child sets them on itself (never on this
  // process); a container gets them from its config.json.
  if (task.container && !task.container->rlimits.empty() && oci_.bundle.empty()) {
    auto limits = resourceLimits(task.container->rlimits);
    if (!limits.ok()) {
      update(TaskState::TASK_FAILED, "Cannot apply the task's rlimits: " + limits.status().message(),
             Reason::REASON_CONTAINER_LAUNCH_FAILED);
      finishWhenAcknowledged();
      return;
    }
    o.limits = std::move(*limits);
  }
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
  onStarted(o.env);
}

void CommandExecutor::onStarted(const std::vector<std::string>& env) {
  const TaskInfo& task = *task_;
  update(TaskState::TASK_RUNNING, "");
  if (task.healthCheck) {
    char cwd[4096];
    std::string dir = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    health_ = std::make_unique<HealthChecker>(loop_, *task.healthCheck, env, dir,
                                              [this](const HealthChecker::Event& e) { onHealth(e); });
    health_->setCredentials(taskIds_);
    if (!oci_.bundle.empty()) {
      std::vector<std::string> prefix = {oci_.runtime};
      if (!oci_.root.empty()) prefix.insert(prefix.end(), {"--root", oci_.root});
      prefix.insert(prefix.end(), {"exec", oci_.id});
      health_->setCommandPrefix(std::move(prefix));
    }
    health_->start();
  }
}

void CommandExecutor::signalTask(int sig) {
  if (oci_.bundle.empty()) {
    killProcessGroup(pid_, sig);
    return;
  }
  // A container: its init through the pidfd (it is pid 1 of its namespace,
  // so only signals it handles and SIGKILL reach it, as with Docker);
  // while `runc run` still runs, the runtime itself.
  if (oci_.initFd >= 0) {
    ::syscall(SYS_pidfd_send_signal, oci_.initFd, sig, nullptr, 0);
  } else if (oci_.runtimePid > 0) {
    killProcessGroup(oci_.runtimePid, sig);
  }
}

int CommandExecutor::openContainerInit() const {
  std::ifstream in(oci_.bundle + "/init.pid");
  pid_t pid = -1;
  if (!(in >> pid) || pid <= 1) return -1;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  // Only our child (reparented to us, the subreaper, when `runc run`
  // exited) is the container's init; checked after the pidfd is held, so
  // the answer stays true for it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  std::istringstream rest(close == std::string::npos ? "" : text.substr(close + 1));
  std::string state;
  pid_t ppid = -1;
  if (!(rest >> state >> ppid) || ppid != ::getpid()) {
    ::close(fd);
    return -1;
  }
  return fd;
}

CommandExecutor::~CommandExecutor() {
  if (oci_.initFd >= 0) ::close(oci_.initFd);
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
  signalTask(SIGTERM);
  armEscalation(grace);
}

void CommandExecutor::armEscalation(Duration grace) {
  escalationAt_ = loop_.now() + grace;
  if (grace.count() == 0) {
    signalTask(SIGKILL);
    escalation_ = 0;
    return;
  }
  escalation_ = loop_.after(grace, "executor.escalate", [this] {
    escalation_ = 0;
    if (!running_) return;
    LOG(INFO) << "Grace period elapsed; sending SIGKILL to process group " << pid_;
    signalTask(SIGKILL);
  });
}

void CommandExecutor::onExit(std::optional<int> status) {
  running_ = false;
  if (health_) health_->stop();
  if (escalation_) loop_.cancel(escalation_);
  escalation_ = 0;
  // Whatever the command left behind in its process group goes too (in a
  // container the kernel ends the namespace's processes with its init).
  signalTask(SIGKILL);
  auto report = [this, status] {
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
  };
  if (oci_.bundle.empty() || oci_.agentDeletes) {
    report();  // (the agent removes what its own runtime kept of an ended container)
  } else {
    deleteContainerThen(report);  // the runtime's state goes before the end is told
  }
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
