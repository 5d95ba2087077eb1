// The Agent's checkpoint and recovery (see the header comment of
// agent.hpp): writing the checkpoint as executors change, reading it back
// after a restart, and scheduling the sandboxes nobody uses any more.
#include <glog/logging.h>
#include <signal.h>
#include <sys/stat.h>

#include <set>

#include "agent/agent.hpp"
#include "common/duration.hpp"
#include "common/files.hpp"

namespace tutti::agent {

namespace {
bool sameProcess(pid_t pid, uint64_t startTicks) {
  if (pid <= 1) return false;
  auto ticks = processStartTicks(pid);
  return ticks && *ticks == startTicks;
}
}  // namespace

Status Agent::recover() {
  auto agent = checkpointer_.readAgent();
  if (!agent.ok()) {
    return Status::InvalidArgument("cannot recover the agent: " + agent.status().message() +
                                   " (restart with --recover=cleanup to start as a new agent)");
  }
  auto executors = checkpointer_.readExecutors();
  for (const auto& e : executors.errors) {
    checkpointErrors_.inc();
    LOG(ERROR) << "Skipping an unreadable executor checkpoint: " << e;
  }
  bool rebooted = *agent && (*agent)->bootId != currentBootId();
  if (options_.recover == "cleanup" || rebooted || !*agent) {
    if (!rebooted) {
      // Killed here and now, in one pass, before the checkpoint goes.
      std::set<pid_t> sessions;
      for (const auto& st : executors.executors) {
        if (st.terminated || !sameProcess(st.pid, st.pidStartTicks)) continue;
        LOG(INFO) << "Killing executor " << st.executor.executorId << " (pid " << st.pid
                  << ") of the previous run";
        sessions.insert(st.pid);
      }
      killSessions(sessions, SIGKILL);
    }
    if (*agent) {
      LOG(INFO) << (rebooted ? "The machine rebooted since the checkpoint: "
                             : "--recover=cleanup: ")
                << "starting as a new agent";
    }
    Status s = checkpointer_.removeAll();
    if (!s.ok()) return s;
    return Status::OK();
  }
  const AgentCheckpointState& a = **agent;
  if (a.flagResources != flagResources_) {
    return Status::InvalidArgument(
        "the agent's resources changed since its checkpoint (were '" +
        a.flagResources.toString() + "', now '" + flagResources_.toString() +
        "'): restart with the old --resources, or with --recover=cleanup to start as a new "
        "agent (its executors are killed)");
  }
  info_.id = a.info.id;
  info_.resources = a.info.resources;  // with dynamic reservations
  // Volumes made while the directory could not be (or since removed by hand).
  Status volumes = syncVolumes(volumesRoot(options_.workDir), Resources(), info_.resources);
  if (!volumes.ok()) LOG(ERROR) << "Persistent volumes: " << volumes.message();
  statusUpdates_->setAgentId(*info_.id);
  LOG(INFO) << "Recovering agent " << *info_.id << " with " << executors.executors.size()
            << " checkpointed executors";
  for (const auto& st : executors.executors) recoverExecutor(st);
  checkpointAgent();
  return Status::OK();
}

void Agent::recoverExecutor(const ExecutorCheckpointState& st) {
  const FrameworkID fwId = *st.framework.id;
  FrameworkEntry& fw = frameworks_[fwId];
  fw.info = st.framework;
  ExecutorRecord rec;
  rec.id = st.executor.executorId;
  rec.frameworkId = fwId;
  rec.info = st.executor;
  rec.containerId = st.containerId;
  rec.directory = st.directory;
  rec.commandExecutor = st.commandExecutor;
  rec.taskUid = st.taskUid;
  rec.startTime = st.startTime;
  const bool shutDown = st.shutdownRequested;  // re-issued below once it is watched
  rec.recovered = true;
  rec.image = oci_ && oci_->hasBundle(rec.containerId);
  for (const auto& t : st.queued) rec.queued[t.taskId] = t;
  rec.queuedGroups = st.queuedGroups;
  for (size_t i = 0; i < st.launched.size(); ++i) {
    rec.launched[st.launched[i].taskId] = st.launched[i];
    if (i < st.launchedInfos.size()) rec.infos[st.launched[i].taskId] = st.launchedInfos[i];
  }
  // Pending updates go back into their streams (sent once registered); the
  // tasks' states catch up with them.
  std::map<TaskID, std::vector<TaskStatus>> byTask;
  for (const auto& u : st.pendingUpdates) byTask[u.taskId].push_back(u);
  for (const auto& [taskId, updates] : byTask) {
    statusUpdates_->restore(fwId, taskId, updates, st.ackedUuids);
    auto t = rec.launched.find(taskId);
    if (t == rec.launched.end()) continue;
    for (const auto& u : updates) {
      if (!isTerminal(t->second.state)) t->second.state = u.state;
    }
  }
  if (st.terminated) {
    rec.state = ExecutorState::kTerminated;
    for (auto& [_, t] : rec.launched) rec.completed.push_back(t);
    rec.launched.clear();
    rec.infos.clear();
    fw.completedExecutors.push_back(std::move(rec));
    maybeCompleteFramework(fwId);
    return;
  }
  bool alive = sameProcess(st.pid, st.pidStartTicks);
  rec.pid = alive ? st.pid : -1;
  rec.pidStartTicks = st.pidStartTicks;
  rec.state = ExecutorState::kRegistering;
  ExecutorID exId = rec.id;
  fw.executors.emplace(exId, std::move(rec));
  if (!alive) {
    LOG(WARNING) << "Executor " << exId << " of framework " << fwId
                 << " ended while the agent was away";
    onExecutorExited(fwId, exId, std::nullopt);
    return;
  }
  Status w = watcher_.watch(st.pid, [this, fwId, exId](pid_t, std::optional<int> status) {
    onExecutorExited(fwId, exId, status);
  });
  if (!w.ok()) {
    onExecutorExited(fwId, exId, std::nullopt);
    return;
  }
  if (isolator_) {
    ExecutorRecord& r = fw.executors.at(exId);
    ContainerID c = r.containerId;
    isolator_->recover(c, r.resources(), [this, fwId, exId, c](const std::string& m) {
      onContainerLimitation(fwId, exId, c, m);
    });
  }
  recoveredExecutors_.inc();
  if (shutDown) {
    // It was being shut down when the agent died: carry on (SHUTDOWN when
    // it re-subscribes, SIGKILL after the grace period).
    shutdownExecutor(fw.executors.at(exId));
    return;
  }
  recovering_ = true;
  LOG(INFO) << "Waiting for executor " << exId << " (pid " << st.pid << ") of framework "
            << fwId << " to re-subscribe";
}

void Agent::scheduleStaleSandboxes() {
  std::set<std::string> live;
  for (const auto& [_, fw] : frameworks_) {
    for (const auto& [__, ex] : fw.executors) live.insert(ex.directory);
  }
  double wallNow = loop_.clock().wallSeconds();
  auto since = [&](const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return loop_.now();
    double age = std::max(0.0, wallNow - static_cast<double>(st.st_mtime));
    return loop_.now() - std::chrono::duration_cast<Duration>(std::chrono::duration<double>(age));
  };
  auto list = [](const std::string& dir) {
    auto names = listDirectory(dir);
    return names.ok() ? *names : std::vector<std::string>{};
  };
  std::string root = options_.workDir + "/slaves";
  size_t n = 0;
  for (const auto& agent : list(root)) {
    for (const auto& fw : list(root + "/" + agent + "/frameworks")) {
      std::string executors = root + "/" + agent + "/frameworks/" + fw + "/executors";
      for (const auto& ex : list(executors)) {
        std::string exDir = executors + "/" + ex;
        bool anyLive = false;
        for (const auto& run : list(exDir + "/runs")) {
          anyLive = anyLive || live.count(exDir + "/runs/" + run);
        }
        if (!anyLive) {
          gc_->schedule(exDir, since(exDir));
          ++n;
          continue;
        }
        for (const auto& run : list(exDir + "/runs")) {
          std::string runDir = exDir + "/runs/" + run;
          if (run == "latest" || live.count(runDir)) continue;
          gc_->schedule(runDir, since(runDir));
          ++n;
        }
      }
    }
  }
  if (n > 0) LOG(INFO) << "Scheduled " << n << " old sandboxes for garbage collection";
}

void Agent::finishRecovery() {
  if (recoveryTimer_) loop_.cancel(recoveryTimer_);
  recoveryTimer_ = 0;
  if (!recovering_) return;
  recovering_ = false;
  for (auto& [fwId, fw] : frameworks_) {
    for (auto& [exId, ex] : fw.executors) {
      if (!ex.recovered || ex.state != ExecutorState::kRegistering) continue;
      LOG(WARNING) << "Executor " << exId << " of framework " << fwId
                   << " did not re-subscribe within "
                   << formatDuration(options_.executorReregistrationTimeout) << "; killing it";
      ex.state = ExecutorState::kTerminating;
      if (ex.pid > 1) launcher_.destroy(ex.pid);
    }
  }
  LOG(INFO) << "Recovery finished; registering with the master";
  startDetection();
}

void Agent::checkpointAgent() {
  if (!info_.id) return;
  AgentCheckpointState st;
  st.info = info_;
  st.flagResources = flagResources_;
  st.executorEndpoint = executorEndpoint_;
  st.bootId = currentBootId();
  Status s = checkpointer_.writeAgent(st);
  if (!s.ok()) {
    checkpointErrors_.inc();
    LOG(ERROR) << "Cannot checkpoint the agent: " << s;
  }
}

void Agent::checkpointExecutor(const FrameworkID& fwId, const ExecutorID& exId) {
  if (exId.value.empty()) return;
  auto f = frameworks_.find(fwId);
  if (f != frameworks_.end() && !f->second.info.checkpoint) return;
  // Coalesced: one write per executor per loop turn, however many changes.
  dirtyExecutors_.emplace(fwId, exId);
  if (flushScheduled_) return;
  flushScheduled_ = true;
  loop_.post("agent.checkpoint_flush", [this, alive = alive_] {
    if (*alive) flushCheckpoints();
  });
}

void Agent::flushCheckpoints() {
  flushScheduled_ = false;
  auto dirty = std::move(dirtyExecutors_);
  dirtyExecutors_.clear();
  for (const auto& [fwId, exId] : dirty) writeExecutorCheckpoint(fwId, exId);
  auto updates = std::move(updatesAfterFlush_);
  updatesAfterFlush_.clear();
  for (const auto& m : updates) (void)master_.send("", m);  // retried if lost
  auto acks = std::move(acksAfterFlush_);
  acksAfterFlush_.clear();
  for (const auto& [conn, ack] : acks) (void)executors_.send(conn, ack);
}

void Agent::writeExecutorCheckpoint(const FrameworkID& fwId, const ExecutorID& exId) {
  const FrameworkEntry* fw = nullptr;
  const ExecutorRecord* ex = nullptr;
  auto f = frameworks_.find(fwId);
  if (f != frameworks_.end()) {
    fw = &f->second;
    auto e = fw->executors.find(exId);
    if (e != fw->executors.end()) ex = &e->second;
  } else {
    for (auto it = completedFrameworks_.rbegin(); it != completedFrameworks_.rend(); ++it) {
      if (it->info.id && *it->info.id == fwId) {
        fw = &*it;
        break;
      }
    }
  }
  if (fw && !fw->info.checkpoint) return;
  if (fw && !ex) {
    for (auto it = fw->completedExecutors.rbegin(); it != fw->completedExecutors.rend(); ++it) {
      if (it->id == exId) {
        ex = &*it;
        break;
      }
    }
  }
  if (!ex) {
    // No record (the framework came back, or its records were evicted): the
    // file goes once nothing of the executor is pending, or it would be
    // recovered again and again.
    std::vector<TaskStatus> pending;
    std::vector<std::string> acked;
    statusUpdates_->pendingForExecutor(fwId, exId, &pending, &acked);
    if (pending.empty()) (void)checkpointer_.removeExecutor(fwId, exId);
    return;
  }
  ExecutorCheckpointState st;
  statusUpdates_->pendingForExecutor(fwId, exId, &st.pendingUpdates, &st.ackedUuids);
  st.terminated = ex->state == ExecutorState::kTerminated;
  Status s;
  if (st.terminated && st.pendingUpdates.empty()) {
    s = checkpointer_.removeExecutor(fwId, exId);
  } else {
    st.framework = fw->info;
    st.executor = ex->info;
    st.containerId = ex->containerId;
    st.directory = ex->directory;
    st.commandExecutor = ex->commandExecutor;
    st.taskUid = ex->taskUid;
    st.pid = ex->pid;
    st.pidStartTicks = ex->pidStartTicks;
    st.startTime = ex->startTime;
    st.shutdownRequested = ex->shutdownRequested;
    for (const auto& [_, t] : ex->queued) st.queued.push_back(t);
    st.queuedGroups = ex->queuedGroups;
    for (const auto& [taskId, t] : ex->launched) {
      st.launched.push_back(t);
      auto info = ex->infos.find(taskId);
      st.launchedInfos.push_back(info != ex->infos.end() ? info->second : TaskInfo{});
    }
    if (st.terminated) {
      for (const auto& t : ex->completed) {
        if (statusUpdates_->hasPending(fwId, t.taskId)) {
          st.launched.push_back(t);
          st.launchedInfos.push_back(TaskInfo{});
        }
      }
    }
    s = checkpointer_.writeExecutor(st);
  }
  if (!s.ok()) {
    checkpointErrors_.inc();
    LOG(ERROR) << "Cannot checkpoint executor " << exId << " of framework " << fwId << ": " << s;
  }
}

}  // namespace tutti::agent
