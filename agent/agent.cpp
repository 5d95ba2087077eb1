#include "agent/agent.hpp"

#include <glog/logging.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "agent/containerizer/task_user.hpp"
#include "common/files.hpp"
#include "common/duration.hpp"
#include "common/ids.hpp"
#include "common/master_detector.hpp"
#include "common/version.hpp"

namespace tutti::agent {

namespace {
// What the fetcher puts in the sandbox before the executor starts: a
// custom executor's command URIs, else the task's (Mesos's rule).
const std::vector<CommandURI>& urisToFetch(const TaskInfo& task) {
  static const std::vector<CommandURI> kNone;
  if (task.executor) return task.executor->command ? task.executor->command->uris : kNone;
  return task.command ? task.command->uris : kNone;
}
}  // namespace

namespace {
constexpr Duration kConnectPoll = 10ms;
constexpr Duration kMaxRegistrationBackoff = 1min;
constexpr Duration kWatchdogInterval = 1s;
constexpr int kMasterPingsMissed = 5;  // as the master's --max_agent_ping_timeouts

std::string envOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}
}  // namespace

const char* toString(AgentState s) {
  switch (s) {
    case AgentState::kRegistering: return "REGISTERING";
    case AgentState::kRegistered: return "REGISTERED";
    case AgentState::kTerminating: return "TERMINATING";
  }
  return "UNKNOWN";
}

const char* toString(ExecutorState s) {
  switch (s) {
    case ExecutorState::kRegistering: return "REGISTERING";
    case ExecutorState::kRunning: return "RUNNING";
    case ExecutorState::kTerminating: return "TERMINATING";
    case ExecutorState::kTerminated: return "TERMINATED";
  }
  return "UNKNOWN";
}

Resources ExecutorRecord::resources() const {
  Resources r = info.resources;
  for (const auto& [_, t] : queued) r += t.resources;
  for (const auto& [_, t] : launched) {
    if (!isTerminal(t.state)) r += t.resources;
  }
  return r;
}

