// Unit tests for the agent: the built-in command executor, driven through a stub driver.
// Tests named *Bug* once showed bugs found in review; they guard the fixes.
#include "tests/unit/agent/agent_fixture.hpp"

namespace tutti {
namespace agent {
namespace agent_test {
namespace {

class StubExecutorDriver final : public ExecutorDriver {
 public:
  DriverStatus start() override { return status; }
  DriverStatus stop() override { return status = DriverStatus::DRIVER_STOPPED; }
  DriverStatus abort() override { return status = DriverStatus::DRIVER_ABORTED; }
  DriverStatus join() override { return status; }
  DriverStatus run() override { return status; }
  DriverStatus sendStatusUpdate(const TaskStatus& s) override {
    if (status != DriverStatus::DRIVER_RUNNING) return status;
    updates.push_back(s);
    ++unacked;
    return status;
  }
  DriverStatus sendFrameworkMessage(const std::string&) override { return status; }
  size_t unacknowledgedUpdates() const override { return unacked; }

  DriverStatus status = DriverStatus::DRIVER_RUNNING;
  std::vector<TaskStatus> updates;
  size_t unacked = 0;
};

class CommandExecutorTest : public ::testing::Test {
 protected:
  CommandExecutorTest() : loop_(clock_) {}

  void SetUp() override {
    loop_.adoptCurrentThread();
    ASSERT_FALSE(dir_.path().empty());
    executor_ = std::make_unique<executor::CommandExecutor>(loop_, [this] { ++done_; });
    executor_->setDriver(&driver_);
  }
  void TearDown() override {
    executor_.reset();
    ::tutti::testing::killAllDescendants();
  }

  void registered(std::vector<FrameworkCapability> capabilities = {}) {
    executor_->registered(&driver_, ExecutorInfo(), frameworkInfo(kFw, capabilities), AgentInfo());
    loop_.settle();
  }
  void launch(const TaskInfo& task) {
    executor_->launchTask(&driver_, task);
    loop_.settle();
  }
  void advance(Duration d) {
    clock_.advance(d);
    loop_.settle();
  }
  // Advances in small steps (the executor re-arms short timers).
  void advanceInSteps(Duration total, Duration step = 10ms) {
    for (Duration t{0}; t < total; t += step) advance(step);
  }
  bool waitUntil(const std::function<bool()>& condition,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    loop_.settle();
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop_.runOnce(10ms);
    }
    return true;
  }
  std::vector<TaskState> states() const {
    std::vector<TaskState> out;
    for (const auto& u : driver_.updates) out.push_back(u.state);
    return out;
  }
  bool hasState(TaskState s) const {
    for (const auto& u : driver_.updates) {
      if (u.state == s) return true;
    }
    return false;
  }
  const TaskStatus* lastUpdate() const {
    return driver_.updates.empty() ? nullptr : &driver_.updates.back();
  }
  // A task whose shell ignores SIGTERM (inherited by the sleep it becomes)
  // and writes its pid once that is so.
  TaskInfo stubbornTask(const std::string& id, std::optional<KillPolicy> policy = std::nullopt) {
    TaskInfo t = commandTask(
        id, "trap '' TERM; echo $$ > " + dir_.path() + "/" + id + ".pid; exec sleep 1000");
    t.killPolicy = policy;
    return t;
  }
  // Waits for the pid file of a stubbornTask.
  pid_t stubbornPid(const std::string& id) {
    pid_t pid = 0;
    std::string path = dir_.path() + "/" + id + ".pid";
    waitUntil([&] {
      std::string text = readFile(path);
      if (text.empty() || text.back() != '\n') return false;
      pid = static_cast<pid_t>(std::atoi(text.c_str()));
      return pid > 0;
    });
    return pid;
  }

