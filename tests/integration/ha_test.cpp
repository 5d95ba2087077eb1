// Integration: masters elected through a real ZooKeeper; failover of the
// leader with an agent and a scheduler following it.
#include <gtest/gtest.h>
#include <signal.h>

#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/zookeeper_server.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

bool isLeader(const MasterProcess& m) {
  auto metrics = getJson(m.httpPort, "/metrics/snapshot");
  return metrics.is_object() && metrics.value("master/elected", 0.0) == 1.0;
}

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
  }
  auto state = getJson(masters_[leader].httpPort, "/master/state");
  ASSERT_TRUE(state.is_object());
}

TEST_F(HighAvailabilityTest, KillingTheLeaderLosesNoTask) {
  TempDir agentDir;
  AgentProcess agent;
  {
    // The agent follows the leader through ZooKeeper.
    agent.httpPort = freePort();
    agent.messagePort = freePort();
    agent.process = startProcess(
        {binary("tutti-agent"), "--master=" + zk_.url("/tutti"), "--ip=127.0.0.1",
         "--port=" + std::to_string(agent.httpPort),
         "--message_port=" + std::to_string(agent.messagePort),
         "--work_dir=" + agentDir.path() + "/work", "--resources=cpus:4;mem:4096",
         "--registration_backoff_factor=50ms", "--zk_session_timeout=2secs"},
        agentDir.path() + "/agent.log");
    ASSERT_TRUE(waitUntil([&] {
      auto state = getJson(agent.httpPort, "/state");
      return state.is_object() && state.value("state", "") == "REGISTERED";
    })) << agent.process.log();
  }

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
