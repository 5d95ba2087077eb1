// Unit tests for master::Master: tasks: status updates and acknowledgements, kills, reconciliation.
#include "tests/unit/master/master_fixture.hpp"

namespace tutti {
namespace master_test {
namespace {

TEST_F(MasterTest, StatusUpdateWithLatestStateTracksTheNewestState) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus:1;mem:128")}, 0);
  transport_.take<wire::RunTaskMessage>("agent1");
  offersFor("fw1");

  // The agent sends the RUNNING update while FINISHED is already queued.
  wire::StatusUpdateMessage m;
  m.frameworkId = fw;
  m.agentId = agent;
  m.status.taskId = TaskID("t1");
  m.status.state = TaskState::TASK_RUNNING;
  m.status.uuid = uuid(1);
  m.latestState = TaskState::TASK_FINISHED;
  transport_.inject("agent1", m);
  settle();
  EXPECT_EQ(oneUpdate("fw1").state, TaskState::TASK_RUNNING);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_FINISHED);
  // Its resources are back (the rest of the agent is outstanding already).
  EXPECT_EQ(oneOffer("fw1").resources, res("cpus:1;mem:128").allocate("*"));

  // Acknowledging the non-terminal update keeps the task until FINISHED is
  // delivered and acknowledged too.
  acknowledge("fw1", fw, agent, "t1", uuid(1));
  ASSERT_NE(task(fw, "t1"), nullptr);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2));
  EXPECT_EQ(oneUpdate("fw1").state, TaskState::TASK_FINISHED);
  acknowledge("fw1", fw, agent, "t1", uuid(2));
  EXPECT_EQ(task(fw, "t1"), nullptr);
  ASSERT_EQ(framework(fw)->completedTasks.size(), 1u);
  EXPECT_EQ(framework(fw)->completedTasks.back()->state, TaskState::TASK_FINISHED);
  EXPECT_EQ(metric("master/tasks_finished"), 1);
}

TEST_F(MasterTest, DuplicateStatusUpdateIsForwardedButRecordedOnce) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus:1;mem:128")});
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1));
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1));
  // At least once: the retry reaches the scheduler again.
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[1].uuid, uuid(1));
  ASSERT_NE(task(fw, "t1"), nullptr);
  EXPECT_EQ(task(fw, "t1")->task->statuses.size(), 1u);
  EXPECT_EQ(metric("master/valid_status_updates"), 2);
}

TEST_F(MasterTest, StatusUpdateWithoutUuidOrFromUnknownAgentIsDropped) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus:1;mem:128")});

  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, "");
  statusUpdate("agent1", fw, AgentID("nobody"), "t1", TaskState::TASK_RUNNING, uuid(1));
  EXPECT_TRUE(updatesFor("fw1").empty());
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_STAGING);
  EXPECT_EQ(metric("master/invalid_status_updates"), 2);
}

// An agent reports only about its own tasks: an update that names a task
// the master placed on another agent must not change that task (Mesos looks
// the task up on the sending agent: Slave::getTask()).
TEST_F(MasterTest, StatusUpdateFromAnotherAgentDoesNotChangeTheTask) {
  AgentID agent1 = registerAgent("agent1", "host1", "cpus:1;mem:128");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  ASSERT_EQ(offer.agentId, agent1);
  launchRunning("fw1", fw, "agent1", agent1, offer, commandTask("t1", "cpus:1;mem:128"), 1);
  AgentID agent2 = registerAgent("agent2", "host2", "cpus:1;mem:128");
  offersFor("fw1");

  statusUpdate("agent2", fw, agent2, "t1", TaskState::TASK_FINISHED, uuid(2));
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_EQ(framework(fw)->used, res("cpus:1;mem:128").allocate("*"));
  // agent1 is still fully used: nothing of it is offered.
  for (const auto& o : offersFor("fw1")) EXPECT_NE(o.agentId, agent1);
}

TEST_F(MasterTest, KillSendsKillTaskToTheAgent) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  transport_.inject("fw1", wire::KillCall{fw, TaskID("t1"), agent, KillPolicy{3s}});
  settle();
  auto kills = transport_.take<wire::KillTaskMessage>("agent1");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].taskId, TaskID("t1"));
  EXPECT_EQ(kills[0].frameworkId, fw);
  ASSERT_TRUE(kills[0].killPolicy.has_value());
  EXPECT_EQ(kills[0].killPolicy->gracePeriod, std::chrono::nanoseconds(3s));

  // Killing an unknown task answers with what reconciliation knows.
  transport_.inject("fw1", wire::KillCall{fw, TaskID("nope"), agent, std::nullopt});
  settle();
  EXPECT_TRUE(transport_.take<wire::KillTaskMessage>("agent1").empty());
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("nope"));
  EXPECT_EQ(s.state, TaskState::TASK_LOST);
}

