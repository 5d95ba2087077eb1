#include "agent/executor/command_executor.hpp"

#include <glog/logging.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>

#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sstream>
#include <utility>

extern char** environ;

namespace tutti::executor {

namespace {
// Variables meant for the executor only, not for the task.
const std::set<std::string> kExecutorOnly = {
    "TUTTI_AGENT_ENDPOINT", "TUTTI_RECOVERY_TIMEOUT", "TUTTI_EXECUTOR_HEARTBEAT_INTERVAL",
    "GLOG_logtostderr", "TUTTI_OCI_RUNTIME", "TUTTI_OCI_ROOT", "TUTTI_OCI_BUNDLE",
    "TUTTI_OCI_AGENT_DELETES", "TUTTI_PID_NAMESPACE", "TUTTI_TASK_UID", "TUTTI_TASK_GID",
    "TUTTI_TASK_GROUPS", "TUTTI_EXECUTOR_TYPE", "TUTTI_VOLUMES_ROOT"};

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

// The default executor's sandbox for a task: a new directory
// <root>/tasks/<id> (<id>.2, .3, … when an earlier task of that id left
// one), made and opened without following links — the executor's sandbox
// belongs to the tasks' user, so `tasks` must be ours and not writable by
// others — with new `stdout` and `stderr` files, all given to the task's
// user last (until then nobody else can add anything there). The open
// directory and files go into `o`; returns the directory's path.
Result<std::string> openTaskSandbox(const std::string& root, const TaskID& id,
                                    const std::optional<Credentials>& ids, TaskRun::Options* o) {
  auto fail = [](const std::string& what) {
    return Status::IoError("Cannot make the task's sandbox: " + what + ": " +
                           std::strerror(errno));
  };
  constexpr int kDir = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  struct Fd {
    int fd = -1;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } top, tasks, dir, out, err;
  top.fd = ::open(root.c_str(), kDir);
  if (top.fd < 0) return fail(root);
  if (::mkdirat(top.fd, "tasks", 0755) != 0 && errno != EEXIST) return fail(root + "/tasks");
  tasks.fd = ::openat(top.fd, "tasks", kDir);
  struct stat st;
  if (tasks.fd < 0 || ::fstat(tasks.fd, &st) != 0) return fail(root + "/tasks");
  if (st.st_uid != ::geteuid() || (st.st_mode & 022)) {
    errno = EPERM;
    return fail(root + "/tasks is not the executor's own");
  }
  std::string name = id.value;
  for (int n = 2; ::mkdirat(tasks.fd, name.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST || n > 1000) return fail(root + "/tasks/" + name);
    name = id.value + "." + std::to_string(n);
  }
  std::string path = root + "/tasks/" + name;
  dir.fd = ::openat(tasks.fd, name.c_str(), kDir);
  if (dir.fd < 0) return fail(path);
  constexpr int kNewFile = O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
  out.fd = ::openat(dir.fd, "stdout", kNewFile, 0644);
  if (out.fd < 0) return fail(path + "/stdout");
  err.fd = ::openat(dir.fd, "stderr", kNewFile, 0644);
  if (err.fd < 0) return fail(path + "/stderr");
  if (ids) {
    for (int fd : {out.fd, err.fd, dir.fd}) {
      if (::fchown(fd, ids->uid, ids->gid) != 0) return fail(path);
    }
  }
  if (::fchmod(dir.fd, 0755) != 0) return fail(path);
  o->stdoutFd = std::exchange(out.fd, -1);  // owned by the TaskRun from here
  o->stderrFd = std::exchange(err.fd, -1);
  o->workingDirFd = std::exchange(dir.fd, -1);
  return path;
}

}  // namespace

CommandExecutor::CommandExecutor(Loop& loop, std::function<void()> done, Kind kind)
    : loop_(loop),
      done_([this, done = std::move(done)] {
        // Several paths may end the executor (the tasks' end, a shutdown
        // deadline, an error); the owner hears it once.
        if (finished_) return;
        finished_ = true;
        done();
      }),
      kind_(kind),
      watcher_(loop) {
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq == std::string::npos || kExecutorOnly.count(kv.substr(0, eq))) continue;
    baseEnv_.push_back(std::move(kv));
  }
}

CommandExecutor::~CommandExecutor() = default;

void CommandExecutor::registered(ExecutorDriver*, const ExecutorInfo&,
                                 const FrameworkInfo& framework, const AgentInfo& agent) {
  loop_.post("executor.registered", [this, framework, host = agent.hostname] {
    framework_ = framework;
    hostname_ = host;
  });
}

void CommandExecutor::launchTask(ExecutorDriver*, const TaskInfo& task) {
  loop_.post("executor.launch", [this, task] { launch({task}, false); });
}

void CommandExecutor::launchGroup(ExecutorDriver*, const std::vector<TaskInfo>& tasks) {
  loop_.post("executor.launch_group", [this, tasks] { launch(tasks, true); });
}

