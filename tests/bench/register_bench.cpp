// register: N emulated agents register with one tutti-master process
// (DESIGN §5: a peer is its id, not its socket, so the agents are
// multiplexed over a few DEALER connections). Each connection keeps a
// bounded window of registrations in flight; the master answers them in
// order per connection, and the emulator answers the master's pings for
// every agent. Measured: the time from the first registration sent to the
// last AgentRegistered received, and the master's RSS afterwards.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "common/version.hpp"
#include "tests/bench/bench.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

namespace {

double rssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

struct Connection {
  std::unique_ptr<ZmqDealerTransport> transport;
  std::deque<int> inFlight;  // agent indexes, in the order sent
  std::vector<int> todo;     // agent indexes not sent yet (back first)
};

}  // namespace

int runRegister(const RegisterOptions& options) {
  testing::TempDir dir;
  testing::MasterProcess master =
      testing::startMasterProcess(dir.path(), {"--registry=in_memory"});
  if (!master.process.alive()) {
    std::fprintf(stderr, "register: the master did not start\n");
    return 1;
  }
  Loop loop(RealClock::instance());
  Metrics metrics;
  int n = options.agents;
  int k = std::max(1, std::min(options.connections, n));
  std::vector<Connection> conns(static_cast<size_t>(k));
  std::vector<std::string> ids(static_cast<size_t>(n));
  int registered = 0, pongs = 0;
  constexpr size_t kWindow = 256;

  auto agentInfo = [](int i) {
    AgentInfo info;
    info.hostname = "emulated-" + std::to_string(i);
    info.port = static_cast<uint32_t>(5051);
    info.resources = *Resources::parse("cpus:16;mem:65536;disk:1000000;ports:[31000-32000]");
    info.attributes = {{"rack", "r" + std::to_string(i % 50)}};
    return info;
  };
  auto pump = [&](Connection& c) {
    while (c.inFlight.size() < kWindow && !c.todo.empty()) {
      int i = c.todo.back();
      if (!c.transport->send("", wire::RegisterAgentMessage{agentInfo(i), tuttiVersion()}).ok()) {
        break;  // the connection is not up yet, or its queue is full: later
      }
      c.todo.pop_back();
      c.inFlight.push_back(i);
    }
  };
  for (int c = 0; c < k; ++c) {
    Connection& conn = conns[static_cast<size_t>(c)];
    conn.transport = std::make_unique<ZmqDealerTransport>(loop, metrics, TransportOptions{});
    for (int i = n - 1; i >= 0; --i) {
      if (i % k == c) conn.todo.push_back(i);
    }
    Connection* cp = &conn;
    conn.transport->setHandler([&, cp](const ConnectionId&, wire::Payload&& m) {
      if (auto* r = std::get_if<wire::AgentRegisteredMessage>(&m)) {
        if (cp->inFlight.empty()) return;
        ids[static_cast<size_t>(cp->inFlight.front())] = r->agentId.value;
        cp->inFlight.pop_front();
        ++registered;
        pump(*cp);
      } else if (auto* p = std::get_if<wire::PingMessage>(&m)) {
        (void)cp->transport->send("", wire::PongMessage{p->agentId});
        ++pongs;
      }
    });
    if (!conn.transport->connect("tcp://" + master.address()).ok()) {
      std::fprintf(stderr, "register: cannot connect\n");
      return 1;
    }
  }
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::seconds(options.timeoutSeconds);
  while (registered < n && std::chrono::steady_clock::now() < deadline) {
    for (auto& c : conns) pump(c);
    loop.runOnce(std::chrono::milliseconds(2));
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double rss = rssMb(master.process.pid());
  for (auto& c : conns) c.transport->close();
  if (registered < n) {
    std::fprintf(stderr, "register: only %d of %d agents registered within %d s\n", registered,
                 n, options.timeoutSeconds);
    return 1;
  }
  char line[256];
  std::snprintf(line, sizeof line, "register agents=%d seconds=%.3f master_rss_mb=%.1f", n,
                seconds, rss);
  std::printf("%s\n", line);
  if (!options.out.empty()) {
    std::ofstream(options.out) << "{\"scenario\":\"register\",\"agents\":" << n
                               << ",\"seconds\":" << seconds << ",\"master_rss_mb\":" << rss
                               << "}\n";
  }
  return 0;
}

}  // namespace tutti::bench
