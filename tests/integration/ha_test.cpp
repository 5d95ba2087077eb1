// Integration: masters elected through a real ZooKeeper; failover of the
// leader with an agent and a scheduler following it.
#include <gtest/gtest.h>
#include <signal.h>

#include "common/host.hpp"
#include "common/zookeeper.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/tcp_proxy.hpp"
#include "common/process.hpp"
#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
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
          dirs_.back()->path(),
          {"--zk=" + zk_.url("/tutti"), "--zk_session_timeout=2secs", "--quorum=2"}));
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

// Three masters (--quorum=2), two agents, a scheduler with a long-running
// task on each agent and one that finishes while no master leads: kill -9
// the leader. A new leader is elected, both agents re-register, the
// framework re-subscribes with its id, the long tasks are still running,
// the finished task's update arrives, and no update was lost or invented
// (a repeat is a retransmission: the same uuid).
TEST_F(HighAvailabilityTest, KillingTheLeaderLosesNoTask) {
  TempDir agentDir1, agentDir2, scratch;
  std::string go = scratch.path() + "/go";
  // The agents follow the leader through ZooKeeper.
  std::vector<AgentProcess> agents;
  for (TempDir* d : {&agentDir1, &agentDir2}) {
    agents.push_back(
        startAgentProcess(zk_.url("/tutti"), d->path(), {"--zk_session_timeout=2secs"}));
    ASSERT_TRUE(agents.back().process.alive());
  }

  RecordingScheduler scheduler;
  struct Launches {
    std::mutex mu;
    std::set<std::string> agents;  // agents with a long task
    bool finisher = false;
  };
  auto launches = std::make_shared<Launches>();
  scheduler.onOffers = [launches, go](SchedulerDriver* d, const std::vector<Offer>& offers) {
    std::lock_guard<std::mutex> lock(launches->mu);
    for (const auto& o : offers) {
      if (launches->agents.insert(o.agentId.value).second) {
        std::vector<TaskInfo> tasks{commandTask("long-" + std::to_string(launches->agents.size()),
                                                "sleep 1000", o)};
        if (!launches->finisher) {
          launches->finisher = true;
          tasks.push_back(commandTask(
              "finisher", "while [ ! -e " + go + " ]; do sleep 0.05; done", o));
        }
        d->launchTasks({o.id}, tasks);
      } else {
        d->declineOffer(o.id, Filters{3600});
      }
    }
  };
  FrameworkInfo info;
  info.name = "ha";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 600;
  info.capabilities = {FrameworkCapability::PARTITION_AWARE};
  TuttiSchedulerDriver driver(&scheduler, info, zk_.url("/tutti"));
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  for (const char* id : {"long-1", "long-2", "finisher"}) {
    ASSERT_TRUE(scheduler.waitForState(TaskID(id), TaskState::TASK_RUNNING,
                                       std::chrono::seconds(60)))
        << id;
  }
  FrameworkID fwId = *scheduler.frameworkId();

  int old = leaderIndex(masters_);
  ASSERT_GE(old, 0);
  ASSERT_NE(masters_[old].process.stop(SIGKILL), -2);
  { std::ofstream(go) << "go"; }  // finishes while no master leads

  // A new leader, both agents back with their tasks, the framework back
  // with its id.
  int leader = -1;
  ASSERT_TRUE(waitUntil([&] {
    leader = leaderIndex(masters_);
    return leader >= 0;
  }, std::chrono::seconds(60)));
  EXPECT_NE(leader, old);
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(masters_[leader].httpPort, "/master/state");
    if (!state.is_object() || state["slaves"].size() != 2) return false;
    int running = 0;
    for (const auto& fw : state["frameworks"]) {
      if (fw["id"] != fwId.value || !fw["connected"].get<bool>()) continue;
      for (const auto& t : fw["tasks"]) running += t["state"] == "TASK_RUNNING";
    }
    return running == 2;
  }, std::chrono::seconds(60))) << getJson(masters_[leader].httpPort, "/master/state").dump(1);
  ASSERT_TRUE(scheduler.waitForState(TaskID("finisher"), TaskState::TASK_FINISHED,
                                     std::chrono::seconds(60)));
  EXPECT_EQ(scheduler.frameworkId(), fwId);
  EXPECT_TRUE(scheduler.errors().empty());
  // The long tasks never stopped.
  EXPECT_EQ(scheduler.stateOf(TaskID("long-1")), TaskState::TASK_RUNNING);
  EXPECT_EQ(scheduler.stateOf(TaskID("long-2")), TaskState::TASK_RUNNING);

  // Every update the agents sent arrived; a repeat carries the uuid of the
  // first (a retransmission); nothing went backwards or was made up.
  std::map<std::pair<std::string, TaskState>, std::string> seen;
  std::map<std::string, std::vector<TaskState>> sequence;
  for (const TaskStatus& u : scheduler.updates()) {
    EXPECT_TRUE(u.state == TaskState::TASK_STARTING || u.state == TaskState::TASK_RUNNING ||
                u.state == TaskState::TASK_FINISHED)
        << u.taskId.value << " " << toString(u.state) << ": " << u.message;
    auto key = std::make_pair(u.taskId.value, u.state);
    auto [it, first] = seen.emplace(key, u.uuid);
    if (!first && !u.uuid.empty() && !it->second.empty()) {
      EXPECT_EQ(it->second, u.uuid) << u.taskId.value << " " << toString(u.state);
    }
    auto& seq = sequence[u.taskId.value];
    if (first) {
      if (!seq.empty()) {
        EXPECT_GT(static_cast<int>(u.state == TaskState::TASK_FINISHED ? 2
                                   : u.state == TaskState::TASK_RUNNING ? 1 : 0),
                  static_cast<int>(seq.back() == TaskState::TASK_FINISHED ? 2
                                   : seq.back() == TaskState::TASK_RUNNING ? 1 : 0))
            << u.taskId.value << " went from " << toString(seq.back()) << " to "
            << toString(u.state);
      }
      seq.push_back(u.state);
    }
  }
  EXPECT_EQ(sequence["finisher"].back(), TaskState::TASK_FINISHED);
  EXPECT_EQ(sequence["long-1"].back(), TaskState::TASK_RUNNING);
  EXPECT_EQ(sequence["long-2"].back(), TaskState::TASK_RUNNING);

  driver.stop();
  driver.join();
}

