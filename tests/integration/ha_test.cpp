// Integration: masters elected through a real ZooKeeper; failover of the
// leader with an agent and a scheduler following it.
#include <gtest/gtest.h>
#include <signal.h>

#include "common/zookeeper.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/tcp_proxy.hpp"
#include "common/process.hpp"
#include <fstream>
#include "tests/fixtures/zookeeper_server.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

bool isLeader(const MasterProcess& m) { return isElectedLeader(m); }

int leaderIndex(std::vector<MasterProcess>& masters) {
  int found = -1;
  for (size_t i = 0; i < masters.size(); ++i) {
    if (masters[i].process.alive() && isLeader(masters[i])) {
      if (found >= 0) return -2;  // two leaders: never
      found = static_cast<int>(i);
    }
  }
  return found;
}

class HighAvailabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zk_.start();
    for (int i = 0; i < 3; ++i) {
      dirs_.push_back(std::make_unique<TempDir>());
      masters_.push_back(startMasterProcess(
          dirs_.back()->path(), {"--zk=" + zk_.url("/tutti"), "--zk_session_timeout=2secs"}));
    }
    ASSERT_TRUE(waitUntil([&] { return leaderIndex(masters_) >= 0; }));
  }

  ZooKeeperServer zk_;
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<MasterProcess> masters_;
};

TEST_F(HighAvailabilityTest, OneLeaderStandbysRedirect) {
  int leader = leaderIndex(masters_);
  ASSERT_GE(leader, 0);
  for (size_t i = 0; i < masters_.size(); ++i) {
    if (static_cast<int>(i) == leader) continue;
    // A standby learns the leader through its own watch, a moment later.
    ASSERT_TRUE(waitUntil([&] {
      auto r = httpGet("127.0.0.1", masters_[i].httpPort, "/master/state");
      return r.ok() && r->first == 307;
    })) << "standby " << i;
    auto redirect = httpGet("127.0.0.1", masters_[i].httpPort, "/master/redirect");
    ASSERT_TRUE(redirect.ok());
    EXPECT_EQ(redirect->first, 307);
    // Operator endpoints, maintenance included, are the leader's.
    for (auto [method, path] : {std::pair{"POST", "/master/maintenance/schedule"},
                                {"GET", "/master/maintenance/schedule"},
                                {"GET", "/master/maintenance/status"},
                                {"POST", "/master/machine/down"},
                                {"POST", "/machine/up"}}) {
      auto r = httpRequest(method, "127.0.0.1", masters_[i].httpPort, path, "{}");
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r->first, 307) << method << " " << path;
    }
  }
  auto state = getJson(masters_[leader].httpPort, "/master/state");
  ASSERT_TRUE(state.is_object());
}

TEST_F(HighAvailabilityTest, KillingTheLeaderLosesNoTask) {
  TempDir agentDir;
  // The agent follows the leader through ZooKeeper.
  AgentProcess agent =
      startAgentProcess(zk_.url("/tutti"), agentDir.path(), {"--zk_session_timeout=2secs"});
  ASSERT_TRUE(agent.process.alive());

  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->exchange(true)) {
        d->launchTasks({o.id}, {commandTask("long", "sleep 1000", o)});
      } else {
        d->declineOffer(o.id, Filters{3600});
      }
    }
  };
  FrameworkInfo info;
  info.name = "ha";
  info.user = "tester";
  info.failoverTimeoutSecs = 600;
  info.capabilities = {FrameworkCapability::PARTITION_AWARE};
  TuttiSchedulerDriver driver(&scheduler, info, zk_.url("/tutti"));
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("long"), TaskState::TASK_RUNNING));
  FrameworkID fwId = *scheduler.frameworkId();

  int old = leaderIndex(masters_);
  ASSERT_GE(old, 0);
  ASSERT_NE(masters_[old].process.stop(SIGKILL), -2);

  // A new leader, the agent back with its task, the framework back with
  // its id.
  int leader = -1;
  ASSERT_TRUE(waitUntil([&] {
    leader = leaderIndex(masters_);
    return leader >= 0;
  }, std::chrono::seconds(60)));
  EXPECT_NE(leader, old);
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(masters_[leader].httpPort, "/master/state");
    if (!state.is_object() || state["slaves"].size() != 1) return false;
    for (const auto& fw : state["frameworks"]) {
      if (fw["id"] != fwId.value || !fw["connected"].get<bool>()) continue;
      for (const auto& t : fw["tasks"]) {
        if (t["id"] == "long" && t["state"] == "TASK_RUNNING") return true;
      }
    }
    return false;
  }, std::chrono::seconds(60))) << getJson(masters_[leader].httpPort, "/master/state").dump(1);
  EXPECT_EQ(scheduler.frameworkId(), fwId);
  EXPECT_TRUE(scheduler.errors().empty());
  // The task never stopped.
  EXPECT_EQ(scheduler.stateOf(TaskID("long")), TaskState::TASK_RUNNING);

  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

