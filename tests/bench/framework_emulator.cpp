#include "common/host.hpp"
#include "tests/bench/framework_emulator.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <deque>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/held_offers.hpp"
#include "tests/bench/hop_trace.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::bench {

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(idx), v.end());
  return v[idx];
}

namespace {
constexpr auto kTick = std::chrono::milliseconds(10);
// Times one task is launched again before the emulator gives up on it.
constexpr int kMaxRelaunches = 4;

void maxInto(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}
}  // namespace

struct FrameworkEmulator::Shared {
  std::atomic<int64_t> subscribed{0}, resubscribed{0}, offers{0}, launched{0}, running{0};
  std::atomic<int64_t> finished{0}, failed{0}, relaunched{0}, declines{0};
  std::atomic<int64_t> firstLaunchNs{0}, lastRunningNs{0}, lastEndedNs{0}, lastResubscribedNs{0};
  std::mutex mu;  // guards the two below
  std::vector<double> latencies;
  std::unordered_map<std::string, int64_t> declinedAt;  // agent id -> steady ns

  void sample(double ms) {
    std::lock_guard<std::mutex> lock(mu);
    latencies.push_back(ms);
  }
};

class FrameworkEmulator::Framework : public Scheduler {
 public:
  Framework(const FrameworkEmulatorOptions& options, std::shared_ptr<Shared> shared, int index,
            int64_t quota)
      : options_(options),
        shared_(std::move(shared)),
        index_(index),
        quota_(quota),
        each_(*Resources::parse(options.taskResources)),
        held_([this](const Offer& o) { return tasksIn(o); }) {
    launchedAt_.assign(static_cast<size_t>(quota), 0);
    attempts_.assign(static_cast<size_t>(quota), 0);
    info_.name = "bench-" + std::to_string(index);
    info_.user = currentUserName();
    info_.roles = {"bench" + std::to_string(index % std::max(1, options.roles))};
    info_.failoverTimeoutSecs = options.failoverTimeoutSecs;
    info_.capabilities = {FrameworkCapability::PARTITION_AWARE};
  }

  // `loop`: the loop to share, or null for a thread of the driver's own.
  void start(const std::string& master, Loop* loop) {
    SchedulerDriverOptions o;
    o.loop = loop;
    driver_ = std::make_unique<TuttiSchedulerDriver>(this, info_, master, o);
    driver_->start();
  }
  // Ends the driver (with failover: the framework stays registered); a
  // driver on a shared loop is destroyed by release(), once that loop stopped.
  void stop() {
    if (!driver_) return;
    driver_->stop(/*failover=*/true);
    driver_->join();
  }
  void release() { driver_.reset(); }