  ManualClock clock_;
  Loop loop_;
  TempDir dir_;
  StubExecutorDriver driver_;
  int done_ = 0;
  std::unique_ptr<executor::CommandExecutor> executor_;
};

TEST_F(CommandExecutorTest, ReportsStartingRunningAndFinishedThenEndsOnceAcknowledged) {
  registered();
  launch(commandTask("t1", "exit 0"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FINISHED); }));
  EXPECT_EQ(states(), (std::vector<TaskState>{TaskState::TASK_STARTING, TaskState::TASK_RUNNING,
                                              TaskState::TASK_FINISHED}));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->taskId, TaskID("t1"));
  ASSERT_TRUE(last->exitStatus.has_value());
  EXPECT_TRUE(WIFEXITED(*last->exitStatus) && WEXITSTATUS(*last->exitStatus) == 0);
  EXPECT_TRUE(contains(last->message, "exited with status 0")) << last->message;

  // Waits for the acknowledgements before ending.
  advanceInSteps(2s);
  EXPECT_EQ(done_, 0);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, FailingCommandReportsItsExitStatus) {
  registered();
  launch(commandTask("t1", "exit 3"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FAILED); }));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->reason, Reason::REASON_COMMAND_EXECUTOR_FAILED);
  ASSERT_TRUE(last->exitStatus.has_value());
  EXPECT_TRUE(WIFEXITED(*last->exitStatus) && WEXITSTATUS(*last->exitStatus) == 3);
  EXPECT_TRUE(contains(last->message, "exited with status 3")) << last->message;
}

TEST_F(CommandExecutorTest, TaskWithoutACommandFails) {
  registered();
  TaskInfo t = commandTask("t1");
  t.command.reset();
  launch(t);
  ASSERT_EQ(driver_.updates.size(), 1u);
  EXPECT_EQ(driver_.updates[0].state, TaskState::TASK_FAILED);
  EXPECT_EQ(driver_.updates[0].reason, Reason::REASON_TASK_INVALID);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, RunsOneTaskOnly) {
  registered();
  launch(commandTask("t1"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  launch(commandTask("t2"));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->taskId, TaskID("t2"));
  EXPECT_EQ(last->state, TaskState::TASK_FAILED);
  // A kill for another task does not touch t1.
  executor_->killTask(&driver_, TaskID("t2"), std::nullopt);
  loop_.settle();
  EXPECT_FALSE(hasState(TaskState::TASK_KILLED));
}

TEST_F(CommandExecutorTest, KillSendsSigtermAndReportsKilling) {
  registered({FrameworkCapability::TASK_KILLING_STATE});
  launch(commandTask("t1", "exec sleep 1000"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  EXPECT_TRUE(hasState(TaskState::TASK_KILLING));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGTERM));
  EXPECT_EQ(states(), (std::vector<TaskState>{TaskState::TASK_STARTING, TaskState::TASK_RUNNING,
                                              TaskState::TASK_KILLING, TaskState::TASK_KILLED}));
}

TEST_F(CommandExecutorTest, KillingStateOnlyForFrameworksThatAskForIt) {
  registered();
  launch(commandTask("t1", "exec sleep 1000"));
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_FALSE(hasState(TaskState::TASK_KILLING));
}

TEST_F(CommandExecutorTest, KillEscalatesToSigkillAfterTheGracePeriod) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{2s});
  loop_.settle();
  advance(1900ms);
  EXPECT_TRUE(processExists(pid));
  EXPECT_FALSE(hasState(TaskState::TASK_KILLED));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGKILL));
  EXPECT_FALSE(processExists(pid));
}

TEST_F(CommandExecutorTest, KillWithoutAPolicyUsesTheTasksOwnPolicy) {
  registered();
  launch(stubbornTask("t1", KillPolicy{1s}));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  advance(900ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
}

TEST_F(CommandExecutorTest, KillWithoutAnyPolicyWaitsThreeSeconds) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  advance(executor::CommandExecutor::kDefaultGracePeriod - 100ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
}

TEST_F(CommandExecutorTest, ASecondKillWithoutGraceEscalatesAtOnce) {
  registered();
  launch(stubbornTask("t1"));
  ASSERT_GT(stubbornPid("t1"), 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{30s});
  loop_.settle();
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{0s});
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGKILL));
}

