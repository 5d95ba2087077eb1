// TuttiSchedulerDriver: finds the master, subscribes (retrying with
// backoff), turns events into Scheduler callbacks on its own loop thread,
// and re-subscribes when the master goes silent.
#include <glog/logging.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <set>

#include "common/codec/envelope_codec.hpp"
#include "common/loop.hpp"
#include "common/master_detector.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "framework-api/src/driver_loop.hpp"
#include "tutti/scheduler.hpp"

namespace tutti {

const char* toString(DriverStatus status) {
  switch (status) {
    case DriverStatus::DRIVER_NOT_STARTED: return "DRIVER_NOT_STARTED";
    case DriverStatus::DRIVER_RUNNING: return "DRIVER_RUNNING";
    case DriverStatus::DRIVER_ABORTED: return "DRIVER_ABORTED";
    case DriverStatus::DRIVER_STOPPED: return "DRIVER_STOPPED";
  }
  return "DRIVER_UNKNOWN";
}

namespace {
constexpr Duration kConnectPoll = 10ms;    // while the connection is being made
constexpr Duration kMinResubscribe = 1s;   // after a subscribe that was sent
constexpr Duration kSilentMasterWarning = 10s;  // unanswered subscribes: say so once
}  // namespace

class TuttiSchedulerDriver::Impl {
 public:
  Impl(TuttiSchedulerDriver* self, Scheduler* scheduler, FrameworkInfo info, std::string master,
       SchedulerDriverOptions options)
      : self_(self),
        scheduler_(scheduler),
        info_(std::move(info)),
        master_(std::move(master)),
        options_(options),
        loop_(options.loop, "scheduler-driver") {}

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
    detector_.reset();
    // Linger so that a TEARDOWN sent by stop() still reaches the master.
    if (transport_) transport_->close(2000);
  }