TEST_F(MasterTest, ExplicitReconciliationOfAKnownTask) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus:1;mem:128")});
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1), "up");

  updatesFor("fw1");
  transport_.inject("fw1", wire::ReconcileCall{fw, {{TaskID("t1"), agent}}});
  settle();
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t1"));
  EXPECT_EQ(s.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(s.reason, Reason::REASON_RECONCILIATION);
  EXPECT_EQ(s.source, Source::SOURCE_MASTER);
  EXPECT_EQ(s.agentId, agent);
  EXPECT_EQ(s.message, "up");
  EXPECT_TRUE(s.uuid.empty());  // reconciliation updates need no ack
}

TEST_F(MasterTest, ExplicitReconciliationOfAStagingTask) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  accept("fw1", fw, {oneOffer("fw1").id}, {commandTask("t1", "cpus:1;mem:128")});
  transport_.inject("fw1", wire::ReconcileCall{fw, {{TaskID("t1"), AgentID()}}});
  settle();
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.state, TaskState::TASK_STAGING);
  EXPECT_EQ(s.agentId, agent);
  EXPECT_EQ(s.reason, Reason::REASON_RECONCILIATION);
}

TEST_F(MasterTest, ExplicitReconciliationOfUnknownTasks) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  transport_.inject("fw1", wire::ReconcileCall{fw,
                                               {{TaskID("ghost"), agent},
                                                {TaskID("nowhere"), AgentID()},
                                                {TaskID("far"), AgentID("m1-S77")}}});
  settle();
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(updates[0].taskId, TaskID("ghost"));
  EXPECT_EQ(updates[0].state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[0].reason, Reason::REASON_RECONCILIATION);
  EXPECT_EQ(updates[0].agentId, agent);
  EXPECT_EQ(updates[1].taskId, TaskID("nowhere"));
  EXPECT_EQ(updates[1].state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[2].state, TaskState::TASK_LOST);
}

TEST_F(MasterTest, ExplicitReconciliationOfUnknownTasksPartitionAware) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", true));
  transport_.inject("fw1", wire::ReconcileCall{fw,
                                               {{TaskID("ghost"), agent},
                                                {TaskID("nowhere"), AgentID()}}});
  settle();
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].taskId, TaskID("ghost"));
  EXPECT_EQ(updates[0].state, TaskState::TASK_GONE);
  EXPECT_EQ(updates[0].reason, Reason::REASON_RECONCILIATION);
  EXPECT_EQ(updates[1].taskId, TaskID("nowhere"));
  EXPECT_EQ(updates[1].state, TaskState::TASK_UNKNOWN);
}

TEST_F(MasterTest, ReconciliationOfTasksOnAnUnreachableAgent) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", true));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  advance(75s);
  ASSERT_EQ(master_->agents().find(agent)->state, AgentState::kUnreachable);
  updatesFor("fw1");

  transport_.inject("fw1", wire::ReconcileCall{fw, {{TaskID("t1"), agent}}});
  settle();
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.state, TaskState::TASK_UNREACHABLE);
  EXPECT_EQ(s.reason, Reason::REASON_RECONCILIATION);
  EXPECT_EQ(s.agentId, agent);

  // Implicit reconciliation includes unreachable tasks.
  transport_.inject("fw1", wire::ReconcileCall{fw, {}});
  settle();
  s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t1"));
  EXPECT_EQ(s.state, TaskState::TASK_UNREACHABLE);
}

TEST_F(MasterTest, ImplicitReconciliationCoversAllTasks) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id},
         {commandTask("t1", "cpus:1;mem:128"), commandTask("t2", "cpus:1;mem:128")});
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1));
  updatesFor("fw1");

  transport_.inject("fw1", wire::ReconcileCall{fw, {}});
  settle();
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 2u);
  std::sort(updates.begin(), updates.end(),
            [](const TaskStatus& a, const TaskStatus& b) { return a.taskId < b.taskId; });
  EXPECT_EQ(updates[0].taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].state, TaskState::TASK_RUNNING);
  EXPECT_EQ(updates[1].taskId, TaskID("t2"));
  EXPECT_EQ(updates[1].state, TaskState::TASK_STAGING);
  for (const auto& u : updates) {
    EXPECT_EQ(u.reason, Reason::REASON_RECONCILIATION);
    EXPECT_EQ(u.agentId, agent);
    EXPECT_TRUE(u.uuid.empty());
  }
}

TEST_F(MasterTest, ImplicitReconciliationWithNoTasksSendsNothing) {
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  transport_.inject("fw1", wire::ReconcileCall{fw, {}});
  settle();
  EXPECT_TRUE(updatesFor("fw1").empty());
}

}  // namespace
}  // namespace master_test
}  // namespace tutti