Agent::Agent(AgentOptions options, AgentInfo info, std::string executorEndpoint, Loop& loop,
             ClientTransport& master, Transport& executors, Metrics& metrics,
             std::function<void(const std::string&)> onFatal)
    : options_(std::move(options)),
      info_(std::move(info)),
      executorEndpoint_(std::move(executorEndpoint)),
      loop_(loop),
      master_(master),
      executors_(executors),
      metrics_(metrics),
      onFatal_(std::move(onFatal)),
      watcher_(loop),
      asyncLauncher_(loop),
      launchedTasks_(metrics.counter("slave/tasks_launched")),
      failedLaunches_(metrics.counter("slave/container_launch_errors")),
      invalidExecutorCalls_(metrics.counter("slave/invalid_executor_calls")),
      checkpointErrors_(metrics.counter("slave/checkpoint_errors")),
      recoveredExecutors_(metrics.counter("slave/executors_recovered")) {
  statusUpdates_ = std::make_unique<StatusUpdateManager>(
      loop_,
      StatusUpdateManager::Options{options_.statusUpdateRetryIntervalMin,
                                   options_.statusUpdateRetryIntervalMax},
      [this](const wire::StatusUpdateMessage& m) {
        // Checkpointed updates go out after this turn's flush: on disk first.
        if (flushScheduled_) {
          updatesAfterFlush_.push_back(m);
          return true;
        }
        // Queued with the round's other updates (Transport::sendSoon); the
        // retry timer covers one the transport could not hand over.
        master_.sendSoon("", m);
        return true;
      });
  gc_ = std::make_unique<GarbageCollector>(
      loop_, metrics_,
      GarbageCollector::Options{options_.gcDelay, options_.gcDiskHeadroom,
                                options_.diskWatchInterval, options_.workDir});
  statusUpdates_->setPersist(
      [this](const FrameworkID& fw, const ExecutorID& ex) { checkpointExecutor(fw, ex); });
  master_.setHandler([this](const ConnectionId&, wire::Payload&& m) {
    onMasterMessage(std::move(m));
  });
  executors_.setHandler([this](const ConnectionId& from, wire::Payload&& m) {
    onExecutorMessage(from, std::move(m));
  });
  master_.onReconnected([this] {
    // The master may have restarted and forgotten us: re-register now
    // rather than after five ping timeouts.
    if (state_ == AgentState::kTerminating || !info_.id) return;
    LOG(INFO) << "The connection to the master came back; re-registering";
    state_ = AgentState::kRegistering;
    registrationAttempt_ = 0;
    connectPolls_ = 0;
    if (registrationTimer_) loop_.cancel(registrationTimer_);
    doRegister();
  });
  auto isolation = parseIsolation(options_.isolation);
  if (isolation.ok()) {
    isolation_ = *isolation;
    isolator_ = CgroupsIsolator::create(loop_, options_, *isolation);
  } else {
    LOG(ERROR) << isolation.error() << "; running with posix isolation only";
  }
  oci_ = std::make_unique<oci::OciContainerizer>(
      loop_, options_, metrics_, isolator_ ? isolator_->layout().version : CgroupVersion::kNone);
  Status images = oci_->initialize();
  if (!images.ok()) {
    imagesError_ = images.message();
    LOG(ERROR) << "Tasks in images cannot run on this agent: " << imagesError_;
    oci_.reset();
  }
  fetcherCache_ = std::make_unique<fetcher::FetcherCache>(
      fetcher::FetcherCacheOptions{
          options_.fetcherCacheSize == 0 ? ""
          : options_.fetcherCacheDir.empty() ? options_.workDir + "/fetch"
                                             : options_.fetcherCacheDir,
          options_.fetcherCacheSize},
      metrics_);
  Status cache = fetcherCache_->reset();
  if (!cache.ok()) fetcherCache_->disable(cache.message());
  metrics_.gauge("slave/registered", [this] { return state_ == AgentState::kRegistered ? 1 : 0; });
  metrics_.gauge("slave/uptime_secs", [this] { return loop_.clock().wallSeconds() - startTime_; });
  metrics_.gauge("slave/executors_running", [this] {
    double n = 0;
    for (const auto& [_, f] : frameworks_) n += f.executors.size();
    return n;
  });
  metrics_.gauge("slave/tasks_running", [this] {
    double n = 0;
    for (const auto& [_, f] : frameworks_) {
      for (const auto& [__, e] : f.executors) {
        for (const auto& [___, t] : e.launched) n += t.state == TaskState::TASK_RUNNING;
      }
    }
    return n;
  });
  metrics_.gauge("slave/status_updates_pending",
                 [this] { return static_cast<double>(statusUpdates_->pendingUpdates()); });
  metrics_.gauge("slave/frameworks_active", [this] { return static_cast<double>(frameworks_.size()); });
}

Agent::~Agent() {
  *alive_ = false;
  for (const auto& name :
       {"slave/registered", "slave/uptime_secs", "slave/executors_running", "slave/tasks_running",
        "slave/status_updates_pending", "slave/frameworks_active"}) {
    metrics_.removeGauge(name);
  }
}

void Agent::pruneImages(oci::OciContainerizer::OnPruned done) {
  if (!oci_) {
    done(Status::FailedPrecondition("this agent has no image store"));
    return;
  }
  oci_->pruneImages(std::move(done));
}

void Agent::scheduleImageGc() {
  if (!oci_ || options_.imageGcInterval <= Duration::zero()) return;
  loop_.after(options_.imageGcInterval, "agent.image_gc", [this, alive = alive_] {
    if (!*alive || state_ == AgentState::kTerminating) return;
    double free = 1.0 - filesystemUsage(oci_->store().dir());
    if (free < options_.imageDiskHeadroom) {
      LOG(INFO) << "The image store's disk has " << static_cast<int>(free * 100)
                << "% free (headroom " << static_cast<int>(options_.imageDiskHeadroom * 100)
                << "%): removing images no container uses";
      oci_->pruneImages([](const Result<images::ImageStore::PruneStats>&) {});
    }
    scheduleImageGc();
  });
}

