// c1m: F emulated frameworks (real SchedulerDrivers) launch T tasks on N
// emulated agents through one tutti-master process, after Nomad's C1M. Each
// task runs --task_run_ms and finishes, so the master ends with T finished
// tasks under its completed-task limits. Measured: launches per second from
// the first accept to the last TASK_RUNNING at the schedulers, the latency
// accept -> TASK_RUNNING per task, and the master's RSS once every task
// finished (its peak goes to stderr).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/framework_emulator.hpp"
#include "tests/bench/hop_trace.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

namespace {
double peakRssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}
}  // namespace

int runC1m(const C1mOptions& options) {
  testing::TempDir dir;
  std::vector<std::string> flags = {"--registry=in_memory"};
  if (!options.minAllocatableResources.empty()) {
    flags.push_back("--min_allocatable_resources=" + options.minAllocatableResources);
  }
  testing::MasterProcess master = testing::startMasterProcess(dir.path(), flags);
  if (!master.process.alive()) {
    std::fprintf(stderr, "c1m: the master did not start\n");
    return 1;
  }
  auto timeout = std::chrono::seconds(options.timeoutSeconds);
  std::unique_ptr<HopTrace> hops;
  if (options.traceHops) {
    int f = std::max(options.frameworks, 1);
    hops = std::make_unique<HopTrace>(f, (options.tasks + f - 1) / f);
  }
  AgentEmulatorOptions ao;
  ao.hops = hops.get();
  ao.agents = options.agents;
  ao.connections = options.connections;
  ao.taskRunTime = std::chrono::milliseconds(options.taskRunMs);
  AgentEmulator agents(ao);
  if (Status s = agents.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "c1m: %s\n", s.message().c_str());
    return 1;
  }
  if (!testing::waitUntil([&] { return agents.stats().registeredNow == options.agents; },
                          timeout)) {
    std::fprintf(stderr, "c1m: the agents did not register\n");
    return 1;
  }

  FrameworkEmulatorOptions fo;
  fo.frameworks = options.frameworks;
  fo.tasks = options.tasks;
  fo.maxInFlight = options.maxInFlight;
  fo.driverLoops = options.driverLoops;
  fo.hops = hops.get();
  FrameworkEmulator frameworks(fo);
  // CPU from here until every task ended: what the tasks' whole lives cost
  // the master (all its threads, and its loop thread alone) and the
  // emulators in this process, which share the machine's cores with it.
  const pid_t masterPid = master.process.pid();
  const double masterCpu0 = cpuSeconds(masterPid);
  const double loopCpu0 = threadCpuSeconds(masterPid, "master");
  const double benchCpu0 = cpuSeconds(::getpid());
  if (Status s = frameworks.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "c1m: %s\n", s.message().c_str());
    return 1;
  }
  int64_t lastReport = steadyNowNs();
  auto progress = [&](const char* phase) {
    int64_t now = steadyNowNs();
    if (now - lastReport < 10'000'000'000) return;
    lastReport = now;
    FrameworkEmulatorStats f = frameworks.stats();
    std::fprintf(stderr,
                 "c1m: %s: launched=%lld running=%lld finished=%lld failed=%lld "
                 "master_rss_mb=%.0f outstanding_offers=%.0f\n",
                 phase, static_cast<long long>(f.launched), static_cast<long long>(f.running),
                 static_cast<long long>(f.finished), static_cast<long long>(f.failed),
                 rssMb(master.process.pid()),
                 testing::getJson(master.httpPort, "/metrics/snapshot")
                     .value("master/outstanding_offers", -1.0));
  };
  bool launched = testing::waitUntil(
      [&] {
        progress("launching");
        FrameworkEmulatorStats f = frameworks.stats();
        return f.running + f.failed >= options.tasks;
      },
      timeout);
  FrameworkEmulatorStats f = frameworks.stats();
  double seconds = static_cast<double>(f.lastRunningNs - f.firstLaunchNs) / 1e9;
  // Every task finished and its TASK_FINISHED was acknowledged back to the
  // agent: the master has moved it to its completed tasks.
  bool ended = launched && testing::waitUntil(
                               [&] {
                                 progress("finishing");
                                 FrameworkEmulatorStats now = frameworks.stats();
                                 return agents.stats().tasksEnded + now.failed >= now.launched;
                               },
                               timeout);
  const double perTask = 1e6 / static_cast<double>(options.tasks);
  const double masterCpuUs = (cpuSeconds(masterPid) - masterCpu0) * perTask;
  const double loopCpu1 = threadCpuSeconds(masterPid, "master");
  // -1: the master's loop thread was not found (not named "master").
  const double loopCpuUs = loopCpu0 < 0 || loopCpu1 < 0 ? -1 : (loopCpu1 - loopCpu0) * perTask;
  const double benchCpuUs = (cpuSeconds(::getpid()) - benchCpu0) * perTask;
  double rss = rssMb(master.process.pid());
  logLoopProfile("c1m", master.httpPort);
  {
    auto m = testing::getJson(master.httpPort, "/metrics/snapshot");
    auto st = testing::getJson(master.httpPort, "/master/state-summary");
    size_t active = 0;
    for (const auto& fw : st["frameworks"]) active += fw.value("task_count", 0);
    std::fprintf(stderr, "c1m: master active tasks %zu, running %.0f, finished %.0f\n", active,
                 m.value("master/tasks_running", -1.0), m.value("master/tasks_finished", -1.0));
  }
  double peak = peakRssMb(master.process.pid());
  std::vector<double> lat = frameworks.latencies();
  f = frameworks.stats();
  frameworks.stop();
  agents.stop();
  master.process.stop(SIGTERM);  // a clean exit (tools that watch the master get their report)
  if (!options.masterLog.empty()) {
    std::ifstream from(dir.path() + "/master.log", std::ios::binary);
    std::ofstream to(options.masterLog, std::ios::binary | std::ios::trunc);
    if (!from || !to || !(to << from.rdbuf())) {
      std::fprintf(stderr, "c1m: cannot copy the master's log to %s\n", options.masterLog.c_str());
    }
  }
  if (!launched || !ended || f.failed > 0) {
    std::fprintf(stderr, "c1m: running=%lld finished=%lld failed=%lld of %lld tasks\n",
                 static_cast<long long>(f.running), static_cast<long long>(f.finished),
                 static_cast<long long>(f.failed), static_cast<long long>(options.tasks));
    return 1;
  }
  std::fprintf(stderr, "c1m: master peak RSS %.1f MiB\n", peak);
  Report r("c1m");
  r.add("agents", static_cast<long long>(options.agents));
  r.add("frameworks", static_cast<long long>(options.frameworks));
  r.add("tasks", static_cast<long long>(options.tasks));
  r.add("seconds", seconds, 3);
  r.add("launches_per_s", static_cast<double>(options.tasks) / seconds, 1);
  r.add("p50_ms", percentile(lat, 0.50), 2);
  r.add("p99_ms", percentile(lat, 0.99), 2);
  r.add("master_rss_mb", rss, 1);
  // CPU per task (microseconds). The loop is one thread: 1e6 / loop_us is
  // the rate the master could sustain with a core to itself.
  r.add("master_cpu_us_per_task", masterCpuUs, 1);
  r.add("master_loop_us_per_task", loopCpuUs, 1);
  r.add("emulators_cpu_us_per_task", benchCpuUs, 1);
  r.add("driver_loops", static_cast<long long>(options.driverLoops));
  if (hops) {
    if (!options.traceHopsOut.empty()) {
      Status w = hops->write(options.traceHopsOut);
      if (!w.ok()) std::fprintf(stderr, "c1m: %s\n", w.message().c_str());
    }
    for (const auto& h : hops->summarize()) {
      r.add(h.name + "_p50_ms", h.p50Ms, 2);
      r.add(h.name + "_p99_ms", h.p99Ms, 2);
    }
  }
  return r.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
