// Unit tests for master::Master: offers: accept and its validation, declines and filters, suppress and revive, offer timeouts, reservations.
#include "tests/unit/master/master_fixture.hpp"

namespace tutti {
namespace master_test {
namespace {

TEST_F(MasterTest, OfferAcceptLaunchUpdateAcknowledge) {
  AgentID agent = registerAgent("agent1", "host1", "cpus:4;mem:4096");
  ASSERT_FALSE(agent.empty());
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  ASSERT_EQ(fw, FrameworkID("m1-0000"));

  // Allocation is event-triggered: the offer comes without time passing.
  Offer offer = oneOffer("fw1");
  EXPECT_EQ(offer.agentId, agent);
  EXPECT_EQ(offer.frameworkId, fw);
  EXPECT_EQ(offer.hostname, "host1");
  EXPECT_EQ(offer.allocationRole, "*");
  EXPECT_EQ(offer.url, "http://host1:5051");
  EXPECT_EQ(offer.resources, res("cpus:4;mem:4096").allocate("*"));
  EXPECT_EQ(master_->offers().size(), 1u);

  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus:1;mem:128")});
  EXPECT_EQ(master_->offers().size(), 0u);
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].agentId, agent);
  EXPECT_EQ(runs[0].task.taskId, TaskID("t1"));
  EXPECT_EQ(runs[0].task.agentId, agent);
  EXPECT_EQ(runs[0].task.resources, res("cpus:1;mem:128").allocate("*"));
  ASSERT_TRUE(runs[0].task.command.has_value());
  EXPECT_EQ(runs[0].task.command->value, "sleep 1000");
  EXPECT_EQ(runs[0].frameworkInfo.id, fw);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_STAGING);
  EXPECT_EQ(metric("master/tasks_staging"), 1);
  EXPECT_EQ(metric("master/task_launches"), 1);
  // The rest of the offer is filtered for the accept's default 5 seconds.
  EXPECT_TRUE(offersFor("fw1").empty());

  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1), "started");
  TaskStatus running = oneUpdate("fw1");
  EXPECT_EQ(running.taskId, TaskID("t1"));
  EXPECT_EQ(running.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(running.uuid, uuid(1));
  EXPECT_EQ(running.agentId, agent);
  EXPECT_EQ(running.message, "started");
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_RUNNING);
  EXPECT_EQ(metric("master/tasks_running"), 1);
  EXPECT_EQ(metric("master/tasks_staging"), 0);

  acknowledge("fw1", fw, agent, "t1", uuid(1));
  auto acks = transport_.take<wire::StatusUpdateAckMessage>("agent1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].agentId, agent);
  EXPECT_EQ(acks[0].frameworkId, fw);
  EXPECT_EQ(acks[0].taskId, TaskID("t1"));
  EXPECT_EQ(acks[0].uuid, uuid(1));
  ASSERT_NE(task(fw, "t1"), nullptr);
  EXPECT_FALSE(task(fw, "t1")->task->statusUpdateState.has_value());

  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2));
  TaskStatus finished = oneUpdate("fw1");
  EXPECT_EQ(finished.state, TaskState::TASK_FINISHED);
  EXPECT_EQ(finished.uuid, uuid(2));
  // Terminal: its resources are offered again at once, but the task stays
  // until the update is acknowledged.
  Offer again = oneOffer("fw1");
  EXPECT_EQ(again.agentId, agent);
  EXPECT_EQ(again.resources, res("cpus:4;mem:4096").allocate("*"));
  EXPECT_NE(again.id, offer.id);
  ASSERT_NE(task(fw, "t1"), nullptr);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_FINISHED);

  acknowledge("fw1", fw, agent, "t1", uuid(2));
  acks = transport_.take<wire::StatusUpdateAckMessage>("agent1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(2));
  const auto* rec = framework(fw);
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->tasks.count(TaskID("t1")), 0u);
  ASSERT_EQ(rec->completedTasks.size(), 1u);
  EXPECT_EQ(rec->completedTasks.back()->taskId, TaskID("t1"));
  EXPECT_EQ(rec->completedTasks.back()->state, TaskState::TASK_FINISHED);
  EXPECT_TRUE(rec->used.empty()) << rec->used;
  EXPECT_TRUE(master_->agents().find(agent)->used.empty());
  EXPECT_EQ(metric("master/tasks_finished"), 1);
  EXPECT_EQ(metric("master/tasks_running"), 0);
  EXPECT_EQ(metric("master/cpus_used"), 0);
}

