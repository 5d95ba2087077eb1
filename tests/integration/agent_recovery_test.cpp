// Integration: a real tutti-agent process killed with SIGKILL and restarted
// with the same --work_dir keeps its executors and tasks (checkpoint and
// recovery, DESIGN §8): the executors re-subscribe, the agent re-registers
// under its old id, a task that finished while the agent was down is
// reported, and every terminal update reaches the scheduler once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common/host.hpp"
#include "common/process.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

pid_t readPid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

void touch(const std::string& path) { std::ofstream(path) << "go\n"; }

// A task that runs until `<dir>/<name>.go` appears.
std::string waitingCommand(const std::string& dir, const std::string& name) {
  return "echo $$ > " + dir + "/" + name + ".pid; while [ ! -e " + dir + "/" + name +
         ".go ]; do sleep 0.05; done; echo " + name + "-done";
}

// On the first offer, launches a waiting task per name; declines the rest.
void launchWaitingOnce(RecordingScheduler& scheduler, const std::string& dir,
                       std::vector<std::string> names) {
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched, dir, names](SchedulerDriver* d,
                                              const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id, Filters{3600});
        continue;
      }
      std::vector<TaskInfo> tasks;
      for (const auto& n : names) tasks.push_back(commandTask(n, waitingCommand(dir, n), o));
      d->launchTasks({o.id}, tasks);
    }
  };
}

FrameworkInfo checkpointingFramework() {
  FrameworkInfo info;
  info.name = "recovery";
  info.user = currentUserName();
  info.checkpoint = true;
  return info;
}

size_t countState(RecordingScheduler& s, const std::string& task, TaskState state) {
  size_t n = 0;
  for (const auto& u : s.updates()) n += u.taskId.value == task && u.state == state;
  return n;
}

TEST(AgentRecoveryTest, TasksSurviveAnAgentKilledWithSigkill) {
  TempDir masterDir, agentDir, taskDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();
  auto slaves = getJson(master.httpPort, "/master/slaves")["slaves"];
  ASSERT_EQ(slaves.size(), 1u);
  std::string agentId = slaves[0]["id"];

  RecordingScheduler scheduler;
  std::string dir = taskDir.path();
  launchWaitingOnce(scheduler, dir, {"a", "b"});
  FrameworkInfo info = checkpointingFramework();
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("a"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler.waitForState(TaskID("b"), TaskState::TASK_RUNNING));
  pid_t a = 0, b = 0;
  ASSERT_TRUE(waitUntil([&] {
    a = readPid(dir + "/a.pid");
    b = readPid(dir + "/b.pid");
    return a > 0 && b > 0;
  }));

  // The agent dies; task a finishes while it is away.
  agent.process.stop(SIGKILL);
  touch(dir + "/a.go");
  ASSERT_TRUE(waitUntil([&] { return !processExists(a); }));
  EXPECT_TRUE(processExists(b)) << "task b died with the agent";

  // Restarted with the same work dir (and --message_port=0: the executors'
  // endpoint comes from the checkpoint).
  AgentProcess again = startAgentProcess(master, agentDir.path(), {"--message_port=0"});
  ASSERT_TRUE(again.process.alive()) << again.process.log();
  EXPECT_NE(again.process.log().find("re-subscribed"), std::string::npos) << again.process.log();
  slaves = getJson(master.httpPort, "/master/slaves")["slaves"];
  ASSERT_EQ(slaves.size(), 1u) << slaves;
  EXPECT_EQ(slaves[0]["id"], agentId);

  ASSERT_TRUE(scheduler.waitForState(TaskID("a"), TaskState::TASK_FINISHED));
  EXPECT_TRUE(processExists(b));
  auto runningAtMaster = [&](const std::string& task) {
    auto state = getJson(master.httpPort, "/master/state");
    for (const auto& fw : state["frameworks"]) {
      for (const auto& t : fw["tasks"]) {
        if (t["id"] == task) return t["state"] == "TASK_RUNNING";
      }
    }
    return false;
  };
  EXPECT_TRUE(waitUntil([&] { return runningAtMaster("b"); }));

  touch(dir + "/b.go");
  ASSERT_TRUE(scheduler.waitForState(TaskID("b"), TaskState::TASK_FINISHED));
  // Once every update is acknowledged, nothing is left to re-send: each
  // terminal update arrived exactly once.
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(again.httpPort, "/metrics/snapshot");
    return m.is_object() && m.value("slave/status_updates_pending", -1.0) == 0.0;
  }));
  EXPECT_EQ(countState(scheduler, "a", TaskState::TASK_FINISHED), 1u);
  EXPECT_EQ(countState(scheduler, "b", TaskState::TASK_FINISHED), 1u);
  EXPECT_EQ(countState(scheduler, "a", TaskState::TASK_FAILED), 0u);
  EXPECT_EQ(countState(scheduler, "b", TaskState::TASK_FAILED), 0u);
  driver.stop();
  driver.join();

  // A restart with other resources is refused rather than guessed at.
  again.process.stop(SIGKILL);
  CommandResult refused = runCommand(
      {binary("tutti-agent"), "--master=" + master.address(), "--ip=127.0.0.1",
       "--port=" + std::to_string(freePort()), "--message_port=0",
       "--work_dir=" + agentDir.path() + "/work", "--resources=cpus:8;mem:4096"},
      std::chrono::seconds(30));
  EXPECT_EQ(refused.exitCode, 1) << refused.output;
  EXPECT_NE(refused.output.find("resources changed"), std::string::npos) << refused.output;
}

