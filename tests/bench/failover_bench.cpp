// failover: ZooKeeper, three masters (processes), N agents and their tasks;
// kill -9 the leader and time, from the kill, until its ZooKeeper session
// ends (its election node disappears), a new leader is elected, and every
// agent is back with it (with its tasks).
//
// Real mode: N tutti-agent processes and a framework with one task per
// agent; also timed: the framework back with all its tasks.
// Emulated mode: N emulated agents (AgentEmulator, following the leader
// through ZooKeeper) and T tasks launched by emulated frameworks; an agent
// is back when the new leader answered its re-registration, which it does
// once it has taken the agent's tasks in (as Mesos's MasterFailover
// benchmark measures).
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "common/host.hpp"
#include "common/http.hpp"
#include "common/zookeeper.hpp"
#include "tests/bench/agent_emulator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/framework_emulator.hpp"
#include "tests/bench/report.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/reaper.hpp"
#include "tests/fixtures/zookeeper_server.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::bench {

namespace {
using Clock = std::chrono::steady_clock;

bool elected(int port) {
  auto m = testing::getJson(port, "/metrics/snapshot");
  return m.is_object() && m.value("master/elected", 0.0) == 1.0;
}


// The last `lines` lines of a log file (for failure reports).
std::string tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// Deadlines grow with the size of the run, so that a tiny run that is stuck
// fails with a message well before ctest's timeout.
std::chrono::milliseconds scaled(std::chrono::seconds base, double perItemMs, int64_t items) {
  return base + std::chrono::milliseconds(static_cast<int64_t>(perItemMs * items));
}

// Where launched tasks are when they do not all reach TASK_RUNNING: the
// emulated frameworks' and agents' counts and the leader's task metrics.
std::string stuckReport(const FrameworkEmulator& frameworks, const AgentEmulator& agents,
                        int leaderPort) {
  FrameworkEmulatorStats f = frameworks.stats();
  AgentEmulatorStats a = agents.stats();
  std::string out = "failover: frameworks launched=" + std::to_string(f.launched) +
                    " running=" + std::to_string(f.running) +
                    " failed=" + std::to_string(f.failed) +
                    " relaunched=" + std::to_string(f.relaunched) +
                    " offers=" + std::to_string(f.offers) + "; agents launched=" +
                    std::to_string(a.tasksLaunched) + " active=" + std::to_string(a.tasksActive) +
                    " updates_sent=" + std::to_string(a.updatesSent) +
                    " acks=" + std::to_string(a.acks) + "\n" + frameworks.describe();
  auto metrics = testing::getJson(leaderPort, "/metrics/snapshot");
  if (metrics.is_object()) {
    out += "failover: leader";
    for (const char* key :
         {"master/tasks_staging", "master/tasks_starting", "master/tasks_running",
          "master/tasks_lost", "master/tasks_dropped", "master/tasks_error", "master/tasks_failed",
          "master/outstanding_offers", "master/messages_dropped",
          "master/invalid_status_updates", "master/frameworks_active"}) {
      if (metrics.contains(key)) out += " " + std::string(key) + "=" + metrics[key].dump();
    }
    out += "\n";
  }
  return out;
}

// Three master processes electing through ZooKeeper at `url`.
struct Masters {
  std::vector<std::unique_ptr<testing::TempDir>> dirs;
  std::vector<testing::MasterProcess> processes;
  int leader = -1;
  // Starts them and waits for a leader; false when none was elected.
  bool start(const std::string& url, const std::string& sessionTimeout) {
    for (int i = 0; i < 3; ++i) {
      dirs.push_back(std::make_unique<testing::TempDir>());
      processes.push_back(testing::startMasterProcess(
          dirs.back()->path(), {"--zk=" + url, "--zk_session_timeout=" + sessionTimeout}));
    }
    testing::waitUntil([&] {
      for (int i = 0; i < 3; ++i) {
        if (elected(processes[i].httpPort)) leader = i;
      }
      return leader >= 0;
    });
    return leader >= 0;
  }
  // Prints `what` and the end of every master's log; returns 1.
  int fail(const std::string& what) {
    std::fprintf(stderr, "failover: %s\n", what.c_str());
    for (size_t i = 0; i < processes.size(); ++i) {
      std::fprintf(stderr, "--- master %zu%s, last lines of its log:\n%s\n", i,
                   static_cast<int>(i) == leader ? " (the first leader)" : "",
                   tail(processes[i].process.log(), 15).c_str());
    }
    return 1;
  }
};

// Counts the masters' election nodes, from outside (its own session).
class ElectionNodes {
 public:
  explicit ElectionNodes(const std::string& servers)
      : loop_(RealClock::instance()),
        client_(loop_, ZooKeeper::Options{servers, std::chrono::seconds(30)}, nullptr) {
    client_.start();
  }
  size_t count() {
    std::optional<size_t> n;
    client_.getChildren("/tutti", [&](Result<std::vector<std::string>> c) {
      size_t k = 0;
      if (c.ok()) {
        for (const auto& x : *c) k += x.rfind("json.info_", 0) == 0;
      }
      n = k;
    });
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!n && Clock::now() < deadline) loop_.runOnce(std::chrono::milliseconds(5));
    return n.value_or(0);
  }

