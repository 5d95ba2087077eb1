// state: N emulated agents run T tasks (launched by emulated frameworks and
// left running) on one tutti-master process; then `pollers` threads request
// /master/state back to back for a while. Measured: the latency of those
// requests, the size of the answer, and the master loop's lag meanwhile (the
// p99 of how long closures posted to the loop waited; a prober requests
// /metrics/snapshot every 20 ms so that the loop always has some).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/http.hpp"
#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/framework_emulator.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

namespace {
// A poller's HTTP/1.1 client: one kept-alive connection, GETs whose body is
// counted and dropped, read with 1 MiB recv()s. The pollers stand for
// dashboards and scrapers on other machines; reading 70 MB in httplib's
// 4 KiB steps cost this machine twice what the master spent sending it,
// which measured the pollers, not the master.
class CountingGetter {
 public:
  explicit CountingGetter(int port) : port_(port), buf_(1 << 20) {}
  ~CountingGetter() { close(); }

  // The body's size, or -1 (and the connection dropped) on any error or a
  // status other than 200.
  long long get(const std::string& path) {
    if (fd_ < 0 && !connect()) return -1;
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return fail();
    }
    std::string head;
    size_t end = std::string::npos;
    size_t pending = 0;  // body bytes read together with the head
    while (end == std::string::npos) {
      ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
      if (n <= 0) return fail();
      head.append(buf_.data(), static_cast<size_t>(n));
      end = head.find("\r\n\r\n");
      if (end == std::string::npos && head.size() > 65536) return fail();
      if (end != std::string::npos) pending = head.size() - (end + 4);
    }
    if (head.compare(0, 12, "HTTP/1.1 200") != 0) return fail();
    long long length = -1;
    bool closing = false;  // the server ends the connection after this answer
    for (size_t at = head.find("\r\n"); at < end;) {
      size_t next = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, next - (at + 2));
      at = next;
      std::transform(line.begin(), line.end(), line.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (line.rfind("content-length:", 0) == 0) length = std::atoll(line.c_str() + 15);
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) {
        closing = true;
      }
    }
    if (length < 0 || static_cast<long long>(pending) > length) return fail();
    long long got = static_cast<long long>(pending);
    while (got < length) {
      ssize_t n = ::recv(fd_, buf_.data(),
                         std::min(buf_.size(), static_cast<size_t>(length - got)), 0);
      if (n <= 0) return fail();
      got += n;
    }
    if (closing) close();
    return length;
  }

 private:
  bool connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close();
      return false;
    }
    return true;
  }
  long long fail() {
    close();
    return -1;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int port_;
  int fd_ = -1;
  std::vector<char> buf_;
};
}  // namespace

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
  // The first answer renders every task's JSON (the publisher keeps it from
  // then on, state_snapshot.hpp): reported on its own as first_ms; the
  // pollers measure the steady state.
  double firstMs = -1;
  {
    CountingGetter first(master.httpPort);
    auto t = std::chrono::steady_clock::now();
    if (first.get("/master/state") >= 0) firstMs = msSince(t);
  }
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
      CountingGetter c(master.httpPort);
      while (!stop.load()) {
        auto t = std::chrono::steady_clock::now();
        long long got = c.get("/master/state");
        double ms = msSince(t);
        std::lock_guard<std::mutex> lock(mu);
        if (got < 0) {
          ++failures;
          continue;
        }
        latencies.push_back(ms);
        bytes = static_cast<size_t>(got);
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
  r.add("first_ms", firstMs, 2);
  return failures == 0 && r.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
