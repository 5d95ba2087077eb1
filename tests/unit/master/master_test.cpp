// Unit tests for master::Master: its handlers driven through the fake
// transport and a manual clock (DESIGN §7, §11). No sockets, no threads, no
// sleeps: time moves only through ManualClock::advance() and work runs in
// Loop::settle().
#include "master/master.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "master/options.hpp"
#include "master/http/state_publisher.hpp"
#include "master/state_snapshot.hpp"
#include <future>
#include <nlohmann/json.hpp>
#include "tests/fixtures/fake_transport.hpp"

namespace tutti {

// Readable gtest output for enums (found by ADL; internal linkage).
[[maybe_unused]] static void PrintTo(TaskState s, std::ostream* os) { *os << toString(s); }
[[maybe_unused]] static void PrintTo(Reason r, std::ostream* os) { *os << toString(r); }

namespace master {
[[maybe_unused]] static void PrintTo(AgentState s, std::ostream* os) { *os << toString(s); }
[[maybe_unused]] static void PrintTo(FrameworkState s, std::ostream* os) { *os << toString(s); }
}  // namespace master

namespace {

using master::AgentState;
using master::FrameworkState;
using testing::FakeTransport;

::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " (\"" << haystack
                                       << "\") does not contain " << needleExpr << " (\""
                                       << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)


Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

// A 16-byte status update uuid, distinct per `n`.
std::string uuid(int n) {
  std::string u(16, 'u');
  u[15] = static_cast<char>(n);
  return u;
}

TaskInfo commandTask(const std::string& id, std::string_view resources,
                     const std::string& command = "sleep 1000") {
  TaskInfo t;
  t.name = "task " + id;
  t.taskId = TaskID(id);
  t.resources = res(resources);
  CommandInfo c;
  c.value = command;
  t.command = c;
  return t;
}

FrameworkInfo frameworkInfo(const std::string& name, bool partitionAware = false,
                            double failoverTimeoutSecs = 0,
                            std::vector<std::string> roles = {}) {
  FrameworkInfo info;
  info.user = "nobody";
  info.name = name;
  info.failoverTimeoutSecs = failoverTimeoutSecs;
  info.roles = std::move(roles);
  if (partitionAware) info.capabilities.push_back(FrameworkCapability::PARTITION_AWARE);
  if (info.roles.size() > 1) info.capabilities.push_back(FrameworkCapability::MULTI_ROLE);
  return info;
}

class MasterTest : public ::testing::Test {
 protected:
  MasterTest() : loop_(clock_), transport_(loop_, metrics_) {}

  void SetUp() override {
    MasterInfo info;
    info.id = MasterID("m1");
    info.ip = "127.0.0.1";
    info.port = 5050;
    info.hostname = "master.test";
    info.version = "test";
    info.messageAddress = "tcp://127.0.0.1:6050";
    master_ = std::make_unique<master::Master>(options_, info, loop_, transport_, metrics_,
                                               std::make_unique<master::HierarchicalAllocator>());
    master_->start();
    loop_.settle();
  }

  // ---- driving ----

  void settle() { loop_.settle(); }

  // Moves time forward in steps (so that every periodic timer fires at its
  // time), settling after each step.
  void advance(Duration total, Duration step = 1s) {
    while (total > Duration::zero()) {
      Duration d = std::min(total, step);
      clock_.advance(d);
      loop_.settle();
      total -= d;
    }
  }

  // Like advance(), and answers every ping sent to `agentConn` at once.
  void advanceAnsweringPings(Duration total, const ConnectionId& agentConn) {
    while (total > Duration::zero()) {
      Duration d = std::min<Duration>(total, 1s);
      clock_.advance(d);
      loop_.settle();
      answerPings(agentConn);
      total -= d;
    }
  }

  int answerPings(const ConnectionId& agentConn) {
    auto pings = transport_.take<wire::PingMessage>(agentConn);
    for (const auto& p : pings) transport_.inject(agentConn, wire::PongMessage{p.agentId});
    loop_.settle();
    return static_cast<int>(pings.size());
  }

  // ---- agents ----

  AgentID registerAgent(const ConnectionId& conn, const std::string& hostname,
                        std::string_view resources = "cpus:4;mem:4096", uint32_t port = 5051) {
    wire::RegisterAgentMessage m;
    m.agentInfo.hostname = hostname;
    m.agentInfo.port = port;
    m.agentInfo.resources = res(resources);
    m.version = "test";
    transport_.inject(conn, m);
    loop_.settle();
    auto registered = transport_.take<wire::AgentRegisteredMessage>(conn);
    if (registered.size() != 1) {
      ADD_FAILURE() << "expected one AgentRegisteredMessage on " << conn << ", got "
                    << registered.size();
      return AgentID();
    }
    EXPECT_EQ(registered[0].pingTimeout, master_->options().agentPingTimeout);
    return registered[0].agentId;
  }

