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
constexpr Duration kConnectPoll = 10ms;
constexpr Duration kMaxRegistrationBackoff = 1min;
constexpr Duration kWatchdogInterval = 1s;
constexpr int kMasterPingsMissed = 5;  // as the master's --max_agent_ping_timeouts
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

void Agent::addCompleted(ExecutorRecord& ex, const Task& task) {
  ex.completed.push_back(task);
  while (ex.completed.size() > options_.maxCompletedTasksPerExecutor) ex.completed.pop_front();
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
  // New persistent volumes get their directories, destroyed ones lose them
  // (the master destroys only volumes no task uses).
  Status volumes = syncVolumes(volumesRoot(options_.workDir), info_.resources, m.resources);
  if (!volumes.ok()) LOG(ERROR) << "Persistent volumes: " << volumes.message();
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
  const bool ended = !isTerminal(t.state) && isTerminal(status.state);
  if (!isTerminal(t.state)) t.state = status.state;
  if (ended) unlinkVolumes(*ex, t.resources);
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