TEST_F(CommandExecutorTest, ShutdownKillsTheTaskWithinTheGracePeriodThenEnds) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->shutdown(&driver_, 5s);  // a second is kept for the executor's own exit
  loop_.settle();
  advance(3900ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, ShutdownBeforeAnyTaskEndsAtOnce) {
  registered();
  executor_->shutdown(&driver_, 5s);
  loop_.settle();
  EXPECT_EQ(done_, 1);
  EXPECT_TRUE(driver_.updates.empty());
}

TEST_F(CommandExecutorTest, BugASecondKillWithAShorterGracePeriodEscalates) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{30s});
  loop_.settle();
  advance(1s);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{1s});
  loop_.settle();
  advance(1s);
  EXPECT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); },
                        std::chrono::seconds(2)))
      << "still alive 1s after a kill with a 1s grace period";
}

// error() kills and ends at once; done_ is loop.stop() in tutti-executor.
// The SIGKILL escalation (a zero-delay timer) still runs because Loop runs a
// timer that is due when runDueTimers() starts, even one armed by a posted
// closure of the same round after stop(). This test keeps that dependency
// visible.
TEST_F(CommandExecutorTest, ErrorKillsTheTaskBeforeTheLoopStops) {
  int ended = 0;
  executor::CommandExecutor ex(loop_, [&] {
    ++ended;
    loop_.stop();
  });
  ex.setDriver(&driver_);
  ex.registered(&driver_, ExecutorInfo(), frameworkInfo(), AgentInfo());
  loop_.settle();
  ex.launchTask(&driver_, stubbornTask("t1"));
  loop_.settle();
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  ex.error(&driver_, "the agent said no");
  loop_.run();  // as tutti-executor's main(): returns once done_ stopped it
  ASSERT_EQ(ended, 1);
  EXPECT_TRUE(pollFor([&] { return !processExists(pid); }))
      << "task " << pid << " survived its executor's end";
}

TEST_F(CommandExecutorTest, BugShutdownEndsTheExecutorEvenWithoutAcknowledgements) {
  registered();
  launch(commandTask("t1", "exec sleep 1000"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  executor_->shutdown(&driver_, 3s);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  advanceInSteps(5s, 50ms);
  EXPECT_EQ(done_, 1) << "still waiting for acknowledgements 5s after a 3s shutdown";
}

TEST_F(CommandExecutorTest, BugShutdownAfterTheDriverGaveUpEndsTheExecutor) {
  registered();
  launch(commandTask("t1", "exit 0"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FINISHED); }));
  // The agent is gone: the driver gives up.
  driver_.status = DriverStatus::DRIVER_ABORTED;
  executor_->shutdown(&driver_, Duration(0));
  loop_.settle();
  advanceInSteps(5s, 50ms);
  EXPECT_EQ(done_, 1);
}

// ---- the default executor (LAUNCH_GROUP) ----

class DefaultExecutorTest : public CommandExecutorTest {
 protected:
  void SetUp() override {
    loop_.adoptCurrentThread();
    ASSERT_FALSE(dir_.path().empty());
    ::setenv("TUTTI_SANDBOX", dir_.path().c_str(), 1);
    executor_ = std::make_unique<executor::CommandExecutor>(
        loop_, [this] { ++done_; }, executor::CommandExecutor::Kind::kDefault);
    executor_->setDriver(&driver_);
  }
  void TearDown() override {
    CommandExecutorTest::TearDown();
    ::unsetenv("TUTTI_SANDBOX");
  }
  void launchGroup(const std::vector<TaskInfo>& tasks) {
    executor_->launchGroup(&driver_, tasks);
    loop_.settle();
  }
  std::optional<TaskState> lastStateOf(const std::string& id) const {
    std::optional<TaskState> out;
    for (const auto& u : driver_.updates) {
      if (u.taskId == TaskID(id)) out = u.state;
    }
    return out;
  }
  const TaskStatus* lastUpdateOf(const std::string& id) const {
    const TaskStatus* out = nullptr;
    for (const auto& u : driver_.updates) {
      if (u.taskId == TaskID(id)) out = &u;
    }
    return out;
  }
};