// ---- registration ----

void Agent::start() {
  startTime_ = loop_.clock().wallSeconds();
  flagResources_ = info_.resources;
  Status s = recover();
  if (!s.ok()) {
    onFatal_(s.message());
    return;
  }
  if (isolator_) {
    // Containers of executors that are gone (killed with a previous run, or
    // whose checkpoint was dropped) must not keep processes or cgroups.
    std::set<std::string> known;
    for (const auto& [_, fw] : frameworks_) {
      for (const auto& [__, ex] : fw.executors) known.insert(ex.containerId.value);
    }
    isolator_->cleanupOrphans(known);
  }
  if (oci_) {
    std::set<std::string> known;
    for (const auto& [_, fw] : frameworks_) {
      for (const auto& [__, ex] : fw.executors) known.insert(ex.containerId.value);
    }
    oci_->cleanupOrphans(known);
  }
  heartbeatTimer_ = loop_.after(options_.executorHeartbeatInterval, "agent.executor_heartbeat",
                                [this] { sendExecutorHeartbeats(); });
  gc_->start();
  scheduleStaleSandboxes();
  scheduleImageGc();
  if (recovering_) {
    recoveryTimer_ = loop_.after(options_.executorReregistrationTimeout, "agent.recovery_timeout",
                                 [this] { finishRecovery(); });
  } else {
    startDetection();
  }
}

void Agent::startDetection() {
  auto detector = MasterDetector::create(
      loop_, options_.master,
      [this](const std::optional<MasterInfo>& leader) { onLeader(leader); },
      options_.zkSessionTimeout);
  if (!detector.ok()) {
    onFatal_("invalid --master: " + detector.error());
    return;
  }
  detector_ = std::move(detector).value();
  Status s = detector_->start();
  if (!s.ok()) onFatal_(s.message());
}

void Agent::onLeader(const std::optional<MasterInfo>& leader) {
  if (state_ == AgentState::kTerminating) return;
  if (!leader) {
    LOG(WARNING) << "No leading master; waiting for one to be elected";
    state_ = AgentState::kRegistering;
    if (registrationTimer_) loop_.cancel(registrationTimer_);
    registrationTimer_ = 0;
    return;
  }
  if (master_.endpoint() == leader->messageAddress && state_ == AgentState::kRegistered) return;
  LOG(INFO) << "Registering with the master at " << leader->messageAddress;
  Status s = master_.connect(leader->messageAddress);
  if (!s.ok()) {
    LOG(ERROR) << "Cannot connect to the master: " << s;
    return;
  }
  state_ = AgentState::kRegistering;
  registrationAttempt_ = 0;
  connectPolls_ = 0;
  if (registrationTimer_) loop_.cancel(registrationTimer_);
  doRegister();
}

std::vector<Task> Agent::reportedTasks() const {
  std::vector<Task> out;
  auto addEnded = [&](const FrameworkID& fwId, const ExecutorRecord& ex) {
    // Tasks that ended here but whose final update the scheduler has not
    // acknowledged yet: the master must learn their real end.
    for (const auto& t : ex.completed) {
      if (statusUpdates_->hasPending(fwId, t.taskId)) out.push_back(t);
    }
  };
  for (const auto& [fwId, fw] : frameworks_) {
    for (const auto& [exId, ex] : fw.executors) {
      for (const auto& [taskId, info] : ex.queued) {
        Task t;
        t.taskId = taskId;
        t.name = info.name;
        t.frameworkId = fwId;
        t.executorId = exId;
        t.agentId = info_.id.value_or(AgentID());
        t.state = TaskState::TASK_STAGING;
        t.resources = info.resources;
        t.labels = info.labels;
        out.push_back(t);
      }
      for (const auto& [taskId, t] : ex.launched) out.push_back(t);
      addEnded(fwId, ex);
    }
    for (const auto& ex : fw.completedExecutors) addEnded(fwId, ex);
  }
  for (const auto& fw : completedFrameworks_) {
    if (!fw.info.id) continue;
    for (const auto& ex : fw.completedExecutors) addEnded(*fw.info.id, ex);
  }
  return out;
}