TEST_F(MasterTest, OfferCarriesAgentAttributesAndExecutors) {
  wire::RegisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.resources = res("cpus:4;mem:4096");
  m.agentInfo.attributes = {{"rack", "r1"}};
  transport_.inject("agent1", m);
  settle();
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  ASSERT_EQ(offer.attributes.size(), 1u);
  EXPECT_EQ(offer.attributes[0].name, "rack");
  EXPECT_EQ(offer.attributes[0].value, "r1");
  EXPECT_TRUE(offer.executorIds.empty());
  (void)fw;
}

TEST_F(MasterTest, DeclineFilterHoldsUntilRefuseSecondsPass) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");

  decline("fw1", fw, offer.id, 5);
  EXPECT_EQ(master_->offers().size(), 0u);
  EXPECT_EQ(metric("master/offers_declined"), 1);
  EXPECT_TRUE(offersFor("fw1").empty());

  // Several full allocations (every 1 s) run; the filter still holds.
  advance(4s);
  EXPECT_TRUE(offersFor("fw1").empty());
  advance(900ms, 900ms);
  EXPECT_TRUE(offersFor("fw1").empty());

  // Past 5 s, the next full allocation offers the agent again.
  advance(1100ms, 1100ms);
  Offer again = oneOffer("fw1");
  EXPECT_EQ(again.agentId, agent);
  EXPECT_EQ(again.resources, res("cpus:4;mem:4096").allocate("*"));
}

// An expiring refuse filter triggers an allocation of its own: with a full
// allocation only every hour, the declined agent comes back at refuse_seconds.
class LongAllocationIntervalTest : public MasterTest {
 protected:
  LongAllocationIntervalTest() { options_.allocationInterval = std::chrono::hours(1); }
};

TEST_F(LongAllocationIntervalTest, ExpiringFilterOffersTheAgentAgainOnTime) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");

  decline("fw1", fw, offer.id, 5);
  advance(4900ms);
  EXPECT_TRUE(offersFor("fw1").empty());
  advance(100ms, 100ms);
  Offer again = oneOffer("fw1");
  EXPECT_EQ(again.agentId, agent);
  EXPECT_NE(again.id, offer.id);
}

// A framework that subscribes to a cluster larger than one allocation run
// gets offers for every agent, in several runs, without time passing (the
// runs follow each other on the loop) and without waiting for the interval.
class SmallAllocationRunTest : public MasterTest {
 protected:
  SmallAllocationRunTest() {
    options_.allocationInterval = std::chrono::hours(1);
    options_.allocationMaxAgentsPerRun = 2;
  }
};

TEST_F(SmallAllocationRunTest, EveryAgentIsOfferedInRunsThatFollowEachOther) {
  std::set<AgentID> agents;
  for (int i = 0; i < 5; ++i) {
    std::string n = std::to_string(i);
    agents.insert(registerAgent("agent" + n, "host" + n));
  }
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  ASSERT_FALSE(fw.empty());
  std::set<AgentID> offered;
  auto events = transport_.take<wire::OffersEvent>("fw1");
  for (const auto& e : events) {
    for (const auto& o : e.offers) offered.insert(o.agentId);
  }
  EXPECT_EQ(offered, agents);
  EXPECT_GE(events.size(), 3u) << "one run offered more than two agents";
}

// --offer_timeout: an offer held too long is rescinded and its resources
// go back to the pool; until then nothing happens.
class OfferTimeoutTest : public MasterTest {
 protected:
  OfferTimeoutTest() { options_.offerTimeout = 10s; }
};

