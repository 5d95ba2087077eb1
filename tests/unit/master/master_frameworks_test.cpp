// Unit tests for master::Master: frameworks: subscription, failover, teardown, heartbeats, messages the master refuses.
#include "tests/unit/master/master_fixture.hpp"

namespace tutti {
namespace master_test {
namespace {

TEST_F(MasterTest, InvalidSubscriptionGetsAnError) {
  FrameworkInfo info = frameworkInfo("");
  transport_.inject("fw1", wire::SubscribeCall{info, {}});
  settle();
  EXPECT_EQ(transport_.take<wire::SubscribedEvent>("fw1").size(), 0u);
  auto errors = transport_.take<wire::ErrorEvent>("fw1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_HAS_SUBSTR(errors[0].message, "name");
  EXPECT_EQ(master_->frameworks().all().size(), 0u);
  EXPECT_EQ(metric("master/invalid_subscriptions"), 1);
}

class NoRootSubmissionsTest : public MasterTest {
 protected:
  NoRootSubmissionsTest() { options_.rootSubmissions = false; }
};

TEST_F(NoRootSubmissionsTest, FrameworksOfRootAreRefusedAndOthersSubscribe) {
  FrameworkInfo root = frameworkInfo("as-root");
  root.user = "root";
  FrameworkInfo nobody = frameworkInfo("no-user");
  nobody.user = "";  // runs as the agents' user: root, often
  transport_.inject("fw1", wire::SubscribeCall{root, {}});
  transport_.inject("fw2", wire::SubscribeCall{frameworkInfo("as-nobody"), {}});
  transport_.inject("fw3", wire::SubscribeCall{nobody, {}});
  settle();
  for (const char* refused : {"fw1", "fw3"}) {
    auto errors = transport_.take<wire::ErrorEvent>(refused);
    ASSERT_EQ(errors.size(), 1u) << refused;
    EXPECT_HAS_SUBSTR(errors[0].message, "--root_submissions=false");
  }
  EXPECT_EQ(transport_.take<wire::SubscribedEvent>("fw2").size(), 1u);
  EXPECT_EQ(master_->frameworks().all().size(), 1u);
  EXPECT_EQ(metric("master/invalid_subscriptions"), 2);
}

TEST_F(MasterTest, TeardownKillsTasksAndCompletesTheFramework) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1, 3600);
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("other"));
  Offer rest = oneOffer("fw2");
  EXPECT_EQ(rest.resources, res("cpus:3;mem:3968").allocate("*"));

  transport_.inject("fw1", wire::TeardownCall{fw});
  settle();
  auto shutdowns = transport_.take<wire::ShutdownFrameworkMessage>("agent1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].frameworkId, fw);
  EXPECT_EQ(shutdowns[0].agentId, agent);
  EXPECT_EQ(framework(fw), nullptr);
  EXPECT_TRUE(master_->frameworks().isCompleted(fw));
  const auto* done = completedFramework(fw);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, FrameworkState::kCompleted);
  EXPECT_TRUE(done->tasks.empty());
  ASSERT_EQ(done->completedTasks.size(), 1u);
  EXPECT_EQ(done->completedTasks.back()->taskId, TaskID("t1"));
  EXPECT_EQ(done->completedTasks.back()->state, TaskState::TASK_KILLED);
  EXPECT_EQ(metric("master/frameworks_completed"), 1);
  EXPECT_EQ(metric("master/tasks_killed"), 1);
  EXPECT_EQ(metric("master/tasks_running"), 0);
  EXPECT_TRUE(master_->agents().find(agent)->used.empty());

  // The task's resources go to the other framework.
  Offer freed = oneOffer("fw2");
  EXPECT_EQ(freed.resources, res("cpus:1;mem:128").allocate("*"));

  // A removed framework cannot come back under its id.
  FrameworkInfo info = frameworkInfo("fw");
  info.id = fw;
  transport_.inject("fw1", wire::SubscribeCall{info, {}});
  settle();
  EXPECT_TRUE(transport_.take<wire::SubscribedEvent>("fw1").empty());
  EXPECT_EQ(transport_.take<wire::ErrorEvent>("fw1").size(), 1u);

