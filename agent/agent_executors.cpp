// The Agent's executor lifecycle (see the header comment of agent.hpp):
// limitations, registration timeouts, shutdown with its grace period, an
// executor's end and what it left behind, and executor heartbeats.
#include <glog/logging.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "agent/agent.hpp"
#include "common/duration.hpp"

namespace tutti::agent {

void Agent::onContainerLimitation(const FrameworkID& fw, const ExecutorID& exId,
                                  const ContainerID& container, const std::string& message) {
  ExecutorRecord* ex = findExecutor(fw, exId);
  if (!ex || ex->containerId != container || ex->state == ExecutorState::kTerminated) return;
  LOG(INFO) << "Executor " << exId << " of framework " << fw << ": " << message
            << "; destroying its container";
  ex->limitation = message;
  ex->limitationReason = Reason::REASON_CONTAINER_LIMITATION_MEMORY;
  ex->state = ExecutorState::kTerminating;
  metrics_.counter("slave/container_limitations_memory").inc();
  if (isolator_) isolator_->kill(container);
  if (ex->pid > 1) launcher_.destroy(ex->pid);
}

bool Agent::checkLimitation(ExecutorRecord& ex) {
  if (ex.limitation) return true;
  if (!isolator_) return false;
  auto l = isolator_->limitation(ex.containerId);
  if (!l) return false;
  ex.limitation = *l;
  ex.limitationReason = Reason::REASON_CONTAINER_LIMITATION_MEMORY;
  return true;
}

void Agent::onExecutorRegistrationTimeout(const FrameworkID& fw, const ExecutorID& exId) {
  ExecutorRecord* ex = findExecutor(fw, exId);
  if (!ex || ex->state != ExecutorState::kRegistering) return;
  ex->registrationTimer = 0;
  LOG(WARNING) << "Executor " << exId << " did not subscribe within "
               << formatDuration(options_.executorRegistrationTimeout) << "; killing it";
  for (const auto& [taskId, _] : ex->queued) {
    agentUpdate(fw, taskId, exId, TaskState::TASK_FAILED,
                Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                "Executor did not register within " +
                    formatDuration(options_.executorRegistrationTimeout));
  }
  ex->queued.clear();
  ex->queuedGroups.clear();
  ex->state = ExecutorState::kTerminating;
  if (ex->pid > 1) launcher_.destroy(ex->pid);  // else: when the launcher returns it
}

void Agent::shutdownExecutor(ExecutorRecord& ex) {
  if (ex.state == ExecutorState::kTerminated || ex.shutdownRequested) return;
  ex.shutdownRequested = true;
  for (const auto& [taskId, _] : ex.queued) {
    agentUpdate(ex.frameworkId, taskId, ex.id, TaskState::TASK_KILLED,
                Reason::REASON_TASK_KILLED_DURING_LAUNCH, "Executor shut down before launch");
  }
  ex.queued.clear();
  ex.queuedGroups.clear();
  if (ex.state == ExecutorState::kRunning) {
    (void)executors_.send(ex.conn, wire::ShutdownEvent{options_.executorShutdownGracePeriod});
  }
  ex.state = ExecutorState::kTerminating;
  FrameworkID f = ex.frameworkId;
  ExecutorID e = ex.id;
  if (ex.preparing) {
    // Its image is still being pulled or its URIs fetched: nothing runs,
    // nothing to wait for (the pull's result is dropped when it comes; the
    // fetcher dies here and is reaped by its watch).
    ex.preparing = false;
    if (ex.fetcherPid > 0) killProcessGroup(ex.fetcherPid, SIGKILL);
    loop_.post("agent.executor_unprepared", [this, alive = alive_, f, e] {
      if (*alive) onExecutorExited(f, e, std::nullopt);
    });
    return;
  }
  ex.killTimer = loop_.after(options_.executorShutdownGracePeriod, "agent.executor_kill",
                             [this, f, e] {
                               ExecutorRecord* x = findExecutor(f, e);
                               if (x && x->state != ExecutorState::kTerminated) {
                                 x->killTimer = 0;
                                 LOG(INFO) << "Killing executor " << e
                                           << " after its shutdown grace period";
                                 if (x->pid > 1) {
                                   launcher_.destroy(x->pid);
                                 } else {
                                   x->killWhenLaunched = true;
                                 }
                               }
                             });
}

void Agent::onExecutorExited(const FrameworkID& fwId, const ExecutorID& exId,
                             std::optional<int> status) {
  ExecutorRecord* found = findExecutor(fwId, exId);
  if (!found) return;
  ExecutorRecord& ex = *found;
  ex.exitStatus = status;
  if (ex.registrationTimer) loop_.cancel(ex.registrationTimer);
  if (ex.killTimer) loop_.cancel(ex.killTimer);
  if (ex.fetchTimer) loop_.cancel(ex.fetchTimer);
  ex.registrationTimer = ex.killTimer = ex.fetchTimer = 0;
  if (ex.sweeping) return;  // reported once the sweep below is over
  // Whatever the executor left behind goes too. After a clean exit (every
  // task ended) its own process group is enough — the command executor
  // already killed its task's group; otherwise (a crash, a signal) the
  // whole session is swept, tasks in their own process groups included.
  bool clean = status && WIFEXITED(*status);
  for (const auto& [_, t] : ex.launched) clean = clean && isTerminal(t.state);
  if (ex.pid > 1) {
    if (clean && ex.queued.empty()) {
      ::kill(-ex.pid, SIGKILL);
    } else {
      // Its tasks are reported ended only once nothing of theirs is left
      // (a framework may relaunch them here at once): after the pass.
      ex.sweeping = true;
      if (ex.state != ExecutorState::kTerminated) ex.state = ExecutorState::kTerminating;
      launcher_.destroy(ex.pid, [this, alive = alive_, fwId, exId, status] {
        loop_.post("agent.executor_swept", [this, alive, fwId, exId, status] {
          if (*alive) finishExecutorExit(fwId, exId, status);
        });
      });
      return;
    }
  }
  finishExecutorExit(fwId, exId, status);
}

void Agent::finishExecutorExit(const FrameworkID& fwId, const ExecutorID& exId,
                               std::optional<int> status) {
  auto f = frameworks_.find(fwId);
  if (f == frameworks_.end()) return;
  auto it = f->second.executors.find(exId);
  if (it == f->second.executors.end()) return;
  ExecutorRecord& ex = it->second;
  std::string how = status ? describeWaitStatus(*status) : "ended";
  VLOG(1) << "Executor " << exId << " of framework " << fwId << " " << how;
  bool limited = checkLimitation(ex);
  if (isolator_) isolator_->destroy(ex.containerId);
  if (ex.image && oci_) oci_->destroy(ex.containerId);

  TaskState state = ex.shutdownRequested ? TaskState::TASK_KILLED : TaskState::TASK_FAILED;
  Reason reason = Reason::REASON_EXECUTOR_TERMINATED;
  if (limited) {
    state = TaskState::TASK_FAILED;
    reason = ex.limitationReason;
  }
  for (const auto& [taskId, _] : ex.queued) {
    agentUpdate(fwId, taskId, exId, state, reason,
                limited ? *ex.limitation : "Executor " + how + " before the task started");
  }
  ex.queued.clear();
  ex.queuedGroups.clear();
  for (auto& [taskId, task] : ex.launched) {
    if (isTerminal(task.state)) continue;
    agentUpdate(fwId, taskId, exId, state, reason, limited ? *ex.limitation : "Executor " + how);
  }
  ex.state = ExecutorState::kTerminated;
  // A framework's own executor: the master forgets it and tells the
  // framework (executorLost). Not sent while unregistered: re-registration
  // reports the executors that still run.
  if (!ex.commandExecutor && state_ == AgentState::kRegistered && info_.id) {
    sendToMaster(wire::ExitedExecutorMessage{*info_.id, fwId, exId, status});
  }
  // Tasks whose final update is still unacknowledged stay visible as such.
  for (auto& [taskId, task] : ex.launched) addCompleted(ex, task);
  ex.launched.clear();
  ex.infos.clear();
  f->second.completedExecutors.push_back(std::move(ex));
  f->second.executors.erase(it);
  while (f->second.completedExecutors.size() > options_.maxCompletedExecutorsPerFramework) {
    f->second.completedExecutors.pop_front();
  }
  checkpointExecutor(fwId, exId);
  // The run, and the executor's directory with it (the `latest` link and
  // earlier runs) unless the executor is launched again meanwhile.
  const std::string& run = f->second.completedExecutors.back().directory;
  gc_->schedule(run, loop_.now());
  gc_->schedule(run.substr(0, run.rfind("/runs/")), loop_.now());
  maybeCompleteFramework(fwId);
}

void Agent::maybeCompleteFramework(const FrameworkID& fwId) {
  auto f = frameworks_.find(fwId);
  if (f == frameworks_.end() || !f->second.executors.empty()) return;
  completedFrameworks_.push_back(std::move(f->second));
  frameworks_.erase(f);
  while (completedFrameworks_.size() > options_.maxCompletedFrameworks) {
    completedFrameworks_.pop_front();
  }
  if (state_ == AgentState::kTerminating && frameworks_.empty() && shutdownDone_) {
    auto done = std::move(shutdownDone_);
    shutdownDone_ = nullptr;
    done();
  }
}

void Agent::sendExecutorHeartbeats() {
  heartbeatTimer_ = 0;
  std::vector<ConnectionId> conns;
  for (auto& [_, fw] : frameworks_) {
    for (auto& [__, ex] : fw.executors) {
      if (ex.state == ExecutorState::kRunning) conns.push_back(ex.conn);
    }
  }
  sendHeartbeatSlice(std::make_shared<const std::vector<ConnectionId>>(std::move(conns)), 0);
  heartbeatTimer_ = loop_.after(options_.executorHeartbeatInterval, "agent.executor_heartbeat",
                                [this] { sendExecutorHeartbeats(); });
}

void Agent::sendHeartbeatSlice(std::shared_ptr<const std::vector<ConnectionId>> conns,
                               size_t from) {
  // A slice per turn of the loop: a thousand executors' heartbeats in one
  // handler held the agent's loop 100-300 ms on a loaded machine, and its
  // status updates waited behind them.
  constexpr size_t kSlice = 128;
  size_t to = std::min(conns->size(), from + kSlice);
  for (size_t i = from; i < to; ++i) {
    (void)executors_.send((*conns)[i], wire::ExecutorHeartbeatEvent{});
  }
  if (to == conns->size()) return;
  loop_.post("agent.executor_heartbeat", [this, alive = alive_, conns, to] {
    if (*alive) sendHeartbeatSlice(conns, to);
  });
}

}  // namespace tutti::agent