 private:
  Loop loop_;
  ZooKeeper client_;
};

int runFailoverEmulated(const FailoverOptions& options) {
  testing::ZooKeeperServer zk;
  zk.start();
  std::string url = zk.url("/tutti");
  std::string timeout = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(options.zkSessionTimeout).count()) + "ms";
  Masters m;
  if (!m.start(url, timeout)) {
    std::fprintf(stderr, "failover: no leader elected\n");
    return 1;
  }
  auto& masters = m.processes;
  int leader = m.leader;
  AgentEmulatorOptions ao;
  ao.agents = options.agents;
  ao.connections = options.connections;
  AgentEmulator agents(ao);  // tasks run until killed
  if (Status s = agents.start(url); !s.ok()) {
    std::fprintf(stderr, "failover: %s\n", s.message().c_str());
    return 1;
  }
  if (!testing::waitUntil([&] { return agents.stats().registeredNow == options.agents; },
                          scaled(std::chrono::seconds(20), 2, options.agents))) {
    return m.fail("only " + std::to_string(agents.stats().registeredNow) + " of " +
                  std::to_string(options.agents) + " agents registered");
  }
  FrameworkEmulatorOptions fo;
  fo.frameworks = options.frameworks;
  fo.tasks = options.tasks;
  fo.maxInFlight = 200;
  FrameworkEmulator frameworks(fo);
  if (Status s = frameworks.start(url); !s.ok()) {
    std::fprintf(stderr, "failover: %s\n", s.message().c_str());
    return 1;
  }
  // Long enough for a status update lost on the way (a connection dropped
  // under load) to be sent again: agents retry after 10 s, then 20 s.
  if (!testing::waitUntil([&] { return frameworks.stats().running >= options.tasks; },
                          scaled(std::chrono::seconds(45), 2, options.tasks))) {
    std::fprintf(stderr, "%s", stuckReport(frameworks, agents, masters[leader].httpPort).c_str());
    return m.fail("only " + std::to_string(frameworks.stats().running) + " of " +
                  std::to_string(options.tasks) + " tasks are running");
  }
  ElectionNodes nodes(zk.servers());
  testing::waitUntil([&] { return nodes.count() == 3; });

  int64_t leadersBefore = agents.stats().leaderChanges;
  int64_t resubscribedBefore = frameworks.stats().resubscribed;
  auto kill = Clock::now();
  int64_t killNs = steadyNowNs();
  masters[leader].process.stop(SIGKILL);
  double zkSession = -1, electedMs = -1, agentsBack = -1, frameworksBack = -1;
  int next = -1;
  double backDeadlineMs = static_cast<double>(
      scaled(std::chrono::seconds(20), 2, options.agents).count());
  while (msSince(kill) < backDeadlineMs &&
         (agentsBack < 0 || zkSession < 0 || electedMs < 0 || frameworksBack < 0)) {
    if (zkSession < 0 && nodes.count() == 2) zkSession = msSince(kill);
    if (electedMs < 0) {
      for (int i = 0; i < 3; ++i) {
        if (i != leader && elected(masters[i].httpPort)) {
          next = i;
          electedMs = msSince(kill);
        }
      }
    }
    AgentEmulatorStats a = agents.stats();
    if (agentsBack < 0 && a.leaderChanges > leadersBefore && a.registeredNow == options.agents) {
      agentsBack = static_cast<double>(a.lastRegisteredNs - killNs) / 1e6;
    }
    FrameworkEmulatorStats f = frameworks.stats();
    if (frameworksBack < 0 && f.resubscribed - resubscribedBefore >= options.frameworks) {
      frameworksBack = static_cast<double>(f.lastResubscribedNs - killNs) / 1e6;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval
  }
  // The new leader holds every task again.
  bool tasksBack = next >= 0 && testing::waitUntil(
                                    [&] {
                                      auto m = testing::getJson(masters[next].httpPort,
                                                                "/metrics/snapshot");
                                      return m.is_object() &&
                                             m.value("master/tasks_running", 0.0) >=
                                                 static_cast<double>(options.tasks);
                                    },
                                    scaled(std::chrono::seconds(20), 0.5, options.tasks));
  if (next >= 0) logLoopProfile("failover", masters[next].httpPort);  // the new leader's
  AgentEmulatorStats last = agents.stats();
  frameworks.stop();
  agents.stop();
  if (agentsBack < 0 || !tasksBack || frameworksBack < 0) {
    std::string why = "zk session " + std::string(zkSession < 0 ? "never expired" : "expired") +
                      "; new leader: " + (next < 0 ? "none" : std::to_string(next)) +
                      "; agents back: " + (agentsBack < 0 ? "no" : "yes") + " (" +
                      std::to_string(last.registeredNow) + " registered, " +
                      std::to_string(last.leaderChanges - leadersBefore) +
                      " leader changes seen); tasks back: " + (tasksBack ? "yes" : "no") +
                      "; frameworks back: " + (frameworksBack < 0 ? "no" : "yes");
    int rc = m.fail(why);
    testing::killAllDescendants();
    return rc;
  }
  testing::killAllDescendants();
  Report r("failover");
  r.add("agents", static_cast<long long>(options.agents));
  r.add("tasks", static_cast<long long>(options.tasks));
  r.add("zk_session_ms", zkSession, 0);
  r.add("elected_ms", electedMs, 0);
  r.add("agents_back_ms", agentsBack, 0);
  r.add("framework_back_ms", frameworksBack, 0);
  return r.emit(options.out) ? 0 : 1;
}
}  // namespace