// --quorum=2: a master alone never leads (all say "no leader"); once a
// second joins, one of them leads.
TEST(QuorumTest, NobodyLeadsUntilAQuorumOfMastersJoined) {
  ZooKeeperServer zk;
  zk.start();
  TempDir d1, d2;
  std::vector<std::string> flags{"--zk=" + zk.url("/tutti"), "--zk_session_timeout=2secs",
                                 "--quorum=2"};
  MasterProcess first = startMasterProcess(d1.path(), flags);
  ASSERT_TRUE(waitUntil([&] {
    return first.process.log().find("1 of the 2 masters of a quorum") != std::string::npos;
  })) << first.process.log();
  EXPECT_FALSE(isLeader(first));
  auto r = httpGet("127.0.0.1", first.httpPort, "/master/state");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 503);
  MasterProcess second = startMasterProcess(d2.path(), flags);
  ASSERT_TRUE(waitUntil([&] { return isLeader(first) || isLeader(second); }))
      << first.process.log() << second.process.log();
  EXPECT_TRUE(isLeader(first));  // the lower node
  EXPECT_FALSE(isLeader(second));
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

// The ZooKeeper registry keeps one node per agent. A write the store
// refuses (here: the agent's node was deleted behind the leader's back, so
// updating it fails) makes the leader step down rather than diverge; the
// standby takes over, and the agent and its task come back to it.
TEST(RegistryWriteTest, RefusedWriteStepsTheLeaderDownAndTheStandbyTakesOver) {
  ZooKeeperServer zk;
  zk.start();
  std::string url = zk.url("/tutti");
  std::vector<std::unique_ptr<TempDir>> dirs;
  std::vector<MasterProcess> masters;
  for (int i = 0; i < 2; ++i) {
    dirs.push_back(std::make_unique<TempDir>());
    masters.push_back(
        startMasterProcess(dirs.back()->path(), {"--zk=" + url, "--zk_session_timeout=2secs"}));
  }
  int old = -1;
  ASSERT_TRUE(waitUntil([&] { return (old = leaderIndex(masters)) >= 0; }));
  TempDir agentDir1, agentDir2;
  AgentProcess agent1 =
      startAgentProcess(url, agentDir1.path(), {"--zk_session_timeout=2secs"});
  AgentProcess agent2 =
      startAgentProcess(url, agentDir2.path(), {"--zk_session_timeout=2secs"});
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "sleep 1000");
  FrameworkInfo info;
  info.name = "registry";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, url);
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::vector<std::string> agentIds;
  ASSERT_TRUE(waitUntil([&] {
    auto slaves = getJson(masters[old].httpPort, "/master/slaves")["slaves"];
    agentIds.clear();
    for (const auto& a : slaves) agentIds.push_back(a["id"]);
    return agentIds.size() == 2;
  }));

  // One znode per agent, named by its id.
  Loop loop(RealClock::instance());
  ZooKeeper client(loop, ZooKeeper::Options{zk.servers(), std::chrono::seconds(10)}, nullptr);
  ASSERT_TRUE(client.start().ok());
  ASSERT_TRUE(drive(loop, [&] { return client.state() == ZooKeeper::SessionState::kConnected; }));
  std::optional<Result<std::vector<std::string>>> children;
  client.getChildren("/tutti/registry/agents",
                     [&](Result<std::vector<std::string>> r) { children = r; });
  ASSERT_TRUE(drive(loop, [&] { return children.has_value(); }));
  ASSERT_TRUE(children->ok()) << children->error();
  std::vector<std::string> nodes = children->value();
  std::sort(nodes.begin(), nodes.end());
  std::sort(agentIds.begin(), agentIds.end());
  EXPECT_EQ(nodes, agentIds);

  // Delete agent 0's node, then make the leader update it (a reservation
  // changes the agent's resources, which the registry keeps).
  std::optional<Status> removed;
  client.remove("/tutti/registry/agents/" + agentIds[0], -1,
                [&](Status s) { removed = s; });
  ASSERT_TRUE(drive(loop, [&] { return removed.has_value(); }));
  ASSERT_TRUE(removed->ok()) << *removed;
  auto reserve = httpRequest("POST", "127.0.0.1", masters[old].httpPort, "/master/reserve",
                             R"({"slave_id": ")" + agentIds[0] +
                                 R"(", "resources": [{"name": "cpus", "type": "SCALAR", )"
                                 R"("scalar": {"value": 0.5}, "reservations": [{"type": )"
                                 R"("DYNAMIC", "role": "eng", "principal": "ops"}]}]})");
  ASSERT_TRUE(reserve.ok());
  ASSERT_TRUE(waitUntil([&] { return !masters[old].process.alive(); }, std::chrono::seconds(30)))
      << reserve->first << " " << reserve->second << "\n"
      << masters[old].process.log();
  EXPECT_NE(masters[old].process.log().find("stepping down"), std::string::npos)
      << masters[old].process.log();

  // The standby leads; both agents and the task are back with it.
  int next = 1 - old;
  ASSERT_TRUE(waitUntil([&] { return isLeader(masters[next]); }, std::chrono::seconds(60)));
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(masters[next].httpPort, "/master/state");
    if (!state.is_object() || state["slaves"].size() != 2) return false;
    for (const auto& fw : state["frameworks"]) {
      for (const auto& t : fw["tasks"]) {
        if (t["id"] == "t" && t["state"] == "TASK_RUNNING") return true;
      }
    }
    return false;
  }, std::chrono::seconds(60))) << getJson(masters[next].httpPort, "/master/state").dump(1);
  EXPECT_EQ(scheduler.stateOf(TaskID("t")), TaskState::TASK_RUNNING);
  driver.stop();
  driver.join();
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