  // Late updates of its tasks are acknowledged by the master.
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_KILLED, uuid(9));
  auto acks = transport_.take<wire::StatusUpdateAckMessage>("agent1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(9));
}

TEST_F(MasterTest, TeardownRecoversOutstandingOffers) {
  registerAgent("agent1", "host1");
  FrameworkID fw1 = subscribe("fw1", frameworkInfo("fw1"));
  Offer offer = oneOffer("fw1");
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("fw2"));
  EXPECT_TRUE(offersFor("fw2").empty());
  transport_.inject("fw1", wire::TeardownCall{fw1});
  settle();
  EXPECT_EQ(master_->offers().find(offer.id), nullptr);
  EXPECT_EQ(oneOffer("fw2").resources, res("cpus:4;mem:4096").allocate("*"));
  (void)fw2;
}

TEST_F(MasterTest, DisconnectedFrameworkIsTornDownAfterFailoverTimeout) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", false, /*failoverTimeoutSecs=*/60));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  Offer rest = oneOffer("fw1");

  transport_.disconnect("fw1");
  advanceAnsweringPings(14s, "agent1");
  EXPECT_EQ(framework(fw)->state, FrameworkState::kActive);
  // The heartbeat at 15 s fails: the framework is disconnected.
  advanceAnsweringPings(1s, "agent1");
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kDisconnected);
  EXPECT_EQ(metric("master/frameworks_disconnected"), 1);
  // Its offers are withdrawn; its tasks keep running.
  EXPECT_EQ(master_->offers().find(rest.id), nullptr);
  EXPECT_EQ(master_->offers().size(), 0u);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_TRUE(transport_.take<wire::KillTaskMessage>("agent1").empty());
  EXPECT_TRUE(transport_.take<wire::ShutdownFrameworkMessage>("agent1").empty());

  advanceAnsweringPings(59s, "agent1");
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kDisconnected);
  EXPECT_TRUE(transport_.take<wire::ShutdownFrameworkMessage>("agent1").empty());

  advanceAnsweringPings(1s, "agent1");
  EXPECT_EQ(framework(fw), nullptr);
  const auto* done = completedFramework(fw);
  ASSERT_NE(done, nullptr);
  ASSERT_EQ(done->completedTasks.size(), 1u);
  EXPECT_EQ(done->completedTasks.back()->state, TaskState::TASK_KILLED);
  auto shutdowns = transport_.take<wire::ShutdownFrameworkMessage>("agent1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].frameworkId, fw);
}

// A status update is queued (Transport::sendSoon); when it cannot be handed
// to the framework's connection the framework is disconnected, as a failed
// send of any other message disconnects it.
TEST_F(MasterTest, AnUpdateThatCannotReachTheFrameworkDisconnectsIt) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", false, 60));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  transport_.disconnect("fw1");
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2), "done");
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kDisconnected);
  EXPECT_EQ(metric("master/frameworks_disconnected"), 1);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_FINISHED);
}

TEST_F(MasterTest, ResubscribingWithinFailoverTimeoutKeepsTasks) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", false, 60));
  launchRunning("fw1", fw, "agent1", agent, oneOffer("fw1"), commandTask("t1", "cpus:1;mem:128"),
                1);
  oneOffer("fw1");
  transport_.disconnect("fw1");
  advanceAnsweringPings(15s, "agent1");
  ASSERT_EQ(framework(fw)->state, FrameworkState::kDisconnected);

  // Updates while disconnected are not acknowledged by anyone.
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(2), "still running");
  EXPECT_EQ(count<wire::UpdateEvent>("fw1b"), 0u);

  advanceAnsweringPings(30s, "agent1");
  FrameworkInfo info = frameworkInfo("fw", false, 60);
  info.id = fw;
  EXPECT_EQ(subscribe("fw1b", info), fw);
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kActive);
  EXPECT_EQ(framework(fw)->conn, "fw1b");
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  // Offers go to the new connection.
  EXPECT_EQ(oneOffer("fw1b").resources, res("cpus:3;mem:3968").allocate("*"));

  // Past the old failover deadline, nothing is torn down.
  advanceAnsweringPings(60s, "agent1");
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kActive);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_TRUE(transport_.take<wire::ShutdownFrameworkMessage>("agent1").empty());
  EXPECT_FALSE(master_->frameworks().isCompleted(fw));
  EXPECT_GE(count<wire::HeartbeatEvent>("fw1b"), 4u);

  // The agent's retry reaches the new connection.
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(2), "still running");
  EXPECT_EQ(oneUpdate("fw1b").uuid, uuid(2));
}