void Agent::doRegister() {
  registrationTimer_ = 0;
  if (state_ != AgentState::kRegistering) return;
  Status s;
  if (info_.id) {
    wire::ReregisterAgentMessage m;
    m.agentInfo = info_;
    m.version = tuttiVersion();
    m.tasks = reportedTasks();
    std::set<FrameworkID> reported;
    for (const auto& [fwId, fw] : frameworks_) {
      m.frameworks.push_back(fw.info);
      reported.insert(fwId);
      for (const auto& [_, ex] : fw.executors) {
        m.executors.push_back(ex.info);
      }
    }
    for (const auto& fw : completedFrameworks_) {
      if (!fw.info.id || reported.count(*fw.info.id)) continue;
      bool pending = false;
      for (const auto& t : m.tasks) pending = pending || t.frameworkId == *fw.info.id;
      if (pending) {
        m.frameworks.push_back(fw.info);
        reported.insert(*fw.info.id);
      }
    }
    s = master_.send("", m);
  } else {
    s = master_.send("", wire::RegisterAgentMessage{info_, tuttiVersion()});
  }
  Duration next;
  if (!s.ok() && connectPolls_ < 100) {
    ++connectPolls_;
    next = kConnectPoll;  // the connection to the master is not up yet
  } else {
    // Mesos's backoff: random in [0, b * 2^n], capped at a minute.
    Duration cap = std::min<Duration>(
        kMaxRegistrationBackoff,
        options_.registrationBackoffFactor * (int64_t{1} << std::min(registrationAttempt_, 10)));
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    next = Duration(std::uniform_int_distribution<int64_t>(0, cap.count())(rng));
    next = std::max<Duration>(next, 10ms);
    ++registrationAttempt_;
  }
  registrationTimer_ = loop_.after(next, "agent.register", [this] { doRegister(); });
}

void Agent::registered(const AgentID& id, Duration pingTimeout, bool reregistered) {
  if (state_ == AgentState::kTerminating) return;
  if (info_.id && *info_.id != id) {
    LOG(WARNING) << "Master registered this agent as " << id << " but it is " << *info_.id;
  }
  bool first = state_ != AgentState::kRegistered;
  bool changed = !info_.id || *info_.id != id;
  info_.id = id;
  if (changed) checkpointAgent();
  state_ = AgentState::kRegistered;
  if (registrationTimer_) loop_.cancel(registrationTimer_);
  registrationTimer_ = 0;
  registrationAttempt_ = 0;
  connectPolls_ = 0;
  statusUpdates_->setAgentId(id);
  masterPingTimeout_ = (pingTimeout > Duration(0) ? pingTimeout : 15s) * kMasterPingsMissed;
  lastPing_ = loop_.now();
  if (!watchdogTimer_) {
    watchdogTimer_ = loop_.after(kWatchdogInterval, "agent.master_watchdog",
                                 [this] { onMasterWatchdog(); });
  }
  if (first) {
    LOG(INFO) << (reregistered ? "Re-registered" : "Registered") << " with the master as agent "
              << id;
    statusUpdates_->resendAll();
  }
}

void Agent::onMasterWatchdog() {
  watchdogTimer_ = 0;
  if (state_ == AgentState::kTerminating) return;
  if (state_ == AgentState::kRegistered && loop_.now() - lastPing_ > masterPingTimeout_) {
    LOG(WARNING) << "No ping from the master for " << toSeconds(loop_.now() - lastPing_)
                 << "s; re-registering";
    state_ = AgentState::kRegistering;
    (void)master_.connect(master_.endpoint());  // a fresh connection
    registrationAttempt_ = 0;
    connectPolls_ = 0;
    doRegister();
  }
  watchdogTimer_ = loop_.after(kWatchdogInterval, "agent.master_watchdog",
                               [this] { onMasterWatchdog(); });
}

