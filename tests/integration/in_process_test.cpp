// Integration: master, agent and scheduler driver in one process, with real
// sockets, real executors and the transports' filter hook for partitions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "common/process.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

FrameworkInfo framework(bool partitionAware = false) {
  FrameworkInfo f;
  f.name = "test";
  f.user = "tester";
  if (partitionAware) f.capabilities = {FrameworkCapability::PARTITION_AWARE};
  return f;
}

// Launches `command` on the first offer it sees, once.
void launchOnce(RecordingScheduler& s, const std::string& id, const std::string& command) {
  auto launched = std::make_shared<std::atomic<bool>>(false);
  s.onOffers = [launched, id, command](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->exchange(true)) {
        d->launchTasks({o.id}, {commandTask(id, command, o)});
      } else {
        d->declineOffer(o.id);
      }
    }
  };
}

TEST(InProcessTest, DriverKillEndsTaskKilledAndTheWholeGroupIsGone) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t",
             "sleep 1000 & echo $! >> " + pids + "; echo $$ >> " + pids + "; wait");
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::vector<pid_t> taskPids;
  ASSERT_TRUE(waitUntil([&] {
    taskPids.clear();
    std::ifstream in(pids);
    pid_t x;
    while (in >> x) taskPids.push_back(x);
    return taskPids.size() == 2;
  }));
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] {
    for (pid_t p : taskPids) {
      if (processExists(p)) return false;
    }
    return true;
  }));
  // The master saw the whole life of the task.
  auto state = getJson(master->httpPort(), "/master/state");
  ASSERT_TRUE(state.is_object());
  driver.stop();
  driver.join();
}

TEST(InProcessTest, SilentAgentBecomesUnreachableAndItsTasksAreReported) {
  auto options = testMasterOptions();
  options.agentPingTimeout = std::chrono::milliseconds(100);
  options.maxAgentPingTimeouts = 3;
  auto master = StartMaster(options);
  auto agent = StartAgent(*master);

  RecordingScheduler plain, aware;
  launchOnce(plain, "plain", "sleep 1000");
  launchOnce(aware, "aware", "sleep 1000");
  TuttiSchedulerDriver d1(&plain, framework(false), master->messageAddress());
  TuttiSchedulerDriver d2(&aware, framework(true), master->messageAddress());
  d1.start();
  ASSERT_TRUE(plain.waitForState(TaskID("plain"), TaskState::TASK_RUNNING));
  d2.start();
  ASSERT_TRUE(aware.waitForState(TaskID("aware"), TaskState::TASK_RUNNING));

  // A partition: the master no longer hears the agent's pongs.
  master->transport().setFilter([](Transport::Direction d, const ConnectionId&,
                                   const wire::Payload& m) {
    return d == Transport::Direction::kInbound && std::holds_alternative<wire::PongMessage>(m)
               ? Transport::FilterAction::kDrop
               : Transport::FilterAction::kDeliver;
  });
  ASSERT_TRUE(plain.waitForState(TaskID("plain"), TaskState::TASK_LOST));
  ASSERT_TRUE(aware.waitForState(TaskID("aware"), TaskState::TASK_UNREACHABLE));
  auto metrics = getJson(master->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(metrics["master/slaves_unreachable"], 1.0);
  EXPECT_EQ(metrics["master/tasks_unreachable"], 1.0);
  master->transport().setFilter(nullptr);
  d1.stop();
  d2.stop();
  d1.join();
  d2.join();
}

TEST(InProcessTest, StatusUpdatesAreRetriedUntilAcknowledged) {
  auto master = StartMaster();
  auto agentOptions = testAgentOptions("", "");
  agentOptions.statusUpdateRetryIntervalMin = std::chrono::milliseconds(200);
  auto agent = StartAgent(*master, agentOptions);

  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "sleep 1000");
  SchedulerDriverOptions driverOptions;
  driverOptions.implicitAcknowledgements = false;
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress(), driverOptions);
  driver.start();

  // Unacknowledged, TASK_STARTING (the first update) comes again and again;
  // nothing after it is sent while it waits.
  ASSERT_TRUE(scheduler.waitForUpdates([](const std::vector<TaskStatus>& updates) {
    int starting = 0;
    for (const auto& u : updates) starting += u.state == TaskState::TASK_STARTING;
    return starting >= 3;
  }));
  auto updates = scheduler.updates();
  for (const auto& u : updates) {
    EXPECT_EQ(u.state, TaskState::TASK_STARTING);
    EXPECT_EQ(u.uuid, updates.front().uuid);
  }
  // Acknowledged: the next update (RUNNING) follows.
  driver.acknowledgeStatusUpdate(updates.front());
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  auto running = scheduler.updates().back();
  driver.acknowledgeStatusUpdate(running);
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing
