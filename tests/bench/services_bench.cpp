// services: time from POST /v2/apps of an app with N instances to all of
// them healthy (HTTP health checks on python3 -m http.server) or running
// (`sleep`, no health checks), through real tutti-master, tutti-agent and
// tutti-services processes; the median of --runs runs.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/http.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/port_ranges.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::bench {

namespace {
using Clock = std::chrono::steady_clock;
using nlohmann::json;

json appJson(const ServicesOptions& options) {
  json app = {{"id", "/bench"}, {"cpus", 0.01}, {"mem", 8}, {"instances", options.instances}};
  if (options.http) {
    app["cmd"] = "exec python3 -m http.server $PORT0 --bind 127.0.0.1";
    app["healthChecks"] = {{{"protocol", "HTTP"}, {"path", "/"}, {"portIndex", 0},
                            {"gracePeriodSeconds", 60}, {"intervalSeconds", 1},
                            {"timeoutSeconds", 5}, {"maxConsecutiveFailures", 3}}};
  } else {
    app["cmd"] = "exec sleep 3600";
  }
  return app;
}

// One run; the seconds from the POST to all healthy, or -1.
double runOnce(const ServicesOptions& options) {
  testing::TempDir dir;
  auto master = testing::startMasterProcess(dir.path());
  auto agent = testing::startAgentProcess(
      master, dir.path(), {"--resources=cpus:16;mem:65536;disk:4096;" + testing::exclusiveTaskPorts(1000)});
  int port = testing::freePort();
  auto services = testing::startProcess(
      {testing::binary("tutti-services"), "--master=" + master.address(),
       "--http_address=127.0.0.1", "--http_port=" + std::to_string(port),
       "--state_dir=" + dir.path() + "/state"},
      dir.path() + "/services.log");
  if (!testing::waitUntil([&] {
        auto r = httpGet("127.0.0.1", port, "/v2/info");
        return r.ok() && json::parse(r->second, nullptr, false).value("elected", false);
      })) {
    std::cerr << "tutti-services did not start:\n" << services.log();
    return -1;
  }
  auto start = Clock::now();
  auto posted = httpPost("127.0.0.1", port, "/v2/apps", appJson(options).dump());
  if (!posted.ok() || posted->first != 201) {
    std::cerr << "POST /v2/apps failed: " << (posted.ok() ? posted->second : posted.error());
    return -1;
  }
  const char* counter = options.http ? "tasksHealthy" : "tasksRunning";
  bool ready = testing::waitUntil(
      [&] {
        auto r = httpGet("127.0.0.1", port, "/v2/apps/bench");
        if (!r.ok()) return false;
        auto j = json::parse(r->second, nullptr, false);
        return j.is_object() && j["app"].value(counter, 0) == options.instances;
      },
      std::chrono::seconds(options.timeoutSeconds));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Executors outlive a killed agent: delete the app and wait for it.
  httpRequest("DELETE", "127.0.0.1", port, "/v2/apps/bench");
  testing::waitUntil([&] {
    auto r = httpGet("127.0.0.1", port, "/v2/apps/bench");
    return r.ok() && r->first == 404;
  }, std::chrono::seconds(120));
  // The app is gone from the API before its executors have exited, and
  // checkpointing executors outlive a killed agent: SIGTERM shuts them
  // all down before the agent exits.
  services.stop(SIGTERM);
  agent.process.stop(SIGTERM, std::chrono::seconds(30));
  if (!ready) {
    std::cerr << "Not all " << options.instances << " instances became ready within "
              << options.timeoutSeconds << " s\n";
    return -1;
  }
  return seconds;
}

}  // namespace

int runServices(const ServicesOptions& options) {
  std::vector<double> runs;
  for (int i = 0; i < options.runs; ++i) {
    double s = runOnce(options);
    if (s < 0) return 1;
    std::cerr << "run " << i + 1 << ": " << s << " s\n";
    runs.push_back(s);
  }
  std::sort(runs.begin(), runs.end());
  Report report("services_scale");
  report.add("instances", static_cast<long long>(options.instances));
  report.add("seconds", runs[runs.size() / 2], 2);
  report.add("min_seconds", runs.front(), 2);
  report.add("max_seconds", runs.back(), 2);
  report.add("runs", static_cast<long long>(runs.size()));
  report.add("health_checks", static_cast<long long>(options.http ? 1 : 0));
  return report.emit(options.out) ? 0 : 1;
}

}  // namespace tutti::bench