  DriverStatus start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_ != DriverStatus::DRIVER_NOT_STARTED) return status_;
    auto detector = MasterDetector::create(
        loop_.loop(), master_, [this](const std::optional<MasterInfo>& leader) { onLeader(leader); });
    if (!detector.ok()) {
      LOG(ERROR) << "Scheduler driver: " << detector.error();
      status_ = DriverStatus::DRIVER_ABORTED;
      return status_;
    }
    detector_ = std::move(detector).value();
    TransportOptions t;
    t.metricPrefix = "scheduler";
    // A master reads messages up to its --max_message_bytes, 16 MiB unless
    // raised: a larger call is refused here (see refuseAccept).
    t.maxSendBytes = codec::DecodeLimits{}.maxBytes;
    transport_ = std::make_unique<ZmqDealerTransport>(loop_.loop(), metrics_, t);
    transport_->setHandler(
        [this](const ConnectionId&, wire::Payload&& m) { onMessage(std::move(m)); });
    transport_->setSendFailedHandler([](const ConnectionId&, const Status& why) {
      LOG(WARNING) << "Scheduler driver: calls to the master not sent: " << why;
    });
    transport_->onReconnected([this] {
      // The master may have restarted: subscribe again (with our id).
      if (!running() || !subscribed_) return;
      subscribed_ = false;
      scheduler_->disconnected(self_);
      if (!running()) return;
      startSubscribing();
    });
    status_ = DriverStatus::DRIVER_RUNNING;
    loop_.start([this] {
      Status s = detector_->start();
      if (!s.ok()) LOG(ERROR) << "Scheduler driver: " << s;
    });
    return status_;
  }

  DriverStatus stop(bool failover) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ != DriverStatus::DRIVER_RUNNING) return status_;
    }
    loop_.onLoop("driver.stop", [this, failover] {
      if (!failover && info_.id) {
        Status s = transport_->send("", wire::TeardownCall{*info_.id});
        if (!s.ok()) LOG(WARNING) << "Scheduler driver: could not send TEARDOWN: " << s;
      }
      finish(DriverStatus::DRIVER_STOPPED);
    });
    return DriverStatus::DRIVER_STOPPED;
  }

  DriverStatus abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ != DriverStatus::DRIVER_RUNNING) return status_;
    }
    loop_.onLoop("driver.abort", [this] { finish(DriverStatus::DRIVER_ABORTED); });
    return DriverStatus::DRIVER_ABORTED;
  }

  DriverStatus join() {
    std::unique_lock<std::mutex> lock(mu_);
    if (status_ == DriverStatus::DRIVER_NOT_STARTED) return status_;
    if (loop_.joinWouldBlockTheLoop()) {
      // Waiting here would stop the loop that must finish the driver.
      LOG_IF(ERROR, status_ == DriverStatus::DRIVER_RUNNING)
          << "Scheduler driver: join() on the thread of its shared loop returns at once";
      return status_;
    }
    cv_.wait(lock, [this] { return status_ != DriverStatus::DRIVER_RUNNING; });
    return status_;
  }

  DriverStatus status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

  // Sends a call once subscribed; calls made while disconnected are dropped
  // (as with Mesos's driver): offers they refer to are void anyway.
  // `dropped`, if given, is posted to the loop when the call cannot be sent
  // because the driver is not subscribed.
  DriverStatus call(const char* what, std::function<wire::Payload(const FrameworkID&)> build,
                    std::function<void()> dropped = nullptr,
                    std::function<void(wire::Payload&&, const Status&)> tooLarge = nullptr) {
    DriverStatus s = status();
    if (s != DriverStatus::DRIVER_RUNNING) return s;
    loop_.onLoop("driver.call", [this, what, build = std::move(build), dropped = std::move(dropped),
                                 tooLarge = std::move(tooLarge)] {
      if (!subscribed_ || !info_.id) {
        VLOG(1) << "Scheduler driver: dropping " << what << ": not subscribed";
        // Later, never from inside the scheduler's own call (Mesos's driver
        // queues this report too).
        if (dropped) loop_.post("driver.dropped_call", std::move(dropped));
        return;
      }
      // Queued with the round's other calls; a call the transport cannot
      // hand over is logged there (as lost on the network, which the
      // master's offer timeouts and the scheduler's reconciliation cover).
      wire::Payload payload = build(*info_.id);
      Status sent = transport_->sendSoon("", payload);
      if (!sent.ok() && tooLarge) {
        // No master would read it: what it carried is refused here.
        loop_.post("driver.refused_call",
                   [tooLarge, payload = std::move(payload), sent]() mutable {
                     tooLarge(std::move(payload), sent);
                   });
      }
    });
    return s;
  }

  // SUPPRESS or REVIVE `roles` (none: every role of the framework). The
  // driver remembers which roles are suppressed and subscribes with them,
  // so that a framework that suppressed offers is not offered everything
  // again by a master it re-subscribes with (a new leader, say), as Mesos's
  // driver does. Made while disconnected, the call itself is dropped; the
  // next SUBSCRIBE carries its effect.
  DriverStatus setSuppressed(bool suppress, std::vector<std::string> roles) {
    DriverStatus s = status();
    if (s != DriverStatus::DRIVER_RUNNING) return s;
    loop_.onLoop("driver.call", [this, suppress, roles = std::move(roles)] {
      for (const auto& role : roles.empty() ? info_.effectiveRoles() : roles) {
        if (suppress) {
          suppressedRoles_.insert(role);
        } else {
          suppressedRoles_.erase(role);
        }
      }
      if (!subscribed_ || !info_.id) {
        VLOG(1) << "Scheduler driver: " << (suppress ? "SUPPRESS" : "REVIVE")
                << " is for the next subscription: not subscribed";
        return;
      }
      if (suppress) {
        transport_->sendSoon("", wire::SuppressCall{*info_.id, roles});
      } else {
        transport_->sendSoon("", wire::ReviveCall{*info_.id, roles});
      }
    });
    return s;
  }

  // ACCEPT with operations the caller gave up. Exactly one of the two
  // outcomes runs: the call is built and sent (the operations move into
  // it), or it is dropped and its launches are reported lost.
  DriverStatus accept(const std::vector<OfferID>& offerIds,
                      std::vector<Offer::Operation>&& operations, const Filters& filters) {
    auto ops = std::make_shared<std::vector<Offer::Operation>>(std::move(operations));
    return call(
        "ACCEPT",
        [offerIds, ops, filters](const FrameworkID& id) {
          return wire::Payload(wire::AcceptCall{id, offerIds, std::move(*ops), filters});
        },
        [this, ops] { reportLaunchesDropped(*ops); },
        [this](wire::Payload&& payload, const Status& why) {
          if (auto* accept = std::get_if<wire::AcceptCall>(&payload)) refuseAccept(*accept, why);
        });
  }

  // An accept too large to send: its launches fail here with TASK_ERROR
  // (Mesos's answer to an invalid launch) and its offers are declined, so
  // they are not held until they time out. Loop thread.
  void refuseAccept(const wire::AcceptCall& accept, const Status& why) {
    if (!running()) return;
    transport_->sendSoon("", wire::DeclineCall{accept.frameworkId, accept.offerIds, Filters{0.0}});
    for (const auto& op : accept.operations) {
      for (const auto& task : op.tasks) {
        TaskStatus s;
        s.taskId = task.taskId;
        s.state = TaskState::TASK_ERROR;
        s.source = Source::SOURCE_MASTER;
        s.reason = Reason::REASON_TASK_INVALID;
        s.message = "Not sent to the master: " + why.message() +
                    "; launch fewer or smaller tasks at a time";
        s.agentId = task.agentId;
        s.timestamp = RealClock::instance().wallSeconds();
        scheduler_->statusUpdate(self_, s);  // no uuid: nothing to acknowledge
      }
    }
  }

  // An accept made while no master is connected never reaches one: as
  // Mesos's driver does, every task it launches is reported lost (dropped,
  // to a partition-aware framework), so the scheduler launches it again
  // instead of waiting for it forever. Loop thread.
  void reportLaunchesDropped(const std::vector<Offer::Operation>& operations) {
    if (!running()) return;  // stopped meanwhile: no more callbacks
    bool partitionAware = info_.hasCapability(FrameworkCapability::PARTITION_AWARE);
    for (const auto& op : operations) {
      if (op.type != Offer::Operation::Type::LAUNCH &&
          op.type != Offer::Operation::Type::LAUNCH_GROUP) {
        continue;
      }
      for (const auto& task : op.tasks) {
        TaskStatus s;
        s.taskId = task.taskId;
        s.state = partitionAware ? TaskState::TASK_DROPPED : TaskState::TASK_LOST;
        s.source = Source::SOURCE_MASTER;
        s.reason = Reason::REASON_MASTER_DISCONNECTED;
        s.message = "Master disconnected";
        s.agentId = task.agentId;
        s.timestamp = RealClock::instance().wallSeconds();
        scheduler_->statusUpdate(self_, s);  // no uuid: nothing to acknowledge
      }
    }
  }

  SchedulerDriverOptions& options() { return options_; }

 private:
  void finish(DriverStatus status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_ != DriverStatus::DRIVER_RUNNING) return;
      status_ = status;
    }
    if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
    if (watchdogTimer_) loop_.loop().cancel(watchdogTimer_);
    subscribeTimer_ = watchdogTimer_ = 0;
    subscribed_ = false;
    if (transport_) transport_->flush();  // this round's calls and acknowledgements
    loop_.stopOwn();
    cv_.notify_all();
  }

  bool running() { return status() == DriverStatus::DRIVER_RUNNING; }

  // Subscribes from scratch (new master, new connection): backoff reset.
  void startSubscribing() {
    attempt_ = 0;
    connectPolls_ = 0;
    subscribingSince_ = loop_.loop().now();
    warnedSilent_ = false;
    if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
    subscribe();
  }

  void subscribe() {
    subscribeTimer_ = 0;
    if (subscribed_ || !running()) return;
    if (!warnedSilent_ && loop_.loop().now() - subscribingSince_ >= kSilentMasterWarning) {
      // The usual cause: --master names the HTTP port (Mesos's habit) where
      // the message port is meant.
      warnedSilent_ = true;
      LOG(WARNING) << "Scheduler driver: no answer from the master at " << endpoint_ << " after "
                   << toSeconds(loop_.loop().now() - subscribingSince_)
                   << "s; still trying. The master's address is its message port "
                      "(--message_port, default 6050), not its HTTP port";
    }
    wire::SubscribeCall call{info_, {suppressedRoles_.begin(), suppressedRoles_.end()}};
    Status s = transport_->send("", call);
    Duration next;
    if (!s.ok() && connectPolls_ < 200) {
      ++connectPolls_;
      next = kConnectPoll;  // the connection is not up yet
    } else {
      Duration cap = std::min<Duration>(
          options_.subscriptionBackoffMax,
          options_.subscriptionBackoffMin * (int64_t{1} << std::min(attempt_, 16)));
      std::uniform_int_distribution<int64_t> dist(0, cap.count());
      next = Duration(dist(rng_));
      if (s.ok()) next = std::max(next, kMinResubscribe);
      ++attempt_;
    }
    subscribeTimer_ = loop_.after(next, "driver.subscribe", [this] { subscribe(); });
  }

  void armWatchdog() {
    if (watchdogTimer_) loop_.loop().cancel(watchdogTimer_);
    watchdogTimer_ = loop_.after(fromSeconds(heartbeatInterval_), "driver.watchdog",
                                  [this] { onWatchdog(); });
  }

  // A new leading master (or none): connect to it and subscribe again.
  void onLeader(const std::optional<MasterInfo>& leader) {
    if (!running()) return;
    if (!leader) {
      if (subscribed_) {
        subscribed_ = false;
        scheduler_->disconnected(self_);
      }
      if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
      subscribeTimer_ = 0;
      return;
    }
    if (leader->messageAddress == endpoint_ && subscribed_) return;
    if (subscribed_) {
      subscribed_ = false;
      scheduler_->disconnected(self_);
      if (!running()) return;
    }
    endpoint_ = leader->messageAddress;
    Status s = transport_->connect(endpoint_);
    if (!s.ok()) LOG(ERROR) << "Scheduler driver: " << s;
    startSubscribing();
  }

  void onWatchdog() {
    watchdogTimer_ = 0;
    if (!subscribed_ || !running()) return;
    Duration silence = loop_.loop().now() - lastEvent_;
    if (silence > fromSeconds(heartbeatInterval_ * options_.missedHeartbeatsBeforeDisconnect)) {
      LOG(WARNING) << "Scheduler driver: no word from the master for " << toSeconds(silence)
                   << "s; re-subscribing";
      subscribed_ = false;
      scheduler_->disconnected(self_);
      if (!running()) return;
      (void)transport_->connect(endpoint_);  // a fresh connection
      startSubscribing();
      return;
    }
    armWatchdog();
  }

  void onMessage(wire::Payload&& message) {
    if (!running()) return;
    lastEvent_ = loop_.loop().now();
    std::visit([this](auto& m) { handle(m); }, message);
  }

  void handle(wire::SubscribedEvent& e) {
    if (subscribeTimer_) loop_.loop().cancel(subscribeTimer_);
    subscribeTimer_ = 0;
    bool again = everSubscribed_;
    subscribed_ = true;
    everSubscribed_ = true;
    info_.id = e.frameworkId;
    heartbeatInterval_ = e.heartbeatIntervalSeconds > 0 ? e.heartbeatIntervalSeconds : 15;
    attempt_ = 0;
    armWatchdog();
    if (again) {
      scheduler_->reregistered(self_, e.masterInfo);
    } else {
      scheduler_->registered(self_, e.frameworkId, e.masterInfo);
    }
  }
  void handle(wire::OffersEvent& e) {
    if (subscribed_) scheduler_->resourceOffers(self_, e.offers);
  }
  void handle(wire::RescindEvent& e) {
    if (subscribed_) scheduler_->offerRescinded(self_, e.offerId);
  }
  void handle(wire::UpdateEvent& e) {
    if (!subscribed_) return;
    scheduler_->statusUpdate(self_, e.status);
    if (options_.implicitAcknowledgements && !e.status.uuid.empty() && running() && info_.id) {
      transport_->sendSoon("", wire::AcknowledgeCall{*info_.id, e.status.agentId,
                                                     e.status.taskId, e.status.uuid});
    }
  }
  void handle(wire::MessageEvent& e) {
    if (subscribed_) scheduler_->frameworkMessage(self_, e.executorId, e.agentId, e.data);
  }
  void handle(wire::FailureEvent& e) {
    if (!subscribed_) return;
    if (e.executorId.empty()) {
      scheduler_->agentLost(self_, e.agentId);
    } else {
      scheduler_->executorLost(self_, e.executorId, e.agentId, e.status.value_or(-1));
    }
  }
  void handle(wire::ErrorEvent& e) {
    LOG(ERROR) << "Scheduler driver: the master reported an error: " << e.message;
    scheduler_->error(self_, e.message);
    finish(DriverStatus::DRIVER_ABORTED);
  }
  void handle(wire::HeartbeatEvent&) {}
  template <typename M>
  void handle(M&) {
    VLOG(1) << "Scheduler driver: ignoring an unexpected message";
  }

  TuttiSchedulerDriver* self_;
  Scheduler* scheduler_;
  FrameworkInfo info_;
  std::string master_;
  std::string endpoint_;
  SchedulerDriverOptions options_;
  Metrics metrics_;
  DriverLoop loop_;  // before the transport and detector, which use its loop
  std::unique_ptr<ZmqDealerTransport> transport_;
  std::unique_ptr<MasterDetector> detector_;

  std::mutex mu_;
  std::condition_variable cv_;
  DriverStatus status_ = DriverStatus::DRIVER_NOT_STARTED;

  // Loop thread only.
  bool subscribed_ = false;
  bool everSubscribed_ = false;
  int attempt_ = 0;
  int connectPolls_ = 0;
  TimePoint subscribingSince_{0};
  bool warnedSilent_ = false;
  double heartbeatInterval_ = 15;
  TimePoint lastEvent_{0};
  Loop::TimerId subscribeTimer_ = 0;
  Loop::TimerId watchdogTimer_ = 0;
  std::set<std::string> suppressedRoles_;  // sent with every SUBSCRIBE
  std::mt19937_64 rng_{std::random_device{}()};
};

