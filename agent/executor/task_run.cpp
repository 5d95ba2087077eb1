#include "agent/executor/task_run.hpp"

#include <glog/logging.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/files.hpp"
#include "common/json.hpp"
#include "common/rlimits.hpp"
#include "common/task_env.hpp"

namespace tutti::executor {

TaskRun::TaskRun(Loop& loop, ProcessWatcher& watcher, TaskInfo task, Options options,
                 std::function<void(TaskStatus)> report, std::function<void()> ended)
    : loop_(loop),
      watcher_(watcher),
      task_(std::move(task)),
      options_(std::move(options)),
      report_(std::move(report)),
      ended_(std::move(ended)) {}

TaskRun::~TaskRun() {
  stopFetching();
  if (escalation_) loop_.cancel(escalation_);
  if (initFd_ >= 0) ::close(initFd_);
  closeOutput();
  if (options_.workingDirFd >= 0) ::close(options_.workingDirFd);
}

void TaskRun::closeOutput() {
  for (int* fd : {&options_.stdoutFd, &options_.stderrFd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void TaskRun::update(TaskState state, const std::string& message, std::optional<Reason> reason,
                     std::optional<int> exitStatus, std::optional<bool> healthy) {
  if (terminal_) return;
  TaskStatus s;
  s.taskId = task_.taskId;
  s.state = state;
  s.message = message;
  s.reason = reason;
  s.exitStatus = exitStatus;
  s.healthy = healthy;
  if (isTerminal(state)) {
    terminal_ = true;
    closeOutput();  // (a task that never started still held them)
  }
  state_ = state;
  report_(std::move(s));
  if (terminal_) ended_();
}

Duration TaskRun::graceWithout(const std::optional<KillPolicy>& override) const {
  if (override) return override->gracePeriod;
  if (task_.killPolicy) return task_.killPolicy->gracePeriod;
  return kDefaultGracePeriod;
}

void TaskRun::endUnstarted(const std::string& message) {
  if (running_ || terminal_) return;
  stopFetching();
  update(TaskState::TASK_KILLED, message);
}

void TaskRun::killWithMessage(const std::string& message) {
  if (terminal_) return;
  if (!running_) {
    stopFetching();
    update(TaskState::TASK_KILLED, message);
    return;
  }
  if (!killedBecause_ && !killing_) killedBecause_ = message;  // the first cause is the one told
  kill(graceWithout(std::nullopt));
}

void TaskRun::stopFetching() {
  if (fetcherPid_ <= 0) return;
  watcher_.unwatch(fetcherPid_);
  killProcessGroup(fetcherPid_, SIGKILL);
  ::waitpid(fetcherPid_, nullptr, 0);  // our child, dead: reaped at once
  fetcherPid_ = -1;
}

void TaskRun::fetchThenStart() {
  SpawnOptions o;
  o.argv = {options_.fetcher};
  const char* path = std::getenv("PATH");
  // Not the task's environment: the fetcher is ours. The URIs go in the
  // environment (only its user and root read it), not on its command line.
  o.env = {"PATH=" + std::string(path ? path : "/usr/local/bin:/usr/bin:/bin"),
           "TUTTI_FETCHER_URIS=" + json::dump(json::commandUris(task_.command->uris))};
  o.newProcessGroup = true;
  o.stdinPath = "/dev/null";
  o.workingDir = options_.workingDir;
  o.workingDirFd = options_.workingDirFd;
  o.stdoutFd = options_.stdoutFd;
  o.stderrFd = options_.stderrFd;
  o.credentials = options_.ids;  // it reads only what the task's user may
  auto pid = spawnProcess(o);
  if (!pid.ok()) {
    update(TaskState::TASK_FAILED, "Cannot fetch the task's URIs: " + pid.error(),
           Reason::REASON_CONTAINER_LAUNCH_FAILED);
    return;
  }
  fetcherPid_ = *pid;
  Status w = watcher_.watch(*pid, [this](pid_t, std::optional<int> status) { onFetched(status); });
  if (!w.ok()) {
    int st = 0;
    onFetched(::waitpid(*pid, &st, 0) == *pid ? std::optional<int>(st) : std::nullopt);
  }
}

void TaskRun::onFetched(std::optional<int> status) {
  fetcherPid_ = -1;
  if (terminal_) return;
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    // tutti-fetcher's last line in the task's stderr says which URI and why.
    std::string why = lastLineOfFile(options_.workingDir, "stderr", 1000);
    if (why.empty()) why = "tutti-fetcher " + (status ? describeWaitStatus(*status) : "failed");
    update(TaskState::TASK_FAILED, "Cannot fetch the task's URIs: " + why,
           Reason::REASON_CONTAINER_LAUNCH_FAILED);
    return;
  }
  fetched_ = true;
  start();
}

void TaskRun::start() {
  if (!options_.fetcher.empty() && !fetched_ && task_.command && !task_.command->uris.empty()) {
    fetchThenStart();
    return;
  }
  if (!options_.ociBundle.empty()) {
    launchInContainer();
    return;
  }
  if (!task_.command) {
    update(TaskState::TASK_FAILED, "The command executor needs a task with a command",
           Reason::REASON_TASK_INVALID);
    return;
  }
  const CommandInfo& cmd = *task_.command;
  update(TaskState::TASK_STARTING, "");

  SpawnOptions o;
  o.argv = commandArgv(cmd);
  std::map<std::string, std::string> env;
  for (const auto& kv : options_.env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : taskEnvironment(task_, options_.sandbox, options_.hostname)) {
    env[k] = std::move(v);
  }
  for (const auto& v : cmd.environment) env[v.name] = v.value;
  for (const auto& [k, v] : env) o.env.push_back(k + "=" + v);
  o.newProcessGroup = true;  // killable as a group
  o.stdinPath = "/dev/null";
  o.workingDir = options_.workingDir;
  o.workingDirFd = options_.workingDirFd;
  o.stdoutFd = options_.stdoutFd;
  o.stderrFd = options_.stderrFd;
  // Both set up in the child between its fork and exec, before it drops
  // to the task's ids: no wrapper program runs with ours.
  o.credentials = options_.ids;
  // namespaces/pid: the command is pid 1 of a namespace of its own, with
  // its own /proc, and dies with the small parent we wait for.
  o.pidNamespace = options_.pidNamespace;
  spawn(o);
}

void TaskRun::launchInContainer() {
  update(TaskState::TASK_STARTING, "");
  ociEnv_ = options_.env;
  // One `runc run --detach` creates and starts the container (one runtime
  // process instead of `create` then `start`: about a quarter less of the
  // runtime's CPU per container). Its init is the runtime's child; when
  // `run` exits it is reparented to us, and we wait for it as for a plain
  // task (even if it already ended: it waits, a zombie, for us to reap it).
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    update(TaskState::TASK_FAILED,
           std::string("Cannot become the container's subreaper: ") + std::strerror(errno),
           Reason::REASON_CONTAINER_LAUNCH_FAILED);
    return;
  }
  running_ = true;  // a kill now stops the runtime and reports TASK_KILLED
  runRuntime({"run", "--detach", "--bundle", options_.ociBundle, "--pid-file",
              options_.ociBundle + "/init.pid", options_.ociId},
             [this](std::optional<int> status) { onContainerStarted(status); });
}

void TaskRun::runRuntime(std::vector<std::string> args,
                         std::function<void(std::optional<int>)> done) {
  SpawnOptions o;
  o.argv = {options_.ociRuntime};
  if (!options_.ociRoot.empty()) o.argv.insert(o.argv.end(), {"--root", options_.ociRoot});
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = ociEnv_;
  o.newProcessGroup = true;
  o.stdinPath = "/dev/null";
  auto pid = spawnProcess(o);
  if (!pid.ok()) {
    LOG(ERROR) << "Cannot run " << options_.ociRuntime << ": " << pid.error();
    loop_.post("executor.runtime_failed", [done = std::move(done)] { done(std::nullopt); });
    return;
  }
  runtimePid_ = *pid;
  Status w = watcher_.watch(*pid, [this, done](pid_t, std::optional<int> status) {
    runtimePid_ = -1;
    done(status);
  });
  if (!w.ok()) {
    int st = 0;
    runtimePid_ = -1;
    done(::waitpid(*pid, &st, 0) == *pid ? std::optional<int>(st) : std::nullopt);
  }
}

void TaskRun::onContainerStarted(std::optional<int> status) {
  bool started = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
  if (started) initFd_ = openContainerInit();
  if (!started || initFd_ < 0 || killing_) {
    running_ = false;
    if (escalation_) loop_.cancel(escalation_);
    escalation_ = 0;
    const std::string& runtime = options_.ociRuntime;
    std::string why =
        killing_ ? "Killed while its container was being started"
                 : !started ? runtime + " run " +
                                  (status ? describeWaitStatus(*status) : std::string("failed")) +
                                  " (its messages are in the task's stderr)"
                            : "The container's init (" + options_.ociBundle +
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
    });
    return;
  }
  std::ifstream in(options_.ociBundle + "/init.pid");
  in >> pid_;
  // RUNNING goes out before the watch can report the end (its callback
  // runs on a later turn of the loop).
  onStarted(ociEnv_);
  Status w = watcher_.watch(pid_, [this](pid_t, std::optional<int> s) { onExit(s); });
  if (!w.ok()) {
    int st = 0;
    onExit(::waitpid(pid_, &st, 0) == pid_ ? std::optional<int>(st) : std::nullopt);
  }
}