  // Ticker thread (offers mode): declines up to `n` held offers; returns
  // how many it declined.
  int declineSome(int n) {
    std::vector<OfferID> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      int64_t now = steadyNowNs();
      while (n-- > 0 && !held_.empty()) {
        const Offer& o = held_.oldest();
        {
          std::lock_guard<std::mutex> s(shared_->mu);
          shared_->declinedAt[o.agentId.value] = now;
        }
        ids.push_back(o.id);
        held_.dropOldest();
      }
    }
    for (const auto& id : ids) {
      driver_->declineOffer(id, Filters{0});
      shared_->declines.fetch_add(1, std::memory_order_relaxed);
    }
    return static_cast<int>(ids.size());
  }

  // ---- Scheduler ----
  void registered(SchedulerDriver*, const FrameworkID&, const MasterInfo&) override {
    shared_->subscribed.fetch_add(1);
  }
  void reregistered(SchedulerDriver* d, const MasterInfo&) override {
    shared_->lastResubscribedNs.store(steadyNowNs());
    shared_->resubscribed.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    held_.clear();  // offers of the previous connection are void
    // Tasks may have come back to launch while no master heard a revive.
    balanceOffers(d);
  }
  void disconnected(SchedulerDriver*) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.clear();  // no accept reaches a master until re-subscribed
  }

  void resourceOffers(SchedulerDriver* d, const std::vector<Offer>& offers) override {
    shared_->offers.fetch_add(static_cast<int64_t>(offers.size()), std::memory_order_relaxed);
    if (options_.declinesPerSecond > 0) {
      int64_t now = steadyNowNs();
      std::lock_guard<std::mutex> s(shared_->mu);
      for (const auto& o : offers) {
        auto it = shared_->declinedAt.find(o.agentId.value);
        if (it == shared_->declinedAt.end()) continue;
        shared_->latencies.push_back(static_cast<double>(now - it->second) / 1e6);
        shared_->declinedAt.erase(it);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& o : offers) held_.add(o);
    if (quota_ > 0) {
      refill(d);
      balanceOffers(d);
    }
  }

  void offerRescinded(SchedulerDriver* d, const OfferID& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(id);
    balanceOffers(d);
  }

  void statusUpdate(SchedulerDriver* d, const TaskStatus& s) override {
    int64_t now = steadyNowNs();
    std::lock_guard<std::mutex> lock(mu_);
    auto [idx, attempt] = parseTaskId(s.taskId);
    // Only the latest attempt of a task counts: an update of an earlier one
    // (a retried terminal update, a launch the agent ran after the master
    // had given it up) changes nothing here.
    bool current = idx >= 0 && attempt == attempts_[static_cast<size_t>(idx)];
    bool pending = current && launchedAt_[static_cast<size_t>(idx)] != 0;
    if (options_.hops && attempt == 0 && idx >= 0) {
      if (s.state == TaskState::TASK_STARTING) {
        options_.hops->mark(HopTrace::kStartingAtScheduler, index_, idx, now);
      } else if (s.state == TaskState::TASK_RUNNING) {
        options_.hops->mark(HopTrace::kRunningAtScheduler, index_, idx, now);
      }
    }
    if (s.state == TaskState::TASK_RUNNING && pending) {
      shared_->sample(static_cast<double>(now - launchedAt_[static_cast<size_t>(idx)]) / 1e6);
      settle(idx);
      shared_->running.fetch_add(1, std::memory_order_relaxed);
      maxInto(shared_->lastRunningNs, now);
      refill(d);
    } else if (pending && s.source == Source::SOURCE_MASTER &&
               s.reason == Reason::REASON_MASTER_DISCONNECTED) {
      // The accept never left the driver (no master was connected): launch
      // the task again, as a real framework would.
      shared_->launched.fetch_sub(1, std::memory_order_relaxed);  // it never got anywhere
      LOG_EVERY_N(WARNING, 1000) << "bench framework: task " << s.taskId
                                 << " was not launched (" << s.message << "); launching it again";
      launchAgain(d, idx);
    } else if (isTerminal(s.state) && current) {
      maxInto(shared_->lastEndedNs, now);
      if (s.state == TaskState::TASK_FINISHED) {
        shared_->finished.fetch_add(1, std::memory_order_relaxed);
      } else if (pending && s.state != TaskState::TASK_ERROR &&
                 attempts_[static_cast<size_t>(idx)] < kMaxRelaunches) {
        // Ended before it ran (an accept that raced a rescinded offer, say):
        // launch it again under a new id, as a real framework would. An
        // invalid task (TASK_ERROR) would only fail again.
        shared_->relaunched.fetch_add(1, std::memory_order_relaxed);
        LOG_EVERY_N(WARNING, 100) << "bench framework: task " << s.taskId << " ended "
                                  << toString(s.state) << " before running (" << s.message
                                  << "); launching it again";
        launchAgain(d, idx);
      } else {
        shared_->failed.fetch_add(1, std::memory_order_relaxed);
        LOG_EVERY_N(WARNING, 1000) << "bench framework: task " << s.taskId << " ended "
                                   << toString(s.state) << ": " << s.message;
        if (pending) {
          settle(idx);
          refill(d);
        }
      }
    }
    balanceOffers(d);
  }
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}

  // "" when this framework has nothing left to do.
  std::string describe() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queued() && inFlight_ == 0) return "";
    return info_.name + ": " + std::to_string(quota_ - next_) + " never launched, " +
           std::to_string(retry_.size()) + " to launch again, " + std::to_string(inFlight_) +
           " in flight, " + std::to_string(held_.size()) + " offers held" +
           (suppressed_ ? ", suppressed" : "");
  }
  void agentLost(SchedulerDriver*, const AgentID&) override {}
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver*, const std::string& m) override {
    LOG(ERROR) << "bench framework " << index_ << ": " << m;
  }

 private:
  // {n, attempt} of one of this framework's task ids; {-1, 0} for anything else.
  std::pair<int64_t, int64_t> parseTaskId(const TaskID& id) const {
    auto name = parseBenchTaskId(id.value);
    if (!name || name->framework != index_ || name->n >= quota_) return {-1, 0};
    return {name->n, name->attempt};
  }

  // The task is no longer launched and waiting for its TASK_RUNNING.
  void settle(int64_t idx) {
    launchedAt_[static_cast<size_t>(idx)] = 0;
    --inFlight_;
  }
  // It ended (or never left) before it ran: queue it to launch again.
  void launchAgain(SchedulerDriver* d, int64_t idx) {
    settle(idx);
    retry_.push_back(idx);
    refill(d);
  }

  // Tasks still to launch: never launched, or dropped before the master.
  bool queued() const { return next_ < quota_ || !retry_.empty(); }
  int64_t queuedCount() const { return (quota_ - next_) + static_cast<int64_t>(retry_.size()); }

  // How many tasks `offer` fits on its own.
  int64_t tasksIn(const Offer& offer) const {
    int64_t n = INT64_MAX;
    for (const auto& r : each_) {
      if (r.type != Resource::Type::SCALAR || r.scalarMillis <= 0) continue;
      n = std::min(n, offer.resources.scalarMillis(r.name) / r.scalarMillis);
    }
    return n == INT64_MAX ? 0 : n;
  }

  // While tasks are queued: suppresses offers once the held ones fit every
  // queued task, and revives once they fit fewer than half of them (or
  // none are held). A framework that keeps taking offers it cannot use
  // before it finishes only hands them back in bulk at its end, and each
  // framework that finishes later gets them offered again (the decline
  // bursts in docs/operations.md). The end (nothing queued) is
  // launchSome's. Under mu_.
  void balanceOffers(SchedulerDriver* d) {
    if (!queued()) return;
    int64_t need = queuedCount();
    int64_t have = held_.capacity();
    if (!suppressed_ && have >= need) {
      suppressed_ = true;
      d->suppressOffers();
    } else if (suppressed_ && (have == 0 || 2 * have < need)) {
      suppressed_ = false;
      d->reviveOffers();
    }
  }

  // Launches once at most half of the in-flight bound is in use, so that an
  // accept carries several tasks rather than one per task that started.
  void refill(SchedulerDriver* d) {
    if (inFlight_ <= options_.maxInFlight / 2) launchSome(d);
  }

  // Packs queued tasks into held offers while the in-flight bound allows;
  // declines and suppresses once the queue is empty. Under mu_.
  void launchSome(SchedulerDriver* d) {
    std::vector<OfferID> tooSmall;
    while (queued() && inFlight_ < options_.maxInFlight && !held_.empty()) {
      // Every held offer of the same agent goes into this accept (Mesos
      // allows several offers of one agent in one accept): the pieces a
      // busy agent frees one task at a time add up to room for a batch.
      std::vector<Offer> group = held_.takeOldestWithItsAgent();
      const Offer& offer = group.front();
      std::vector<OfferID> ids;
      Resources left;
      for (const auto& o : group) {
        ids.push_back(o.id);
        left += o.resources;
      }
      Resources need = each_.allocate(offer.allocationRole);
      std::vector<TaskInfo> batch;
      while (queued() && inFlight_ < options_.maxInFlight && left.contains(need)) {
        int64_t n = next_;
        int64_t attempt = 0;
        if (!retry_.empty()) {
          n = retry_.front();
          retry_.pop_front();
          // A new id: the master may still hold the ended attempt until
          // its update is acknowledged.
          attempt = ++attempts_[static_cast<size_t>(n)];
        } else {
          ++next_;
        }
        TaskInfo t;
        t.name = "bench";
        t.taskId = TaskID(benchTaskId({index_, n, attempt}));
        t.agentId = offer.agentId;
        t.resources = each_;
        CommandInfo c;
        c.value = "sleep 1000";
        t.command = c;
        left -= need;
        launchedAt_[static_cast<size_t>(n)] = steadyNowNs();
        if (options_.hops && attempt == 0) {
          options_.hops->mark(HopTrace::kAccepted, index_, n, launchedAt_[static_cast<size_t>(n)]);
        }
        ++inFlight_;
        batch.push_back(std::move(t));
      }
      if (batch.empty()) {
        // Too small for a task: refuse it for Mesos's default 5 s, so that a
        // leftover does not go round every framework again and again.
        tooSmall.insert(tooSmall.end(), ids.begin(), ids.end());
        continue;
      }
      int64_t expected = 0;
      shared_->firstLaunchNs.compare_exchange_strong(expected, steadyNowNs());
      shared_->launched.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
      d->launchTasks(ids, batch, Filters{options_.refuseSeconds});
    }
    d->declineOffers(tooSmall, Filters{5});
    if (!queued()) {
      // Suppressed first, so that what it declines is offered to the others.
      if (!suppressed_) {
        suppressed_ = true;
        d->suppressOffers();
      }
      d->declineOffers(held_.takeAllIds(), Filters{3600});
    }
  }

  const FrameworkEmulatorOptions& options_;
  std::shared_ptr<Shared> shared_;
  int index_;
  int64_t quota_;
  Resources each_;
  FrameworkInfo info_;
  std::unique_ptr<TuttiSchedulerDriver> driver_;

  std::mutex mu_;  // guards what follows (driver thread and ticker)
  HeldOffers held_;
  std::vector<int64_t> launchedAt_;  // by task number; 0 once running or ended
  int64_t next_ = 0;
  std::deque<int64_t> retry_;  // task numbers to launch again
  std::vector<uint16_t> attempts_;  // by task number: its latest attempt (0: the first)
  int inFlight_ = 0;
  bool suppressed_ = false;
};