int runFailover(const FailoverOptions& options) {
  if (options.emulated) return runFailoverEmulated(options);
  testing::ZooKeeperServer zk;
  zk.start();
  std::string url = zk.url("/tutti");
  std::string timeout = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(options.zkSessionTimeout).count()) + "ms";
  Masters m;
  if (!m.start(url, timeout)) {
    std::fprintf(stderr, "failover: no leader elected\n");
    return 1;
  }
  auto& masters = m.processes;
  int leader = m.leader;

  std::vector<testing::ProcessHandle> agents;
  std::vector<std::unique_ptr<testing::TempDir>> agentDirs;
  for (int i = 0; i < options.agents; ++i) {
    agentDirs.push_back(std::make_unique<testing::TempDir>());
    agents.push_back(testing::startProcess(
        {testing::binary("tutti-agent"), "--master=" + url, "--ip=127.0.0.1",
         "--port=" + std::to_string(testing::freePort()),
         "--message_port=" + std::to_string(testing::freePort()),
         "--work_dir=" + agentDirs.back()->path() + "/work", "--resources=cpus:1;mem:256",
         "--registration_backoff_factor=50ms", "--zk_session_timeout=" + timeout},
        agentDirs.back()->path() + "/agent.log"));
  }
  auto slaves = [&](int port) {
    auto s = testing::getJson(port, "/master/slaves");
    return s.is_object() ? s["slaves"].size() : size_t{0};
  };
  if (!testing::waitUntil([&] { return slaves(masters[leader].httpPort) == size_t(options.agents); },
                          std::chrono::seconds(120))) {
    std::fprintf(stderr, "failover: agents did not register\n");
    return 1;
  }

  // A framework with one task on every agent. The new leader offers what
  // the tasks leave free again (filters are not part of the registry), so
  // agents that already have their task get declined.
  testing::RecordingScheduler scheduler;
  auto launched = std::make_shared<std::set<std::string>>();  // driver thread only
  scheduler.onOffers = [launched](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->insert(o.agentId.value).second) {
        d->declineOffer(o.id, Filters{3600});
        continue;
      }
      d->launchTasks({o.id}, {testing::commandTask("t" + std::to_string(launched->size()),
                                                   "exec sleep 3600", o, "cpus:0.5;mem:64")},
                     Filters{3600});
    }
  };
  FrameworkInfo info;
  info.name = "failover-bench";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 3600;
  info.capabilities = {FrameworkCapability::PARTITION_AWARE};
  TuttiSchedulerDriver driver(&scheduler, info, url);
  driver.start();
  int tasks = options.agents;
  if (!scheduler.waitForUpdates([&](const std::vector<TaskStatus>& updates) {
        int running = 0;
        for (const auto& u : updates) running += u.state == TaskState::TASK_RUNNING;
        return running >= tasks;
      }, std::chrono::seconds(120))) {
    std::fprintf(stderr, "failover: tasks did not start\n");
    return 1;
  }
  FrameworkID fwId = *scheduler.frameworkId();

  // Watch the election nodes from outside.
  Loop loop(RealClock::instance());
  ZooKeeper client(loop, ZooKeeper::Options{zk.servers(), std::chrono::seconds(30)}, nullptr);
  client.start();
  size_t nodes = 0;
  auto countNodes = [&] {
    std::optional<size_t> n;
    client.getChildren("/tutti", [&](Result<std::vector<std::string>> c) {
      size_t k = 0;
      if (c.ok()) {
        for (const auto& x : *c) k += x.rfind("json.info_", 0) == 0;
      }
      n = k;
    });
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!n && Clock::now() < deadline) loop.runOnce(std::chrono::milliseconds(5));
    return n.value_or(0);
  };
  testing::waitUntil([&] { return (nodes = countNodes()) == 3; });

  auto kill = Clock::now();
  masters[leader].process.stop(SIGKILL);
  double zkSession = -1, electedMs = -1, agentsBack = -1, frameworkBack = -1;
  int next = -1;
  while (msSince(kill) < 120'000 && frameworkBack < 0) {
    if (zkSession < 0 && countNodes() == 2) zkSession = msSince(kill);
    if (electedMs < 0) {
      for (int i = 0; i < 3; ++i) {
        if (i != leader && elected(masters[i].httpPort)) {
          next = i;
          electedMs = msSince(kill);
        }
      }
    }
    if (next >= 0 && agentsBack < 0 && slaves(masters[next].httpPort) == size_t(options.agents)) {
      agentsBack = msSince(kill);
    }
    if (next >= 0 && agentsBack >= 0) {
      auto state = testing::getJson(masters[next].httpPort, "/master/state");
      if (state.is_object()) {
        for (const auto& fw : state["frameworks"]) {
          if (fw["id"] != fwId.value || !fw["connected"].get<bool>()) continue;
          int running = 0;
          for (const auto& t : fw["tasks"]) running += t["state"] == "TASK_RUNNING";
          if (running == tasks) frameworkBack = msSince(kill);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  driver.stop();
  driver.join();
  for (auto& a : agents) a.stop(SIGTERM, std::chrono::seconds(10));
  testing::killAllDescendants();
  std::printf("failover agents=%d tasks=%d zk_session_ms=%.0f elected_ms=%.0f agents_back_ms=%.0f "
              "framework_back_ms=%.0f zk_session_timeout_ms=%lld\n",
              options.agents, tasks, zkSession, electedMs, agentsBack, frameworkBack,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(options.zkSessionTimeout).count()));
  return frameworkBack >= 0 ? 0 : 1;
}

}  // namespace tutti::bench
