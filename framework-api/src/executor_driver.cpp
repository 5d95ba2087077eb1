// TuttiExecutorDriver: subscribes to the agent named in the environment,
// turns events into Executor callbacks on its loop's thread (its own, or the
// caller's Loop when given one), keeps status
// updates until the agent acknowledges them, and gives up (shutting the
// executor down) when the agent stays away longer than the recovery timeout
// — or at once when the agent exits and the framework does not checkpoint
// (TUTTI_CHECKPOINT=0: no restarted agent would recover this executor).
#include <glog/logging.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>

#include "common/duration.hpp"
#include "common/ids.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "framework-api/src/driver_loop.hpp"
#include "tutti/executor.hpp"

namespace tutti {

namespace {
// Subscribing backs off on both paths, so that a busy agent with a thousand
// executors starting is not made busier by their retries: a send that fails
// (the connection is not up yet) is retried after 10 ms doubling to 1 s; a
// subscribe that went out unanswered after 1 s doubling to 16 s. Both start
// over once subscribed or when the connection comes back. A subscribe that
// found no connection goes out again as soon as one is ready (the
// transport's onReady), not at its next poll.
constexpr Duration kConnectPoll = 10ms;
constexpr Duration kConnectPollMax = 1s;
constexpr Duration kResubscribe = 1s;
constexpr Duration kResubscribeMax = 16s;
constexpr Duration kWatchdog = 1s;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

class TuttiExecutorDriver::Impl {
 public:
  Impl(TuttiExecutorDriver* self, Executor* executor, Loop* shared)
      : self_(self), executor_(executor), loop_(shared, "executor-driver") {
    endpoint_ = env("TUTTI_AGENT_ENDPOINT");
    frameworkId_ = FrameworkID(env("TUTTI_FRAMEWORK_ID"));
    executorId_ = ExecutorID(env("TUTTI_EXECUTOR_ID"));
    agentId_ = AgentID(env("TUTTI_AGENT_ID"));
    std::string recovery = env("TUTTI_RECOVERY_TIMEOUT");
    if (!recovery.empty()) {
      auto d = parseDuration(recovery);
      if (d.ok()) recoveryTimeout_ = *d;
    }
    checkpoint_ = env("TUTTI_CHECKPOINT") != "0";
    std::string heartbeat = env("TUTTI_EXECUTOR_HEARTBEAT_INTERVAL");
    if (!heartbeat.empty()) {
      auto d = parseDuration(heartbeat);
      if (d.ok()) heartbeatInterval_ = *d;
    }
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ == DriverStatus::DRIVER_RUNNING) status_ = DriverStatus::DRIVER_ABORTED;
    }
    // What it left on its loop must not run once it is gone (a shared loop
    // runs on); a shared loop must not be running on another thread now
    // (see the header).
    loop_.close();
    loop_.loop().cancel(subscribeTimer_);
    loop_.loop().cancel(watchdogTimer_);
    if (transport_) transport_->close(1000);
  }

