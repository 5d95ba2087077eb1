// Integration: cgroups isolation on this machine's real cgroups (v1 here;
// skipped where no usable hierarchy exists). Each test uses its own
// --cgroups_root (tutti-test-<pid>-<n>) and removes it in teardown.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/host.hpp"
#include "agent/containerizer/cgroups.hpp"
#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/port_ranges.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

using agent::CgroupLayout;

FrameworkInfo framework() {
  FrameworkInfo f;
  f.name = "isolation-test";
  f.user = currentUserName();
  return f;
}

// A unique cgroups root, and everything under it removed at the end.
class CgroupRoot {
 public:
  explicit CgroupRoot(const std::set<std::string>& controllers) {
    static std::atomic<int> n{0};
    name_ = "tutti-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    auto layout = agent::detectHostCgroups(controllers, name_);
    if (layout.ok()) layout_ = *layout;
  }
  ~CgroupRoot() {
    if (!layout_) return;
    for (const auto& c : agent::listContainerCgroups(*layout_)) {
      (void)agent::destroyContainerCgroups(*layout_, c);
    }
    for (const auto& [_, dir] : layout_->roots) ::rmdir(dir.c_str());
  }
  bool usable() const {
    return layout_.has_value() && layout_->version != agent::CgroupVersion::kNone;
  }
  const std::string& name() const { return name_; }
  const CgroupLayout& layout() const { return *layout_; }
  std::set<std::string> containers() const { return agent::listContainerCgroups(*layout_); }

 private:
  std::string name_;
  std::optional<CgroupLayout> layout_;
};

agent::AgentOptions isolatedAgent(const std::string& isolation, const CgroupRoot& root) {
  agent::AgentOptions o = testAgentOptions("", "");
  o.isolation = isolation;
  o.cgroupsRoot = root.name();
  return o;
}

// Launches each (id, command, resources) on the first offer, once.
void launchOnce(RecordingScheduler& s,
                std::vector<std::tuple<std::string, std::string, std::string>> tasks) {
  auto launched = std::make_shared<std::atomic<bool>>(false);
  s.onOffers = [launched, tasks](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->exchange(true)) {
        std::vector<TaskInfo> infos;
        for (const auto& [id, cmd, res] : tasks) infos.push_back(commandTask(id, cmd, o, res));
        d->launchTasks({o.id}, infos);
      } else {
        d->declineOffer(o.id);
      }
    }
  };
}

nlohmann::json statisticsOf(int port, const std::string& executorId) {
  auto all = getJson(port, "/monitor/statistics");
  if (!all.is_array()) return nullptr;
  for (const auto& e : all) {
    if (e.value("executor_id", "") == executorId) return e;
  }
  return nullptr;
}

#define REQUIRE_CGROUPS(root)                                              \
  if (::geteuid() != 0 || !(root).usable()) {                              \
    GTEST_SKIP() << "no writable cgroup hierarchy with these controllers"; \
  }