  // ---- frameworks ----

  FrameworkID subscribe(const ConnectionId& conn, const FrameworkInfo& info) {
    transport_.inject(conn, wire::SubscribeCall{info, {}});
    loop_.settle();
    auto subscribed = transport_.take<wire::SubscribedEvent>(conn);
    if (subscribed.size() != 1) {
      ADD_FAILURE() << "expected one SubscribedEvent on " << conn << ", got "
                    << subscribed.size();
      return FrameworkID();
    }
    EXPECT_EQ(subscribed[0].masterInfo.id, MasterID("m1"));
    EXPECT_EQ(subscribed[0].heartbeatIntervalSeconds, 15.0);
    return subscribed[0].frameworkId;
  }

  // Every offer sent to `conn` so far (removes them from the record).
  std::vector<Offer> offersFor(const ConnectionId& conn) {
    std::vector<Offer> out;
    for (auto& e : transport_.take<wire::OffersEvent>(conn)) {
      out.insert(out.end(), e.offers.begin(), e.offers.end());
    }
    return out;
  }

  // The single offer sent to `conn` (fails the test otherwise).
  Offer oneOffer(const ConnectionId& conn) {
    auto offers = offersFor(conn);
    if (offers.size() != 1) {
      ADD_FAILURE() << "expected one offer on " << conn << ", got " << offers.size();
      return Offer();
    }
    return offers[0];
  }

  std::vector<TaskStatus> updatesFor(const ConnectionId& conn) {
    std::vector<TaskStatus> out;
    for (auto& e : transport_.take<wire::UpdateEvent>(conn)) out.push_back(e.status);
    return out;
  }

  TaskStatus oneUpdate(const ConnectionId& conn) {
    auto updates = updatesFor(conn);
    if (updates.size() != 1) {
      ADD_FAILURE() << "expected one update on " << conn << ", got " << updates.size();
      return TaskStatus();
    }
    return updates[0];
  }

  void accept(const ConnectionId& conn, const FrameworkID& fw, std::vector<OfferID> offerIds,
              std::vector<TaskInfo> tasks, double refuseSeconds = 5) {
    wire::AcceptCall call;
    call.frameworkId = fw;
    call.offerIds = std::move(offerIds);
    call.operations.push_back(Offer::Operation::launch(std::move(tasks)));
    call.filters.refuseSeconds = refuseSeconds;
    transport_.inject(conn, call);
    loop_.settle();
  }

  void decline(const ConnectionId& conn, const FrameworkID& fw, const OfferID& offer,
               double refuseSeconds) {
    wire::DeclineCall call;
    call.frameworkId = fw;
    call.offerIds = {offer};
    call.filters.refuseSeconds = refuseSeconds;
    transport_.inject(conn, call);
    loop_.settle();
  }

  void statusUpdate(const ConnectionId& agentConn, const FrameworkID& fw, const AgentID& agent,
                    const std::string& task, TaskState state, const std::string& uuidBytes,
                    const std::string& message = "") {
    wire::StatusUpdateMessage m;
    m.frameworkId = fw;
    m.agentId = agent;
    m.status.taskId = TaskID(task);
    m.status.state = state;
    m.status.source = Source::SOURCE_EXECUTOR;
    m.status.agentId = agent;
    m.status.executorId = ExecutorID(task);
    m.status.uuid = uuidBytes;
    m.status.message = message;
    transport_.inject(agentConn, m);
    loop_.settle();
  }

  void acknowledge(const ConnectionId& conn, const FrameworkID& fw, const AgentID& agent,
                   const std::string& task, const std::string& uuidBytes) {
    transport_.inject(conn, wire::AcknowledgeCall{fw, agent, TaskID(task), uuidBytes});
    loop_.settle();
  }

  // Launches `task` with the whole `offer` (refuse_seconds 0 for what is
  // left, so the rest is offered again at once), reports it RUNNING and
  // acknowledges that update.
  void launchRunning(const ConnectionId& fwConn, const FrameworkID& fw,
                     const ConnectionId& agentConn, const AgentID& agent, const Offer& offer,
                     const TaskInfo& task, int uuidNumber, double refuseSeconds = 0) {
    accept(fwConn, fw, {offer.id}, {task}, refuseSeconds);
    auto runs = transport_.take<wire::RunTaskMessage>(agentConn);
    ASSERT_EQ(runs.size(), 1u) << "task " << task.taskId;
    ASSERT_EQ(runs[0].task.taskId, task.taskId);
    statusUpdate(agentConn, fw, agent, task.taskId.value, TaskState::TASK_RUNNING,
                 uuid(uuidNumber));
    auto updates = updatesFor(fwConn);
    ASSERT_EQ(updates.size(), 1u);
    ASSERT_EQ(updates[0].state, TaskState::TASK_RUNNING);
    acknowledge(fwConn, fw, agent, task.taskId.value, uuid(uuidNumber));
    ASSERT_EQ(transport_.take<wire::StatusUpdateAckMessage>(agentConn).size(), 1u);
  }