TEST_F(DefaultExecutorTest, RunsEachTaskOfAGroupInItsOwnSandbox) {
  registered();
  launchGroup({commandTask("a", "echo out-a; echo err-a >&2; pwd; echo $MESOS_SANDBOX"),
               commandTask("b", "echo out-b")});
  ASSERT_TRUE(waitUntil([&] {
    return lastStateOf("a") == TaskState::TASK_FINISHED &&
           lastStateOf("b") == TaskState::TASK_FINISHED;
  }));
  std::string a = dir_.path() + "/tasks/a";
  EXPECT_EQ(readFile(a + "/stdout"), "out-a\n" + a + "\n" + a + "\n");
  EXPECT_EQ(readFile(a + "/stderr"), "err-a\n");
  EXPECT_EQ(readFile(dir_.path() + "/tasks/b/stdout"), "out-b\n");
  // Both done: the executor ends once the updates are acknowledged.
  EXPECT_EQ(done_, 0);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(DefaultExecutorTest, AFailedTaskKillsTheRestOfItsGroupOnly) {
  registered();
  launchGroup({commandTask("keep", "exec sleep 1000")});
  launchGroup({commandTask("ok", "exec sleep 1000"), commandTask("bad", "exit 4")});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("ok") == TaskState::TASK_KILLED; }));
  EXPECT_EQ(lastStateOf("bad"), TaskState::TASK_FAILED);
  const TaskStatus* killed = lastUpdateOf("ok");
  EXPECT_TRUE(contains(killed->message, "Task bad of its group ended TASK_FAILED"))
      << killed->message;
  // The other group runs on, and so does the executor.
  EXPECT_EQ(lastStateOf("keep"), TaskState::TASK_RUNNING);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 0);
  executor_->killTask(&driver_, TaskID("keep"), KillPolicy{});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("keep") == TaskState::TASK_KILLED; }));
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(DefaultExecutorTest, AKillOfOneTaskEndsItsGroup) {
  registered();
  launchGroup({commandTask("a", "exec sleep 1000"), commandTask("b", "exec sleep 1000")});
  ASSERT_TRUE(waitUntil([&] {
    return lastStateOf("a") == TaskState::TASK_RUNNING &&
           lastStateOf("b") == TaskState::TASK_RUNNING;
  }));
  executor_->killTask(&driver_, TaskID("a"), KillPolicy{});
  ASSERT_TRUE(waitUntil([&] {
    return lastStateOf("a") == TaskState::TASK_KILLED &&
           lastStateOf("b") == TaskState::TASK_KILLED;
  }));
}

TEST_F(DefaultExecutorTest, AFinishedTaskLeavesItsGroupRunning) {
  registered({FrameworkCapability::TASK_KILLING_STATE});  // a kill shows at once
  launchGroup({commandTask("quick", "exit 0"), stubbornTask("slow")});
  pid_t slow = stubbornPid("slow");
  ASSERT_GT(slow, 0);
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("quick") == TaskState::TASK_FINISHED; }));
  advance(5s);  // past any kill's grace period
  waitUntil([] { return false; }, 1s);
  EXPECT_FALSE(hasState(TaskState::TASK_KILLING));
  EXPECT_TRUE(processExists(slow));
  EXPECT_EQ(lastStateOf("slow"), TaskState::TASK_RUNNING);
}