// Drives a private loop until `condition` holds (for the test's own
// ZooKeeper client).
bool drive(Loop& loop, const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    loop.runOnce(std::chrono::milliseconds(10));
  }
  return condition();
}

TEST(HighAvailabilityGarbageTest, CorruptNodesAreSkippedOrRefusedAndLeftInPlace) {
  ZooKeeperServer zk;
  zk.start();
  Loop loop(RealClock::instance());
  ZooKeeper client(loop, ZooKeeper::Options{zk.servers(), std::chrono::seconds(10)}, nullptr);
  ASSERT_TRUE(client.start().ok());
  ASSERT_TRUE(drive(loop, [&] { return client.state() == ZooKeeper::SessionState::kConnected; }));
  // A garbage election node with the lowest sequence number.
  std::optional<Status> made;
  client.createPath("/tutti", [&](Status s) {
    client.create("/tutti/json.info_", "{not json", ZooKeeper::kSequential,
                  [&](Result<std::string> r) { made = r.status(); });
  });
  ASSERT_TRUE(drive(loop, [&] { return made.has_value(); }));
  ASSERT_TRUE(made->ok()) << *made;

  // A master still gets elected: the garbage is skipped.
  TempDir dir;
  MasterProcess master =
      startMasterProcess(dir.path(), {"--zk=" + zk.url("/tutti"), "--zk_session_timeout=2secs"});
  ASSERT_TRUE(waitUntil([&] { return isLeader(master); })) << master.process.log();
  EXPECT_NE(master.process.log().find("corrupt ZooKeeper node"), std::string::npos);
  master.process.stop(SIGTERM);

  // A corrupt registry node: the next leader cannot recover, says why, steps
  // down (exit 1) and leaves the node alone.
  std::optional<Status> corrupted;
  client.createPath("/tutti/registry/agents", [&](Status) {
    client.create("/tutti/registry/agents/bad", "garbage!", ZooKeeper::kPersistent,
                  [&](Result<std::string> r) { corrupted = r.status(); });
  });
  ASSERT_TRUE(drive(loop, [&] { return corrupted.has_value(); }));
  ASSERT_TRUE(corrupted->ok()) << *corrupted;
  TempDir dir2;
  MasterProcess second =
      startMasterProcess(dir2.path(), {"--zk=" + zk.url("/tutti"), "--zk_session_timeout=2secs"});
  ASSERT_TRUE(waitUntil([&] { return !second.process.alive(); })) << second.process.log();
  int status = second.process.stop(SIGKILL);
  (void)status;
  EXPECT_NE(second.process.log().find("corrupt registry node"), std::string::npos)
      << second.process.log();
  std::optional<Result<std::string>> left;
  client.get("/tutti/registry/agents/bad", [&](Result<std::string> r) { left = r; });
  ASSERT_TRUE(drive(loop, [&] { return left.has_value(); }));
  ASSERT_TRUE(left->ok());
  EXPECT_EQ(left->value(), "garbage!");
}

