// The Agent's launching of tasks (see the header comment of agent.hpp):
// RunTaskMessage and RunTaskGroupMessage, the checks the agent makes
// whatever the master did, starting an executor (its image, fetch,
// isolation and launcher), and sending tasks to it, groups whole.
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "agent/agent.hpp"
#include "agent/containerizer/task_user.hpp"
#include "common/duration.hpp"
#include "common/files.hpp"
#include "common/ids.hpp"
#include "common/task_env.hpp"

namespace tutti::agent {

namespace {
// What the fetcher puts in the sandbox before the executor starts: a
// custom executor's command URIs, else the task's (Mesos's rule).
const std::vector<CommandURI>& urisToFetch(const TaskInfo& task) {
  static const std::vector<CommandURI> kNone;
  if (task.executor) return task.executor->command ? task.executor->command->uris : kNone;
  return task.command ? task.command->uris : kNone;
}

std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}
}  // namespace

void Agent::handle(const wire::RunTaskMessage& m) {
  runTasks(m.agentId, m.frameworkInfo, {m.task}, /*group=*/false);
}

void Agent::handle(const wire::RunTaskGroupMessage& m) {
  std::vector<TaskInfo> tasks = m.tasks;
  for (auto& t : tasks) t.executor = m.executor;  // whatever the master set
  runTasks(m.agentId, m.frameworkInfo, std::move(tasks), /*group=*/true);
}

Status Agent::checkTask(const TaskInfo& task, const FrameworkID& fwId, bool group) const {
  // Ids name directories: check them here too, whatever the master did.
  for (auto [kind, id] : {std::pair{"FrameworkID", fwId.value},
                          {"ExecutorID", executorIdOf(task).value},
                          {"TaskID", task.taskId.value}}) {
    Status s = validateId(kind, id);
    if (!s.ok()) return s;
  }
  const bool image = task.container && task.container->image;
  if (group) {
    if (!isDefaultExecutor(*task.executor)) {
      return Status::InvalidArgument("A task group needs an executor of type DEFAULT");
    }
    if (image) return Status::InvalidArgument("Tasks of a group cannot run in images");
    if (!task.command || task.command->value.empty()) {
      return Status::InvalidArgument("The task has no command");
    }
  } else if (task.executor && (!task.executor->command || task.executor->command->value.empty())) {
    return Status::InvalidArgument("The task's executor has no command");
  }
  if (!task.executor && !image && (!task.command || task.command->value.empty())) {
    return Status::InvalidArgument("The task has no command");
  }
  if (image && task.executor) {
    return Status::InvalidArgument("Images run command tasks only, not tasks with a custom executor");
  }
  if (task.container && !task.container->rlimits.empty() && !isolation_.posixRlimits) {
    return Status::InvalidArgument(
        "The task sets rlimits, but this agent runs without the posix/rlimits isolator");
  }
  return Status::OK();
}