TEST_F(OfferTimeoutTest, HeldOfferIsRescindedAndOfferedAgain) {
  AgentID agent = registerAgent("agent1", "host1");
  subscribe("fw1", frameworkInfo("fw1"));
  Offer offer = oneOffer("fw1");
  subscribe("fw2", frameworkInfo("fw2"));
  EXPECT_TRUE(offersFor("fw2").empty());  // fw1 holds the whole agent

  advance(9s);
  EXPECT_TRUE(transport_.take<wire::RescindEvent>("fw1").empty());
  EXPECT_EQ(metric("master/offers_rescinded"), 0);
  EXPECT_EQ(master_->offers().size(), 1u);

  advance(1s, 1s);
  auto rescinds = transport_.take<wire::RescindEvent>("fw1");
  ASSERT_EQ(rescinds.size(), 1u);
  EXPECT_EQ(rescinds[0].offerId, offer.id);
  EXPECT_EQ(metric("master/offers_rescinded"), 1);
  // The resources were recovered and offered anew (a new offer id).
  std::vector<Offer> again = offersFor("fw1");
  for (const auto& o : offersFor("fw2")) again.push_back(o);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].id, offer.id);
  EXPECT_EQ(again[0].agentId, agent);
  EXPECT_EQ(again[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(MasterTest, DeclinedResourcesGoToAnotherFrameworkAtOnce) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw1 = subscribe("fw1", frameworkInfo("fw1"));
  Offer offer = oneOffer("fw1");
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("fw2"));
  EXPECT_TRUE(offersFor("fw2").empty());  // everything is offered to fw1

  decline("fw1", fw1, offer.id, 5);
  // No time passes: the decline triggers an allocation.
  Offer offer2 = oneOffer("fw2");
  EXPECT_EQ(offer2.agentId, agent);
  EXPECT_EQ(offer2.frameworkId, fw2);
  EXPECT_EQ(offer2.resources, res("cpus:4;mem:4096").allocate("*"));
  EXPECT_TRUE(offersFor("fw1").empty());
}

TEST_F(MasterTest, DeclineWithZeroRefuseSecondsOffersAgainAtOnce) {
  registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  decline("fw1", fw, offer.id, 0);
  Offer again = oneOffer("fw1");
  EXPECT_NE(again.id, offer.id);
}

TEST_F(MasterTest, DeclineOfUnknownOfferIsIgnored) {
  registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  decline("fw1", fw, OfferID("m1-O99"), 5);
  EXPECT_EQ(master_->offers().size(), 1u);
  EXPECT_NE(master_->offers().find(offer.id), nullptr);
  EXPECT_EQ(metric("master/offers_declined"), 0);
}

TEST_F(MasterTest, SubscribingWithSuppressedRolesGetsNoOffersUntilRevived) {
  // What a scheduler driver sends when it subscribes after it suppressed
  // offers (a new leader, say): the master must not offer it everything.
  registerAgent("agent1", "host1");
  transport_.inject("fw1", wire::SubscribeCall{frameworkInfo("fw"), {"*"}});
  settle();
  auto subscribed = transport_.take<wire::SubscribedEvent>("fw1");
  ASSERT_EQ(subscribed.size(), 1u);
  FrameworkID fw = subscribed[0].frameworkId;
  advance(10s);
  EXPECT_TRUE(offersFor("fw1").empty());
  EXPECT_EQ(framework(fw)->suppressedRoles.count("*"), 1u);

  // Re-subscribing with its id and no suppressed role: offers come again.
  FrameworkInfo again = frameworkInfo("fw");
  again.id = fw;
  transport_.inject("fw1", wire::SubscribeCall{again, {}});
  settle();
  ASSERT_EQ(transport_.take<wire::SubscribedEvent>("fw1").size(), 1u);
  Offer offer = oneOffer("fw1");
  EXPECT_EQ(offer.frameworkId, fw);

  // And suppressed again by a re-subscription that names the role.
  transport_.inject("fw1", wire::SubscribeCall{again, {"*"}});
  settle();
  ASSERT_EQ(transport_.take<wire::SubscribedEvent>("fw1").size(), 1u);
  decline("fw1", fw, offer.id, 0);
  advance(10s);
  EXPECT_TRUE(offersFor("fw1").empty());
}

TEST_F(MasterTest, SuppressStopsOffersAndReviveClearsFilters) {
  registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  transport_.inject("fw1", wire::SuppressCall{fw, {}});
  settle();
  decline("fw1", fw, offer.id, 0);
  advance(10s);
  EXPECT_TRUE(offersFor("fw1").empty());
  EXPECT_EQ(framework(fw)->suppressedRoles.count("*"), 1u);

  transport_.inject("fw1", wire::ReviveCall{fw, {}});
  settle();
  Offer again = oneOffer("fw1");
  EXPECT_TRUE(framework(fw)->suppressedRoles.empty());

  // Revive also clears refuse filters.
  decline("fw1", fw, again.id, 3600);
  advance(2s);
  EXPECT_TRUE(offersFor("fw1").empty());
  transport_.inject("fw1", wire::ReviveCall{fw, {}});
  settle();
  EXPECT_EQ(offersFor("fw1").size(), 1u);
}