  DriverStatus start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_ != DriverStatus::DRIVER_NOT_STARTED) return status_;
    if (endpoint_.empty() || frameworkId_.empty() || executorId_.empty()) {
      LOG(ERROR) << "Executor driver: TUTTI_AGENT_ENDPOINT, TUTTI_FRAMEWORK_ID and "
                    "TUTTI_EXECUTOR_ID must be set (an executor is started by a tutti agent)";
      status_ = DriverStatus::DRIVER_ABORTED;
      return status_;
    }
    TransportOptions t;
    t.metricPrefix = "executor";
    transport_ = std::make_unique<ZmqDealerTransport>(loop_.loop(), metrics_, t);
    transport_->setHandler(
        [this](const ConnectionId&, wire::Payload&& m) { onMessage(std::move(m)); });
    transport_->onReconnected([this] {
      // The agent may have restarted and forgotten us: subscribe again
      // (which re-sends every unacknowledged update).
      if (!running()) return;
      resetSubscribeBackoff();
      if (subscribed_) {
        subscribed_ = false;
        executor_->disconnected(self_);
      }
      if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
      subscribe();
    });
    transport_->onReady([this] {
      // A subscribe that found no connection would wait for its retry
      // (up to kConnectPollMax): send it now.
      if (!running() || subscribed_ || !subscribeTimer_ || !subscribeFailed_) return;
      loop_.loop().cancel(subscribeTimer_);
      connectPollDelay_ = kConnectPoll;
      subscribe();
    });
    transport_->onDisconnected([this] {
      // As Mesos's executors: without checkpointing, an agent that exits
      // takes its executors along (a restarted one would not know them);
      // the tasks are killed rather than left running unwatched.
      if (!running() || checkpoint_) return;
      LOG(WARNING) << "Executor driver: the agent exited and framework " << frameworkId_
                   << " does not checkpoint; shutting down";
      executor_->shutdown(self_, Duration(0));
      finish(DriverStatus::DRIVER_ABORTED);
    });
    status_ = DriverStatus::DRIVER_RUNNING;
    loop_.start([this] { connect(); });
    return status_;
  }

  DriverStatus finishFromAnyThread(DriverStatus to) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ != DriverStatus::DRIVER_RUNNING) return status_;
    }
    loop_.onLoop("executor.stop", [this, to] { finish(to); });
    return to;
  }

  DriverStatus join() {
    std::unique_lock<std::mutex> lock(mu_);
    if (status_ == DriverStatus::DRIVER_NOT_STARTED) return status_;
    if (loop_.joinWouldBlockTheLoop()) {
      // Waiting here would stop the loop that must finish the driver.
      LOG_IF(ERROR, status_ == DriverStatus::DRIVER_RUNNING)
          << "Executor driver: join() on the thread of its shared loop returns at once";
      return status_;
    }
    cv_.wait(lock, [this] { return status_ != DriverStatus::DRIVER_RUNNING; });
    return status_;
  }

  DriverStatus status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  DriverStatus sendStatusUpdate(const TaskStatus& in) {
    DriverStatus s = status();
    if (s != DriverStatus::DRIVER_RUNNING) return s;
    TaskStatus status = in;
    status.uuid = randomUuidBytes();
    status.source = Source::SOURCE_EXECUTOR;
    status.executorId = executorId_;
    if (status.agentId.empty()) status.agentId = agentId_;
    status.timestamp = RealClock::instance().wallSeconds();
    unacked_.fetch_add(1);
    loop_.onLoop("executor.update", [this, status] {
      pending_.emplace(nextSeq_++, status);
      if (subscribed_ &&
          !transport_->send("", wire::ExecutorUpdateCall{frameworkId_, executorId_, status})
               .ok()) {
        // The connection is down: subscribe again, which re-sends every
        // pending update once the agent answers.
        subscribed_ = false;
        subscribe();
      }
    });
    return s;
  }

  DriverStatus sendFrameworkMessage(const std::string& data) {
    DriverStatus s = status();
    if (s != DriverStatus::DRIVER_RUNNING) return s;
    loop_.onLoop("executor.message", [this, data] {
      if (subscribed_) {
        (void)transport_->send("", wire::ExecutorMessageCall{frameworkId_, executorId_, data});
      }
    });
    return s;
  }

  size_t unacknowledged() const { return static_cast<size_t>(unacked_.load()); }

 private:
  // Loop thread: the first connection and subscription.
  void connect() {
    if (!running()) return;
    Status s = transport_->connect(endpoint_);
    if (!s.ok()) LOG(ERROR) << "Executor driver: " << s;
    lastHeard_ = loop_.loop().now();
    subscribe();
    watchdogTimer_ = loop_.after(kWatchdog, "executor.watchdog", [this] { onWatchdog(); });
  }


  void finish(DriverStatus to) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ != DriverStatus::DRIVER_RUNNING) return;
      status_ = to;
    }
    if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
    if (watchdogTimer_) loop_.loop().cancel(watchdogTimer_);
    subscribeTimer_ = watchdogTimer_ = 0;
    loop_.stopOwn();
    cv_.notify_all();
  }

  bool running() { return status() == DriverStatus::DRIVER_RUNNING; }

  void subscribe() {
    subscribeTimer_ = 0;
    if (subscribed_ || !running()) return;
    wire::ExecutorSubscribeCall call{frameworkId_, executorId_, {}, {}};
    for (const auto& [_, task] : tasks_) call.unacknowledgedTasks.push_back(task);
    for (const auto& [_, status] : pending_) call.unacknowledgedUpdates.push_back(status);
    Status s = transport_->send("", call);
    subscribeFailed_ = !s.ok();
    Duration& backoff = s.ok() ? resubscribeDelay_ : connectPollDelay_;
    Duration next = backoff;
    backoff = std::min<Duration>(backoff * 2, s.ok() ? kResubscribeMax : kConnectPollMax);
    subscribeTimer_ = loop_.after(next, "executor.subscribe", [this] { subscribe(); });
  }

  void resetSubscribeBackoff() {
    connectPollDelay_ = kConnectPoll;
    resubscribeDelay_ = kResubscribe;
  }

  void onWatchdog() {
    watchdogTimer_ = 0;
    if (!running()) return;
    Duration silence = loop_.loop().now() - lastHeard_;
    if (silence > recoveryTimeout_) {
      LOG(ERROR) << "Executor driver: the agent has been away for " << toSeconds(silence)
                 << "s (recovery timeout " << formatDuration(recoveryTimeout_)
                 << "); shutting down";
      executor_->shutdown(self_, Duration(0));
      finish(DriverStatus::DRIVER_ABORTED);
      return;
    }
    if (subscribed_ && silence > heartbeatInterval_ * 3) {
      // The agent may have restarted (it would not know us) or be busy;
      // subscribing again is harmless either way. The connection itself is
      // kept: ZeroMQ reconnects it under the same routing id.
      LOG(WARNING) << "Executor driver: no word from the agent for " << toSeconds(silence)
                   << "s; re-subscribing";
      subscribed_ = false;
      executor_->disconnected(self_);
      subscribe();
    }
    watchdogTimer_ = loop_.after(kWatchdog, "executor.watchdog", [this] { onWatchdog(); });
  }

  void onMessage(wire::Payload&& message) {
    if (!running()) return;
    lastHeard_ = loop_.loop().now();
    std::visit([this](auto& m) { handle(m); }, message);
  }

  void handle(wire::ExecutorSubscribedEvent& e) {
    if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
    subscribeTimer_ = 0;
    bool again = everSubscribed_;
    subscribed_ = everSubscribed_ = true;
    resetSubscribeBackoff();
    if (agentId_.empty() && e.agentInfo.id) agentId_ = *e.agentInfo.id;
    // Updates sent while we were away go out again, in order.
    for (const auto& [_, status] : pending_) {
      (void)transport_->send("", wire::ExecutorUpdateCall{frameworkId_, executorId_, status});
    }
    if (again) {
      executor_->reregistered(self_, e.agentInfo);
    } else {
      executor_->registered(self_, e.executorInfo, e.frameworkInfo, e.agentInfo);
    }
  }
  void handle(wire::LaunchEvent& e) {
    tasks_[e.task.taskId] = e.task;
    executor_->launchTask(self_, e.task);
  }
  void handle(wire::LaunchGroupEvent& e) {
    for (const auto& t : e.tasks) tasks_[t.taskId] = t;
    executor_->launchGroup(self_, e.tasks);
  }
  void handle(wire::KillEvent& e) { executor_->killTask(self_, e.taskId, e.killPolicy); }
  void handle(wire::AcknowledgedEvent& e) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->second.uuid != e.uuid) continue;
      if (isTerminal(it->second.state)) tasks_.erase(it->second.taskId);
      pending_.erase(it);
      unacked_.fetch_sub(1);
      break;
    }
  }
  void handle(wire::ExecutorMessageEvent& e) { executor_->frameworkMessage(self_, e.data); }
  void handle(wire::ShutdownEvent& e) { executor_->shutdown(self_, e.gracePeriod); }
  void handle(wire::ExecutorErrorEvent& e) {
    LOG(ERROR) << "Executor driver: the agent reported an error: " << e.message;
    executor_->error(self_, e.message);
    finish(DriverStatus::DRIVER_ABORTED);
  }
  void handle(wire::ExecutorHeartbeatEvent&) {}
  template <typename M>
  void handle(M&) {
    VLOG(1) << "Executor driver: ignoring an unexpected message";
  }

  TuttiExecutorDriver* self_;
  Executor* executor_;
  std::string endpoint_;
  FrameworkID frameworkId_;
  ExecutorID executorId_;
  AgentID agentId_;
  Duration recoveryTimeout_ = 15min;
  bool checkpoint_ = true;  // TUTTI_CHECKPOINT: survive an agent's exit
  Duration heartbeatInterval_ = 5s;
  Metrics metrics_;
  DriverLoop loop_;  // before the transport, which uses its loop
  std::unique_ptr<ZmqDealerTransport> transport_;
  std::atomic<int64_t> unacked_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  DriverStatus status_ = DriverStatus::DRIVER_NOT_STARTED;

  // Loop thread only.
  bool subscribed_ = false;
  bool everSubscribed_ = false;
  TimePoint lastHeard_{0};
  uint64_t nextSeq_ = 0;
  std::map<uint64_t, TaskStatus> pending_;  // by send order
  std::map<TaskID, TaskInfo> tasks_;        // launched, not yet terminal-acknowledged
  Loop::TimerId subscribeTimer_ = 0;
  Duration connectPollDelay_ = kConnectPoll;  // see kConnectPoll
  bool subscribeFailed_ = false;  // the last subscribe found no connection
  Duration resubscribeDelay_ = kResubscribe;
  Loop::TimerId watchdogTimer_ = 0;
};