void TaskRun::deleteContainerThen(std::function<void()> report) {
  runRuntime({"delete", "--force", options_.ociId},
             [report = std::move(report)](std::optional<int>) { report(); });
}

void TaskRun::spawn(SpawnOptions& o) {
  // posix/rlimits: a plain task's child sets them on itself (never on this
  // process); a container gets them from its config.json.
  if (task_.container && !task_.container->rlimits.empty()) {
    auto limits = resourceLimits(task_.container->rlimits);
    if (!limits.ok()) {
      update(TaskState::TASK_FAILED,
             "Cannot apply the task's rlimits: " + limits.status().message(),
             Reason::REASON_CONTAINER_LAUNCH_FAILED);
      return;
    }
    o.limits = std::move(*limits);
  }
  auto pid = spawnProcess(o);
  closeOutput();  // the child has its copies
  if (!pid.ok()) {
    update(TaskState::TASK_FAILED, "Failed to launch the command: " + pid.error(),
           Reason::REASON_COMMAND_EXECUTOR_FAILED);
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

void TaskRun::onStarted(const std::vector<std::string>& env) {
  update(TaskState::TASK_RUNNING, "");
  if (task_.healthCheck) {
    std::string dir = options_.workingDir;
    if (dir.empty()) {
      char cwd[4096];
      dir = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    }
    health_ = std::make_unique<HealthChecker>(loop_, *task_.healthCheck, env, dir,
                                              [this](const HealthChecker::Event& e) { onHealth(e); });
    health_->setCredentials(options_.ids);
    health_->setWorkingDirFd(options_.workingDirFd);
    if (!options_.ociBundle.empty()) {
      std::vector<std::string> prefix = {options_.ociRuntime};
      if (!options_.ociRoot.empty()) prefix.insert(prefix.end(), {"--root", options_.ociRoot});
      prefix.insert(prefix.end(), {"exec", options_.ociId});
      health_->setCommandPrefix(std::move(prefix));
    } else if (options_.pidNamespace && pid_ > 0) {
      // The task has its own pid (and mount) namespace: its check runs in
      // them too, so `pgrep`, `ps` or /proc see the task's processes. nsenter
      // joins them as root, then takes the task's ids (without supplementary
      // groups).
      std::vector<std::string> prefix = {::access("/usr/bin/nsenter", X_OK) == 0
                                             ? "/usr/bin/nsenter"
                                             : "nsenter",
                                         "--target", std::to_string(pid_), "--pid", "--mount"};
      if (options_.ids) {
        prefix.insert(prefix.end(), {"--setgid", std::to_string(options_.ids->gid), "--setuid",
                                     std::to_string(options_.ids->uid)});
        health_->setCredentials(std::nullopt);
      }
      prefix.push_back("--");
      health_->setCommandPrefix(std::move(prefix));
    }
    health_->start();
  }
}

void TaskRun::signal(int sig) {
  if (options_.ociBundle.empty()) {
    if (pid_ > 0) killProcessGroup(pid_, sig);
    return;
  }
  // A container: its init through the pidfd (it is pid 1 of its namespace,
  // so only signals it handles and SIGKILL reach it, as with Docker);
  // while `runc run` still runs, the runtime itself.
  if (initFd_ >= 0) {
    ::syscall(SYS_pidfd_send_signal, initFd_, sig, nullptr, 0);
  } else if (runtimePid_ > 0) {
    killProcessGroup(runtimePid_, sig);
  }
}

int TaskRun::openContainerInit() const {
  std::ifstream in(options_.ociBundle + "/init.pid");
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

void TaskRun::onHealth(const HealthChecker::Event& event) {
  if (!running_ || killing_ || terminal_) return;
  if (event.killTask) {
    LOG(WARNING) << event.message;
    killedUnhealthy_ = true;
    unhealthyMessage_ = event.message;
    health_->stop();
    kill(graceWithout(std::nullopt));
    return;
  }
  update(TaskState::TASK_RUNNING, event.message, Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
         std::nullopt, event.healthy);
}

void TaskRun::kill(Duration grace) {
  if (!running_) {
    if (fetcherPid_ > 0) endUnstarted("Killed while its URIs were fetched");
    return;
  }
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
  if (options_.framework &&
      options_.framework->hasCapability(FrameworkCapability::TASK_KILLING_STATE)) {
    update(TaskState::TASK_KILLING, "");
  }
  LOG(INFO) << "Sending SIGTERM to process group " << pid_ << " of task " << task_.taskId
            << "; SIGKILL in " << toSeconds(grace) << "s";
  signal(SIGTERM);
  armEscalation(grace);
}

void TaskRun::armEscalation(Duration grace) {
  escalationAt_ = loop_.now() + grace;
  if (grace.count() == 0) {
    signal(SIGKILL);
    escalation_ = 0;
    return;
  }
  escalation_ = loop_.after(grace, "executor.escalate", [this] {
    escalation_ = 0;
    if (!running_) return;
    LOG(INFO) << "Grace period elapsed; sending SIGKILL to process group " << pid_;
    signal(SIGKILL);
  });
}

void TaskRun::onExit(std::optional<int> status) {
  running_ = false;
  if (health_) health_->stop();
  if (escalation_) loop_.cancel(escalation_);
  escalation_ = 0;
  // Whatever the command left behind in its process group goes too (in a
  // container the kernel ends the namespace's processes with its init).
  signal(SIGKILL);
  auto report = [this, status] {
    std::string how = status ? describeWaitStatus(*status) : "ended";
    std::string message = "Command " + how;
    if (killedUnhealthy_) {
      update(TaskState::TASK_KILLED, unhealthyMessage_,
             Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, status, false);
    } else if (killedBecause_) {
      update(TaskState::TASK_KILLED, *killedBecause_, std::nullopt, status);
    } else if (killing_) {
      update(TaskState::TASK_KILLED, message, std::nullopt, status);
    } else if (status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
      update(TaskState::TASK_FINISHED, message, std::nullopt, status);
    } else {
      update(TaskState::TASK_FAILED, message, Reason::REASON_COMMAND_EXECUTOR_FAILED, status);
    }
  };
  if (options_.ociBundle.empty() || options_.ociAgentDeletes) {
    report();  // (the agent removes what its own runtime kept of an ended container)
  } else {
    deleteContainerThen(report);  // the runtime's state goes before the end is told
  }
}

}  // namespace tutti::executor