TuttiSchedulerDriver::TuttiSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                                           const std::string& master,
                                           SchedulerDriverOptions options)
    : impl_(std::make_unique<Impl>(this, scheduler, framework, master, options)) {}

TuttiSchedulerDriver::~TuttiSchedulerDriver() = default;

DriverStatus TuttiSchedulerDriver::start() { return impl_->start(); }
DriverStatus TuttiSchedulerDriver::stop(bool failover) { return impl_->stop(failover); }
DriverStatus TuttiSchedulerDriver::abort() { return impl_->abort(); }
DriverStatus TuttiSchedulerDriver::join() { return impl_->join(); }

DriverStatus TuttiSchedulerDriver::run() {
  DriverStatus s = start();
  return s == DriverStatus::DRIVER_RUNNING ? join() : s;
}

DriverStatus TuttiSchedulerDriver::acceptOffers(const std::vector<OfferID>& offerIds,
                                                const std::vector<Offer::Operation>& operations,
                                                const Filters& filters) {
  return impl_->accept(offerIds, std::vector<Offer::Operation>(operations), filters);
}

DriverStatus TuttiSchedulerDriver::launchTasks(const std::vector<OfferID>& offerIds,
                                               const std::vector<TaskInfo>& tasks,
                                               const Filters& filters) {
  std::vector<Offer::Operation> ops;  // not an initializer list: that would copy the tasks again
  ops.push_back(Offer::Operation::launch(tasks));
  return impl_->accept(offerIds, std::move(ops), filters);
}

DriverStatus TuttiSchedulerDriver::declineOffer(const OfferID& offerId, const Filters& filters) {
  return impl_->call("DECLINE", [=](const FrameworkID& id) {
    return wire::Payload(wire::DeclineCall{id, {offerId}, filters});
  });
}

DriverStatus TuttiSchedulerDriver::declineOffers(const std::vector<OfferID>& offerIds,
                                                const Filters& filters) {
  if (offerIds.empty()) return impl_->status();
  return impl_->call("DECLINE", [=](const FrameworkID& id) {
    return wire::Payload(wire::DeclineCall{id, offerIds, filters});
  });
}

DriverStatus SchedulerDriver::declineOffers(const std::vector<OfferID>& offerIds,
                                            const Filters& filters) {
  DriverStatus last = DriverStatus::DRIVER_RUNNING;
  for (const auto& id : offerIds) last = declineOffer(id, filters);
  return last;
}

DriverStatus TuttiSchedulerDriver::reviveOffers(const std::vector<std::string>& roles) {
  return impl_->setSuppressed(false, roles);
}

DriverStatus TuttiSchedulerDriver::suppressOffers(const std::vector<std::string>& roles) {
  return impl_->setSuppressed(true, roles);
}

DriverStatus TuttiSchedulerDriver::killTask(const TaskID& taskId) {
  return impl_->call("KILL", [=](const FrameworkID& id) {
    return wire::Payload(wire::KillCall{id, taskId, AgentID(), std::nullopt});
  });
}