// A task group under a default executor survives an agent killed with
// SIGKILL: the executor re-subscribes, a task that ends while the agent is
// away is reported once, and the group still ends together afterwards.
TEST(AgentRecoveryTest, ATaskGroupSurvivesAnAgentKilledWithSigkill) {
  TempDir masterDir, agentDir, taskDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();

  RecordingScheduler scheduler;
  std::string dir = taskDir.path();
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched, dir](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id, Filters{3600});
        continue;
      }
      ExecutorInfo pod;
      pod.executorId = ExecutorID("pod");
      pod.resources = *Resources::parse("cpus:0.1;mem:32");
      // "fails" exits 3 once told to: its end takes "stays" down with it.
      std::vector<TaskInfo> tasks = {
          commandTask("ends", waitingCommand(dir, "ends"), o),
          commandTask("fails", waitingCommand(dir, "fails") + "; exit 3", o),
          commandTask("stays", waitingCommand(dir, "stays"), o)};
      d->acceptOffers({o.id}, {Offer::Operation::launchGroup(pod, tasks)}, Filters{});
    }
  };
  FrameworkInfo info = checkpointingFramework();
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  driver.start();
  for (const char* t : {"ends", "fails", "stays"}) {
    ASSERT_TRUE(scheduler.waitForState(TaskID(t), TaskState::TASK_RUNNING)) << t;
  }
  pid_t ends = 0, stays = 0;
  ASSERT_TRUE(waitUntil([&] {
    ends = readPid(dir + "/ends.pid");
    stays = readPid(dir + "/stays.pid");
    return ends > 0 && stays > 0 && readPid(dir + "/fails.pid") > 0;
  }));

  agent.process.stop(SIGKILL);
  touch(dir + "/ends.go");
  ASSERT_TRUE(waitUntil([&] { return !processExists(ends); }));
  EXPECT_TRUE(processExists(stays)) << "the group died with the agent";

  AgentProcess again = startAgentProcess(master, agentDir.path(), {"--message_port=0"});
  ASSERT_TRUE(again.process.alive()) << again.process.log();
  ASSERT_TRUE(scheduler.waitForState(TaskID("ends"), TaskState::TASK_FINISHED));
  EXPECT_EQ(scheduler.stateOf(TaskID("stays")), TaskState::TASK_RUNNING);

  // The executor still holds the group together.
  touch(dir + "/fails.go");
  ASSERT_TRUE(scheduler.waitForState(TaskID("fails"), TaskState::TASK_FAILED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("stays"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] { return !processExists(stays); }));
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(again.httpPort, "/metrics/snapshot");
    return m.is_object() && m.value("slave/status_updates_pending", -1.0) == 0.0;
  }));
  EXPECT_EQ(countState(scheduler, "ends", TaskState::TASK_FINISHED), 1u);
  EXPECT_EQ(countState(scheduler, "stays", TaskState::TASK_KILLED), 1u);
  driver.stop();
  driver.join();
}

