// state: N emulated agents run T tasks (launched by emulated frameworks and
// left running) on one tutti-master process; then `pollers` threads request
// /master/state back to back for a while. Measured: the latency of those
// requests, the size of the answer, and the master loop's lag meanwhile (the
// p99 of how long closures posted to the loop waited; a prober requests
// /metrics/snapshot every 20 ms so that the loop always has some).
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "common/http.hpp"
#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/framework_emulator.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

int runState(const StateOptions& options) {
  testing::TempDir dir;
  testing::MasterProcess master =
      testing::startMasterProcess(dir.path(), {"--registry=in_memory"});
  if (!master.process.alive()) {
    std::fprintf(stderr, "state: the master did not start\n");
    return 1;
  }
  AgentEmulatorOptions ao;
  ao.agents = options.agents;
  ao.connections = options.connections;
  AgentEmulator agents(ao);  // tasks run until killed
  if (Status s = agents.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "state: %s\n", s.message().c_str());
    return 1;
  }
  if (!testing::waitUntil([&] { return agents.stats().registeredNow == options.agents; },
                          std::chrono::seconds(300))) {
    std::fprintf(stderr, "state: the agents did not register\n");
    return 1;
  }
  FrameworkEmulatorOptions fo;
  fo.frameworks = options.frameworks;
  fo.tasks = options.tasks;
  fo.maxInFlight = 200;
  FrameworkEmulator frameworks(fo);
  if (Status s = frameworks.start(master.address()); !s.ok()) {
    std::fprintf(stderr, "state: %s\n", s.message().c_str());
    return 1;
  }
  if (!testing::waitUntil([&] { return frameworks.stats().running >= options.tasks; },
                          std::chrono::seconds(600))) {
    std::fprintf(stderr, "state: only %lld of %lld tasks are running\n",
                 static_cast<long long>(frameworks.stats().running),
                 static_cast<long long>(options.tasks));
    return 1;
  }

  std::fprintf(stderr, "state: %lld tasks running; polling\n",
               static_cast<long long>(frameworks.stats().running));
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<double> latencies;
  size_t bytes = 0;
  int failures = 0;
  std::vector<std::thread> pollers;
  for (int i = 0; i < options.pollers; ++i) {
    pollers.emplace_back([&] {
      // The body is counted, not kept: the pollers should cost the machine
      // as little as a real client that streams it would.
      httplib::Client c("127.0.0.1", master.httpPort);
      c.set_read_timeout(std::chrono::seconds(60));
      while (!stop.load()) {
        size_t got = 0;
        auto t = std::chrono::steady_clock::now();
        auto r = c.Get("/master/state", [&](const char*, size_t n) {
          got += n;
          return true;
        });
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t)
                        .count();
        std::lock_guard<std::mutex> lock(mu);
        if (!r || r->status != 200) {
          ++failures;
          continue;
        }
        latencies.push_back(ms);
        bytes = got;
      }
    });
  }
  std::thread prober([&] {
    while (!stop.load()) {
      (void)httpGet("127.0.0.1", master.httpPort, "/metrics/snapshot");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the probing rate
    }
  });
  // The measured window: a fixed length of steady load, not a wait for an event.
  std::this_thread::sleep_for(std::chrono::seconds(options.seconds));
  auto metrics = testing::getJson(master.httpPort, "/metrics/snapshot");
  stop = true;
  for (auto& t : pollers) t.join();
  logLoopProfile("state", master.httpPort);
  prober.join();
  frameworks.stop();
  agents.stop();
  if (latencies.empty() || !metrics.is_object()) {
    std::fprintf(stderr, "state: no answer from /master/state (%d failures)\n", failures);
    return 1;
  }
  std::fprintf(stderr, "state: %zu answers, %d failures\n", latencies.size(), failures);
  Report r("state");
  r.add("agents", static_cast<long long>(options.agents));
  r.add("tasks", static_cast<long long>(options.tasks));
  r.add("pollers", static_cast<long long>(options.pollers));
  r.add("p50_ms", percentile(latencies, 0.50), 2);
  r.add("p99_ms", percentile(latencies, 0.99), 2);
  r.add("loop_lag_p99_ms", metrics.value("master/loop_lag_ms_p99", -1.0), 2);
  r.add("bytes", static_cast<long long>(bytes));
  return failures == 0 && r.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