TEST(IsolationTest, MemoryHogFailsWithTheLimitationWhileAnotherTaskRuns) {
  CgroupRoot root({"memory"});
  REQUIRE_CGROUPS(root);
  auto master = StartMaster();
  auto agent = StartAgent(*master, isolatedAgent("cgroups/mem", root));
  ASSERT_NE(agent->agent().isolator(), nullptr);
  RecordingScheduler scheduler;
  // tail keeps a line that never ends in memory: 300 MB against 64 MB.
  launchOnce(scheduler, {{"hog", "head -c 300M /dev/zero | tail", "cpus:0.1;mem:64"},
                         {"calm", "sleep 1000", "cpus:0.1;mem:32"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("calm"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler.waitForState(TaskID("hog"), TaskState::TASK_FAILED,
                                     std::chrono::seconds(10)));
  auto hog = lastUpdate(scheduler, "hog");
  ASSERT_TRUE(hog);
  ASSERT_TRUE(hog->reason);
  EXPECT_EQ(*hog->reason, Reason::REASON_CONTAINER_LIMITATION_MEMORY) << hog->message;
  EXPECT_NE(hog->message.find("Memory limit exceeded: limit 64 MB"), std::string::npos)
      << hog->message;
  // The other task is untouched, and only its container is left.
  EXPECT_EQ(scheduler.stateOf(TaskID("calm")), TaskState::TASK_RUNNING);
  EXPECT_TRUE(waitUntil([&] { return root.containers().size() == 1; }));
  auto calm = statisticsOf(agent->httpPort(), "calm");
  ASSERT_TRUE(calm.is_object()) << getJson(agent->httpPort(), "/monitor/statistics").dump();
  EXPECT_EQ(calm["statistics"]["mem_limit_bytes"], 32ull << 20);
  EXPECT_EQ(calm["statistics"]["source"], "cgroups");
  EXPECT_GT(calm["statistics"].value("mem_total_bytes", 0ull), 0ull);
  driver.killTask(TaskID("calm"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("calm"), TaskState::TASK_KILLED));
  // Every container cgroup is gone once its executor ended.
  EXPECT_TRUE(waitUntil([&] { return root.containers().empty(); }, std::chrono::seconds(10)));
  driver.stop();
  driver.join();
}

TEST(IsolationTest, ForkBombIsHeldAtThePidsLimit) {
  CgroupRoot root({"pids"});
  REQUIRE_CGROUPS(root);
  auto master = StartMaster();
  auto options = isolatedAgent("cgroups/pids", root);
  options.cgroupsPidsLimit = 50;
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  // The inner shell dies when a fork fails; the task itself goes on (exec
  // needs no fork) so that its container can be looked at.
  launchOnce(scheduler, {{"bomb",
                          "sh -c 'for i in $(seq 200); do sleep 30 & done; wait'; exec sleep 1000",
                          "cpus:0.1;mem:64"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("bomb"), TaskState::TASK_RUNNING));
  // Forks were refused at the limit (pids.events counts them) ...
  std::set<std::string> containers;
  ASSERT_TRUE(waitUntil([&] { return (containers = root.containers()).size() == 1; }));
  const std::string dir = root.layout().dir("pids", *containers.begin());
  ASSERT_TRUE(waitUntil(
      [&] {
        auto events = readFile(dir + "/pids.events");
        return events.ok() && agent::parseKeyValues(*events)["max"] > 0;
      },
      std::chrono::seconds(10)));
  // ... and the container never held more than its limit.
  auto current = readFile(dir + "/pids.current");
  ASSERT_TRUE(current.ok());
  EXPECT_LE(std::stoul(*current), 50u);
  auto stats = statisticsOf(agent->httpPort(), "bomb");
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["statistics"]["pids_limit"], 50);
  EXPECT_LE(stats["statistics"].value("processes", 0), 50);
  // The agent stays healthy: the task can be killed and everything goes.
  driver.killTask(TaskID("bomb"));
  ASSERT_TRUE(scheduler.waitForUpdates([](const std::vector<TaskStatus>& us) {
    for (const auto& u : us) {
      if (u.taskId.value == "bomb" && isTerminal(u.state)) return true;
    }
    return false;
  }));
  EXPECT_TRUE(waitUntil([&] { return root.containers().empty(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(getJson(agent->httpPort(), "/state").is_object());
  driver.stop();
  driver.join();
}

TEST(IsolationTest, PidsResourceOfTheTaskSetsItsPidsLimit) {
  CgroupRoot root({"pids"});
  REQUIRE_CGROUPS(root);
  auto master = StartMaster();
  auto options = isolatedAgent("cgroups/pids", root);
  options.resources = "cpus:4;mem:4096;disk:4096;pids:1000;" + exclusiveTaskPorts();
  options.cgroupsPidsLimit = 500;
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"t", "sleep 1000", "cpus:0.1;mem:32;pids:20"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::set<std::string> containers;
  ASSERT_TRUE(waitUntil([&] { return (containers = root.containers()).size() == 1; }));
  auto max = readFile(root.layout().dir("pids", *containers.begin()) + "/pids.max");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, "20\n");
  auto stats = statisticsOf(agent->httpPort(), "t");
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["statistics"]["pids_limit"], 20);
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] { return root.containers().empty(); }, std::chrono::seconds(10)));
  driver.stop();
  driver.join();
}

TEST(IsolationTest, CfsQuotaHoldsABusyLoopAndStatisticsShowTheLimits) {
  CgroupRoot root({"cpu", "cpuacct", "memory"});
  REQUIRE_CGROUPS(root);
  // A cgroup left by an earlier run under this root is an orphan: removed at start.
  for (const auto& d : root.layout().dirs("orphan")) ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  auto master = StartMaster();
  auto options = isolatedAgent("cgroups/cpu,cgroups/mem", root);
  options.cgroupsEnableCfs = true;
  auto agent = StartAgent(*master, options);
  EXPECT_TRUE(waitUntil([&] { return root.containers().count("orphan") == 0; }));
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"busy", "while :; do :; done", "cpus:0.2;mem:64"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("busy"), TaskState::TASK_RUNNING));
  auto cpuSecs = [&](const nlohmann::json& s) {
    return s["statistics"].value("cpus_user_time_secs", 0.0) +
           s["statistics"].value("cpus_system_time_secs", 0.0);
  };
  auto s0 = statisticsOf(agent->httpPort(), "busy");
  ASSERT_TRUE(s0.is_object());
  EXPECT_DOUBLE_EQ(s0["statistics"]["cpus_limit"].get<double>(), 0.2);
  EXPECT_EQ(s0["statistics"]["mem_limit_bytes"], 64ull << 20);
  // A measurement window, not a wait for an event.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto s1 = statisticsOf(agent->httpPort(), "busy");
  ASSERT_TRUE(s1.is_object());
  double used = cpuSecs(s1) - cpuSecs(s0);
  double wall = s1["statistics"]["timestamp"].get<double>() -
                s0["statistics"]["timestamp"].get<double>();
  ASSERT_GT(wall, 1.0);
  EXPECT_LE(used / wall, 0.3) << "used " << used << " s of cpu in " << wall << " s";
  EXPECT_GT(used / wall, 0.05) << "the loop should run at all";
  // /containers has the same container.
  auto containers = getJson(agent->httpPort(), "/containers");
  ASSERT_TRUE(containers.is_array());
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0]["executor_id"], "busy");
  EXPECT_EQ(root.containers().count(containers[0]["container_id"].get<std::string>()), 1u);
  driver.killTask(TaskID("busy"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("busy"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] { return root.containers().empty(); }, std::chrono::seconds(10)));
  driver.stop();
  driver.join();
}