FrameworkEmulator::FrameworkEmulator(FrameworkEmulatorOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {}

FrameworkEmulator::~FrameworkEmulator() { stop(); }

Status FrameworkEmulator::start(const std::string& master) {
  if (!Resources::parse(options_.taskResources).ok()) {
    return Status::InvalidArgument("bad task resources '" + options_.taskResources + "'");
  }
  int n = std::max(1, options_.frameworks);
  for (int i = 0; i < n; ++i) {
    int64_t quota = options_.tasks / n + (i < options_.tasks % n ? 1 : 0);
    frameworks_.push_back(std::make_unique<Framework>(options_, shared_, i, quota));
  }
  for (int i = 0; i < options_.driverLoops; ++i) {
    loops_.push_back(std::make_unique<Loop>(
        RealClock::instance(), Loop::Options{"drivers-" + std::to_string(i), std::chrono::milliseconds(100)}));
  }
  // Drivers start before their shared loops run (SchedulerDriverOptions::loop).
  for (size_t i = 0; i < frameworks_.size(); ++i) {
    frameworks_[i]->start(master, loops_.empty() ? nullptr : loops_[i % loops_.size()].get());
  }
  for (auto& loop : loops_) {
    loopThreads_.emplace_back([l = loop.get()] { l->run(); });
  }
  if (options_.declinesPerSecond > 0) {
    ticker_ = std::thread([this] { tick(); });
  }
  return Status::OK();
}

void FrameworkEmulator::tick() {
  // Spreads the declines over the frameworks, round robin, every kTick.
  double perTick = options_.declinesPerSecond * std::chrono::duration<double>(kTick).count();
  double owed = 0;
  size_t next = 0;
  auto at = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    at += kTick;
    std::this_thread::sleep_until(at);  // a pacing clock, not a wait for an event
    owed += perTick;
    while (owed >= 1 && !stopping_.load()) {
      // The next framework that holds an offer declines one.
      bool declined = false;
      for (size_t tries = 0; tries < frameworks_.size() && !declined; ++tries) {
        declined = frameworks_[next++ % frameworks_.size()]->declineSome(1) > 0;
      }
      if (!declined) break;  // nobody holds anything: the debt waits
      owed -= 1;
    }
  }
}