void CommandExecutor::killTask(ExecutorDriver*, const TaskID& taskId,
                               const std::optional<KillPolicy>& killPolicy) {
  loop_.post("executor.kill", [this, taskId, killPolicy] {
    auto it = tasks_.find(taskId);
    if (it == tasks_.end()) return;
    it->second->kill(it->second->graceWithout(killPolicy));
  });
}

void CommandExecutor::frameworkMessage(ExecutorDriver*, const std::string& data) {
  LOG(INFO) << "Framework message of " << data.size() << " bytes (ignored by the built-in executor)";
}

void CommandExecutor::shutdown(ExecutorDriver*, std::chrono::nanoseconds gracePeriod) {
  loop_.post("executor.shutdown", [this, gracePeriod] {
    shutdownRequested_ = true;
    // Whatever happens, this executor is gone within the grace period: the
    // agent (or the driver, giving up on a vanished agent) asked for it,
    // and acknowledgements may never come.
    if (!shutdownDeadline_) {
      shutdownDeadline_ = loop_.after(gracePeriod, "executor.shutdown_deadline", [this] {
        for (auto& [_, run] : tasks_) {
          if (run->running()) run->signal(SIGKILL);
        }
        done_();
      });
    }
    bool anyRunning = false;
    bool anyUnstarted = false;
    // Leave a little of the agent's grace period for our own exit.
    Duration grace = std::max<Duration>(Duration(0), gracePeriod - 1s);
    std::vector<TaskRun*> runs;
    for (auto& [_, run] : tasks_) runs.push_back(run.get());
    for (TaskRun* run : runs) {
      if (run->running()) {
        anyRunning = true;
        Duration g = grace;
        if (run->task().killPolicy) g = std::min(g, Duration(run->task().killPolicy->gracePeriod));
        run->kill(g);
      } else if (!run->terminal()) {
        anyUnstarted = true;
        run->endUnstarted("Executor shut down before the task started");
      }
    }
    if (anyRunning || anyUnstarted) return;  // their ends finish the executor
    if (tasks_.empty() || gracePeriod.count() == 0) done_();
  });
}

void CommandExecutor::error(ExecutorDriver*, const std::string& message) {
  LOG(ERROR) << "Executor error: " << message;
  loop_.post("executor.error", [this] {
    for (auto& [_, run] : tasks_) {
      if (run->running()) run->signal(SIGKILL);
    }
    done_();
  });
}

void CommandExecutor::fail(const TaskID& taskId, const std::string& message, Reason reason) {
  TaskStatus s;
  s.taskId = taskId;
  s.state = TaskState::TASK_FAILED;
  s.message = message;
  s.reason = reason;
  if (driver_->sendStatusUpdate(s) != DriverStatus::DRIVER_RUNNING) driverGone_ = true;
}

void CommandExecutor::launch(std::vector<TaskInfo> tasks, bool group) {
  // A default executor forgets the tasks that ended (an id may be used
  // again once its task ended); the command executor runs one task, ever.
  if (kind_ == Kind::kDefault) forgetEnded();
  std::erase_if(tasks, [&](const TaskInfo& t) {
    // The same launch again while the task runs (an agent that restarted
    // before recording that it had sent it): nothing to do. (A task that
    // ended and was forgotten runs again: its id is free once it ended.)
    bool again = tasks_.count(t.taskId) > 0;
    if (again) LOG(WARNING) << "Ignoring a second launch of task " << t.taskId;
    return again;
  });
  if (tasks.empty()) return;
  if (kind_ == Kind::kCommand) {
    std::string running = !tasks_.empty() ? tasks_.begin()->first.value : tasks[0].taskId.value;
    if (!tasks_.empty() || group) {
      for (const auto& t : tasks) {
        if (t.taskId.value == running) continue;
        fail(t.taskId, "The command executor runs one task; it already runs " + running,
             Reason::REASON_TASK_INVALID);
      }
      if (!tasks_.empty()) return;
      tasks.resize(1);
    }
  }
  ackPoll_ = Duration(0);
  auto members = std::make_shared<std::vector<TaskID>>();
  std::vector<TaskRun*> runs;
  std::optional<std::string> cannotStart;  // a group starts whole or not at all
  for (auto& t : tasks) {
    TaskID id = t.taskId;
    auto options = runOptions(t);
    if (!options.ok()) {
      fail(id, options.error(), Reason::REASON_COMMAND_EXECUTOR_FAILED);
      if (!cannotStart) cannotStart = "Task " + id.value + " of its group could not start";
      continue;
    }
    options->framework = &framework_;
    auto run = std::make_unique<TaskRun>(
        loop_, watcher_, std::move(t), std::move(*options),
        [this](TaskStatus s) {
          if (driver_->sendStatusUpdate(s) != DriverStatus::DRIVER_RUNNING) driverGone_ = true;
        },
        [this, id] { onTaskEnded(id); });
    runs.push_back(run.get());
    tasks_[id] = std::move(run);
    if (group && kind_ == Kind::kDefault) {
      members->push_back(id);
      groupOf_[id] = members;
    }
  }
  if (cannotStart && group) {
    // Each member is told the real cause, not a sibling's end.
    for (const auto& id : *members) groupOf_.erase(id);
  }
  for (TaskRun* run : runs) {
    if (shutdownRequested_) {
      run->endUnstarted("Executor shut down before the task started");
    } else if (cannotStart && group) {
      run->endUnstarted(*cannotStart);
    } else if (!run->terminal()) {  // (a group's failed member may have ended it)
      run->start();
    }
  }
  if (runs.empty() && !anyActive()) finishWhenAcknowledged();
}

