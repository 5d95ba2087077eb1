// Unit tests for the agent: executors in cgroups: limits follow their tasks; memory limitations.
// Tests named *Bug* once showed bugs found in review; they guard the fixes.
#include "tests/unit/agent/agent_fixture.hpp"

namespace tutti {
namespace agent {
namespace agent_test {
namespace {

class AgentCgroupsTest : public AgentTest {
 protected:
  void SetUp() override {
    AgentTest::SetUp();
    static int n = 0;
    options_.isolation = "cgroups/cpu,cgroups/mem";
    options_.cgroupsRoot = "tutti-unit-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    auto layout = detectHostCgroups({"cpu", "cpuacct", "memory"}, options_.cgroupsRoot);
    if (::geteuid() != 0 || !layout.ok() || !layout->has("memory") || !layout->has("cpu")) {
      GTEST_SKIP() << "no writable cgroup hierarchy";
    }
    layout_ = *layout;
  }
  void TearDown() override {
    AgentTest::TearDown();
    if (!layout_) return;
    for (const auto& c : listContainerCgroups(*layout_)) (void)destroyContainerCgroups(*layout_, c);
    for (const auto& [_, d] : layout_->roots) ::rmdir(d.c_str());
  }
  std::string control(const std::string& controller, const std::string& executorId,
                      const std::string& file) {
    const ExecutorRecord* e = executor(executorId);
    if (!e) return "";
    auto text = ::tutti::readFile(layout_->dir(controller, e->containerId.value) + "/" + file);
    if (!text.ok()) return "";
    std::string v = *text;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }
  std::optional<CgroupLayout> layout_;
};

TEST_F(AgentCgroupsTest, ExecutorStartsInItsCgroupsAndLimitsFollowItsTasks) {
  registerAgent();
  ASSERT_NE(agent_->isolator(), nullptr);
  runTask(customTask("a", "e1"));  // executor 0.1 cpus / 32 MB, task the same
  ASSERT_TRUE(waitForPid("e1"));
  pid_t pid = executor("e1")->pid;
  EXPECT_NE(control("memory", "e1", "cgroup.procs").find(std::to_string(pid)), std::string::npos);
  EXPECT_NE(control("cpu", "e1", "cgroup.procs").find(std::to_string(pid)), std::string::npos);
  EXPECT_EQ(control("memory", "e1", "memory.limit_in_bytes"), std::to_string(64ull << 20));
  EXPECT_EQ(control("cpu", "e1", "cpu.shares"), "204");
  subscribe("conn-1", "e1");
  ASSERT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  // A task added to the running executor raises its limits.
  runTask(customTask("b", "e1"));
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  EXPECT_EQ(control("memory", "e1", "memory.limit_in_bytes"), std::to_string(96ull << 20));
  EXPECT_EQ(control("cpu", "e1", "cpu.shares"), "307");
  // Its end removes the cgroups.
  const std::string dir = layout_->dir("memory", executor("e1")->containerId.value);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("e1"));
  // Removal is retried on the loop's (manual) clock while processes exit.
  EXPECT_TRUE(waitUntil([&] {
    clock_.advance(50ms);
    return !fs::exists(dir);
  }));
}

TEST_F(AgentCgroupsTest, TasksWaitUntilTheExecutorIsInItsCgroups) {
  registerAgent();
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  executors_.inject("conn-1", wire::ExecutorSubscribeCall{kFw, ExecutorID("t1"), {}, {}});
  ASSERT_EQ(executor("t1")->pid, -1);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  // Held: the launcher has not reported the executor inside its cgroups yet.
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 0u);
  ASSERT_TRUE(waitForPid("t1"));
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  EXPECT_TRUE(executor("t1")->queued.empty());
}

TEST_F(AgentCgroupsTest, ExecutorTaskFailedBecomesTheMemoryLimitationOnceTheContainerWasOomKilled) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  // The OOM killer acts in the container: a process over the limit there.
  const ExecutorRecord* e = executor("t1");
  const std::string dir = layout_->dir("memory", e->containerId.value);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo $$ > " + dir + "/cgroup.procs && head -c 300M /dev/zero | tail"};
  auto hog = spawnProcess(o);
  ASSERT_TRUE(hog.ok()) << hog.error();
  int st = 0;
  ASSERT_EQ(::waitpid(*hog, &st, 0), *hog);
  EXPECT_NE(st, 0);
  ASSERT_GT(oomKillCount(*layout_, e->containerId.value), 0u);
  // Whichever comes first, the executor's TASK_FAILED carries the limitation.
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FAILED, 7));
  bool found = false;
  for (const auto& u : updatesToMaster()) {
    if (u.status.taskId != TaskID("t1") || u.status.state != TaskState::TASK_FAILED) continue;
    found = true;
    EXPECT_EQ(u.status.reason, Reason::REASON_CONTAINER_LIMITATION_MEMORY);
    EXPECT_NE(u.status.message.find("Memory limit exceeded: limit 32 MB"), std::string::npos)
        << u.status.message;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace agent_test
}  // namespace agent
}  // namespace tutti