void FrameworkEmulator::stop() {
  stopping_ = true;
  if (ticker_.joinable()) ticker_.join();
  // In this order: a driver's stop() is carried out by its loop, which must
  // still run for join() to return; drivers go once their loops stopped.
  for (auto& f : frameworks_) f->stop();
  for (auto& loop : loops_) loop->stop();
  for (auto& t : loopThreads_) t.join();
  loopThreads_.clear();
  for (auto& f : frameworks_) f->release();
  frameworks_.clear();
  loops_.clear();
}

FrameworkEmulatorStats FrameworkEmulator::stats() const {
  FrameworkEmulatorStats s;
  s.subscribed = shared_->subscribed.load();
  s.resubscribed = shared_->resubscribed.load();
  s.offers = shared_->offers.load();
  s.launched = shared_->launched.load();
  s.running = shared_->running.load();
  s.finished = shared_->finished.load();
  s.failed = shared_->failed.load();
  s.relaunched = shared_->relaunched.load();
  s.declines = shared_->declines.load();
  s.firstLaunchNs = shared_->firstLaunchNs.load();
  s.lastRunningNs = shared_->lastRunningNs.load();
  s.lastResubscribedNs = shared_->lastResubscribedNs.load();
  s.lastEndedNs = shared_->lastEndedNs.load();
  return s;
}