// One agent (cpus:4;mem:4096), one framework with task t0 running on it and
// the rest of the agent outstanding in `rest_`.
class AcceptTest : public MasterTest {
 protected:
  void SetUp() override {
    MasterTest::SetUp();
    agent_ = registerAgent("agent1", "host1");
    fw_ = subscribe("fw1", frameworkInfo("fw", partitionAware()));
    launchRunning("fw1", fw_, "agent1", agent_, oneOffer("fw1"),
                  commandTask("t0", "cpus:1;mem:128"), 100);
    rest_ = oneOffer("fw1");
    ASSERT_EQ(rest_.resources, res("cpus:3;mem:3968").allocate("*"));
  }
  virtual bool partitionAware() const { return false; }

  // t0 is untouched: still running, not killed, its resources in use.
  void expectT0Untouched() {
    EXPECT_EQ(taskState(fw_, "t0"), TaskState::TASK_RUNNING);
    EXPECT_TRUE(transport_.take<wire::KillTaskMessage>("agent1").empty());
    EXPECT_EQ(framework(fw_)->used, res("cpus:1;mem:128").allocate("*"));
  }
  // The rest of the agent is offered again (no filter was installed).
  void expectRestOfferedAgain() {
    Offer again = oneOffer("fw1");
    EXPECT_EQ(again.resources, res("cpus:3;mem:3968").allocate("*"));
    EXPECT_NE(again.id, rest_.id);
  }

  AgentID agent_;
  FrameworkID fw_;
  Offer rest_;
};

class PartitionAwareAcceptTest : public AcceptTest {
 protected:
  bool partitionAware() const override { return true; }
};

TEST_F(AcceptTest, UnknownOfferDropsLaunchesAsLost) {
  accept("fw1", fw_, {rest_.id, OfferID("m1-O999")}, {commandTask("t1", "cpus:1;mem:128")});
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t1"));
  EXPECT_EQ(s.state, TaskState::TASK_LOST);
  EXPECT_EQ(s.reason, Reason::REASON_INVALID_OFFERS);
  EXPECT_EQ(s.source, Source::SOURCE_MASTER);
  EXPECT_HAS_SUBSTR(s.message, "m1-O999");
  EXPECT_TRUE(s.uuid.empty());
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  EXPECT_EQ(task(fw_, "t1"), nullptr);
  EXPECT_EQ(metric("master/invalid_tasks"), 1);
  expectT0Untouched();
  // The valid offer in the same accept goes back, without a filter.
  expectRestOfferedAgain();
}

TEST_F(PartitionAwareAcceptTest, UnknownOfferDropsLaunchesAsDropped) {
  accept("fw1", fw_, {OfferID("m1-O999")}, {commandTask("t1", "cpus:1;mem:128")});
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.state, TaskState::TASK_DROPPED);
  EXPECT_EQ(s.reason, Reason::REASON_INVALID_OFFERS);
  EXPECT_FALSE(s.message.empty());
  expectT0Untouched();
  // The outstanding offer was not part of the accept: it stays.
  EXPECT_NE(master_->offers().find(rest_.id), nullptr);
  EXPECT_EQ(metric("master/tasks_dropped"), 1);
}

TEST_F(AcceptTest, StaleOfferCannotBeUsedTwice) {
  accept("fw1", fw_, {rest_.id}, {commandTask("t1", "cpus:1;mem:128")}, 0);
  EXPECT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 1u);
  offersFor("fw1");

  accept("fw1", fw_, {rest_.id}, {commandTask("t2", "cpus:1;mem:128")}, 0);
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t2"));
  EXPECT_EQ(s.state, TaskState::TASK_LOST);
  EXPECT_EQ(s.reason, Reason::REASON_INVALID_OFFERS);
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  EXPECT_EQ(taskState(fw_, "t1"), TaskState::TASK_STAGING);
  EXPECT_EQ(task(fw_, "t2"), nullptr);
  EXPECT_EQ(taskState(fw_, "t0"), TaskState::TASK_RUNNING);
  EXPECT_EQ(framework(fw_)->used, res("cpus:2;mem:256").allocate("*"));
}

TEST_F(AcceptTest, OfferOfAnotherFrameworkIsInvalid) {
  FrameworkID fw2 = subscribe("fw2", frameworkInfo("other"));
  accept("fw2", fw2, {rest_.id}, {commandTask("x", "cpus:1;mem:128")});
  TaskStatus s = oneUpdate("fw2");
  EXPECT_EQ(s.state, TaskState::TASK_LOST);
  EXPECT_EQ(s.reason, Reason::REASON_INVALID_OFFERS);
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  // fw1's offer is still there for fw1.
  EXPECT_NE(master_->offers().find(rest_.id), nullptr);
  accept("fw1", fw_, {rest_.id}, {commandTask("t1", "cpus:1;mem:128")});
  EXPECT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 1u);
}

TEST_F(AcceptTest, OffersFromTwoAgentsInOneAcceptAreInvalid) {
  AgentID agent2 = registerAgent("agent2", "host2", "cpus:2;mem:1024");
  Offer other = oneOffer("fw1");
  ASSERT_EQ(other.agentId, agent2);

  accept("fw1", fw_, {rest_.id, other.id}, {commandTask("t1", "cpus:1;mem:128")});
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t1"));
  EXPECT_EQ(s.state, TaskState::TASK_LOST);
  EXPECT_EQ(s.reason, Reason::REASON_INVALID_OFFERS);
  EXPECT_HAS_SUBSTR(s.message, "different agents");
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent2").empty());
  expectT0Untouched();
  // Both offers' resources are offered again.
  auto again = offersFor("fw1");
  ASSERT_EQ(again.size(), 2u);
  Resources total;
  for (const auto& o : again) total += o.resources;
  EXPECT_EQ(total, res("cpus:5;mem:4992").allocate("*"));
}

TEST_F(AcceptTest, TaskBeyondTheOfferIsAnError) {
  accept("fw1", fw_, {rest_.id},
         {commandTask("big", "cpus:8;mem:128"), commandTask("t1", "cpus:1;mem:128")}, 0);
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].taskId, TaskID("big"));
  EXPECT_EQ(updates[0].state, TaskState::TASK_ERROR);
  EXPECT_EQ(updates[0].reason, Reason::REASON_TASK_INVALID);
  EXPECT_EQ(updates[0].agentId, agent_);
  EXPECT_HAS_SUBSTR(updates[0].message, "more resources");
  // The valid task of the same accept is launched.
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.taskId, TaskID("t1"));
  EXPECT_EQ(task(fw_, "big"), nullptr);
  EXPECT_EQ(metric("master/tasks_error"), 1);
  EXPECT_EQ(taskState(fw_, "t0"), TaskState::TASK_RUNNING);
  // What is left goes back to the pool.
  Offer again = oneOffer("fw1");
  EXPECT_EQ(again.resources, res("cpus:2;mem:3840").allocate("*"));
}

TEST_F(AcceptTest, TasksTogetherBeyondTheOfferFailOneByOne) {
  accept("fw1", fw_, {rest_.id},
         {commandTask("a", "cpus:2;mem:128"), commandTask("b", "cpus:2;mem:128")}, 0);
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.taskId, TaskID("a"));
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("b"));
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  Offer again = oneOffer("fw1");
  EXPECT_EQ(again.resources, res("cpus:1;mem:3840").allocate("*"));
}

TEST_F(AcceptTest, DuplicateTaskIdWithinOneAccept) {
  accept("fw1", fw_, {rest_.id},
         {commandTask("dup", "cpus:1;mem:128"), commandTask("dup", "cpus:1;mem:128")}, 0);
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.taskId, TaskID("dup"));
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("dup"));
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  EXPECT_EQ(s.reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(s.message, "duplicate");
  // The first one is launched and counted once.
  EXPECT_EQ(taskState(fw_, "dup"), TaskState::TASK_STAGING);
  EXPECT_EQ(framework(fw_)->used, res("cpus:2;mem:256").allocate("*"));
  EXPECT_EQ(oneOffer("fw1").resources, res("cpus:2;mem:3840").allocate("*"));
}

