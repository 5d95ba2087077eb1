// BatchScheduler: the Scheduler behind tutti-batch. It runs one JobRun to
// completion over the framework API: packs ready tasks into offers, declines
// what it cannot use (refuse_seconds by why), suppresses offers while no
// task is ready and revives when one becomes ready (a stage unlocked, a slot
// freed, a retry due), kills attempts over their timeout, reconciles after
// every (re-)subscription, and checkpoints to a state dir when given one.
//
// Threads: Scheduler callbacks run on the driver's thread; tick(), progress()
// and the waiting functions may be called from any thread (one mutex).
// Errors: a checkpoint that cannot be written ends the job as failed (its
// progress could not be kept); a driver error() ends it too.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

#include "frameworks/batch/checkpoint.hpp"
#include "frameworks/batch/job_run.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::batch {

struct BatchOptions {
  std::string stateDir;  // empty: no checkpointing
  // refuse_seconds for an offer none of whose resources a ready task fits.
  double unfitRefuseSeconds = 5.0;
  // refuse_seconds when nothing is ready (offers are suppressed as well).
  double idleRefuseSeconds = 30.0;
  // refuse_seconds for what is left of an offer after packing tasks into it.
  double leftoverRefuseSeconds = 1.0;
};

class BatchScheduler final : public Scheduler {
 public:
  // `checkpoint`: what a previous run of the job left (empty for a new run).
  BatchScheduler(Job job, BatchOptions options, Checkpoint checkpoint);

  void registered(SchedulerDriver* driver, const FrameworkID& id, const MasterInfo&) override;
  void reregistered(SchedulerDriver* driver, const MasterInfo&) override;
  void disconnected(SchedulerDriver*) override {}
  void resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) override;
  void offerRescinded(SchedulerDriver*, const OfferID&) override {}
  void statusUpdate(SchedulerDriver* driver, const TaskStatus& status) override;
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}
  void agentLost(SchedulerDriver*, const AgentID&) override {}
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver* driver, const std::string& message) override;

  // Timers: kills attempts over their timeout, revives when a retry is due.
  void tick(SchedulerDriver* driver);
  // Ends the job as failed (e.g. on Ctrl-C).
  void cancel(const std::string& why);
  bool done();
  // Waits up to `timeout` for the job to end; returns done().
  bool waitDone(std::chrono::milliseconds timeout);
  Progress progress();
  // 0 when the job succeeded, else 1.
  int exitCode();

 private:
  void subscribed(SchedulerDriver* driver, const FrameworkID* id);
  void updateOfferInterest(SchedulerDriver* driver, Clock::time_point now);
  void fatal(const std::string& message);
  bool save();

  BatchOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  JobRun run_;
  Checkpoint checkpoint_;
  bool suppressed_ = false;
  std::string fatal_;  // set when the run ended for another reason than its tasks
};

}  // namespace tutti::batch