void Agent::sendToMaster(const wire::Payload& message) {
  Status s = master_.send("", message);
  if (!s.ok()) VLOG(1) << "Could not send " << wire::payloadName(message) << ": " << s;
}

// ---- master messages ----

void Agent::onMasterMessage(wire::Payload&& message) {
  std::visit(
      [this](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, wire::AgentRegisteredMessage> ||
                      std::is_same_v<M, wire::AgentReregisteredMessage> ||
                      std::is_same_v<M, wire::PingMessage> ||
                      std::is_same_v<M, wire::RunTaskMessage> ||
                      std::is_same_v<M, wire::RunTaskGroupMessage> ||
                      std::is_same_v<M, wire::KillTaskMessage> ||
                      std::is_same_v<M, wire::StatusUpdateAckMessage> ||
                      std::is_same_v<M, wire::ShutdownFrameworkMessage> ||
                      std::is_same_v<M, wire::ShutdownAgentMessage> ||
                      std::is_same_v<M, wire::FrameworkToExecutorMessage> ||
                      std::is_same_v<M, wire::CheckpointResourcesMessage>) {
          handle(m);
        } else {
          metrics_.counter("slave/messages_unexpected").inc();
        }
      },
      message);
}

void Agent::handle(const wire::AgentRegisteredMessage& m) { registered(m.agentId, m.pingTimeout, false); }

void Agent::handle(const wire::AgentReregisteredMessage& m) {
  registered(m.agentId, m.pingTimeout, true);
}

void Agent::handle(const wire::PingMessage& m) {
  lastPing_ = loop_.now();
  if (info_.id && m.agentId == *info_.id) sendToMaster(wire::PongMessage{*info_.id});
}

void Agent::handle(const wire::ShutdownAgentMessage& m) {
  LOG(ERROR) << "The master asked this agent to shut down: " << m.message;
  onFatal_(m.message);
}

