// register: N emulated agents (AgentEmulator) register with one tutti-master
// process. Measured: the time from the start of the emulator to the last
// AgentRegisteredMessage received, and the master's RSS afterwards.
#include <cstdio>

#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

int runRegister(const RegisterOptions& options) {
  testing::TempDir dir;
  testing::MasterProcess master =
      testing::startMasterProcess(dir.path(), {"--registry=in_memory"});
  if (!master.process.alive()) {
    std::fprintf(stderr, "register: the master did not start\n");
    return 1;
  }
  AgentEmulatorOptions ao;
  ao.agents = options.agents;
  ao.connections = options.connections;
  AgentEmulator agents(ao);
  int64_t start = steadyNowNs();
  Status s = agents.start(master.address());
  if (!s.ok()) {
    std::fprintf(stderr, "register: %s\n", s.message().c_str());
    return 1;
  }
  bool done = testing::waitUntil([&] { return agents.stats().registeredNow == options.agents; },
                                 std::chrono::seconds(options.timeoutSeconds));
  AgentEmulatorStats stats = agents.stats();
  double seconds = static_cast<double>(stats.lastRegisteredNs - start) / 1e9;
  double rss = rssMb(master.process.pid());
  agents.stop();
  if (!done) {
    std::fprintf(stderr, "register: only %lld of %d agents registered within %d s\n",
                 static_cast<long long>(stats.registeredNow), options.agents,
                 options.timeoutSeconds);
    return 1;
  }
  Report r("register");
  r.add("agents", static_cast<long long>(options.agents));
  r.add("seconds", seconds, 3);
  r.add("master_rss_mb", rss, 1);
  return r.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
