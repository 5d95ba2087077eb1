// FrameworkEmulator: F frameworks for tutti-bench, each a real
// TuttiSchedulerDriver (framework-api) with its own thread and connection,
// spread over a few roles.
//
// Launch mode (tasks > 0): each framework has a queue of tasks/F tasks. It
// keeps the offers it gets while it has work, packs queued tasks into them
// (at most `maxInFlight` launched and not yet TASK_RUNNING at a time, as a
// scheduler that paces itself does; it tops up once half of them run; one
// accept takes every offer it holds of that agent), suppresses offers once
// what it holds fits every queued task and revives when that falls under
// half, and once its queue is empty suppresses and declines what it holds
// (one DECLINE call). Holding offers while paced is what Aurora-style
// schedulers do; suppressing once it holds enough keeps the hoard from
// growing to a few offers per agent that each finishing framework would
// hand back in one burst, to be offered to the next (docs/operations.md).
// It records, per task, the time from its accept to TASK_RUNNING at the
// scheduler.
//
// Offers mode (declinesPerSecond > 0): the frameworks hold every offer, and a
// ticker declines held offers (refuse_seconds 0) at the given total rate; the
// time from a decline until an offer for the same agent reaches a framework
// is the offer latency (resources recovered -> offer received).
//
// Drivers run on threads of their own (driverLoops 0: what F framework
// processes would have) or share `driverLoops` loops, each on one thread
// (SchedulerDriverOptions::loop): on a two-core machine that also runs the
// master, a hundred driver threads cost more in wake-ups than the work they
// do, and real frameworks would run elsewhere (docs/operations.md).
//
// Threads: start(), stop() and the accessors from one controlling thread;
// callbacks run on the drivers' threads (or loops); counters are atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tutti/status.hpp"

namespace tutti {
class Loop;
}

namespace tutti::bench {

class HopTrace;

struct FrameworkEmulatorOptions {
  int frameworks = 10;
  int roles = 4;        // framework i is in role "bench<i % roles>"
  int64_t tasks = 0;    // in all, split evenly over the frameworks
  std::string taskResources = "cpus:0.5;mem:256";
  int maxInFlight = 20;        // per framework: launched, not yet TASK_RUNNING
  double refuseSeconds = 1;    // filter on what an accept leaves unused
  double declinesPerSecond = 0;  // offers mode: declines per second in all
  double failoverTimeoutSecs = 3600;
  int driverLoops = 0;  // 0: every driver on a thread of its own
  HopTrace* hops = nullptr;  // launch mode: stamps accept, STARTING, RUNNING (not owned)
};

struct FrameworkEmulatorStats {
  int64_t subscribed = 0;   // frameworks that got SUBSCRIBED (first time)
  int64_t resubscribed = 0;
  int64_t offers = 0;       // offers received
  int64_t launched = 0;     // tasks in accepts sent
  int64_t running = 0;      // TASK_RUNNING received (first per task)
  int64_t finished = 0;     // TASK_FINISHED received
  int64_t failed = 0;       // other terminal states (of tasks not launched again)
  int64_t relaunched = 0;   // launched again after ending before they ran
  int64_t declines = 0;     // offers mode: declines sent
  int64_t firstLaunchNs = 0;  // steady ns of the first accept
  int64_t lastRunningNs = 0;  // steady ns of the latest first TASK_RUNNING
  int64_t lastEndedNs = 0;    // steady ns of the latest terminal update
  int64_t lastResubscribedNs = 0;  // steady ns of the latest re-subscription
};

class FrameworkEmulator {
 public:
  explicit FrameworkEmulator(FrameworkEmulatorOptions options);
  ~FrameworkEmulator();
  FrameworkEmulator(const FrameworkEmulator&) = delete;
  FrameworkEmulator& operator=(const FrameworkEmulator&) = delete;

  // `master`: "host:port" or zk://... (what TuttiSchedulerDriver takes).
  Status start(const std::string& master);
  // Stops the drivers (with failover: the frameworks stay registered).
  void stop();

  FrameworkEmulatorStats stats() const;
  // One line per framework that still has work (tasks queued or in
  // flight, offers held, suppressed or not), for failure reports.
  std::string describe() const;
  // Accept -> TASK_RUNNING (launch mode) or decline -> offer (offers mode)
  // latencies in milliseconds so far; clearLatencies() starts afresh.
  std::vector<double> latencies() const;
  void clearLatencies();

 private:
  class Framework;
  struct Shared;
  void tick();

  FrameworkEmulatorOptions options_;
  std::shared_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Loop>> loops_;  // shared by the drivers (driverLoops > 0)
  std::vector<std::thread> loopThreads_;
  std::vector<std::unique_ptr<Framework>> frameworks_;
  std::thread ticker_;
  std::atomic<bool> stopping_{false};
};

// The value at `q` (0..1) of `v` (sorted in place); 0 for an empty vector.
double percentile(std::vector<double>& v, double q);

// An emulated framework's task id: "f<framework>-<n>", and
// "f<framework>-<n>.<attempt>" when task n is launched again (attempt >= 1).
struct BenchTaskName {
  int framework = 0;
  int64_t n = 0;
  int64_t attempt = 0;
};
std::string benchTaskId(const BenchTaskName& name);
// nullopt for an id not of that form.
std::optional<BenchTaskName> parseBenchTaskId(const std::string& id);

}  // namespace tutti::bench