void Agent::runTasks(const AgentID& agentId, const FrameworkInfo& frameworkInfo,
                     std::vector<TaskInfo> tasks, bool group) {
  if (tasks.empty()) return;
  if (state_ != AgentState::kRegistered || !info_.id || agentId != *info_.id) {
    LOG(WARNING) << "Ignoring task " << tasks[0].taskId << " meant for agent " << agentId;
    return;
  }
  if (!frameworkInfo.id) return;
  const FrameworkID fwId = *frameworkInfo.id;
  const ExecutorID exId = executorIdOf(tasks[0]);
  const Reason invalid = group ? Reason::REASON_TASK_GROUP_INVALID : Reason::REASON_TASK_INVALID;
  // A group launches whole or not at all: one bad task fails all of them.
  // Refused before its (framework's own) executor exists here, the master
  // hears that executor is gone too, and gives back what it held for it.
  auto failAll = [&](TaskState state, Reason reason, const std::string& message) {
    for (const auto& t : tasks) agentUpdate(fwId, t.taskId, executorIdOf(t), state, reason, message);
    if (tasks[0].executor && !findExecutor(fwId, exId) && info_.id) {
      sendToMaster(wire::ExitedExecutorMessage{*info_.id, fwId, exId, std::nullopt});
    }
  };
  std::set<TaskID> ids;
  for (const auto& task : tasks) {
    Status s = checkTask(task, fwId, group);
    if (s.ok() && executorIdOf(task) != exId) {
      s = Status::InvalidArgument("The tasks of a group name different executors");
    }
    if (s.ok() && !ids.insert(task.taskId).second) {
      s = Status::InvalidArgument("Task " + task.taskId.value + " is in the group twice");
    }
    if (!s.ok()) {
      LOG(WARNING) << "Refusing task " << task.taskId << ": " << s.message();
      failAll(TaskState::TASK_FAILED, invalid, s.message());
      return;
    }
  }
  FrameworkEntry& fw = frameworks_[fwId];
  fw.info = frameworkInfo;
  launchedTasks_.inc(tasks.size());

  ExecutorRecord* ex = findExecutor(fwId, exId);
  if (ex && (ex->state == ExecutorState::kTerminating || ex->state == ExecutorState::kTerminated)) {
    failAll(fw.info.hasCapability(FrameworkCapability::PARTITION_AWARE) ? TaskState::TASK_DROPPED
                                                                        : TaskState::TASK_LOST,
            Reason::REASON_EXECUTOR_TERMINATED, "Executor " + exId.value + " is terminating");
    return;
  }
  if (ex && group != isDefaultExecutor(ex->info)) {
    failAll(TaskState::TASK_FAILED, invalid,
            "Executor " + exId.value + " runs here as another kind of executor");
    return;
  }
  std::erase_if(tasks, [&](const TaskInfo& t) {
    bool again = ex && (ex->queued.count(t.taskId) || ex->launched.count(t.taskId));
    if (again) LOG(WARNING) << "Ignoring a second launch of task " << t.taskId;
    return again;
  });
  if (tasks.empty()) return;
  // A new executor runs as its first task's user; the tasks of a default
  // executor all run as that one (a custom executor's as the executor's).
  std::optional<uid_t> executorUid;
  if (ex) executorUid = ex->taskUid.value_or(::geteuid());
  Result<std::optional<UserAccount>> user = std::optional<UserAccount>();
  for (const auto& task : tasks) {
    if (ex && !group) break;
    auto u = switchedUser(options_.switchUser, fw.info, task);
    if (!u.ok()) {
      failedLaunches_.inc();
      LOG(WARNING) << "Refusing task " << task.taskId << ": " << u.error();
      failAll(TaskState::TASK_FAILED, Reason::REASON_CONTAINER_LAUNCH_FAILED, u.error());
      return;
    }
    uid_t uid = *u ? (*u)->uid : ::geteuid();
    if (!executorUid) {
      executorUid = uid;
      user = std::move(u);
    } else if (uid != *executorUid) {
      failAll(TaskState::TASK_FAILED, invalid,
              "The tasks of executor " + exId.value + " must all run as one user");
      return;
    }
  }
  if (!ex) {
    const TaskInfo& task = tasks[0];
    // The fetcher of a task in an image runs as the framework's user on
    // this host too (never with the agent's ids for someone else's URIs).
    std::optional<UserAccount> fetchAs = *user;
    if (!urisToFetch(task).empty() && task.container && task.container->image) {
      TaskInfo onHost = task;
      onHost.container.reset();
      auto host = switchedUser(options_.switchUser, fw.info, onHost);
      if (!host.ok()) {
        failedLaunches_.inc();
        agentUpdate(fwId, task.taskId, exId, TaskState::TASK_FAILED,
                    Reason::REASON_CONTAINER_LAUNCH_FAILED, "Cannot fetch the task's URIs: " +
                                                                host.error());
        return;
      }
      fetchAs = *host;
    }
    ex = launchExecutor(fw, task, *user);
    if (!ex) return;
    // (A plain task's fetcher got its user in launchExecutor; an image's
    // starts once the image is there.)
    if (ex->image && fetchAs) ex->fetchAs = Credentials{fetchAs->uid, fetchAs->gid, fetchAs->groups};
  }
  // With isolation, a task goes to the executor only once its launch
  // result is back (pid known): by then the launcher has moved it into its
  // cgroups.
  bool fresh = ex->pid <= 0;
  if (ex->state == ExecutorState::kRunning && (ex->pid > 0 || !isolator_)) {
    if (group) {
      sendLaunchGroup(*ex, tasks);
    } else {
      sendLaunch(*ex, tasks[0]);
    }
  } else {
    if (group) {
      std::vector<TaskID> members;
      for (const auto& t : tasks) members.push_back(t.taskId);
      ex->queuedGroups.push_back(std::move(members));
    }
    for (auto& t : tasks) ex->queued[t.taskId] = std::move(t);
  }
  if (isolator_ && !fresh) {
    Status u = isolator_->update(ex->containerId, ex->resources());
    if (!u.ok()) LOG(WARNING) << "Cannot update the limits of executor " << exId << ": " << u;
  }
  checkpointExecutor(fwId, exId);
}