TEST_F(AcceptTest, DuplicateOfARunningTaskId) {
  accept("fw1", fw_, {rest_.id}, {commandTask("t0", "cpus:1;mem:128")}, 0);
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t0"));
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  EXPECT_EQ(s.reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(s.message, "duplicate");
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  expectT0Untouched();
  expectRestOfferedAgain();
}

TEST_F(AcceptTest, EmptyCommandIsAnError) {
  accept("fw1", fw_, {rest_.id}, {commandTask("t1", "cpus:1;mem:128", "")}, 0);
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("t1"));
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  EXPECT_EQ(s.reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(s.message, "empty");
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  expectT0Untouched();
  expectRestOfferedAgain();
}

TEST_F(AcceptTest, InvalidTaskIdIsAnError) {
  accept("fw1", fw_, {rest_.id}, {commandTask("a/b", "cpus:1;mem:128")}, 0);
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.taskId, TaskID("a/b"));
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  EXPECT_EQ(s.reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(s.message, "invalid id");
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  EXPECT_EQ(task(fw_, "a/b"), nullptr);
  expectT0Untouched();
  expectRestOfferedAgain();
}

TEST_F(AcceptTest, ResourcesAllocatedToAnotherRoleAreAnError) {
  TaskInfo t = commandTask("t1", "cpus:1;mem:128");
  t.resources = t.resources.allocate("other");
  accept("fw1", fw_, {rest_.id}, {t}, 0);
  TaskStatus s = oneUpdate("fw1");
  EXPECT_EQ(s.state, TaskState::TASK_ERROR);
  EXPECT_EQ(s.reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(s.message, "other");
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent1").empty());
  expectT0Untouched();
  expectRestOfferedAgain();
}

TEST_F(AcceptTest, NonLaunchOperationIsRefusedAndItsOfferRecovered) {
  wire::AcceptCall call;
  call.frameworkId = fw_;
  call.offerIds = {rest_.id};
  Offer::Operation reserve;
  reserve.type = Offer::Operation::Type::RESERVE;
  reserve.resources = res("cpus:1");
  call.operations.push_back(reserve);
  call.filters.refuseSeconds = 0;
  transport_.inject("fw1", call);
  settle();
  EXPECT_EQ(metric("master/invalid_operations"), 1);
  expectT0Untouched();
  expectRestOfferedAgain();
}

TEST_F(MasterTest, ResourcesReservedForAnUnknownRoleAreAnError) {
  AgentID agent = registerAgent("agent1", "host1", "cpus(eng):1;cpus:3;mem:1024");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw"));
  Offer offer = oneOffer("fw1");
  // A framework in "*" is offered only the unreserved part.
  EXPECT_EQ(offer.resources, res("cpus:3;mem:1024").allocate("*"));

  accept("fw1", fw, {offer.id},
         {commandTask("t1", "cpus(eng):1;mem:128"), commandTask("t2", "cpus:1;mem:128")}, 0);
  auto updates = updatesFor("fw1");
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].state, TaskState::TASK_ERROR);
  EXPECT_EQ(updates[0].reason, Reason::REASON_TASK_INVALID);
  EXPECT_HAS_SUBSTR(updates[0].message, "eng");
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.taskId, TaskID("t2"));
  EXPECT_EQ(oneOffer("fw1").resources, res("cpus:2;mem:896").allocate("*"));
  (void)agent;
}

TEST_F(MasterTest, FrameworkInSubRoleLaunchesOnParentReservation) {
  AgentID agent = registerAgent("agent1", "host1", "cpus(eng):1;cpus:3;mem:1024");
  FrameworkID fw = subscribe("fw1", frameworkInfo("fw", false, 0, {"eng/web"}));
  Offer offer = oneOffer("fw1");
  EXPECT_EQ(offer.allocationRole, "eng/web");
  EXPECT_EQ(offer.resources, res("cpus(eng):1;cpus:3;mem:1024").allocate("eng/web"));
  accept("fw1", fw, {offer.id}, {commandTask("t1", "cpus(eng):1;mem:128")}, 0);
  EXPECT_TRUE(updatesFor("fw1").empty());
  auto runs = transport_.take<wire::RunTaskMessage>("agent1");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.resources, res("cpus(eng):1;mem:128").allocate("eng/web"));
  (void)agent;
}

}  // namespace
}  // namespace master_test
}  // namespace tutti