Result<TaskRun::Options> CommandExecutor::runOptions(const TaskInfo& task) {
  TaskRun::Options o;
  o.hostname = hostname_;
  o.env = baseEnv_;
  o.sandbox = envOr("TUTTI_SANDBOX", "");
  o.pidNamespace = envOr("TUTTI_PID_NAMESPACE", "") == "1";
  if (kind_ == Kind::kCommand) {
    // A task in an image: the agent has prepared its OCI bundle (root
    // filesystem, config.json with the command, env, user and limits).
    o.ociBundle = envOr("TUTTI_OCI_BUNDLE", "");
    if (!o.ociBundle.empty()) {
      o.ociRuntime = envOr("TUTTI_OCI_RUNTIME", "runc");
      o.ociRoot = envOr("TUTTI_OCI_ROOT", "");
      o.ociAgentDeletes = envOr("TUTTI_OCI_AGENT_DELETES", "") == "1";
      o.ociId = envOr("TUTTI_CONTAINER_ID", task.taskId.value);
      return o;
    }
  }
  auto ids = taskCredentials();
  if (!ids.ok()) return ids.status();
  o.ids = *ids;
  if (kind_ == Kind::kDefault) {
    auto dir = openTaskSandbox(o.sandbox.empty() ? "." : o.sandbox, task.taskId, o.ids, &o);
    if (!dir.ok()) return dir.status();
    o.sandbox = o.workingDir = *dir;
    o.fetcher = envOr("TUTTI_FETCHER", "");
    if (task.command && !task.command->uris.empty() && o.fetcher.empty()) {
      return Status::FailedPrecondition("the agent gave no TUTTI_FETCHER for the task's URIs");
    }
    // The task's persistent volumes, in its own sandbox (the agent made
    // them and gave them to the task's user).
    const char* root = std::getenv("TUTTI_VOLUMES_ROOT");
    for (const auto& link : agent::volumeLinks(root ? root : "", task.resources)) {
      if (!root) return Status::FailedPrecondition("the agent gave no TUTTI_VOLUMES_ROOT");
      std::optional<std::pair<uid_t, gid_t>> owner;
      if (o.ids) owner = std::make_pair(o.ids->uid, o.ids->gid);
      Status s = agent::linkVolume(*dir, link, owner);
      if (!s.ok()) return s;
      volumeLinks_[task.taskId].first = *dir;
      volumeLinks_[task.taskId].second.push_back(link);
    }
  }
  return o;
}

void CommandExecutor::onTaskEnded(const TaskID& taskId) {
  auto it = tasks_.find(taskId);
  if (it == tasks_.end()) return;
  // Its volumes go with it: another task of this executor must not reach them.
  if (auto v = volumeLinks_.find(taskId); v != volumeLinks_.end()) {
    for (const auto& link : v->second.second) {
      Status s = agent::unlinkVolume(v->second.first, link);
      if (!s.ok()) LOG(WARNING) << s.message();
    }
    volumeLinks_.erase(v);
  }
  TaskState state = it->second->state();
  auto g = groupOf_.find(taskId);
  if (g != groupOf_.end() && state != TaskState::TASK_FINISHED && !shutdownRequested_) {
    // A group ends together (Mesos's default executor): the others go.
    auto members = g->second;
    std::string message = "Task " + taskId.value + " of its group ended " + toString(state);
    for (const auto& other : *members) {
      auto o = tasks_.find(other);
      if (other == taskId || o == tasks_.end() || o->second->terminal()) continue;
      // (An id of this group may since run again in another group.)
      auto og = groupOf_.find(other);
      if (og == groupOf_.end() || og->second != members) continue;
      o->second->killWithMessage(message);
    }
  }
  if (!anyActive()) finishWhenAcknowledged();
}

bool CommandExecutor::anyActive() const {
  for (const auto& [_, run] : tasks_) {
    if (!run->terminal()) return true;
  }
  return false;
}

void CommandExecutor::forgetEnded() {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->second->terminal() && !it->second->running()) {
      groupOf_.erase(it->first);
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
}

void CommandExecutor::finishWhenAcknowledged() {
  if (anyActive()) return;  // a task launched meanwhile: it ends us later
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