TEST(IsolationTest, PosixIsolationReportsLimitsAndProcUsage) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);  // default: posix/cpu,posix/mem
  EXPECT_EQ(agent->agent().isolator(), nullptr);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"t", "sleep 1000", "cpus:0.5;mem:48"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  auto s = statisticsOf(agent->httpPort(), "t");
  ASSERT_TRUE(s.is_object());
  EXPECT_DOUBLE_EQ(s["statistics"]["cpus_limit"].get<double>(), 0.5);
  EXPECT_EQ(s["statistics"]["mem_limit_bytes"], 48ull << 20);
  EXPECT_EQ(s["statistics"]["source"], "proc");
  EXPECT_GE(s["statistics"].value("processes", 0), 2);  // executor and sleep
  EXPECT_GT(s["statistics"].value("mem_rss_bytes", 0ull), 0ull);
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  driver.stop();
  driver.join();
}

TEST(IsolationTest, UnknownIsolatorRefusesToStart) {
  TempDir dir;
  agent::AgentOptions o = testAgentOptions("127.0.0.1:1", dir.path());
  o.isolation = "cgroups/mem,cgroups/gpu";
  agent::AgentDaemon daemon(o);
  Status s = daemon.start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cgroups/gpu"), std::string::npos) << s;
}

// A tutti-agent process killed with SIGKILL and restarted re-attaches to the
// cgroups of its recovered container (the limit still holds and is
// reported), and removes a cgroup that belongs to no known container.
TEST(IsolationTest, RestartedAgentReattachesToItsContainersAndRemovesOrphans) {
  CgroupRoot root({"memory", "pids"});
  REQUIRE_CGROUPS(root);
  TempDir masterDir, agentDir, taskDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  const std::vector<std::string> flags = {"--isolation=cgroups/mem,cgroups/pids",
                                          "--cgroups_root=" + root.name()};
  AgentProcess agent = startAgentProcess(master, agentDir.path(), flags);
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();
  RecordingScheduler scheduler;
  const std::string go = taskDir.path() + "/go";
  launchOnce(scheduler, {{"t", "while [ ! -e " + go + " ]; do sleep 0.05; done; "
                               "head -c 300M /dev/zero | tail",
                          "cpus:0.1;mem:64"}});
  FrameworkInfo info = framework();
  info.checkpoint = true;
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::set<std::string> containers;
  ASSERT_TRUE(waitUntil([&] { return (containers = root.containers()).size() == 1; }));
  const std::string container = *containers.begin();

  agent.process.stop(SIGKILL);
  for (const auto& d : root.layout().dirs("orphan")) ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  AgentProcess again = startAgentProcess(master, agentDir.path(),
                                         {flags[0], flags[1], "--message_port=0"});
  ASSERT_TRUE(again.process.alive()) << again.process.log();
  EXPECT_TRUE(waitUntil([&] { return root.containers() == std::set<std::string>{container}; }));
  auto stats = statisticsOf(again.httpPort, "t");
  ASSERT_TRUE(stats.is_object()) << again.process.log();
  EXPECT_EQ(stats["statistics"]["mem_limit_bytes"], 64ull << 20);
  EXPECT_EQ(stats["statistics"]["source"], "cgroups");

  // Now the task breaks its limit under the new agent.
  std::ofstream(go) << "go\n";
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_FAILED,
                                     std::chrono::seconds(10)));
  auto last = lastUpdate(scheduler, "t");
  ASSERT_TRUE(last && last->reason);
  EXPECT_EQ(*last->reason, Reason::REASON_CONTAINER_LIMITATION_MEMORY) << last->message;
  EXPECT_NE(last->message.find("limit 64 MB"), std::string::npos) << last->message;
  EXPECT_TRUE(waitUntil([&] { return root.containers().empty(); }, std::chrono::seconds(10)));
  driver.stop();
  driver.join();
}