TuttiExecutorDriver::TuttiExecutorDriver(Executor* executor)
    : impl_(std::make_unique<Impl>(this, executor, nullptr)) {}
TuttiExecutorDriver::TuttiExecutorDriver(Executor* executor, Loop& loop)
    : impl_(std::make_unique<Impl>(this, executor, &loop)) {}
TuttiExecutorDriver::~TuttiExecutorDriver() = default;
DriverStatus TuttiExecutorDriver::start() { return impl_->start(); }
DriverStatus TuttiExecutorDriver::stop() {
  return impl_->finishFromAnyThread(DriverStatus::DRIVER_STOPPED);
}
DriverStatus TuttiExecutorDriver::abort() {
  return impl_->finishFromAnyThread(DriverStatus::DRIVER_ABORTED);
}
DriverStatus TuttiExecutorDriver::join() { return impl_->join(); }
DriverStatus TuttiExecutorDriver::run() {
  DriverStatus s = start();
  return s == DriverStatus::DRIVER_RUNNING ? join() : s;
}
DriverStatus TuttiExecutorDriver::sendStatusUpdate(const TaskStatus& status) {
  return impl_->sendStatusUpdate(status);
}
DriverStatus TuttiExecutorDriver::sendFrameworkMessage(const std::string& data) {
  return impl_->sendFrameworkMessage(data);
}
size_t TuttiExecutorDriver::unacknowledgedUpdates() const { return impl_->unacknowledged(); }

}  // namespace tutti