// The parent of `pid` (from /proc), or 0.
pid_t parentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  char state;
  pid_t ppid = 0;
  fields >> state >> ppid;
  return ppid;
}

// Without checkpointing nothing outlives the agent (as in Mesos): the
// executor sees the agent's connection close and kills its task at once,
// rather than leaving it running unwatched until the recovery timeout.
TEST(AgentRecoveryTest, WithoutCheckpointingTasksEndWithTheirAgent) {
  TempDir masterDir, agentDir, taskDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();
  RecordingScheduler scheduler;
  std::string dir = taskDir.path();
  launchWaitingOnce(scheduler, dir, {"a"});
  FrameworkInfo info = checkpointingFramework();
  info.checkpoint = false;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("a"), TaskState::TASK_RUNNING));
  pid_t task = 0;
  ASSERT_TRUE(waitUntil([&] { return (task = readPid(dir + "/a.pid")) > 0; }));
  pid_t executor = parentOf(task);
  ASSERT_GT(executor, 1);

  agent.process.stop(SIGKILL);
  // Well within the recovery timeout (15 min) and the executor's own
  // heartbeat watch (15 s): the connection's close is the signal.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  EXPECT_TRUE(waitUntil([&] { return !processExists(task) && !processExists(executor); }))
      << "the task or its executor outlived the agent";
  EXPECT_LT(std::chrono::steady_clock::now(), deadline);
  driver.stop();
  driver.join();
}

// An executor that dies while the agent is away ends its task TASK_FAILED
// once the agent is back; --recover=cleanup kills what is left and starts
// a new agent.
TEST(AgentRecoveryTest, DeadExecutorsFailTheirTasksAndCleanupStartsAfresh) {
  TempDir masterDir, agentDir, taskDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();
  std::string agentId = getJson(master.httpPort, "/master/slaves")["slaves"][0]["id"];

  RecordingScheduler scheduler;
  std::string dir = taskDir.path();
  launchWaitingOnce(scheduler, dir, {"doomed", "kept"});
  TuttiSchedulerDriver driver(&scheduler, checkpointingFramework(), master.address());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("doomed"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler.waitForState(TaskID("kept"), TaskState::TASK_RUNNING));
  auto state = getJson(agent.httpPort, "/state");
  pid_t doomedExecutor = 0;
  for (const auto& fw : state["frameworks"]) {
    for (const auto& ex : fw["executors"]) {
      if (ex["id"] == "doomed") doomedExecutor = ex.value("pid", 0);
    }
  }
  ASSERT_GT(doomedExecutor, 0) << state;
  pid_t kept = 0;
  ASSERT_TRUE(waitUntil([&] { return (kept = readPid(dir + "/kept.pid")) > 0; }));

  agent.process.stop(SIGKILL);
  ::kill(-doomedExecutor, SIGKILL);  // the executor and its task
  ASSERT_TRUE(waitUntil([&] { return !processExists(doomedExecutor); }));

  AgentProcess again = startAgentProcess(master, agentDir.path(), {"--message_port=0"});
  ASSERT_TRUE(again.process.alive()) << again.process.log();
  EXPECT_EQ(getJson(master.httpPort, "/master/slaves")["slaves"][0]["id"], agentId);
  ASSERT_TRUE(scheduler.waitForState(TaskID("doomed"), TaskState::TASK_FAILED));
  EXPECT_TRUE(processExists(kept));
  EXPECT_EQ(scheduler.stateOf(TaskID("kept")), TaskState::TASK_RUNNING);

  // --recover=cleanup: the old executors are killed and the agent comes
  // back under a new id.
  again.process.stop(SIGKILL);
  AgentProcess fresh =
      startAgentProcess(master, agentDir.path(), {"--message_port=0", "--recover=cleanup"});
  ASSERT_TRUE(fresh.process.alive()) << fresh.process.log();
  EXPECT_TRUE(waitUntil([&] { return !processExists(kept); }));
  bool newId = waitUntil([&] {
    auto slaves = getJson(master.httpPort, "/master/slaves");
    for (const auto& s : slaves["slaves"]) {
      if (s["id"] != agentId) return true;
    }
    return false;
  });
  EXPECT_TRUE(newId) << getJson(master.httpPort, "/master/slaves") << fresh.process.log();
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing
