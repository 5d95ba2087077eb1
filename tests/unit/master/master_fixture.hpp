// The fixture of the master's unit tests (master_*_test.cpp): a Master with
// the hierarchical allocator, driven through the fake transport and a
// manual clock (DESIGN §7, §11). No sockets, no threads, no sleeps: time
// moves only through ManualClock::advance() and work runs in
// Loop::settle(). Include from test files only.
#pragma once

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

namespace master_test {

using master::AgentState;
using master::FrameworkState;
using testing::FakeTransport;

inline ::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " (\"" << haystack
                                       << "\") does not contain " << needleExpr << " (\""
                                       << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)


inline Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

// A 16-byte status update uuid, distinct per `n`.
inline std::string uuid(int n) {
  std::string u(16, 'u');
  u[15] = static_cast<char>(n);
  return u;
}

inline TaskInfo commandTask(const std::string& id, std::string_view resources,
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

inline FrameworkInfo frameworkInfo(const std::string& name, bool partitionAware = false,
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

}  // namespace master_test
}  // namespace tutti