std::string FrameworkEmulator::describe() const {
  std::string out;
  size_t shown = 0;
  for (const auto& f : frameworks_) {
    std::string line = f->describe();
    if (line.empty()) continue;
    if (++shown > 20) {
      out += "  ...\n";
      break;
    }
    out += "  " + line + "\n";
  }
  return out;
}

std::vector<double> FrameworkEmulator::latencies() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->latencies;
}

void FrameworkEmulator::clearLatencies() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->latencies.clear();
  shared_->declinedAt.clear();
}

std::string benchTaskId(const BenchTaskName& name) {
  std::string id = "f" + std::to_string(name.framework) + "-" + std::to_string(name.n);
  if (name.attempt > 0) id += "." + std::to_string(name.attempt);
  return id;
}

std::optional<BenchTaskName> parseBenchTaskId(const std::string& id) {
  if (id.size() < 4 || id[0] != 'f') return std::nullopt;
  char* end = nullptr;
  long framework = std::strtol(id.c_str() + 1, &end, 10);
  if (end == id.c_str() + 1 || *end != '-' || framework < 0) return std::nullopt;
  const char* digits = end + 1;
  long long n = std::strtoll(digits, &end, 10);
  if (end == digits || n < 0) return std::nullopt;
  BenchTaskName name{static_cast<int>(framework), n, 0};
  if (*end == '\0') return name;
  if (*end != '.') return std::nullopt;
  digits = end + 1;
  long long attempt = std::strtoll(digits, &end, 10);
  if (end == digits || *end != '\0' || attempt <= 0) return std::nullopt;
  name.attempt = attempt;
  return name;
}

}  // namespace tutti::bench