// The command line that restarts `m` on its ports and work dir.
std::vector<std::string> restartFlags(const MasterProcess& m, const std::string& dir,
                                      const std::vector<std::string>& extra) {
  std::vector<std::string> argv{binary("tutti-master"), "--ip=127.0.0.1",
                                "--port=" + std::to_string(m.httpPort),
                                "--message_port=" + std::to_string(m.messagePort),
                                "--work_dir=" + dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// The framework entry of `fw` in /master/state, or null.
nlohmann::json frameworkIn(const nlohmann::json& state, const FrameworkID& fw) {
  if (!state.is_object()) return nullptr;
  for (const auto& f : state["frameworks"]) {
    if (f["id"] == fw.value) return f;
  }
  return nullptr;
}

std::string taskStateIn(const nlohmann::json& state, const FrameworkID& fw, const std::string& id) {
  nlohmann::json f = frameworkIn(state, fw);
  if (f.is_null()) return "";
  for (const auto& t : f["tasks"]) {
    if (t["id"] == id) return t["state"];
  }
  return "";
}

pid_t readPid(const std::string& path) {
  pid_t pid = 0;
  std::ifstream in(path);
  in >> pid;
  return pid;
}

// A standalone master restarted on the same --work_dir (--registry=local)
// recovers as a new leader does: the agent re-registers under its id with
// its task, the framework re-subscribes with its id, the task never stops.
TEST(LocalRegistryTest, RestartedStandaloneMasterRecoversItsAgentsAndTasks) {
  TempDir dir, agentDir;
  std::vector<std::string> flags{"--agent_reregister_timeout=1mins"};
  MasterProcess master = startMasterProcess(dir.path(), flags);
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  std::string pidFile = agentDir.path() + "/pid";
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "echo $$ > " + pidFile + "; exec sleep 1000");
  FrameworkInfo info;
  info.name = "restart";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  FrameworkID fwId = *scheduler.frameworkId();
  std::string agentId = getJson(master.httpPort, "/master/slaves")["slaves"][0]["id"];
  pid_t taskPid = 0;
  ASSERT_TRUE(waitUntil([&] { return (taskPid = readPid(pidFile)) > 0; }));

  master.process.stop(SIGKILL);
  master.process = startProcess(restartFlags(master, dir.path(), flags), dir.path() + "/master2.log");
  int port = master.httpPort;
  // Known from the registry at once; active once it re-registered, with
  // its task; the framework back under its id.
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(port, "/master/state");
    if (!state.is_object() || state["slaves"].size() != 1) return false;
    const auto& a = state["slaves"][0];
    nlohmann::json fw = frameworkIn(state, fwId);
    return a["id"] == agentId && a["active"].get<bool>() && !fw.is_null() &&
           fw["active"].get<bool>() && taskStateIn(state, fwId, "t") == "TASK_RUNNING";
  }, std::chrono::seconds(60))) << master.process.log();
  EXPECT_TRUE(processExists(taskPid));
  EXPECT_EQ(scheduler.frameworkId(), fwId);
  EXPECT_EQ(scheduler.stateOf(TaskID("t")), TaskState::TASK_RUNNING);
  driver.stop();
  driver.join();
}