TEST_F(DefaultExecutorTest, CommandHealthChecksRunInTheTasksOwnSandbox) {
  registered();
  TaskInfo t = commandTask("checked", "echo ready; exec sleep 1000");
  HealthCheck check;
  check.type = HealthCheck::Type::COMMAND;
  check.delaySeconds = 0;
  check.intervalSeconds = 1;
  check.timeoutSeconds = 5;
  check.gracePeriodSeconds = 0;
  CommandInfo c;
  c.value = "grep -q ready stdout";  // relative: the task's sandbox, not the executor's
  check.command = c;
  t.healthCheck = check;
  launchGroup({t});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("checked") == TaskState::TASK_RUNNING; }));
  ASSERT_TRUE(waitUntil([&] {
    advance(100ms);
    const TaskStatus* s = lastUpdateOf("checked");
    return s && s->healthy.has_value();
  }));
  EXPECT_EQ(lastUpdateOf("checked")->healthy, std::optional<bool>(true))
      << lastUpdateOf("checked")->message;
}

TEST_F(DefaultExecutorTest, AnIdUsedAgainInAnotherGroupIsNotKilledWithItsOldGroup) {
  registered({FrameworkCapability::TASK_KILLING_STATE});
  launchGroup({commandTask("a", "exit 0"), commandTask("b", "exec sleep 1000")});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("a") == TaskState::TASK_FINISHED; }));
  launchGroup({commandTask("a", "exec sleep 1000"), commandTask("c", "exec sleep 1000")});
  ASSERT_TRUE(waitUntil([&] {
    return lastStateOf("a") == TaskState::TASK_RUNNING &&
           lastStateOf("c") == TaskState::TASK_RUNNING;
  }));
  // b's group ends (b killed): the old a is gone, the new one is not its.
  executor_->killTask(&driver_, TaskID("b"), KillPolicy{});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("b") == TaskState::TASK_KILLED; }));
  waitUntil([] { return false; }, 300ms);
  EXPECT_EQ(lastStateOf("a"), TaskState::TASK_RUNNING);
  EXPECT_EQ(lastStateOf("c"), TaskState::TASK_RUNNING);
}

TEST_F(DefaultExecutorTest, AGroupKillUsesEachTasksKillPolicy) {
  registered();
  // bad fails once patient ignores SIGTERM (its pid file is written then).
  launchGroup({stubbornTask("patient", KillPolicy{2s}),
               commandTask("bad", "while [ ! -s " + dir_.path() +
                                      "/patient.pid ]; do sleep 0.01; done; exit 3")});
  pid_t pid = stubbornPid("patient");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("bad") == TaskState::TASK_FAILED; }));
  // SIGTERM (ignored) went out; SIGKILL waits for the grace period.
  waitUntil([] { return false; }, 200ms);
  EXPECT_TRUE(processExists(pid));
  advance(2s);
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("patient") == TaskState::TASK_KILLED; }));
  EXPECT_TRUE(contains(lastUpdateOf("patient")->message, "Task bad of its group ended TASK_FAILED"))
      << lastUpdateOf("patient")->message;
}

TEST_F(DefaultExecutorTest, AResentLaunchOfARunningTaskIsIgnored) {
  registered();
  launchGroup({commandTask("hold", "exec sleep 1000")});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("hold") == TaskState::TASK_RUNNING; }));
  size_t updates = driver_.updates.size();
  launchGroup({commandTask("hold", "exec sleep 1000")});  // e.g. resent by a restarted agent
  advanceInSteps(100ms);
  EXPECT_EQ(driver_.updates.size(), updates);
}

TEST_F(DefaultExecutorTest, ATaskIdUsedAgainAfterItsTaskEndedRunsAgainInANewSandbox) {
  registered();
  launchGroup({commandTask("again", "echo first"), stubbornTask("hold")});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("again") == TaskState::TASK_FINISHED; }));
  launchGroup({commandTask("again", "echo second")});
  ASSERT_TRUE(waitUntil([&] {
    int finished = 0;
    for (const auto& u : driver_.updates) {
      finished += u.taskId == TaskID("again") && u.state == TaskState::TASK_FINISHED;
    }
    return finished == 2;
  }));
  EXPECT_EQ(readFile(dir_.path() + "/tasks/again/stdout"), "first\n");
  EXPECT_EQ(readFile(dir_.path() + "/tasks/again.2/stdout"), "second\n");
}