TEST_F(MasterTest, FailoverToANewConnectionWhileActive) {
  registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", false, 60));
  Offer offer = oneOffer("fw1");
  FrameworkInfo info = frameworkInfo("fw", false, 60);
  info.id = fw;
  EXPECT_EQ(subscribe("fw1b", info), fw);
  auto errors = transport_.take<wire::ErrorEvent>("fw1");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_HAS_SUBSTR(errors[0].message, "failed over");
  // The old offer is void; the resources are offered to the new scheduler.
  EXPECT_EQ(master_->offers().find(offer.id), nullptr);
  EXPECT_EQ(oneOffer("fw1b").resources, res("cpus:4;mem:4096").allocate("*"));
  // The old connection may no longer speak for the framework.
  transport_.inject("fw1", wire::TeardownCall{fw});
  settle();
  EXPECT_NE(framework(fw), nullptr);
  EXPECT_EQ(metric("master/invalid_framework_calls"), 1);
}

TEST_F(MasterTest, GarbageIsDroppedAndTheMasterKeepsServing) {
  transport_.injectBytes("evil", "this is not an envelope at all");
  transport_.injectBytes("evil", std::string(64, '\xff'));
  transport_.injectBytes("evil", "");
  settle();
  EXPECT_EQ(metric("master/messages_dropped"), 3);
  EXPECT_TRUE(transport_.sent().empty());

  // A truncated valid frame is dropped too.
  std::string frame = codec::encodeEnvelope(wire::SubscribeCall{frameworkInfo("fw"), {}});
  transport_.injectBytes("evil", frame.substr(0, frame.size() / 2));
  settle();
  EXPECT_EQ(metric("master/messages_dropped"), 4);

  registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  EXPECT_EQ(fw, FrameworkID("m1-0000"));
  EXPECT_EQ(offersFor("fw1").size(), 1u);
  EXPECT_EQ(metric("master/messages_dropped"), 4);
}

TEST_F(MasterTest, MessagesTheMasterDoesNotAcceptAreCounted) {
  transport_.inject("evil", wire::OffersEvent{});
  transport_.inject("evil", wire::RunTaskMessage{});
  transport_.inject("evil", wire::HeartbeatEvent{});
  settle();
  EXPECT_EQ(metric("master/messages_unexpected"), 3);
  EXPECT_EQ(metric("master/messages_dropped"), 0);
  EXPECT_TRUE(transport_.sent().empty());
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  EXPECT_FALSE(fw.empty());
}