ExecutorRecord* Agent::launchExecutor(FrameworkEntry& fw, const TaskInfo& task,
                                      const std::optional<UserAccount>& user) {
  const FrameworkID fwId = *fw.info.id;
  ExecutorRecord rec;
  rec.frameworkId = fwId;
  rec.containerId = ContainerID(newUuid());
  rec.startTime = loop_.clock().wallSeconds();
  if (task.executor) {
    rec.info = *task.executor;
    rec.commandExecutor = false;
  } else {
    rec.info.executorId = ExecutorID(task.taskId.value);
    rec.info.name = "Command Executor (Task: " + task.taskId.value + ")";
    rec.info.type = ExecutorInfo::Type::DEFAULT;
    CommandInfo c;
    c.shell = false;
    c.value = options_.launcherDir + "/tutti-executor";
    c.arguments = {"tutti-executor"};
    rec.info.command = c;
    rec.commandExecutor = true;
  }
  rec.info.frameworkId = fwId;
  rec.id = rec.info.executorId;
  rec.uris = urisToFetch(task);
  rec.directory = sandboxPath(options_.workDir, *info_.id, fwId, rec.id, rec.containerId);
  gc_->unschedule(rec.directory.substr(0, rec.directory.rfind("/runs/")));

  LaunchSpec spec;
  spec.directory = rec.directory;
  const bool defaultExecutor = isDefaultExecutor(rec.info);
  // The default executor (LAUNCH_GROUP) is tutti-executor too, told so.
  CommandInfo builtin;
  if (defaultExecutor) {
    builtin.shell = false;
    builtin.value = options_.launcherDir + "/tutti-executor";
    builtin.arguments = {"tutti-executor"};
  }
  const CommandInfo& cmd = defaultExecutor ? builtin : *rec.info.command;
  spec.argv = commandArgv(cmd);
  spec.env = {
      "PATH=" + envOr("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
      "HOME=" + envOr("HOME", "/"),
      "TUTTI_AGENT_ENDPOINT=" + executorEndpoint_,
      "TUTTI_AGENT_ID=" + info_.id->value,
      "TUTTI_FRAMEWORK_ID=" + fwId.value,
      "TUTTI_EXECUTOR_ID=" + rec.id.value,
      "TUTTI_CONTAINER_ID=" + rec.containerId.value,
      "TUTTI_DIRECTORY=" + rec.directory,
      "TUTTI_SANDBOX=" + rec.directory,
      "TUTTI_CHECKPOINT=" + std::string(fw.info.checkpoint ? "1" : "0"),
      "TUTTI_RECOVERY_TIMEOUT=" + formatDuration(options_.recoveryTimeout),
      "TUTTI_EXECUTOR_HEARTBEAT_INTERVAL=" + formatDuration(options_.executorHeartbeatInterval),
      "GLOG_logtostderr=1",
  };
  if (defaultExecutor) {
    spec.env.push_back("TUTTI_EXECUTOR_TYPE=default");
    spec.env.push_back("TUTTI_VOLUMES_ROOT=" + volumesRoot(options_.workDir));
    // Each task of a group fetches its own URIs into its own sandbox.
    spec.env.push_back("TUTTI_FETCHER=" + options_.launcherDir + "/tutti-fetcher");
  }
  for (const char* pass : {"LANG", "LC_ALL", "TZ", "USER", "LOGNAME"}) {
    if (const char* v = std::getenv(pass)) spec.env.push_back(std::string(pass) + "=" + v);
  }
  if (user) {
    for (auto& e : userEnvironment(*user)) {
      std::string prefix = e.substr(0, e.find('=') + 1);
      std::erase_if(spec.env, [&](const std::string& v) { return v.rfind(prefix, 0) == 0; });
      spec.env.push_back(std::move(e));
    }
    Credentials ids{user->uid, user->gid, user->groups};
    rec.taskUid = user->uid;
    spec.sandboxOwner = ids;
    rec.fetchAs = ids;
    if (rec.commandExecutor || defaultExecutor) {
      // The built-in executors stay ours (it signals and watches the task)
      // and starts the task as the user, its namespaces and limits set up
      // before the ids drop.
      std::string groups;
      for (gid_t g : user->groups) groups += (groups.empty() ? "" : ",") + std::to_string(g);
      spec.env.push_back("TUTTI_TASK_UID=" + std::to_string(user->uid));
      spec.env.push_back("TUTTI_TASK_GID=" + std::to_string(user->gid));
      spec.env.push_back("TUTTI_TASK_GROUPS=" + groups);
    } else {
      spec.runAs = ids;
    }
  }
  for (const auto& e : cmd.environment) spec.env.push_back(e.name + "=" + e.value);
  // A task in an image always has its own pid namespace (the runtime's).
  if (isolation_.namespacesPid && !(task.container && task.container->image)) {
    spec.env.push_back("TUTTI_PID_NAMESPACE=1");
  }

  FrameworkID f = fwId;
  ExecutorID e = rec.id;
  ContainerID c = rec.containerId;
  const bool image = task.container && task.container->image;
  rec.image = image;
  auto [it, _] = fw.executors.emplace(rec.id, std::move(rec));
  ExecutorRecord* ex = &it->second;
  if (!image) {
    fetchThenStart(*ex, std::move(spec), task.resources);
    return ex;
  }
  ex->preparing = true;
  if (!oci_) {
    // Answered after this call returns, as a failed launch would be.
    loop_.post("agent.images_unavailable", [this, alive = alive_, f, e, c] {
      if (*alive) onContainerPrepared(f, e, c, {}, Status::FailedPrecondition(
                                                     "Tasks in images cannot run on this agent: " +
                                                     imagesError_));
    });
    return ex;
  }
  // The executor starts once the image is there and its bundle can be built.
  ex->mountedVolumes = volumeLinks(volumesRoot(options_.workDir), task.resources);
  oci_->prepare(c, task, ex->directory, info_.hostname, ex->mountedVolumes,
                [this, alive = alive_, f, e, c, spec = std::move(spec),
                 resources = task.resources](Result<oci::OciContainerizer::Prepared> p) mutable {
                  if (!*alive) return;
                  if (!p.ok()) {
                    onContainerPrepared(f, e, c, {}, p.status());
                    return;
                  }
                  spec.env.insert(spec.env.end(), p->env.begin(), p->env.end());
                  spec.prepare = std::move(p->provision);  // cgroups first: startExecutor
                  ExecutorRecord* x = findExecutor(f, e);
                  if (!x || x->containerId != c || !x->preparing) {
                    oci_->destroy(c);  // shut down while its image was pulled
                    return;
                  }
                  onContainerPrepared(f, e, c, std::move(spec), Status::OK(), resources);
                });
  return ex;
}

void Agent::onContainerPrepared(const FrameworkID& fwId, const ExecutorID& exId,
                                const ContainerID& containerId, LaunchSpec spec, Status status,
                                const Resources& taskResources) {
  ExecutorRecord* ex = findExecutor(fwId, exId);
  if (!ex || ex->containerId != containerId || !ex->preparing) return;
  ex->preparing = false;
  if (!status.ok()) {
    failPreparation(*ex, status.message());
    return;
  }
  fetchThenStart(*ex, std::move(spec), taskResources);
}

void Agent::failPreparation(ExecutorRecord& ex, const std::string& message) {
  failedLaunches_.inc();
  LOG(WARNING) << "Cannot start container " << ex.containerId << " of executor " << ex.id << ": "
               << message;
  for (const auto& [taskId, _] : ex.queued) {
    agentUpdate(ex.frameworkId, taskId, ex.id, TaskState::TASK_FAILED,
                Reason::REASON_CONTAINER_LAUNCH_FAILED, message);
  }
  ex.queued.clear();
  ex.queuedGroups.clear();
  onExecutorExited(ex.frameworkId, ex.id, std::nullopt);
}

void Agent::startExecutor(ExecutorRecord& rec, LaunchSpec spec, const Resources& taskResources) {
  FrameworkID f = rec.frameworkId;
  ExecutorID e = rec.id;
  ContainerID c = rec.containerId;
  if (isolator_) {
    auto hooks = isolator_->prepare(c, isolator_->limitsFor(rec.info.resources + taskResources));
    auto provision = std::move(spec.prepare);
    spec.prepare = [create = std::move(hooks.prepare), provision = std::move(provision)] {
      Status s = create();
      if (!s.ok() || !provision) return s;
      return provision();
    };
    spec.isolate = std::move(hooks.isolate);
  }
  asyncLauncher_.launch(spec, [this, alive = alive_, f, e, c](Result<pid_t> pid) {
    if (*alive) {
      onExecutorLaunched(f, e, c, std::move(pid));
    } else if (pid.ok()) {
      killSession(*pid, SIGKILL);  // the agent (and its launcher) is gone
    }
  });
  rec.registrationTimer = loop_.after(options_.executorRegistrationTimeout,
                                      "agent.executor_registration_timeout",
                                      [this, f, e] { onExecutorRegistrationTimeout(f, e); });
}

void Agent::onExecutorLaunched(const FrameworkID& fwId, const ExecutorID& exId,
                               const ContainerID& containerId, Result<pid_t> pid) {
  ExecutorRecord* ex = findExecutor(fwId, exId);
  if (!ex || ex->containerId != containerId) {
    // Gone meanwhile (e.g. the agent is shutting down): do not leave it running.
    if (pid.ok()) launcher_.destroy(*pid);
    if (isolator_) isolator_->destroy(containerId);
    if (oci_ && oci_->hasBundle(containerId)) oci_->destroy(containerId);
    return;
  }
  if (!pid.ok()) {
    failedLaunches_.inc();
    LOG(ERROR) << "Failed to launch executor " << exId << " of framework " << fwId << ": "
               << pid.error();
    for (const auto& [taskId, _] : ex->queued) {
      agentUpdate(fwId, taskId, exId, TaskState::TASK_FAILED,
                  Reason::REASON_CONTAINER_LAUNCH_FAILED,
                  "Failed to launch the executor: " + pid.error());
    }
    ex->queued.clear();
    ex->queuedGroups.clear();
    onExecutorExited(fwId, exId, std::nullopt);
    return;
  }
  ex->pid = *pid;
  ex->pidStartTicks = processStartTicks(ex->pid).value_or(0);
  // runs/latest points at the newest run (Mesos's layout), replaced atomically.
  std::string runs = ex->directory.substr(0, ex->directory.rfind('/'));
  std::string tmp = runs + "/.latest.tmp";
  ::unlink(tmp.c_str());
  if (::symlink(containerId.value.c_str(), tmp.c_str()) != 0 ||
      ::rename(tmp.c_str(), (runs + "/latest").c_str()) != 0) {
    LOG(WARNING) << "Cannot link " << runs << "/latest: " << std::strerror(errno);
  }
  if (isolator_) {
    isolator_->running(containerId, [this, fwId, exId, containerId](const std::string& m) {
      onContainerLimitation(fwId, exId, containerId, m);
    });
    // Tasks added while it was starting.
    if (ex->queued.size() > 1) (void)isolator_->update(containerId, ex->resources());
  }
  if (ex->state == ExecutorState::kRunning && !ex->queued.empty()) {
    // It subscribed before its launch result came back: its tasks were held.
    sendQueued(*ex);
  }
  checkpointExecutor(fwId, exId);
  VLOG(1) << "Launched executor " << exId << " (pid " << ex->pid << ") in " << ex->directory;
  Status w = watcher_.watch(ex->pid, [this, fwId, exId](pid_t, std::optional<int> status) {
    onExecutorExited(fwId, exId, status);
  });
  if (!w.ok()) {
    // Without a watch we would never learn that it ended: treat it as ended.
    LOG(ERROR) << "Cannot watch executor " << exId << " (" << w << "); killing it";
    launcher_.destroy(ex->pid);
    loop_.post("agent.executor_unwatched",
               [this, alive = alive_, fwId, exId] {
                 if (*alive) onExecutorExited(fwId, exId, std::nullopt);
               });
  }
  if ((ex->state == ExecutorState::kTerminating && ex->conn.empty()) || ex->killWhenLaunched) {
    // Shut down before it could subscribe, or its kill came due while the
    // launcher was still starting it: nothing to wait for.
    launcher_.destroy(ex->pid);
  }
}

void Agent::sendQueued(ExecutorRecord& ex) {
  auto queued = std::move(ex.queued);
  auto groups = std::move(ex.queuedGroups);
  ex.queued.clear();
  ex.queuedGroups.clear();
  for (const auto& members : groups) {
    std::vector<TaskInfo> tasks;
    for (const auto& id : members) {
      auto it = queued.find(id);
      if (it == queued.end()) continue;  // killed while queued
      tasks.push_back(std::move(it->second));
      queued.erase(it);
    }
    if (!tasks.empty()) sendLaunchGroup(ex, tasks);
  }
  for (const auto& [_, task] : queued) sendLaunch(ex, task);
}

void Agent::recordLaunch(ExecutorRecord& ex, const TaskInfo& task) {
  Task t;
  t.taskId = task.taskId;
  t.name = task.name;
  t.frameworkId = ex.frameworkId;
  t.executorId = ex.id;
  t.agentId = *info_.id;
  t.state = TaskState::TASK_STAGING;
  t.resources = task.resources;
  t.labels = task.labels;
  ex.launched[task.taskId] = t;
  ex.infos[task.taskId] = task;
}

void Agent::sendLaunch(ExecutorRecord& ex, const TaskInfo& task) {
  Status volumes = prepareVolumes(ex, task);
  if (!volumes.ok()) {
    failLaunch(ex, task, volumes.message());
    return;
  }
  recordLaunch(ex, task);
  (void)executors_.send(ex.conn, wire::LaunchEvent{task});
}

void Agent::sendLaunchGroup(ExecutorRecord& ex, const std::vector<TaskInfo>& tasks) {
  // All or nothing, as the group would end together anyway.
  for (const auto& t : tasks) {
    Status volumes = prepareVolumes(ex, t);
    if (volumes.ok()) continue;
    for (const auto& other : tasks) {
      failLaunch(ex, other, other.taskId == t.taskId
                                ? volumes.message()
                                : "Task " + t.taskId.value + " of its group: " + volumes.message());
    }
    return;
  }
  for (const auto& t : tasks) recordLaunch(ex, t);
  (void)executors_.send(ex.conn, wire::LaunchGroupEvent{tasks});
}

}  // namespace tutti::agent