// An agent that stays away past --agent_reregister_timeout after a
// failover becomes unreachable: frameworks hear the agent is lost, and
// reconciling its tasks gives TASK_UNREACHABLE to a partition-aware
// framework and TASK_LOST to the other. When it comes back, the master
// keeps the partition-aware task and has the other killed, as Mesos does.
TEST(LocalRegistryTest, AgentAwayPastTheReregisterTimeoutBecomesUnreachable) {
  TempDir dir, agentDir;
  std::vector<std::string> flags{"--agent_reregister_timeout=2secs"};
  MasterProcess master = startMasterProcess(dir.path(), flags);
  AgentProcess agent = startAgentProcess(master, agentDir.path());
  struct Framework {
    std::string task;
    bool partitionAware;
    RecordingScheduler scheduler;
    std::unique_ptr<TuttiSchedulerDriver> driver;
    FrameworkID id;
    pid_t pid = 0;
  };
  Framework frameworks[2];
  frameworks[0].task = "aware";
  frameworks[0].partitionAware = true;
  frameworks[1].task = "plain";
  frameworks[1].partitionAware = false;
  for (Framework& f : frameworks) {
    std::string pidFile = agentDir.path() + "/" + f.task + ".pid";
    launchOnce(f.scheduler, f.task, "echo $$ > " + pidFile + "; exec sleep 1000");
    FrameworkInfo info;
    info.name = f.task;
    info.user = currentUserName();
    info.failoverTimeoutSecs = 600;
    if (f.partitionAware) info.capabilities = {FrameworkCapability::PARTITION_AWARE};
    f.driver = std::make_unique<TuttiSchedulerDriver>(&f.scheduler, info, master.address());
    ASSERT_EQ(f.driver->start(), DriverStatus::DRIVER_RUNNING);
    ASSERT_TRUE(f.scheduler.waitForState(TaskID(f.task), TaskState::TASK_RUNNING));
    f.id = *f.scheduler.frameworkId();
    ASSERT_TRUE(waitUntil([&] { return (f.pid = readPid(pidFile)) > 0; }));
  }
  std::string agentId = getJson(master.httpPort, "/master/slaves")["slaves"][0]["id"];

  // The agent freezes (its tasks keep running); the master restarts.
  ASSERT_EQ(::kill(agent.process.pid(), SIGSTOP), 0);
  master.process.stop(SIGKILL);
  master.process = startProcess(restartFlags(master, dir.path(), flags), dir.path() + "/master2.log");
  int port = master.httpPort;
  ASSERT_TRUE(waitUntil([&] {
    auto slaves = getJson(port, "/master/slaves");
    return slaves.is_object() && slaves["unreachable_slaves"].size() == 1;
  }, std::chrono::seconds(60))) << getJson(port, "/master/slaves").dump() << master.process.log();
  for (Framework& f : frameworks) {
    ASSERT_TRUE(waitUntil([&] {
      auto lost = f.scheduler.lostAgents();
      return std::find(lost.begin(), lost.end(), AgentID(agentId)) != lost.end();
    })) << f.task << " did not hear that the agent is lost";
    TaskStatus ask;
    ask.taskId = TaskID(f.task);
    ask.agentId = AgentID(agentId);
    f.driver->reconcileTasks({ask});
    TaskState expected =
        f.partitionAware ? TaskState::TASK_UNREACHABLE : TaskState::TASK_LOST;
    ASSERT_TRUE(f.scheduler.waitForState(TaskID(f.task), expected)) << f.task;
    EXPECT_TRUE(processExists(f.pid)) << f.task;
  }

  // The agent comes back: re-registers; the partition-aware task is kept,
  // the other framework is shut down on the agent (its task killed).
  ASSERT_EQ(::kill(agent.process.pid(), SIGCONT), 0);
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(port, "/master/state");
    return state.is_object() && state["slaves"].size() == 1 &&
           state["slaves"][0]["active"].get<bool>() &&
           taskStateIn(state, frameworks[0].id, "aware") == "TASK_RUNNING";
  }, std::chrono::seconds(60))) << master.process.log();
  ASSERT_TRUE(waitUntil([&] { return !processExists(frameworks[1].pid); },
                        std::chrono::seconds(60)))
      << "the task of the framework that is not partition-aware still runs";
  EXPECT_TRUE(processExists(frameworks[0].pid));
  EXPECT_EQ(taskStateIn(getJson(port, "/master/state"), frameworks[1].id, "plain"), "");
  for (Framework& f : frameworks) {
    f.driver->stop();
    f.driver->join();
  }
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
  info.user = currentUserName();
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