DriverStatus TuttiSchedulerDriver::acknowledgeStatusUpdate(const TaskStatus& status) {
  if (impl_->options().implicitAcknowledgements) {
    LOG(WARNING) << "acknowledgeStatusUpdate() with implicit acknowledgements enabled; ignored";
    return impl_->status();
  }
  if (status.uuid.empty()) return impl_->status();  // nothing to acknowledge
  return impl_->call("ACKNOWLEDGE", [=](const FrameworkID& id) {
    return wire::Payload(wire::AcknowledgeCall{id, status.agentId, status.taskId, status.uuid});
  });
}

DriverStatus TuttiSchedulerDriver::reconcileTasks(const std::vector<TaskStatus>& statuses) {
  return impl_->call("RECONCILE", [=](const FrameworkID& id) {
    wire::ReconcileCall call{id, {}};
    for (const auto& s : statuses) call.tasks.push_back({s.taskId, s.agentId});
    return wire::Payload(call);
  });
}

DriverStatus TuttiSchedulerDriver::sendFrameworkMessage(const ExecutorID& executorId,
                                                        const AgentID& agentId,
                                                        const std::string& data) {
  return impl_->call("MESSAGE", [=](const FrameworkID& id) {
    return wire::Payload(wire::MessageCall{id, agentId, executorId, data});
  });
}

}  // namespace tutti
