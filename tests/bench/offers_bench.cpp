// offers: N emulated agents and F emulated frameworks (real SchedulerDrivers)
// on one tutti-master process. The frameworks hold every offer they get; a
// ticker declines held offers (refuse_seconds 0) at a steady rate, and the
// time from a decline (resources recovered) to the next offer of the same
// agent reaching a framework is the offer latency. Also measured over the
// window: the allocator's run time (allocator/allocation_run_ms p99) and the
// master process's CPU use.
#include <cstdio>
#include <thread>

#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/framework_emulator.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

int runOffers(const OffersOptions& options) {
  testing::TempDir dir;
  testing::MasterProcess master =
      testing::startMasterProcess(dir.path(), {"--registry=in_memory"});
  if (!master.process.alive()) {
    std::fprintf(stderr, "offers: the master did not start\n");
    return 1;
  }
  AgentEmulatorOptions ao;
  ao.agents = options.agents;
  ao.connections = options.connections;
  AgentEmulator agents(ao);
  if (Status s = agents.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "offers: %s\n", s.message().c_str());
    return 1;
  }
  if (!testing::waitUntil([&] { return agents.stats().registeredNow == options.agents; },
                          std::chrono::seconds(300))) {
    std::fprintf(stderr, "offers: the agents did not register\n");
    return 1;
  }
  FrameworkEmulatorOptions fo;
  fo.frameworks = options.frameworks;
  fo.declinesPerSecond = options.declinesPerSecond;
  FrameworkEmulator frameworks(fo);
  int64_t start = steadyNowNs();
  if (Status s = frameworks.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "offers: %s\n", s.message().c_str());
    return 1;
  }
  // Every agent offered once: the frameworks hold the whole cluster.
  if (!testing::waitUntil([&] { return frameworks.stats().offers >= options.agents; },
                          std::chrono::seconds(300))) {
    std::fprintf(stderr, "offers: only %lld of %d agents were offered\n",
                 static_cast<long long>(frameworks.stats().offers), options.agents);
    return 1;
  }
  std::fprintf(stderr, "offers: every agent offered %.3f s after the frameworks started\n",
               static_cast<double>(steadyNowNs() - start) / 1e9);

  frameworks.clearLatencies();
  double cpu0 = cpuSeconds(master.process.pid());
  auto t0 = std::chrono::steady_clock::now();
  // The measured window: a fixed length of steady load, not a wait for an event.
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  double cpu1 = cpuSeconds(master.process.pid());
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto metrics = testing::getJson(master.httpPort, "/metrics/snapshot");
  logLoopProfile("offers", master.httpPort);
  std::vector<double> lat = frameworks.latencies();
  FrameworkEmulatorStats f = frameworks.stats();
  frameworks.stop();
  agents.stop();
  if (lat.empty() || !metrics.is_object()) {
    std::fprintf(stderr, "offers: no offer came back after a decline (declines=%lld)\n",
                 static_cast<long long>(f.declines));
    return 1;
  }
  std::fprintf(stderr, "offers: %zu samples, %lld declines, %lld offers in all\n", lat.size(),
               static_cast<long long>(f.declines), static_cast<long long>(f.offers));
  Report r("offers");
  r.add("agents", static_cast<long long>(options.agents));
  r.add("frameworks", static_cast<long long>(options.frameworks));
  r.add("p50_ms", percentile(lat, 0.50), 2);
  r.add("p99_ms", percentile(lat, 0.99), 2);
  r.add("allocation_ms", metrics.value("allocator/allocation_run_ms/p99", 0.0), 2);
  r.add("master_cpu_pct", 100.0 * (cpu1 - cpu0) / wall, 1);
  return r.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