TEST_F(DefaultExecutorTest, AnExistingSandboxIsNeverReused) {
  registered();
  // What a task of the same user could leave behind: a FIFO as stdout (an
  // open for writing would block the executor).
  ASSERT_EQ(::mkdir((dir_.path() + "/tasks").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir_.path() + "/tasks/a").c_str(), 0777), 0);
  ASSERT_EQ(::mkfifo((dir_.path() + "/tasks/a/stdout").c_str(), 0666), 0);
  launchGroup({commandTask("a", "echo fine")});
  ASSERT_TRUE(waitUntil([&] { return lastStateOf("a") == TaskState::TASK_FINISHED; }));
  EXPECT_EQ(readFile(dir_.path() + "/tasks/a.2/stdout"), "fine\n");
}

TEST_F(DefaultExecutorTest, AGroupStartsWholeOrNotAtAll) {
  registered();
  // Task b's sandbox cannot be made (every name for it is taken).
  ASSERT_EQ(::mkdir((dir_.path() + "/tasks").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir_.path() + "/tasks/b").c_str(), 0755), 0);
  for (int n = 2; n <= 1001; ++n) {
    ASSERT_EQ(::mkdir((dir_.path() + "/tasks/b." + std::to_string(n)).c_str(), 0755), 0);
  }
  launchGroup({commandTask("a", "exec sleep 1000"), commandTask("b", "exec sleep 1000"),
               commandTask("c", "exec sleep 1000")});
  EXPECT_EQ(lastStateOf("b"), TaskState::TASK_FAILED);
  EXPECT_FALSE(hasState(TaskState::TASK_RUNNING));
  // Every other member is told the real cause.
  for (const char* other : {"a", "c"}) {
    EXPECT_EQ(lastStateOf(other), TaskState::TASK_KILLED) << other;
    EXPECT_TRUE(contains(lastUpdateOf(other)->message, "Task b of its group could not start"))
        << other << ": " << lastUpdateOf(other)->message;
  }
}

TEST_F(DefaultExecutorTest, AGroupLaunchedDuringShutdownIsKilledUnstarted) {
  registered();
  launchGroup({stubbornTask("running", KillPolicy{10s})});
  ASSERT_GT(stubbornPid("running"), 0);
  executor_->shutdown(&driver_, 30s);
  loop_.settle();
  launchGroup({commandTask("late", "exec sleep 1000")});
  ASSERT_EQ(lastStateOf("late"), TaskState::TASK_KILLED);
  EXPECT_TRUE(contains(lastUpdateOf("late")->message, "shut down before the task started"));
  EXPECT_EQ(done_, 0);
}

TEST_F(DefaultExecutorTest, ATasksDirectoryNotOwnedByTheExecutorIsRefused) {
  registered();
  // Someone else's `tasks` (here: a symlink planted in the sandbox).
  TempDir elsewhere;
  ASSERT_EQ(::symlink(elsewhere.path().c_str(), (dir_.path() + "/tasks").c_str()), 0);
  launchGroup({commandTask("a", "echo hi")});
  ASSERT_EQ(lastStateOf("a"), TaskState::TASK_FAILED);
  EXPECT_TRUE(contains(lastUpdateOf("a")->message, "Cannot make the task's sandbox"))
      << lastUpdateOf("a")->message;
  struct stat st;
  EXPECT_NE(::lstat((elsewhere.path() + "/a").c_str(), &st), 0);
}

}  // namespace
}  // namespace agent_test
}  // namespace agent
}  // namespace tutti
