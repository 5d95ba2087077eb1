// The scheduler API: what a framework implements (Scheduler) and what it
// calls (SchedulerDriver). It mirrors Mesos's C++ API (mesos/scheduler.hpp)
// so that a Mesos framework ports by renaming.
//
// Threads: every Scheduler callback runs on the driver's own thread, one at
// a time, in the order events arrive. Driver methods may be called from any
// thread, including from inside callbacks (except join() and run(), which
// would wait for themselves).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tutti/types.hpp"

namespace tutti {

enum class DriverStatus {
  DRIVER_NOT_STARTED = 1,
  DRIVER_RUNNING = 2,
  DRIVER_ABORTED = 3,
  DRIVER_STOPPED = 4,
};
const char* toString(DriverStatus status);

class SchedulerDriver;
class Loop;

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Subscribed for the first time; `frameworkId` is the framework's id.
  virtual void registered(SchedulerDriver* driver, const FrameworkID& frameworkId,
                          const MasterInfo& masterInfo) = 0;
  // Subscribed again (after a disconnection or a master change).
  virtual void reregistered(SchedulerDriver* driver, const MasterInfo& masterInfo) = 0;
  // The master is unreachable; the driver keeps trying to re-subscribe.
  virtual void disconnected(SchedulerDriver* driver) = 0;
  virtual void resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) = 0;
  virtual void offerRescinded(SchedulerDriver* driver, const OfferID& offerId) = 0;
  // With implicit acknowledgements (the default) the driver acknowledges the
  // update when this returns.
  virtual void statusUpdate(SchedulerDriver* driver, const TaskStatus& status) = 0;
  virtual void frameworkMessage(SchedulerDriver* driver, const ExecutorID& executorId,
                                const AgentID& agentId, const std::string& data) = 0;
  virtual void agentLost(SchedulerDriver* driver, const AgentID& agentId) = 0;
  virtual void executorLost(SchedulerDriver* driver, const ExecutorID& executorId,
                            const AgentID& agentId, int status) = 0;
  // A fatal error: the driver aborts after this returns.
  virtual void error(SchedulerDriver* driver, const std::string& message) = 0;
};

class SchedulerDriver {
 public:
  virtual ~SchedulerDriver() = default;

  virtual DriverStatus start() = 0;
  // Without `failover` the framework is torn down (its tasks killed); with
  // it, the framework stays and a new scheduler may re-subscribe.
  virtual DriverStatus stop(bool failover = false) = 0;
  virtual DriverStatus abort() = 0;
  // Waits until the driver is stopped or aborted.
  virtual DriverStatus join() = 0;
  virtual DriverStatus run() = 0;

  virtual DriverStatus acceptOffers(const std::vector<OfferID>& offerIds,
                                    const std::vector<Offer::Operation>& operations,
                                    const Filters& filters = Filters()) = 0;
  virtual DriverStatus launchTasks(const std::vector<OfferID>& offerIds,
                                   const std::vector<TaskInfo>& tasks,
                                   const Filters& filters = Filters()) = 0;
  virtual DriverStatus declineOffer(const OfferID& offerId,
                                    const Filters& filters = Filters()) = 0;
  // Declines several offers under one filter. TuttiSchedulerDriver sends
  // them in one DECLINE call (as Mesos's v1 API allows); the default sends
  // one declineOffer() each and returns the last status (DRIVER_RUNNING
  // for an empty list, which sends nothing).
  virtual DriverStatus declineOffers(const std::vector<OfferID>& offerIds,
                                     const Filters& filters = Filters());
  virtual DriverStatus reviveOffers(const std::vector<std::string>& roles = {}) = 0;
  virtual DriverStatus suppressOffers(const std::vector<std::string>& roles = {}) = 0;
  virtual DriverStatus killTask(const TaskID& taskId) = 0;
  virtual DriverStatus acknowledgeStatusUpdate(const TaskStatus& status) = 0;
  // Empty `statuses`: implicit reconciliation of every task.
  virtual DriverStatus reconcileTasks(const std::vector<TaskStatus>& statuses) = 0;
  virtual DriverStatus sendFrameworkMessage(const ExecutorID& executorId,
                                            const AgentID& agentId,
                                            const std::string& data) = 0;
};

struct SchedulerDriverOptions {
  // Acknowledge each update when statusUpdate() returns (Mesos's default).
  bool implicitAcknowledgements = true;
  // Consider the master gone after this many heartbeat intervals of silence.
  int missedHeartbeatsBeforeDisconnect = 3;
  // Subscription retry backoff: random in [0, b * 2^n], capped.
  std::chrono::milliseconds subscriptionBackoffMin{100};
  std::chrono::milliseconds subscriptionBackoffMax{10000};
  // Run on this loop (which must outlive the driver) instead of a thread of
  // the driver's own: callbacks arrive on the loop's thread, several drivers
  // may share one loop, and the loop's owner runs and stops it (stop() and
  // abort() end the driver, not the loop). start() must be called on the
  // loop's thread or while the loop is not running. stop() and abort() from
  // another thread are carried out by the loop, so join() there returns only
  // once the loop runs them. join() on the loop's thread
  // cannot wait for the loop it blocks, so it returns the status at once;
  // the driver must be destroyed on the loop's thread or while the loop is
  // not running. Null (the default): a thread of its own.
  Loop* loop = nullptr;
};

// The driver that talks to a tutti master over its message port.
class TuttiSchedulerDriver final : public SchedulerDriver {
 public:
  // `master`: "host:port" of the master's message port.
  TuttiSchedulerDriver(Scheduler* scheduler, const FrameworkInfo& framework,
                       const std::string& master,
                       SchedulerDriverOptions options = SchedulerDriverOptions());
  ~TuttiSchedulerDriver() override;

  DriverStatus start() override;
  DriverStatus stop(bool failover = false) override;
  DriverStatus abort() override;
  DriverStatus join() override;
  DriverStatus run() override;
  DriverStatus acceptOffers(const std::vector<OfferID>& offerIds,
                            const std::vector<Offer::Operation>& operations,
                            const Filters& filters = Filters()) override;
  DriverStatus launchTasks(const std::vector<OfferID>& offerIds,
                           const std::vector<TaskInfo>& tasks,
                           const Filters& filters = Filters()) override;
  DriverStatus declineOffer(const OfferID& offerId, const Filters& filters = Filters()) override;
  DriverStatus declineOffers(const std::vector<OfferID>& offerIds,
                             const Filters& filters = Filters()) override;
  DriverStatus reviveOffers(const std::vector<std::string>& roles = {}) override;
  DriverStatus suppressOffers(const std::vector<std::string>& roles = {}) override;
  DriverStatus killTask(const TaskID& taskId) override;
  DriverStatus acknowledgeStatusUpdate(const TaskStatus& status) override;
  DriverStatus reconcileTasks(const std::vector<TaskStatus>& statuses) override;
  DriverStatus sendFrameworkMessage(const ExecutorID& executorId, const AgentID& agentId,
                                    const std::string& data) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tutti