  // ---- inspection ----

  const master::FrameworkRecord* framework(const FrameworkID& id) {
    return master_->frameworks().find(id);
  }
  const master::TaskRecord* task(const FrameworkID& fw, const std::string& id) {
    const auto* f = framework(fw);
    if (!f) return nullptr;
    auto it = f->tasks.find(TaskID(id));
    return it == f->tasks.end() ? nullptr : &it->second;
  }
  std::optional<TaskState> taskState(const FrameworkID& fw, const std::string& id) {
    const auto* t = task(fw, id);
    return t ? std::optional<TaskState>(t->task->state) : std::nullopt;
  }
  const master::FrameworkRecord* completedFramework(const FrameworkID& id) {
    for (const auto& f : master_->frameworks().completed()) {
      if (f.id == id) return &f;
    }
    return nullptr;
  }
  double metric(const std::string& name) {
    auto snapshot = metrics_.snapshot();
    auto it = snapshot.find(name);
    return it == snapshot.end() ? -1 : it->second;
  }
  template <typename M>
  size_t count(const ConnectionId& conn) {
    return transport_.sentOf<M>(conn).size();
  }

  master::MasterOptions options_;
  ManualClock clock_;
  Metrics metrics_;
  Loop loop_;
  FakeTransport transport_;
  std::unique_ptr<master::Master> master_;
};

// ---- registration ------------------------------------------------------------

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

// ---- a. offer -> accept -> launch -> update -> ack ---------------------------

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

// ---- b. decline filters ---------------------------------------------------------

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

// ---- c. agent health ------------------------------------------------------------

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
  wire::ReregisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.id = agent;
  m.agentInfo.resources = res("cpus:4;mem:4096");
  for (const auto& [fw, id] : {std::pair{fw1, "t1"}, std::pair{fw2, "t2"}}) {
    Task t;
    t.taskId = TaskID(id);
    t.frameworkId = fw;
    t.agentId = agent;
    t.executorId = ExecutorID(id);
    t.state = TaskState::TASK_RUNNING;
    t.resources = res("cpus:1;mem:128").allocate("*");
    m.tasks.push_back(t);
  }
  transport_.inject("agent1b", m);
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
  (void)agent;
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

// ---- d. offer rescind -------------------------------------------------------------

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

// ---- e. accept validation -----------------------------------------------------------

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

// ---- f. teardown and failover --------------------------------------------------------

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

// ---- g. reconciliation ------------------------------------------------------------------

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

// ---- h. malformed and unexpected input -----------------------------------------------------

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

// ---- state snapshots (DESIGN §7: served off the loop) ----

TEST_F(MasterTest, StateSnapshotKeepsWhatItSawWhileTheMasterMovesOn) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("f"));
  Offer offer = oneOffer("fw1");
  launchRunning("fw1", fw, "agent1", agent, offer, commandTask("t1", "cpus:1;mem:128"), 1);

  auto before = master::takeStateSnapshot(*master_);
  // Nothing changed: the next snapshot shares the views of the first.
  auto same = master::takeStateSnapshot(*master_);
  EXPECT_EQ(same->frameworks[0], before->frameworks[0]);
  EXPECT_EQ(same->agents[0], before->agents[0]);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2));
  auto after = master::takeStateSnapshot(*master_);

  // The task was copied on write: the first snapshot still has it running.
  ASSERT_EQ(before->frameworks.size(), 1u);
  ASSERT_EQ(before->frameworks[0]->tasks.size(), 1u);
  EXPECT_EQ(before->frameworks[0]->tasks[0]->state, TaskState::TASK_RUNNING);
  EXPECT_EQ(before->frameworks[0]->tasks[0]->statuses.size(), 1u);
  ASSERT_EQ(after->frameworks[0]->tasks.size(), 1u);
  EXPECT_EQ(after->frameworks[0]->tasks[0]->state, TaskState::TASK_FINISHED);
  EXPECT_EQ(after->frameworks[0]->tasks[0]->statuses.size(), 2u);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_FINISHED);

  // The agent's view was rebuilt: its resources are free again.
  ASSERT_EQ(after->agents.size(), 1u);
  EXPECT_TRUE(after->agents[0]->used.empty()) << after->agents[0]->used;
  EXPECT_EQ(before->agents[0]->used, res("cpus:1;mem:128").allocate("*"));

  auto old = nlohmann::json::parse(master::stateJson(*before, {}, false));
  EXPECT_EQ(old["frameworks"][0]["tasks"][0]["state"], "TASK_RUNNING");
  auto now = nlohmann::json::parse(master::stateJson(*after, {}, false));
  EXPECT_EQ(now["frameworks"][0]["tasks"][0]["state"], "TASK_FINISHED");
}