TEST_F(MasterTest, CallsFromAnotherConnectionAreIgnored) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  launchRunning("fw1", fw, "agent1", agent, offer, commandTask("t1", "cpus:1;mem:128"), 1);
  Offer rest = oneOffer("fw1");
  transport_.clear();

  const ConnectionId evil = "intruder";
  wire::AcceptCall acceptCall;
  acceptCall.frameworkId = fw;
  acceptCall.offerIds = {rest.id};
  acceptCall.operations.push_back(
      Offer::Operation::launch({commandTask("evil", "cpus:1;mem:128")}));
  transport_.inject(evil, acceptCall);
  transport_.inject(evil, wire::DeclineCall{fw, {rest.id}, Filters{}});
  transport_.inject(evil, wire::KillCall{fw, TaskID("t1"), agent, std::nullopt});
  transport_.inject(evil, wire::AcknowledgeCall{fw, agent, TaskID("t1"), uuid(1)});
  transport_.inject(evil, wire::ReconcileCall{fw, {}});
  transport_.inject(evil, wire::MessageCall{fw, agent, ExecutorID("t1"), "hi"});
  transport_.inject(evil, wire::SuppressCall{fw, {}});
  transport_.inject(evil, wire::ReviveCall{fw, {}});
  transport_.inject(evil, wire::TeardownCall{fw});
  // And for a framework that does not exist.
  transport_.inject(evil, wire::TeardownCall{FrameworkID("m1-9999")});
  settle();

  EXPECT_EQ(metric("master/invalid_framework_calls"), 10);
  EXPECT_TRUE(transport_.sent().empty()) << "sent " << transport_.sent().size() << " messages";
  ASSERT_NE(framework(fw), nullptr);
  EXPECT_EQ(framework(fw)->state, FrameworkState::kActive);
  EXPECT_TRUE(framework(fw)->suppressedRoles.empty());
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_EQ(task(fw, "evil"), nullptr);
  EXPECT_NE(master_->offers().find(rest.id), nullptr);

  // The framework itself still can.
  accept("fw1", fw, {rest.id}, {commandTask("t2", "cpus:1;mem:128")});
  EXPECT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 1u);
}

TEST_F(MasterTest, FrameworkMessagesAreRelayed) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  transport_.inject("fw1", wire::MessageCall{fw, agent, ExecutorID("e1"), "to executor"});
  settle();
  auto toExecutor = transport_.take<wire::FrameworkToExecutorMessage>("agent1");
  ASSERT_EQ(toExecutor.size(), 1u);
  EXPECT_EQ(toExecutor[0].data, "to executor");
  EXPECT_EQ(toExecutor[0].executorId, ExecutorID("e1"));

  transport_.inject("agent1",
                    wire::ExecutorToFrameworkMessage{agent, fw, ExecutorID("e1"), "to scheduler"});
  settle();
  auto toScheduler = transport_.take<wire::MessageEvent>("fw1");
  ASSERT_EQ(toScheduler.size(), 1u);
  EXPECT_EQ(toScheduler[0].data, "to scheduler");
  EXPECT_EQ(toScheduler[0].agentId, agent);
}

TEST_F(MasterTest, HeartbeatsAreSentEveryInterval) {
  subscribe("fw1", frameworkInfo("fw"));
  advance(14s);
  EXPECT_EQ(count<wire::HeartbeatEvent>("fw1"), 0u);
  advance(1s);
  EXPECT_EQ(count<wire::HeartbeatEvent>("fw1"), 1u);
  advance(30s);
  EXPECT_EQ(count<wire::HeartbeatEvent>("fw1"), 3u);
}

TEST_F(MasterTest, SubscribeRetriedWithoutAnIdRegistersOneFramework) {
  // The driver re-sends SUBSCRIBE when the answer is slow; both the retry
  // that crosses the registry write and a later one get the same framework.
  transport_.inject("fw1", wire::SubscribeCall{frameworkInfo("f"), {}});
  transport_.inject("fw1", wire::SubscribeCall{frameworkInfo("f"), {}});
  settle();
  auto first = transport_.take<wire::SubscribedEvent>("fw1");
  ASSERT_EQ(first.size(), 1u);
  transport_.inject("fw1", wire::SubscribeCall{frameworkInfo("f"), {}});
  settle();
  auto again = transport_.take<wire::SubscribedEvent>("fw1");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].frameworkId, first[0].frameworkId);
  EXPECT_EQ(master_->frameworks().all().size(), 1u);
  // Another connection is another framework.
  FrameworkID other = subscribe("fw2", frameworkInfo("f"));
  EXPECT_NE(other, first[0].frameworkId);
  EXPECT_EQ(master_->frameworks().all().size(), 2u);
}

}  // namespace
}  // namespace master_test
}  // namespace tutti
