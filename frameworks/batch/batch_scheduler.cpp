#include "frameworks/batch/batch_scheduler.hpp"

#include <glog/logging.h>

namespace tutti::batch {

BatchScheduler::BatchScheduler(Job job, BatchOptions options, Checkpoint checkpoint)
    : options_(std::move(options)),
      run_(std::move(job), Clock::now()),
      checkpoint_(std::move(checkpoint)) {
  checkpoint_.job = run_.job().name;
  for (const auto& key : checkpoint_.succeeded) run_.restoreSucceeded(key);
  for (const auto& [id, agent] : checkpoint_.launched) {
    run_.restoreLaunched(TaskID(id), AgentID(agent));
  }
}

bool BatchScheduler::save() {
  if (options_.stateDir.empty()) return true;
  Status s = checkpoint_.save(options_.stateDir);
  if (!s.ok()) fatal("cannot write the checkpoint: " + s.message());
  return s.ok();
}

void BatchScheduler::fatal(const std::string& message) {
  if (fatal_.empty()) fatal_ = message;
  LOG(ERROR) << message;
  cv_.notify_all();
}

void BatchScheduler::subscribed(SchedulerDriver* driver, const FrameworkID* id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (id && checkpoint_.frameworkId != id->value) {
    checkpoint_.frameworkId = id->value;
    save();
  }
  // Ask for the truth: attempts a previous run launched (explicit, so that
  // ones the master never saw come back as lost) and every task it knows.
  // The agent id matters after a master failover: the new master stays
  // silent about a task on an agent that has yet to re-register, where
  // without it the task would be reported lost and run twice.
  std::vector<TaskStatus> statuses;
  for (const auto& [task, agent] : run_.launched()) {
    TaskStatus s;
    s.taskId = task;
    s.agentId = agent;
    statuses.push_back(s);
  }
  if (!statuses.empty()) driver->reconcileTasks(statuses);
  driver->reconcileTasks({});
  suppressed_ = false;
  updateOfferInterest(driver, Clock::now());
}

void BatchScheduler::registered(SchedulerDriver* driver, const FrameworkID& id,
                                const MasterInfo&) {
  LOG(INFO) << "Subscribed as framework " << id;
  subscribed(driver, &id);
}

void BatchScheduler::reregistered(SchedulerDriver* driver, const MasterInfo&) {
  LOG(INFO) << "Re-subscribed; reconciling";
  subscribed(driver, nullptr);
}

void BatchScheduler::resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  for (const auto& offer : offers) {
    Placement p;
    if (fatal_.empty()) p = run_.place(offer, now);
    if (p.tasks.empty()) {
      double refuse = p.unfit ? options_.unfitRefuseSeconds : options_.idleRefuseSeconds;
      driver->declineOffer(offer.id, Filters{refuse});
      continue;
    }
    for (const auto& t : p.tasks) checkpoint_.launched[t.taskId.value] = t.agentId.value;
    // The attempts are on disk before they exist: a restart reconciles them.
    if (!save()) {
      driver->declineOffer(offer.id, Filters{options_.idleRefuseSeconds});
      continue;
    }
    driver->launchTasks({offer.id}, p.tasks, Filters{options_.leftoverRefuseSeconds});
  }
  updateOfferInterest(driver, now);
}

void BatchScheduler::statusUpdate(SchedulerDriver* driver, const TaskStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  bool wasRunning = run_.status() == JobStatus::kRunning;
  if (!isTerminal(status.state) && run_.isStale(status.taskId)) {
    // An attempt this run gave up on (reported lost, then found again):
    // only the current attempt may run.
    LOG(INFO) << "Killing task " << status.taskId << ": not a current attempt";
    driver->killTask(status.taskId);
  }
  auto succeeded = run_.onStatus(status, now);
  if (isTerminal(status.state) && checkpoint_.launched.erase(status.taskId.value)) {
    if (succeeded) checkpoint_.succeeded.insert(*succeeded);
    // Persisted before statusUpdate() returns, i.e. before the acknowledgement.
    save();
  }
  if (isTerminal(status.state) && status.state != TaskState::TASK_FINISHED &&
      status.reason != Reason::REASON_RECONCILIATION) {
    LOG(INFO) << "Task " << status.taskId << " is " << toString(status.state) << ": "
              << status.message;
  }
  if (wasRunning && run_.status() != JobStatus::kRunning) cv_.notify_all();
  if (isTerminal(status.state)) {
    // A slot freed or a stage unlocked: ask for offers again, filters cleared.
    std::optional<Clock::time_point> next;
    if (run_.hasReady(now, &next)) {
      driver->reviveOffers();
      suppressed_ = false;
    }
  }
  updateOfferInterest(driver, now);
}

void BatchScheduler::updateOfferInterest(SchedulerDriver* driver, Clock::time_point now) {
  bool wanted = fatal_.empty() && run_.hasReady(now);
  if (!wanted && !suppressed_) {
    driver->suppressOffers();
    suppressed_ = true;
  } else if (wanted && suppressed_) {
    driver->reviveOffers();
    suppressed_ = false;
  }
}

void BatchScheduler::error(SchedulerDriver*, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  fatal("framework error: " + message);
}

void BatchScheduler::tick(SchedulerDriver* driver) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = Clock::now();
  for (const auto& id : run_.overdue(now)) {
    LOG(INFO) << "Killing " << id << ": over its timeout";
    driver->killTask(id);
  }
  updateOfferInterest(driver, now);
}

void BatchScheduler::cancel(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  fatal(why);
}

bool BatchScheduler::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return !fatal_.empty() || run_.status() != JobStatus::kRunning;
}

bool BatchScheduler::waitDone(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] {
    return !fatal_.empty() || run_.status() != JobStatus::kRunning;
  });
}

Progress BatchScheduler::progress() {
  std::lock_guard<std::mutex> lock(mu_);
  Progress p = run_.progress(Clock::now());
  if (!fatal_.empty() && p.status == JobStatus::kRunning) {
    p.status = JobStatus::kFailed;
    p.message = fatal_;
  }
  return p;
}

int BatchScheduler::exitCode() {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_.empty() && run_.status() == JobStatus::kSucceeded ? 0 : 1;
}

}  // namespace tutti::batch