TEST(IsolationTest, AgentBinaryRejectsAnUnknownIsolator) {
  CommandResult r = runCommand({binary("tutti-agent"), "--master=127.0.0.1:1",
                                "--work_dir=/nonexistent", "--isolation=cgroups/cpu,bogus/x"},
                               std::chrono::seconds(30));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("unknown isolator 'bogus/x'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

std::string runStdout(const agent::AgentOptions& options, const std::string& id) {
  return sandboxFile(options, id, "stdout");
}

// posix/rlimits: the task's rlimits hold for it (and an agent without the
// isolator refuses them); namespaces/pid: the task is pid 1 of its own
// namespace and sees only its own processes.
TEST(IsolationTest, RlimitsAndPidNamespaceApplyToPlainTasks) {
  if (::geteuid() != 0) GTEST_SKIP() << "pid namespaces need root";
  auto master = StartMaster();
  agent::AgentOptions options = testAgentOptions("", "");
  options.isolation = "posix/rlimits,namespaces/pid";
  auto agent = StartAgent(*master, options);
  agent::AgentOptions plainOptions = testAgentOptions("", "");
  plainOptions.attributes = "kind:plain";
  auto plain = StartAgent(*master, plainOptions);
  RecordingScheduler scheduler;
  // One task per agent, whichever order their offers come in.
  std::atomic<bool> launchedPlain{false}, launchedLimited{false};
  scheduler.onOffers = [&](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      bool isPlain = !o.attributes.empty();
      if ((isPlain ? launchedPlain : launchedLimited).exchange(true)) {
        d->declineOffer(o.id);
        continue;
      }
      TaskInfo t = commandTask(isPlain ? "refused" : "limited",
                               "ulimit -n; ulimit -Hn; echo pid=$$; ls /proc | grep -c '^[0-9]'",
                               o, "cpus:0.1;mem:32");
      t.container = ContainerInfo{std::nullopt, {{"RLMT_NOFILE", 100, 200}}};
      d->launchTasks({o.id}, {t});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("limited"), TaskState::TASK_FINISHED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("refused"), TaskState::TASK_FAILED));
  // sh is pid 1; ls (and grep, when the shell started it before ls read
  // /proc) are the only other processes it can see.
  std::string out = runStdout(agent->options(), "limited");
  EXPECT_TRUE(out == "100\n200\npid=1\n2\n" || out == "100\n200\npid=1\n3\n") << out;
  auto refused = lastUpdate(scheduler, "refused");
  EXPECT_NE(refused->message.find("posix/rlimits"), std::string::npos) << refused->message;
  driver.stop();
}

}  // namespace
}  // namespace tutti::testing