TEST_F(MasterTest, StateJsonHasMesosShapeAndTheCacheChangesNothing) {
  AgentID agent = registerAgent("agent1", "host1", "cpus:4;mem:4096;ports:[31000-31010]");
  FrameworkID fw = subscribe("fw1", frameworkInfo("f", false, 0, {"eng"}));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id},
         {commandTask("t1", "cpus:1;mem:128"), commandTask("t2", "cpus:1;mem:64")});
  ASSERT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 2u);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1));
  statusUpdate("agent1", fw, agent, "t2", TaskState::TASK_RUNNING, uuid(3));
  acknowledge("fw1", fw, agent, "t1", uuid(1));
  acknowledge("fw1", fw, agent, "t2", uuid(3));
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2), "done \xff");
  acknowledge("fw1", fw, agent, "t1", uuid(2));

  auto snapshot = master::takeStateSnapshot(*master_);
  std::string plain = master::stateJson(*snapshot, {{"port", "5050"}}, false);
  master::TaskJsonCache cache;
  EXPECT_EQ(master::stateJson(*snapshot, {{"port", "5050"}}, false, &cache), plain);
  EXPECT_EQ(master::stateJson(*snapshot, {{"port", "5050"}}, false, &cache), plain);
  EXPECT_EQ(cache.size(), 2u);

  auto j = nlohmann::json::parse(plain);
  EXPECT_EQ(j["flags"]["port"], "5050");
  EXPECT_EQ(j["activated_slaves"], 1);
  ASSERT_EQ(j["slaves"].size(), 1u);
  EXPECT_EQ(j["slaves"][0]["id"], agent.value);
  EXPECT_EQ(j["slaves"][0]["hostname"], "host1");
  EXPECT_EQ(j["slaves"][0]["resources"]["cpus"], 4.0);
  EXPECT_EQ(j["slaves"][0]["resources"]["ports"], "[31000-31010]");
  EXPECT_EQ(j["slaves"][0]["used_resources"]["mem"], 64.0);
  ASSERT_EQ(j["frameworks"].size(), 1u);
  const auto& f = j["frameworks"][0];
  EXPECT_EQ(f["id"], fw.value);
  EXPECT_EQ(f["role"], "eng");
  ASSERT_EQ(f["tasks"].size(), 1u);
  EXPECT_EQ(f["tasks"][0]["id"], "t2");
  EXPECT_EQ(f["tasks"][0]["slave_id"], agent.value);
  EXPECT_EQ(f["tasks"][0]["role"], "eng");
  EXPECT_EQ(f["tasks"][0]["resources"]["cpus"], 1.0);
  EXPECT_EQ(f["tasks"][0]["statuses"][0]["state"], "TASK_RUNNING");
  ASSERT_EQ(f["completed_tasks"].size(), 1u);
  EXPECT_EQ(f["completed_tasks"][0]["state"], "TASK_FINISHED");
  EXPECT_EQ(f["completed_tasks"][0]["statuses"][1]["message"], "done \xef\xbf\xbd");

  auto summary = nlohmann::json::parse(master::stateJson(*snapshot, {}, true));
  EXPECT_FALSE(summary["frameworks"][0].contains("tasks"));
  EXPECT_EQ(summary["frameworks"][0]["TASK_RUNNING"], 1);
  auto tasks = nlohmann::json::parse(master::tasksJson(*snapshot, &cache));
  EXPECT_EQ(tasks["tasks"].size(), 2u);
  auto slaves = nlohmann::json::parse(master::slavesJson(*snapshot));
  EXPECT_EQ(slaves["slaves"].size(), 1u);
}

TEST_F(MasterTest, StatePublisherAnswersFromAFreshSnapshotOffTheLoop) {
  registerAgent("agent1", "host1");
  master::StatePublisher publisher(*master_, loop_, {});
  auto get = [&] {
    auto body = std::async(std::launch::async, [&] {
      return publisher.get(master::StatePublisher::View::kSlaves);
    });
    // The snapshot is taken on this (the loop's) thread: run it until the
    // answer is there.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (body.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline) {
      loop_.runOnce(std::chrono::milliseconds(10));
    }
    auto r = body.get();
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? nlohmann::json::parse(**r) : nlohmann::json();
  };
  EXPECT_EQ(get()["slaves"].size(), 1u);
  // A change made before the next request is in its answer.
  registerAgent("agent2", "host2");
  EXPECT_EQ(get()["slaves"].size(), 2u);
  EXPECT_EQ(publisher.batches(), 2u);
  publisher.stop();
  auto r = publisher.get(master::StatePublisher::View::kState);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace tutti