TEST(LocalRegistryTest, RestartedStandaloneMasterRecoversItsAgents) {
  TempDir dir;
  MasterProcess master = startMasterProcess(dir.path(), {"--agent_reregister_timeout=1mins"});
  TempDir agentDir;
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  ASSERT_TRUE(waitUntil([&] { return getJson(master.httpPort, "/master/slaves")["slaves"].size() == 1; }));
  std::string agentId = getJson(master.httpPort, "/master/slaves")["slaves"][0]["id"];
  int port = master.httpPort, messagePort = master.messagePort;

  // Restart the master on the same ports and work dir.
  master.process.stop(SIGKILL);
  master.process = startProcess(
      {binary("tutti-master"), "--ip=127.0.0.1", "--port=" + std::to_string(port),
       "--message_port=" + std::to_string(messagePort), "--work_dir=" + dir.path()},
      dir.path() + "/master2.log");
  // The agent is known from the registry, and comes back under its id.
  ASSERT_TRUE(waitUntil([&] {
    auto slaves = getJson(port, "/master/slaves");
    return slaves.is_object() && slaves["slaves"].size() == 1 &&
           slaves["slaves"][0]["id"] == agentId;
  }, std::chrono::seconds(120))) << master.process.log();
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

TEST(SessionExpiryTest, LeaderStepsDownAndTasksNeverStop) {
  ZooKeeperServer zk;
  zk.start();
  TcpProxy proxy(zk.port());  // the masters reach ZooKeeper through it
  std::string viaProxy = "zk://127.0.0.1:" + std::to_string(proxy.port()) + "/tutti";
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<MasterProcess> masters;
  std::vector<std::vector<std::string>> flags;
  for (int i = 0; i < 2; ++i) {
    dirs.push_back(std::make_unique<TempDir>());
    masters.push_back(startMasterProcess(dirs.back()->path(),
                                         {"--zk=" + viaProxy, "--zk_session_timeout=2secs"}));
  }
  ASSERT_TRUE(waitUntil([&] { return leaderIndex(masters) >= 0; }));

  TempDir agentDir;
  int agentPort = freePort();
  ProcessHandle agent = startProcess(
      {binary("tutti-agent"), "--master=" + zk.url("/tutti"), "--ip=127.0.0.1",
       "--port=" + std::to_string(agentPort), "--message_port=" + std::to_string(freePort()),
       "--work_dir=" + agentDir.path() + "/work", "--resources=cpus:2;mem:1024",
       "--registration_backoff_factor=50ms"},
      agentDir.path() + "/agent.log");
  std::string pids = agentDir.path() + "/pids";
  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched, pids](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->exchange(true)) {
        d->launchTasks({o.id}, {commandTask("t", "echo $$ > " + pids + "; exec sleep 1000", o)});
      } else {
        d->declineOffer(o.id, Filters{3600});
      }
    }
  };
  FrameworkInfo info;
  info.name = "expiry";
  info.user = "tester";
  info.failoverTimeoutSecs = 600;
  info.capabilities = {FrameworkCapability::PARTITION_AWARE};
  TuttiSchedulerDriver driver(&scheduler, info, zk.url("/tutti"));
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  pid_t taskPid = 0;
  ASSERT_TRUE(waitUntil([&] {
    std::ifstream in(pids);
    return static_cast<bool>(in >> taskPid);
  }));

  // Both masters must hold a session (their election node) before the cut;
  // one that connects only afterwards never loses anything.
  for (auto& m : masters) {
    ASSERT_TRUE(waitUntil([&] {
      return m.process.log().find("Contending for leadership as") != std::string::npos;
    })) << m.process.log();
  }
  // Cut the masters off ZooKeeper for longer than their sessions last.
  proxy.block();
  auto cut = std::chrono::steady_clock::now();
  waitUntil([&] { return std::chrono::steady_clock::now() - cut > std::chrono::seconds(4); },
            std::chrono::seconds(10));
  proxy.unblock();
  // Both learn that their sessions expired and step down (exit 1).
  for (auto& m : masters) {
    ASSERT_TRUE(waitUntil([&] { return !m.process.alive(); }, std::chrono::seconds(60)))
        << m.process.log();
    EXPECT_NE(m.process.log().find("stepping down"), std::string::npos) << m.process.log();
  }
  EXPECT_TRUE(processExists(taskPid)) << "the task stopped while the masters were away";

  // The supervisor (here: the test) restarts them; a leader is elected
  // again and the task is still there.
  for (size_t i = 0; i < masters.size(); ++i) {
    masters[i] = startMasterProcess(dirs[i]->path(),
                                    {"--zk=" + viaProxy, "--zk_session_timeout=2secs"});
  }
  int leader = -1;
  ASSERT_TRUE(waitUntil([&] { return (leader = leaderIndex(masters)) >= 0; },
                        std::chrono::seconds(60)));
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(masters[leader].httpPort, "/master/state");
    if (!state.is_object()) return false;
    for (const auto& fw : state["frameworks"]) {
      for (const auto& t : fw["tasks"]) {
        if (t["id"] == "t" && t["state"] == "TASK_RUNNING") return true;
      }
    }
    return false;
  }, std::chrono::seconds(60)));
  EXPECT_TRUE(processExists(taskPid));
  EXPECT_EQ(scheduler.stateOf(TaskID("t")), TaskState::TASK_RUNNING);
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing
