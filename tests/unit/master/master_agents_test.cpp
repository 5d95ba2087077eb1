// Unit tests for master::Master: agents registering, pings, unreachable and departing agents.
#include "tests/unit/master/master_fixture.hpp"

namespace tutti {
namespace master_test {
namespace {

TEST_F(MasterTest, AgentRegistersAndGetsAnId) {
  AgentID agent = registerAgent("agent1", "host1");
  EXPECT_EQ(agent, AgentID("m1-S0"));
  const auto* rec = master_->agents().find(agent);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->state, AgentState::kRegistered);
  EXPECT_EQ(rec->total, res("cpus:4;mem:4096"));
  EXPECT_EQ(rec->conn, "agent1");
  EXPECT_EQ(metric("master/slaves_active"), 1);
  EXPECT_EQ(metric("master/cpus_total"), 4);

  // A retry on the same connection gets the same id, not a second agent.
  wire::RegisterAgentMessage again;
  again.agentInfo.hostname = "host1";
  again.agentInfo.port = 5051;
  again.agentInfo.resources = res("cpus:4;mem:4096");
  transport_.inject("agent1", again);
  settle();
  auto registered = transport_.take<wire::AgentRegisteredMessage>("agent1");
  ASSERT_EQ(registered.size(), 1u);
  EXPECT_EQ(registered[0].agentId, agent);
  EXPECT_EQ(master_->agents().all().size(), 1u);
}

TEST_F(MasterTest, InvalidAgentRegistrationIsRefused) {
  wire::RegisterAgentMessage m;
  m.agentInfo.hostname = "";
  m.agentInfo.port = 5051;
  m.agentInfo.resources = res("cpus:1;mem:128");
  transport_.inject("agent1", m);
  settle();
  EXPECT_EQ(transport_.take<wire::AgentRegisteredMessage>("agent1").size(), 0u);
  auto shutdown = transport_.take<wire::ShutdownAgentMessage>("agent1");
  ASSERT_EQ(shutdown.size(), 1u);
  EXPECT_HAS_SUBSTR(shutdown[0].message, "hostname");
  EXPECT_EQ(master_->agents().all().size(), 0u);
  EXPECT_EQ(metric("master/invalid_agent_registrations"), 1);
}

// The agent only answers pings once it knows its id (agent/agent.cpp, handle(PingMessage)),
// so the registration answer must reach it before the first ping.
TEST_F(MasterTest, AgentRegisteredIsSentBeforeTheFirstPing) {
  wire::RegisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.resources = res("cpus:4;mem:4096");
  transport_.inject("agent1", m);
  settle();
  const auto& sent = transport_.sent();
  auto first = std::find_if(sent.begin(), sent.end(), [](const FakeTransport::Sent& s) {
    return s.to == "agent1";
  });
  ASSERT_NE(first, sent.end());
  EXPECT_TRUE(std::holds_alternative<wire::AgentRegisteredMessage>(first->message))
      << "first message to the agent: " << wire::payloadName(first->message);
}

TEST_F(MasterTest, SilentAgentBecomesUnreachable) {
  AgentID agent = registerAgent("agent1", "host1", "cpus:4;mem:4096");
  FrameworkID fw1 = subscribe("fw1", frameworkInfo("plain"));
  Offer o1 = oneOffer("fw1");
  // fw1 keeps the rest filtered for an hour, so fw2 gets it.
  launchRunning("fw1", fw1, "agent1", agent, o1, commandTask("t1", "cpus:1;mem:128"), 1, 3600);
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("aware", /*partitionAware=*/true));
  Offer o2 = oneOffer("fw2");
  EXPECT_EQ(o2.resources, res("cpus:3;mem:3968").allocate("*"));
  launchRunning("fw2", fw2, "agent1", agent, o2, commandTask("t2", "cpus:1;mem:128"), 2);
  // The rest is outstanding at fw2.
  Offer o3 = oneOffer("fw2");
  EXPECT_EQ(o3.resources, res("cpus:2;mem:3840").allocate("*"));
  EXPECT_TRUE(offersFor("fw1").empty());

  // Pings go unanswered: 5 timeouts of 15 s.
  advance(74s);
  EXPECT_GE(count<wire::PingMessage>("agent1"), 5u);
  ASSERT_EQ(master_->agents().find(agent)->state, AgentState::kRegistered);
  EXPECT_TRUE(updatesFor("fw1").empty());
  EXPECT_TRUE(transport_.take<wire::RescindEvent>("fw2").empty());

  advance(1s);
  const auto* rec = master_->agents().find(agent);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->state, AgentState::kUnreachable);
  EXPECT_EQ(metric("master/slaves_unreachable"), 1);
  EXPECT_EQ(metric("master/slaves_active"), 0);

  // Not partition-aware: TASK_LOST.
  TaskStatus lost = oneUpdate("fw1");
  EXPECT_EQ(lost.taskId, TaskID("t1"));
  EXPECT_EQ(lost.state, TaskState::TASK_LOST);
  EXPECT_EQ(lost.reason, Reason::REASON_AGENT_REMOVED);
  EXPECT_EQ(lost.source, Source::SOURCE_MASTER);
  EXPECT_EQ(lost.agentId, agent);
  EXPECT_FALSE(lost.message.empty());
  EXPECT_EQ(task(fw1, "t1"), nullptr);
  ASSERT_EQ(framework(fw1)->completedTasks.size(), 1u);
  EXPECT_EQ(framework(fw1)->completedTasks.back()->state, TaskState::TASK_LOST);

  // Partition-aware: TASK_UNREACHABLE, kept among the unreachable tasks.
  TaskStatus unreachable = oneUpdate("fw2");
  EXPECT_EQ(unreachable.taskId, TaskID("t2"));
  EXPECT_EQ(unreachable.state, TaskState::TASK_UNREACHABLE);
  EXPECT_EQ(unreachable.reason, Reason::REASON_AGENT_REMOVED);
  EXPECT_EQ(task(fw2, "t2"), nullptr);
  EXPECT_EQ(framework(fw2)->unreachableTasks.count(TaskID("t2")), 1u);
  EXPECT_EQ(metric("master/tasks_unreachable"), 1);
  EXPECT_EQ(metric("master/tasks_lost"), 1);

  // The outstanding offer is rescinded.
  auto rescinds = transport_.take<wire::RescindEvent>("fw2");
  ASSERT_EQ(rescinds.size(), 1u);
  EXPECT_EQ(rescinds[0].offerId, o3.id);
  EXPECT_EQ(master_->offers().size(), 0u);

  // Every framework hears that the agent is lost.
  for (const char* conn : {"fw1", "fw2"}) {
    auto failures = transport_.take<wire::FailureEvent>(conn);
    ASSERT_EQ(failures.size(), 1u) << conn;
    EXPECT_EQ(failures[0].agentId, agent);
    EXPECT_TRUE(failures[0].executorId.empty());
  }
  EXPECT_EQ(metric("master/cpus_total"), 0);

  // No more pings to an unreachable agent.
  transport_.take<wire::PingMessage>("agent1");
  advance(60s);
  EXPECT_EQ(count<wire::PingMessage>("agent1"), 0u);
}

TEST_F(MasterTest, AgentAnsweringPingsStaysRegistered) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  EXPECT_EQ(answerPings("agent1"), 1);

  advanceAnsweringPings(300s, "agent1");
  EXPECT_EQ(master_->agents().find(agent)->state, AgentState::kRegistered);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_TRUE(updatesFor("fw1").empty());
  EXPECT_TRUE(transport_.take<wire::FailureEvent>("fw1").empty());
  EXPECT_EQ(metric("master/slaves_active"), 1);

  // Once it falls silent, the count starts with the first unanswered ping
  // (sent at 315 s): unreachable 5 x 15 s later.
  advance(89s);
  EXPECT_EQ(master_->agents().find(agent)->state, AgentState::kRegistered);
  advance(1s);
  EXPECT_EQ(master_->agents().find(agent)->state, AgentState::kUnreachable);
  EXPECT_EQ(oneUpdate("fw1").state, TaskState::TASK_LOST);
}

namespace {
// host1's re-registration (cpus:4;mem:4096) reporting each (framework,
// task) running as cpus:1;mem:128 under an executor of the task's id.
wire::ReregisterAgentMessage reregistration(
    const AgentID& agent, const std::vector<std::pair<FrameworkID, const char*>>& tasks) {
  wire::ReregisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.id = agent;
  m.agentInfo.resources = res("cpus:4;mem:4096");
  for (const auto& [fw, id] : tasks) {
    Task t;
    t.taskId = TaskID(id);
    t.frameworkId = fw;
    t.agentId = agent;
    t.executorId = ExecutorID(id);
    t.state = TaskState::TASK_RUNNING;
    t.resources = res("cpus:1;mem:128").allocate("*");
    m.tasks.push_back(t);
  }
  return m;
}
}  // namespace

TEST_F(MasterTest, UnreachableAgentThatComesBackKeepsPartitionAwareTasks) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw1 = subscribe("fw1", frameworkInfo("plain"));
  launchRunning("fw1", fw1, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1, 3600);
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("aware", true));
  launchRunning("fw2", fw2, "agent1", agent, oneOffer("fw2"), commandTask("t2", "cpus:1;mem:128"),
                2, 3600);
  advance(75s);
  ASSERT_EQ(master_->agents().find(agent)->state, AgentState::kUnreachable);
  transport_.clear();

  // The agent reconnects with both tasks still running.
  transport_.inject("agent1b", reregistration(agent, {{fw1, "t1"}, {fw2, "t2"}}));
  settle();
  auto reregistered = transport_.take<wire::AgentReregisteredMessage>("agent1b");
  ASSERT_EQ(reregistered.size(), 1u);
  EXPECT_EQ(reregistered[0].agentId, agent);
  EXPECT_EQ(master_->agents().find(agent)->state, AgentState::kRegistered);
  EXPECT_EQ(master_->agents().find(agent)->conn, "agent1b");

  // The task of the framework that was told TASK_LOST is shut down...
  auto shutdowns = transport_.take<wire::ShutdownFrameworkMessage>("agent1b");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].frameworkId, fw1);
  EXPECT_EQ(task(fw1, "t1"), nullptr);
  // ...the partition-aware one's is running again.
  EXPECT_EQ(taskState(fw2, "t2"), TaskState::TASK_RUNNING);
  EXPECT_TRUE(framework(fw2)->unreachableTasks.empty());
  EXPECT_EQ(framework(fw2)->used, res("cpus:1;mem:128").allocate("*"));
  // Only what t2 does not use is offered.
  Resources offered;
  for (const char* conn : {"fw1", "fw2"}) {
    for (const auto& o : offersFor(conn)) offered += o.resources;
  }
  EXPECT_EQ(offered, res("cpus:3;mem:3968").allocate("*"));
}

TEST_F(MasterTest, AFrameworkTornDownWhileItsAgentWasAwayIsShutDownWhenItReturns) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("aware", true));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1, 3600);
  advance(75s);
  ASSERT_EQ(master_->agents().find(agent)->state, AgentState::kUnreachable);
  transport_.inject("fw1", wire::TeardownCall{fw});
  settle();
  ASSERT_TRUE(master_->frameworks().isCompleted(fw));
  // Nobody could tell the unreachable agent.
  EXPECT_TRUE(transport_.take<wire::ShutdownFrameworkMessage>("agent1").empty());
  FrameworkID other = subscribe("fw2", frameworkInfo("other"));

  wire::ReregisterAgentMessage m = reregistration(agent, {{fw, "t1"}});
  FrameworkInfo known = frameworkInfo("aware", true);
  known.id = fw;
  m.frameworks.push_back(known);  // as a real agent sends it
  transport_.inject("agent1b", m);
  settle();
  ASSERT_EQ(transport_.take<wire::AgentReregisteredMessage>("agent1b").size(), 1u);
  auto shutdowns = transport_.take<wire::ShutdownFrameworkMessage>("agent1b");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].frameworkId, fw);
  EXPECT_EQ(shutdowns[0].agentId, agent);
  // The master does not bring the framework back for it.
  EXPECT_EQ(framework(fw), nullptr);
  EXPECT_EQ(master_->frameworks().all().size(), 1u);
  (void)other;
}

TEST_F(MasterTest, AReconnectingAgentStillRunningATornDownFrameworkIsToldAgain) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1, 3600);
  transport_.inject("fw1", wire::TeardownCall{fw});
  settle();
  ASSERT_EQ(transport_.take<wire::ShutdownFrameworkMessage>("agent1").size(), 1u);

  // Say that message was lost with the connection: the agent reconnects
  // still running t1.
  transport_.inject("agent1", reregistration(agent, {{fw, "t1"}}));
  settle();
  auto shutdowns = transport_.take<wire::ShutdownFrameworkMessage>("agent1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].frameworkId, fw);
  // A task that already ended is no reason.
  auto ended = reregistration(agent, {{fw, "t1"}});
  ended.tasks[0].state = TaskState::TASK_KILLED;
  transport_.inject("agent1", ended);
  settle();
  EXPECT_TRUE(transport_.take<wire::ShutdownFrameworkMessage>("agent1").empty());
}

TEST_F(MasterTest, OffersNameTheFrameworksExecutorsOnTheAgent) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  TaskInfo t = commandTask("t1", "cpus:1;mem:128");
  t.command.reset();
  ExecutorInfo e;
  e.executorId = ExecutorID("e1");
  e.name = "custom";
  CommandInfo c;
  c.value = "./executor";
  e.command = c;
  t.executor = e;
  accept("fw1", fw, {oneOffer("fw1").id}, {t}, 0);
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_TRUE(runs[0].task.executor.has_value());
  EXPECT_EQ(runs[0].task.executor->frameworkId, fw);
  ASSERT_NE(task(fw, "t1"), nullptr);
  EXPECT_EQ(task(fw, "t1")->task->executorId, ExecutorID("e1"));
  Offer rest = oneOffer("fw1");
  EXPECT_EQ(rest.executorIds, std::vector<ExecutorID>{ExecutorID("e1")});

  // The executor ends: the master forgets it and the framework hears
  // executorLost (FAILURE with the executor id and its status).
  transport_.inject("agent1", wire::ExitedExecutorMessage{agent, fw, ExecutorID("e1"), 256});
  loop_.settle();
  auto failures = transport_.take<wire::FailureEvent>("fw1");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].agentId, agent);
  EXPECT_EQ(failures[0].executorId, ExecutorID("e1"));
  EXPECT_EQ(failures[0].status, 256);
  decline("fw1", fw, rest.id, 0);
  Offer after = oneOffer("fw1");
  EXPECT_TRUE(after.executorIds.empty());
  // From an agent the master does not know: ignored.
  transport_.inject("x", wire::ExitedExecutorMessage{AgentID("nope"), fw, ExecutorID("e1"), 0});
  loop_.settle();
  EXPECT_TRUE(transport_.take<wire::FailureEvent>("fw1").empty());
}

TEST_F(MasterTest, ExecutorsHoldTheirResourcesUntilTheyExit) {
  AgentID agent = registerAgent("agent1", "host1");  // cpus:4;mem:4096
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  auto customTask = [](const std::string& id, const std::string& executor) {
    TaskInfo t = commandTask(id, "cpus:1;mem:128");
    t.command.reset();
    ExecutorInfo e;
    e.executorId = ExecutorID(executor);
    CommandInfo c;
    c.value = "./executor";
    e.command = c;
    e.resources = res("cpus:0.5;mem:64");
    t.executor = e;
    return t;
  };
  // Two tasks of one executor: its resources are held once.
  accept("fw1", fw, {oneOffer("fw1").id}, {customTask("t1", "e1"), customTask("t2", "e1")}, 0);
  ASSERT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 2u);
  EXPECT_EQ(framework(fw)->used, res("cpus:2.5;mem:320").allocate("*"));
  Offer rest = oneOffer("fw1");
  EXPECT_EQ(rest.resources, res("cpus:1.5;mem:3776").allocate("*"));

  // A task whose new executor does not fit what is left is refused.
  TaskInfo big = customTask("t3", "e2");
  big.resources = res("cpus:1.5;mem:128");
  accept("fw1", fw, {rest.id}, {big}, 0);
  TaskStatus refused = oneUpdate("fw1");
  EXPECT_EQ(refused.state, TaskState::TASK_ERROR);
  EXPECT_NE(refused.message.find("new executor use more resources"), std::string::npos)
      << refused.message;
  Offer held = oneOffer("fw1");  // what that accept left, offered again

  // Its tasks end; the executor still holds its share until it exits.
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(1), "");
  statusUpdate("agent1", fw, agent, "t2", TaskState::TASK_FINISHED, uuid(2), "");
  transport_.inject("fw1", wire::AcknowledgeCall{fw, agent, TaskID("t1"), uuid(1)});
  transport_.inject("fw1", wire::AcknowledgeCall{fw, agent, TaskID("t2"), uuid(2)});
  settle();
  EXPECT_EQ(framework(fw)->used, res("cpus:0.5;mem:64").allocate("*"));
  transport_.inject("agent1", wire::ExitedExecutorMessage{agent, fw, ExecutorID("e1"), 0});
  settle();
  EXPECT_TRUE(framework(fw)->used.empty()) << framework(fw)->used;
  Resources offered = held.resources;
  for (const auto& o : offersFor("fw1")) offered += o.resources;
  EXPECT_EQ(offered, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(MasterTest, AReconnectingAgentsExecutorsSetWhatIsHeld) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  TaskInfo t = commandTask("t1", "cpus:1;mem:128");
  t.command.reset();
  ExecutorInfo e1;
  e1.executorId = ExecutorID("e1");
  CommandInfo c;
  c.value = "./executor";
  e1.command = c;
  e1.resources = res("cpus:0.5;mem:64");
  t.executor = e1;
  accept("fw1", fw, {oneOffer("fw1").id}, {t}, 0);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1), "");
  ASSERT_EQ(framework(fw)->used, res("cpus:1.5;mem:192").allocate("*"));

  // It reconnects running t1 under e2 (say e1's launch was replaced): e1's
  // share goes back, e2's is held.
  wire::ReregisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.id = agent;
  m.agentInfo.resources = res("cpus:4;mem:4096");
  Task running;
  running.taskId = TaskID("t1");
  running.frameworkId = fw;
  running.agentId = agent;
  running.executorId = ExecutorID("e2");
  running.state = TaskState::TASK_RUNNING;
  running.resources = res("cpus:1;mem:128").allocate("*");
  m.tasks.push_back(running);
  ExecutorInfo e2 = e1;
  e2.executorId = ExecutorID("e2");
  e2.frameworkId = fw;
  e2.resources = res("cpus:0.25;mem:32").allocate("*");
  m.executors.push_back(e2);
  transport_.inject("agent1", m);
  settle();
  EXPECT_EQ(framework(fw)->used, res("cpus:1.25;mem:160").allocate("*"));
  const auto& executors = master_->agents().find(agent)->executors;
  ASSERT_EQ(executors.count(fw), 1u);
  EXPECT_EQ(executors.at(fw).count(ExecutorID("e1")), 0u);
  EXPECT_EQ(executors.at(fw).count(ExecutorID("e2")), 1u);
  // What is offered is the rest.
  Resources offered;
  for (const auto& o : offersFor("fw1")) offered += o.resources;
  EXPECT_EQ(offered + res("cpus:1.25;mem:160").allocate("*"), res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(MasterTest, PingsAreSentEveryPingTimeout) {
  registerAgent("agent1", "host1");
  EXPECT_EQ(answerPings("agent1"), 1);
  advanceAnsweringPings(14s, "agent1");
  EXPECT_EQ(count<wire::PingMessage>("agent1"), 0u);
  clock_.advance(1s);
  settle();
  auto pings = transport_.take<wire::PingMessage>("agent1");
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].agentId, AgentID("m1-S0"));
  EXPECT_TRUE(pings[0].connected);
}

TEST_F(MasterTest, UnregisteringAgentRescindsOffersAndLosesTasks) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw1 = subscribe("fw1", frameworkInfo("plain"));
  launchRunning("fw1", fw1, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1, 3600);
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("aware", true));
  Offer o2 = oneOffer("fw2");
  launchRunning("fw2", fw2, "agent1", agent, o2, commandTask("t2", "cpus:1;mem:128"), 2);
  Offer o3 = oneOffer("fw2");

  transport_.inject("agent1", wire::UnregisterAgentMessage{agent});
  settle();
  EXPECT_EQ(master_->agents().find(agent), nullptr);
  EXPECT_EQ(metric("master/slave_removals"), 1);

  auto rescinds = transport_.take<wire::RescindEvent>("fw2");
  ASSERT_EQ(rescinds.size(), 1u);
  EXPECT_EQ(rescinds[0].offerId, o3.id);
  EXPECT_EQ(master_->offers().size(), 0u);

  TaskStatus lost = oneUpdate("fw1");
  EXPECT_EQ(lost.state, TaskState::TASK_LOST);
  EXPECT_EQ(lost.reason, Reason::REASON_AGENT_REMOVED);
  TaskStatus gone = oneUpdate("fw2");
  EXPECT_EQ(gone.state, TaskState::TASK_GONE);
  EXPECT_EQ(gone.reason, Reason::REASON_AGENT_REMOVED);
  EXPECT_EQ(task(fw1, "t1"), nullptr);
  EXPECT_EQ(task(fw2, "t2"), nullptr);
  EXPECT_TRUE(framework(fw2)->unreachableTasks.empty());
  EXPECT_EQ(transport_.take<wire::FailureEvent>("fw1").size(), 1u);
  EXPECT_EQ(transport_.take<wire::FailureEvent>("fw2").size(), 1u);

  // The rescinded offer can no longer be accepted.
  accept("fw2", fw2, {o3.id}, {commandTask("t3", "cpus:1;mem:128")});
  EXPECT_EQ(oneUpdate("fw2").state, TaskState::TASK_DROPPED);
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
}

TEST_F(MasterTest, UnreachableAgentRescindsOutstandingOffers) {
  AgentID agent1 = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  AgentID agent2 = registerAgent("agent2", "host2");
  auto offers = offersFor("fw1");
  ASSERT_EQ(offers.size(), 2u);
  OfferID onAgent1 = offers[0].agentId == agent1 ? offers[0].id : offers[1].id;
  OfferID onAgent2 = offers[0].agentId == agent2 ? offers[0].id : offers[1].id;

  // agent2 answers its pings; agent1 does not.
  advanceAnsweringPings(75s, "agent2");
  EXPECT_EQ(master_->agents().find(agent1)->state, AgentState::kUnreachable);
  EXPECT_EQ(master_->agents().find(agent2)->state, AgentState::kRegistered);
  auto rescinds = transport_.take<wire::RescindEvent>("fw1");
  ASSERT_EQ(rescinds.size(), 1u);
  EXPECT_EQ(rescinds[0].offerId, onAgent1);
  EXPECT_EQ(master_->offers().size(), 1u);
  EXPECT_NE(master_->offers().find(onAgent2), nullptr);
  (void)fw;
}

}  // namespace
}  // namespace master_test
}  // namespace tutti