ExecutorRecord* Agent::findExecutor(const FrameworkID& fw, const ExecutorID& ex) {
  auto f = frameworks_.find(fw);
  if (f == frameworks_.end()) return nullptr;
  auto e = f->second.executors.find(ex);
  return e == f->second.executors.end() ? nullptr : &e->second;
}

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
  if (cmd.shell) {
    spec.argv = {"/bin/sh", "-c", cmd.value};
  } else {
    spec.argv = cmd.arguments.empty() ? std::vector<std::string>{cmd.value} : cmd.arguments;
    spec.argv[0] = cmd.value;
  }
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
  if (defaultExecutor) spec.env.push_back("TUTTI_EXECUTOR_TYPE=default");
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
  oci_->prepare(c, task, ex->directory, info_.hostname,
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

void Agent::addCompleted(ExecutorRecord& ex, const Task& task) {
  ex.completed.push_back(task);
  while (ex.completed.size() > options_.maxCompletedTasksPerExecutor) ex.completed.pop_front();
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
  recordLaunch(ex, task);
  (void)executors_.send(ex.conn, wire::LaunchEvent{task});
}

void Agent::sendLaunchGroup(ExecutorRecord& ex, const std::vector<TaskInfo>& tasks) {
  for (const auto& t : tasks) recordLaunch(ex, t);
  (void)executors_.send(ex.conn, wire::LaunchGroupEvent{tasks});
}

void Agent::handle(const wire::KillTaskMessage& m) {
  auto f = frameworks_.find(m.frameworkId);
  if (f == frameworks_.end()) {
    LOG(WARNING) << "Cannot kill task " << m.taskId << " of unknown framework " << m.frameworkId;
    return;
  }
  for (auto& [exId, ex] : f->second.executors) {
    auto q = ex.queued.find(m.taskId);
    if (q != ex.queued.end()) {
      // A task of a queued group takes its group with it, as once launched.
      std::vector<TaskID> victims = {m.taskId};
      for (auto g = ex.queuedGroups.begin(); g != ex.queuedGroups.end(); ++g) {
        if (std::find(g->begin(), g->end(), m.taskId) == g->end()) continue;
        victims = std::move(*g);
        ex.queuedGroups.erase(g);
        break;
      }
      for (const auto& id : victims) {
        if (!ex.queued.erase(id)) continue;
        agentUpdate(m.frameworkId, id, exId, TaskState::TASK_KILLED,
                    Reason::REASON_TASK_KILLED_DURING_LAUNCH,
                    id == m.taskId ? "Killed before it was launched"
                                   : "Task " + m.taskId.value +
                                         " of its group was killed before it was launched");
      }
      if (ex.queued.empty() && ex.launched.empty()) shutdownExecutor(ex);
      return;
    }
    auto l = ex.launched.find(m.taskId);
    if (l != ex.launched.end()) {
      if (isTerminal(l->second.state)) return;
      (void)executors_.send(ex.conn, wire::KillEvent{m.taskId, m.killPolicy});
      return;
    }
  }
  // Neither queued nor running here: the launch never arrived.
  bool pa = f->second.info.hasCapability(FrameworkCapability::PARTITION_AWARE);
  agentUpdate(m.frameworkId, m.taskId, ExecutorID(),
              pa ? TaskState::TASK_DROPPED : TaskState::TASK_LOST, Reason::REASON_TASK_UNKNOWN,
              "Cannot kill a task this agent does not know");
}

void Agent::handle(const wire::StatusUpdateAckMessage& m) {
  auto acked = statusUpdates_->acknowledge(m.frameworkId, m.taskId, m.uuid);
  if (!acked || !isTerminal(acked->state)) return;
  // The terminal update is acknowledged: the task is done here.
  auto f = frameworks_.find(m.frameworkId);
  if (f == frameworks_.end()) return;
  for (auto& [_, ex] : f->second.executors) {
    auto it = ex.launched.find(m.taskId);
    if (it == ex.launched.end()) continue;
    addCompleted(ex, it->second);
    ex.launched.erase(it);
    ex.infos.erase(m.taskId);
    checkpointExecutor(m.frameworkId, ex.id);
    break;
  }
  maybeCompleteFramework(m.frameworkId);
}

void Agent::handle(const wire::ShutdownFrameworkMessage& m) {
  auto f = frameworks_.find(m.frameworkId);
  if (f == frameworks_.end()) return;
  LOG(INFO) << "Shutting down framework " << m.frameworkId;
  for (auto& [_, ex] : f->second.executors) shutdownExecutor(ex);
}

void Agent::handle(const wire::CheckpointResourcesMessage& m) {
  if (!info_.id || m.agentId != *info_.id) return;
  // Dynamic reservations made at the master; kept in memory for now
  // (checkpointed to disk with agent recovery) and reported on re-registration.
  LOG(INFO) << "Resources are now " << m.resources;
  info_.resources = m.resources;
  checkpointAgent();
}

void Agent::handle(const wire::FrameworkToExecutorMessage& m) {
  ExecutorRecord* ex = findExecutor(m.frameworkId, m.executorId);
  if (!ex || ex->state != ExecutorState::kRunning) return;
  (void)executors_.send(ex->conn, wire::ExecutorMessageEvent{m.data});
}

// ---- executor messages ----

void Agent::onExecutorMessage(const ConnectionId& from, wire::Payload&& message) {
  if (auto* m = std::get_if<wire::ExecutorSubscribeCall>(&message)) {
    onExecutorSubscribe(from, *m);
  } else if (auto* m = std::get_if<wire::ExecutorUpdateCall>(&message)) {
    onExecutorUpdate(from, *m);
  } else if (auto* m = std::get_if<wire::ExecutorMessageCall>(&message)) {
    onExecutorMessageCall(from, *m);
  } else {
    invalidExecutorCalls_.inc();
  }
}

void Agent::onExecutorSubscribe(const ConnectionId& from, const wire::ExecutorSubscribeCall& m) {
  ExecutorRecord* ex = findExecutor(m.frameworkId, m.executorId);
  if (!ex || ex->state == ExecutorState::kTerminated) {
    invalidExecutorCalls_.inc();
    LOG(WARNING) << "Unknown executor " << m.executorId << " of framework " << m.frameworkId
                 << " subscribed; asking it to shut down";
    (void)executors_.send(from, wire::ShutdownEvent{Duration(0)});
    return;
  }
  ex->conn = from;
  if (ex->registrationTimer) loop_.cancel(ex->registrationTimer);
  ex->registrationTimer = 0;
  // Updates it could not deliver before (e.g. while we restarted), checked
  // like any other update.
  for (const auto& s : m.unacknowledgedUpdates) acceptExecutorUpdate(*ex, from, s);
  FrameworkEntry& fw = frameworks_[m.frameworkId];
  (void)executors_.send(from, wire::ExecutorSubscribedEvent{ex->info, fw.info, info_,
                                                            ex->containerId});
  if (ex->state == ExecutorState::kTerminating) {
    (void)executors_.send(from, wire::ShutdownEvent{options_.executorShutdownGracePeriod});
    return;
  }
  bool first = ex->state == ExecutorState::kRegistering;
  ex->state = ExecutorState::kRunning;
  // With isolation, a task goes out only once the launch result is back
  // (the executor is in its cgroups by then): see onExecutorLaunched.
  if (first && (ex->pid > 0 || !isolator_)) {
    sendQueued(*ex);
    checkpointExecutor(m.frameworkId, m.executorId);
  }
  if (ex->recovered && recovering_) {
    LOG(INFO) << "Executor " << m.executorId << " of framework " << m.frameworkId
              << " re-subscribed";
    bool waiting = false;
    for (const auto& [_, f] : frameworks_) {
      for (const auto& [__, e] : f.executors) {
        waiting = waiting || (e.recovered && e.state == ExecutorState::kRegistering);
      }
    }
    if (!waiting) finishRecovery();
  }
}

void Agent::onExecutorUpdate(const ConnectionId& from, const wire::ExecutorUpdateCall& m) {
  ExecutorRecord* ex = findExecutor(m.frameworkId, m.executorId);
  if (!ex || ex->conn != from) {
    invalidExecutorCalls_.inc();
    LOG_EVERY_N(WARNING, 100) << "Dropping a status update from executor " << m.executorId
                              << " of framework " << m.frameworkId
                              << ": unknown executor or wrong connection";
    return;
  }
  acceptExecutorUpdate(*ex, from, m.status);
}

void Agent::acceptExecutorUpdate(ExecutorRecord& ex, const ConnectionId& from,
                                 const TaskStatus& update) {
  if (update.uuid.size() != 16) {
    invalidExecutorCalls_.inc();
    LOG_EVERY_N(WARNING, 100) << "Dropping a status update without a uuid from executor "
                              << ex.id;
    return;
  }
  if (!ex.launched.count(update.taskId)) {
    // A re-sent update of a task that already ended here (our first
    // acknowledgement was lost): acknowledge it again, or the executor
    // would wait for it forever; nothing goes to the master twice.
    for (const auto& done : ex.completed) {
      if (done.taskId != update.taskId) continue;
      (void)executors_.send(from, wire::AcknowledgedEvent{update.taskId, update.uuid});
      return;
    }
    invalidExecutorCalls_.inc();
    LOG(WARNING) << "Executor " << ex.id << " sent an update for task " << update.taskId
                 << ", which it does not run";
    return;
  }
  TaskStatus status = update;
  status.agentId = *info_.id;
  status.executorId = ex.id;
  status.source = Source::SOURCE_EXECUTOR;
  if (status.state == TaskState::TASK_FAILED && checkLimitation(ex)) {
    // The OOM killer ended the task before the agent destroyed the
    // container: the limitation is the reason, not the executor's view.
    status.reason = ex.limitationReason;
    status.message = *ex.limitation;
  }
  if (statusUpdates_->update(ex.frameworkId, status)) taskUpdated(ex.frameworkId, status);
  // Received: tell the executor so it stops resending -- for a
  // checkpointing framework only once the update is on disk (after this
  // loop turn's checkpoint flush), or an agent crash could lose it.
  wire::AcknowledgedEvent ack{status.taskId, status.uuid};
  if (flushScheduled_) {
    acksAfterFlush_.emplace_back(from, std::move(ack));
  } else {
    (void)executors_.send(from, ack);
  }
}

void Agent::onExecutorMessageCall(const ConnectionId& from, const wire::ExecutorMessageCall& m) {
  ExecutorRecord* ex = findExecutor(m.frameworkId, m.executorId);
  if (!ex || ex->conn != from || !info_.id) {
    invalidExecutorCalls_.inc();
    return;
  }
  sendToMaster(wire::ExecutorToFrameworkMessage{*info_.id, m.frameworkId, m.executorId, m.data});
}

void Agent::taskUpdated(const FrameworkID& fwId, const TaskStatus& status) {
  ExecutorRecord* ex = findExecutor(fwId, status.executorId);
  if (!ex) return;
  auto it = ex->launched.find(status.taskId);
  if (it == ex->launched.end()) return;
  Task& t = it->second;
  if (!isTerminal(t.state)) t.state = status.state;
  TaskStatus kept = status;
  kept.data.clear();
  t.statuses.push_back(std::move(kept));
  if (t.statuses.size() > 32) t.statuses.erase(t.statuses.begin());
}

void Agent::agentUpdate(const FrameworkID& fw, const TaskID& task, const ExecutorID& ex,
                        TaskState state, Reason reason, const std::string& message) {
  TaskStatus s;
  s.taskId = task;
  s.state = state;
  s.message = message;
  s.source = Source::SOURCE_AGENT;
  s.reason = reason;
  s.agentId = info_.id.value_or(AgentID());
  s.executorId = ex;
  s.timestamp = loop_.clock().wallSeconds();
  s.uuid = randomUuidBytes();
  statusUpdates_->update(fw, s);
  taskUpdated(fw, s);
}

void Agent::shutdown(std::function<void()> done) {
  LOG(INFO) << "Agent shutting down: stopping every executor";
  if (info_.id && state_ == AgentState::kRegistered) {
    sendToMaster(wire::UnregisterAgentMessage{*info_.id});
  }
  state_ = AgentState::kTerminating;
  if (registrationTimer_) loop_.cancel(registrationTimer_);
  registrationTimer_ = 0;
  // A stopped agent comes back as a new agent (its executors are gone), as
  // in Mesos: nothing is left to recover.
  shutdownDone_ = [this, done = std::move(done)] {
    Status s = checkpointer_.removeAll();
    if (!s.ok()) LOG(ERROR) << "Cannot remove the checkpoint: " << s;
    if (done) done();
  };
  if (frameworks_.empty()) {
    auto d = std::move(shutdownDone_);
    shutdownDone_ = nullptr;
    if (d) d();
    return;
  }
  for (auto& [_, fw] : frameworks_) {
    for (auto& [__, ex] : fw.executors) shutdownExecutor(ex);
  }
}

std::vector<std::string> Agent::sandboxes() const {
  std::vector<std::string> out;
  auto add = [&](const FrameworkEntry& fw) {
    for (const auto& [_, ex] : fw.executors) out.push_back(ex.directory);
    for (const auto& ex : fw.completedExecutors) out.push_back(ex.directory);
  };
  for (const auto& [_, fw] : frameworks_) add(fw);
  for (const auto& fw : completedFrameworks_) add(fw);
  return out;
}

}  // namespace tutti::agent
