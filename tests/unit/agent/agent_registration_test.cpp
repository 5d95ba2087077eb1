// Unit tests for the agent: registration with the master, pings, re-registration and shutdown.
// Tests named *Bug* once showed bugs found in review; they guard the fixes.
#include "tests/unit/agent/agent_fixture.hpp"

namespace tutti {
namespace agent {
namespace agent_test {
namespace {

TEST_F(AgentTest, RegistersOnStartAndRetriesWithBackoff) {
  startAgent();
  EXPECT_EQ(master_.connects(), 1);
  EXPECT_EQ(master_.endpoint(), "tcp://127.0.0.1:5050");
  auto first = master_.take<wire::RegisterAgentMessage>();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].agentInfo.hostname, "agent-host");
  EXPECT_EQ(first[0].agentInfo.port, 5051u);
  EXPECT_EQ(first[0].agentInfo.resources, info_.resources);
  EXPECT_FALSE(first[0].agentInfo.id.has_value());
  EXPECT_FALSE(first[0].version.empty());
  EXPECT_EQ(agent_->state(), AgentState::kRegistering);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());

  // No answer: retries, each within [10ms, b·2ⁿ] of the previous one
  // (b = 1s), never more than a minute apart.
  const Duration step = 10ms;
  std::vector<Duration> gaps;
  TimePoint last = clock_.now();
  for (Duration t{0}; t < 3min; t += step) {
    advance(step);
    auto sent = master_.take<wire::RegisterAgentMessage>();
    ASSERT_LE(sent.size(), 1u) << "two registrations in " << toMillis(step) << "ms";
    if (!sent.empty()) {
      gaps.push_back(clock_.now() - last);
      last = clock_.now();
    }
  }
  // 1+2+4+8+16+32 s of caps fit in 3 minutes: at least 6 retries; with a
  // backoff, far fewer than one per second.
  ASSERT_GE(gaps.size(), 6u);
  EXPECT_LE(gaps.size(), 40u);
  for (size_t n = 0; n < gaps.size(); ++n) {
    Duration cap = std::min<Duration>(1s * (int64_t{1} << std::min<size_t>(n, 10)), 1min);
    EXPECT_GE(gaps[n], 10ms) << "retry " << n;
    EXPECT_LE(gaps[n], cap + step) << "retry " << n << " came after " << toMillis(gaps[n]) << "ms";
  }

  // Accepted: registered, and the retries stop.
  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  ASSERT_TRUE(agent_->id().has_value());
  EXPECT_EQ(*agent_->id(), kAgent);
  for (int i = 0; i < 300; ++i) advance(1s);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  EXPECT_TRUE(fatal_.empty());
}

TEST_F(AgentTest, InvalidMasterAddressIsFatal) {
  options_.master = "not an address";
  startAgent();
  ASSERT_EQ(fatal_.size(), 1u);
  EXPECT_TRUE(contains(fatal_[0], "--master")) << fatal_[0];
  EXPECT_TRUE(master_.sent().empty());
}

TEST_F(AgentTest, AnswersPingsWithPongsOnceRegistered) {
  startAgent();
  master_.clear();
  // Not registered yet: it has no id to answer with.
  master_.inject("", wire::PingMessage{kAgent, true});
  settle();
  EXPECT_TRUE(master_.sentOf<wire::PongMessage>().empty());

  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  master_.clear();
  master_.inject("", wire::PingMessage{kAgent, true});
  settle();
  auto pongs = master_.take<wire::PongMessage>();
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(pongs[0].agentId, kAgent);

  // A ping meant for another agent is not answered.
  master_.inject("", wire::PingMessage{AgentID("agent-2"), true});
  settle();
  EXPECT_TRUE(master_.sentOf<wire::PongMessage>().empty());
}

TEST_F(AgentTest, ReregistersWithItsTasksAfterFivePingTimeoutsOfSilence) {
  registerAgent(/*pingTimeout=*/1s);
  // t1 stays queued (its executor never subscribes); t2 runs.
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  ASSERT_GT(launchRunning("t2", "conn-2"), 0);
  executorUpdate("conn-2", "t2", executorStatus("t2", TaskState::TASK_RUNNING, 1));
  master_.clear();

  // Pings keep it registered.
  for (int i = 0; i < 20; ++i) {
    advance(1s);
    master_.inject("", wire::PingMessage{kAgent, true});
    settle();
  }
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  master_.clear();

  // Four seconds of silence are fine; past five ping timeouts it
  // re-registers on a fresh connection.
  for (int i = 0; i < 4; ++i) advance(1s);
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  std::vector<wire::ReregisterAgentMessage> rereg;
  for (int i = 0; i < 3 && rereg.empty(); ++i) {
    advance(1s);
    rereg = master_.take<wire::ReregisterAgentMessage>();
  }
  ASSERT_EQ(rereg.size(), 1u);
  EXPECT_EQ(agent_->state(), AgentState::kRegistering);
  EXPECT_EQ(master_.connects(), 2);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());

  const auto& m = rereg[0];
  ASSERT_TRUE(m.agentInfo.id.has_value());
  EXPECT_EQ(*m.agentInfo.id, kAgent);
  EXPECT_EQ(m.agentInfo.hostname, "agent-host");
  EXPECT_EQ(m.agentInfo.resources, info_.resources);
  EXPECT_FALSE(m.version.empty());
  ASSERT_EQ(m.frameworks.size(), 1u);
  EXPECT_EQ(m.frameworks[0].id, kFw);
  std::set<ExecutorID> executorIds;
  for (const auto& e : m.executors) {
    executorIds.insert(e.executorId);
    EXPECT_EQ(e.frameworkId, kFw);
  }
  EXPECT_EQ(executorIds, (std::set<ExecutorID>{ExecutorID("t1"), ExecutorID("t2")}));
  ASSERT_EQ(m.tasks.size(), 2u);
  for (const auto& t : m.tasks) {
    EXPECT_EQ(t.frameworkId, kFw);
    EXPECT_EQ(t.agentId, kAgent);
    EXPECT_EQ(t.resources, res("cpus:0.1;mem:32"));
    if (t.taskId == TaskID("t1")) {
      EXPECT_EQ(t.state, TaskState::TASK_STAGING);
      EXPECT_EQ(t.executorId, ExecutorID("t1"));
      EXPECT_EQ(t.name, "task t1");
    } else {
      EXPECT_EQ(t.taskId, TaskID("t2"));
      EXPECT_EQ(t.state, TaskState::TASK_RUNNING);
      EXPECT_EQ(t.executorId, ExecutorID("t2"));
      ASSERT_FALSE(t.statuses.empty());
      EXPECT_EQ(t.statuses.back().state, TaskState::TASK_RUNNING);
    }
  }

  // Still unanswered: retried (the first retry within b = 1s).
  std::vector<wire::ReregisterAgentMessage> again;
  for (int i = 0; i < 110 && again.empty(); ++i) {
    advance(10ms);
    again = master_.take<wire::ReregisterAgentMessage>();
  }
  EXPECT_EQ(again.size(), 1u);

  // Accepted: registered again; the unacknowledged update goes out again.
  master_.clear();
  master_.inject("", wire::AgentReregisteredMessage{kAgent, 1s});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t2"));
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
}

TEST_F(AgentTest, ShutdownAgentMessageIsFatal) {
  registerAgent();
  master_.inject("", wire::ShutdownAgentMessage{kAgent, "go away"});
  settle();
  ASSERT_EQ(fatal_.size(), 1u);
  EXPECT_EQ(fatal_[0], "go away");
}

TEST_F(AgentTest, ShutdownUnregistersAndFinishesOnceNoExecutorIsLeft) {
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executors_.clear();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  settle();
  auto unregister = master_.take<wire::UnregisterAgentMessage>();
  ASSERT_EQ(unregister.size(), 1u);
  EXPECT_EQ(unregister[0].agentId, kAgent);
  EXPECT_EQ(agent_->state(), AgentState::kTerminating);
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  EXPECT_FALSE(done);

  // Nothing new is accepted meanwhile.
  runTask(commandTask("t2"));
  EXPECT_EQ(executor("t2"), nullptr);
  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kTerminating);

  advance(options_.executorShutdownGracePeriod);
  ASSERT_TRUE(waitUntil([&] { return done; }));
  EXPECT_FALSE(processExists(pid));
  EXPECT_TRUE(agent_->frameworks().empty());
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
}

TEST_F(AgentTest, ShutdownWithoutExecutorsFinishesAtOnce) {
  registerAgent();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(master_.take<wire::UnregisterAgentMessage>().size(), 1u);
}

TEST_F(AgentTest, ShutdownBeforeRegistrationFinishesAtOnceAndStopsRegistering) {
  startAgent();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_TRUE(master_.sentOf<wire::UnregisterAgentMessage>().empty());
  // And it stops trying to register.
  master_.clear();
  for (int i = 0; i < 100; ++i) advance(1s);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());
}

TEST_F(AgentTest, ShutdownKillsAnExecutorWhoseLaunchIsStillPending) {
  registerAgent();
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  ASSERT_EQ(executor("t1")->pid, -1);
  bool done = false;
  agent_->shutdown([&] { done = true; });
  ASSERT_EQ(executor("t1")->pid, -1);
  settle();
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  // Killed when the launcher returns it, without waiting for the grace period.
  ASSERT_TRUE(waitUntil([&] { return done; }));
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
}

TEST_F(AgentTest, BugReregistrationReportsTasksOfExecutorsThatEnded) {
  registerAgent(/*pingTimeout=*/1s);
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();

  // The master goes silent; meanwhile the executor dies.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_EQ(updates[0].status.state, TaskState::TASK_FAILED);

  std::vector<wire::ReregisterAgentMessage> rereg;
  for (int i = 0; i < 8 && rereg.empty(); ++i) {
    advance(1s);
    rereg = master_.take<wire::ReregisterAgentMessage>();
  }
  ASSERT_EQ(rereg.size(), 1u);
  bool reported = false;
  for (const auto& t : rereg[0].tasks) {
    if (t.taskId != TaskID("t1")) continue;
    reported = true;
    EXPECT_EQ(t.state, TaskState::TASK_FAILED);
  }
  EXPECT_TRUE(reported) << "t1 (TASK_FAILED, unacknowledged) is missing from the re-registration";
}

}  // namespace
}  // namespace agent_test
}  // namespace agent
}  // namespace tutti
