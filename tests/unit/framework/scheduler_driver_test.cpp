// Unit tests for TuttiSchedulerDriver (framework-api) on a shared loop
// (SchedulerDriverOptions::loop), against a stand-in master: a ROUTER
// transport on loopback that records the drivers' calls and answers them.
// The test thread runs both loops; waits are for a condition, with a
// deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "common/wire.hpp"
#include "tutti/scheduler.hpp"

namespace tutti {
namespace {

using namespace std::chrono_literals;
namespace w = tutti::wire;

constexpr auto kDeadline = 10s;

// Records updates and the threads callbacks ran on.
class RecordingScheduler final : public Scheduler {
 public:
  void registered(SchedulerDriver*, const FrameworkID& id, const MasterInfo&) override {
    threads.push_back(std::this_thread::get_id());
    frameworkId = id;
  }
  void reregistered(SchedulerDriver*, const MasterInfo&) override {}
  void disconnected(SchedulerDriver*) override {}
  void resourceOffers(SchedulerDriver*, const std::vector<Offer>&) override {}
  void offerRescinded(SchedulerDriver*, const OfferID&) override {}
  void statusUpdate(SchedulerDriver*, const TaskStatus& status) override {
    threads.push_back(std::this_thread::get_id());
    updates.push_back(status);
  }
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}
  void agentLost(SchedulerDriver*, const AgentID&) override {}
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver*, const std::string&) override {}

  // Touched on the shared loop's thread, which is the test's.
  FrameworkID frameworkId;
  std::vector<TaskStatus> updates;
  std::vector<std::thread::id> threads;
};

class SchedulerDriverOnASharedLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    masterLoop_.adoptCurrentThread();
    driverLoop_.adoptCurrentThread();
    master_ = std::make_unique<ZmqRouterTransport>(masterLoop_, masterMetrics_, TransportOptions{});
    auto bound = master_->bind("tcp://127.0.0.1:0");
    ASSERT_TRUE(bound.ok()) << bound.error();
    address_ = bound->substr(std::string("tcp://").size());
    master_->setHandler([this](const ConnectionId& from, w::Payload&& m) {
      if (auto* s = std::get_if<w::SubscribeCall>(&m)) {
        // Each framework by name gets its id; answer at once.
        FrameworkID id("fw-" + s->frameworkInfo.name);
        connections_[id.value] = from;
        (void)master_->send(from, w::SubscribedEvent{id, heartbeatSecs_, MasterInfo{}});
      }
      calls_.push_back(std::move(m));
    });
  }
  void TearDown() override {
    drivers_.clear();  // the shared loop is not running: allowed
    master_->close();
  }

  TuttiSchedulerDriver& startDriver(RecordingScheduler& scheduler, const std::string& name) {
    FrameworkInfo info;
    info.name = name;
    info.user = "test";
    SchedulerDriverOptions o;
    o.loop = &driverLoop_;
    drivers_.push_back(std::make_unique<TuttiSchedulerDriver>(&scheduler, info, address_, o));
    EXPECT_EQ(drivers_.back()->start(), DriverStatus::DRIVER_RUNNING);
    return *drivers_.back();
  }
  bool waitFor(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      driverLoop_.runOnce(0ms);
      masterLoop_.runOnce(5ms);
    }
    return true;
  }
  std::vector<w::AcknowledgeCall> acks() const {
    std::vector<w::AcknowledgeCall> out;
    for (const auto& c : calls_) {
      if (const auto* a = std::get_if<w::AcknowledgeCall>(&c)) out.push_back(*a);
    }
    return out;
  }
  void sendUpdate(const std::string& framework, const std::string& task, const std::string& uuid) {
    TaskStatus s;
    s.taskId = TaskID(task);
    s.agentId = AgentID("agent-1");
    s.state = TaskState::TASK_RUNNING;
    s.uuid = uuid;
    ASSERT_TRUE(master_->send(connections_.at("fw-" + framework), w::UpdateEvent{s}).ok());
  }

  Loop masterLoop_{RealClock::instance(), Loop::Options{"master"}};
  Metrics masterMetrics_;
  std::unique_ptr<ZmqRouterTransport> master_;
  std::string address_;
  std::map<std::string, ConnectionId> connections_;
  std::vector<w::Payload> calls_;
  // The heartbeat interval SUBSCRIBED announces. The stand-in sends no
  // heartbeats: a driver re-subscribes after three intervals.
  double heartbeatSecs_ = 15;

  Loop driverLoop_{RealClock::instance(), Loop::Options{"drivers"}};
  std::vector<std::unique_ptr<TuttiSchedulerDriver>> drivers_;
};

TEST_F(SchedulerDriverOnASharedLoopTest, TwoDriversOnOneLoopSubscribeAndAcknowledgeTheirOwnUpdates) {
  RecordingScheduler a, b;
  startDriver(a, "a");
  startDriver(b, "b");
  ASSERT_TRUE(waitFor([&] { return !a.frameworkId.empty() && !b.frameworkId.empty(); }));
  EXPECT_EQ(a.frameworkId, FrameworkID("fw-a"));
  EXPECT_EQ(b.frameworkId, FrameworkID("fw-b"));

  sendUpdate("a", "ta", "uuid-a-456789012");
  sendUpdate("b", "tb", "uuid-b-456789012");
  ASSERT_TRUE(waitFor([&] { return acks().size() == 2; }));
  ASSERT_EQ(a.updates.size(), 1u);
  ASSERT_EQ(b.updates.size(), 1u);
  EXPECT_EQ(a.updates[0].taskId, TaskID("ta"));
  EXPECT_EQ(b.updates[0].taskId, TaskID("tb"));
  for (const auto& ack : acks()) {
    // Each acknowledgement names its own framework's task.
    EXPECT_EQ(ack.taskId, ack.frameworkId == FrameworkID("fw-a") ? TaskID("ta") : TaskID("tb"));
  }
  // Every callback ran on the loop's thread (the test's).
  for (const auto* s : {&a, &b}) {
    for (auto id : s->threads) EXPECT_EQ(id, std::this_thread::get_id());
  }
}

TEST_F(SchedulerDriverOnASharedLoopTest, ADriverDestroyedWhileTheLoopRunsOnLeavesTheOtherWorking) {
  RecordingScheduler a, b;
  startDriver(a, "a");
  startDriver(b, "b");
  ASSERT_TRUE(waitFor([&] { return !a.frameworkId.empty() && !b.frameworkId.empty(); }));

  // A call of `a` made on another thread is queued on the loop; then `a`'s
  // driver goes (on the loop's thread) before the loop runs the call. Were
  // the call run, it would read the destroyed driver: ctest also runs this
  // test under valgrind (tests/CMakeLists.txt), which reports that.
  std::thread([&] {
    EXPECT_EQ(drivers_[0]->declineOffer(OfferID("offer-1")), DriverStatus::DRIVER_RUNNING);
  }).join();
  drivers_[0].reset();

  sendUpdate("b", "tb", "uuid-b-456789012");
  ASSERT_TRUE(waitFor([&] { return acks().size() == 1; }));
  EXPECT_EQ(acks()[0].frameworkId, FrameworkID("fw-b"));
  EXPECT_EQ(b.updates.size(), 1u);
  for (const auto& c : calls_) {
    EXPECT_FALSE(std::holds_alternative<w::DeclineCall>(c)) << "a destroyed driver's call ran";
  }
}

// An accept no master would read (over the 16 MiB message limit; a
// framework packing twenty tasks of a 1 MB command, say) is not sent to be
// dropped unread while its offers stay held: its tasks fail with TASK_ERROR
// at once and its offers are declined.
TEST_F(SchedulerDriverOnASharedLoopTest, AnAcceptTooLargeToSendFailsItsTasksAndDeclines) {
  RecordingScheduler a;
  TuttiSchedulerDriver& d = startDriver(a, "a");
  ASSERT_TRUE(waitFor([&] { return !a.frameworkId.empty(); }));
  std::vector<TaskInfo> tasks;
  for (int i = 0; i < 20; ++i) {
    TaskInfo t;
    t.taskId = TaskID("t" + std::to_string(i));
    t.agentId = AgentID("agent-1");
    CommandInfo c;
    c.value = "echo " + std::string(1 << 20, 'x');
    t.command = c;
    tasks.push_back(t);
  }
  EXPECT_EQ(d.launchTasks({OfferID("o1")}, tasks, Filters{5}), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(waitFor([&] {
    return a.updates.size() == 20 && !calls_.empty() &&
           std::holds_alternative<w::DeclineCall>(calls_.back());
  }));
  for (const auto& u : a.updates) {
    EXPECT_EQ(u.state, TaskState::TASK_ERROR);
    EXPECT_EQ(u.reason, Reason::REASON_TASK_INVALID);
    EXPECT_NE(u.message.find("message limit"), std::string::npos) << u.message;
  }
  const auto& decline = std::get<w::DeclineCall>(calls_.back());
  EXPECT_EQ(decline.offerIds, std::vector<OfferID>{OfferID("o1")});
  EXPECT_EQ(decline.filters.refuseSeconds, 0);
  for (const auto& c : calls_) EXPECT_FALSE(std::holds_alternative<w::AcceptCall>(c));

  // A launch of a sensible size goes out as ever.
  tasks.resize(1);
  tasks[0].command->value = "true";
  EXPECT_EQ(d.launchTasks({OfferID("o2")}, tasks, Filters{5}), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(waitFor([&] { return std::holds_alternative<w::AcceptCall>(calls_.back()); }));
}

TEST_F(SchedulerDriverOnASharedLoopTest, DeclineOffersSendsOneCallWithEveryIdAndTheFilter) {
  RecordingScheduler a;
  TuttiSchedulerDriver& d = startDriver(a, "a");
  ASSERT_TRUE(waitFor([&] { return !a.frameworkId.empty(); }));

  EXPECT_EQ(d.declineOffers({}, Filters{5}), DriverStatus::DRIVER_RUNNING);  // sends nothing
  EXPECT_EQ(d.declineOffers({OfferID("o1"), OfferID("o2"), OfferID("o3")}, Filters{3600}),
            DriverStatus::DRIVER_RUNNING);
  auto declines = [&] {
    std::vector<w::DeclineCall> out;
    for (const auto& c : calls_) {
      if (const auto* dc = std::get_if<w::DeclineCall>(&c)) out.push_back(*dc);
    }
    return out;
  };
  ASSERT_TRUE(waitFor([&] { return !declines().empty(); }));
  // What was sent after the decline has arrived too: nothing came of the empty list.
  EXPECT_EQ(d.suppressOffers(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(waitFor([&] { return std::holds_alternative<w::SuppressCall>(calls_.back()); }));
  ASSERT_EQ(declines().size(), 1u);
  w::DeclineCall call = declines()[0];
  EXPECT_EQ(call.frameworkId, FrameworkID("fw-a"));
  EXPECT_EQ(call.offerIds, (std::vector<OfferID>{OfferID("o1"), OfferID("o2"), OfferID("o3")}));
  EXPECT_EQ(call.filters.refuseSeconds, 3600);
}

TEST_F(SchedulerDriverOnASharedLoopTest, SuppressedRolesAreCarriedIntoEveryLaterSubscription) {
  heartbeatSecs_ = 0.1;  // re-subscribes about every 0.3 s
  RecordingScheduler a;
  FrameworkInfo info;
  info.name = "a";
  info.user = "test";
  info.roles = {"web", "batch"};
  SchedulerDriverOptions o;
  o.loop = &driverLoop_;
  drivers_.push_back(std::make_unique<TuttiSchedulerDriver>(&a, info, address_, o));
  TuttiSchedulerDriver& d = *drivers_.back();
  ASSERT_EQ(d.start(), DriverStatus::DRIVER_RUNNING);
  auto subscribes = [&] {
    std::vector<w::SubscribeCall> out;
    for (const auto& c : calls_) {
      if (const auto* sc = std::get_if<w::SubscribeCall>(&c)) out.push_back(*sc);
    }
    return out;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  ASSERT_TRUE(waitFor([&] { return !a.frameworkId.empty(); }));
  EXPECT_TRUE(subscribes().back().suppressedRoles.empty());

  // Every role (none named), then one revived: the next subscription names the rest.
  EXPECT_EQ(d.suppressOffers(), DriverStatus::DRIVER_RUNNING);
  EXPECT_EQ(d.reviveOffers({"web"}), DriverStatus::DRIVER_RUNNING);
  // Two subscriptions on: the calls ran on the loop before the second.
  size_t before = subscribes().size();
  ASSERT_TRUE(waitFor([&] { return subscribes().size() > before + 1; }));
  EXPECT_EQ(subscribes().back().suppressedRoles, std::vector<std::string>{"batch"});

  EXPECT_EQ(d.suppressOffers({"web"}), DriverStatus::DRIVER_RUNNING);
  before = subscribes().size();
  ASSERT_TRUE(waitFor([&] { return subscribes().size() > before + 1; }));
  EXPECT_EQ(sorted(subscribes().back().suppressedRoles),
            (std::vector<std::string>{"batch", "web"}));

  // A revive of every role clears them all.
  EXPECT_EQ(d.reviveOffers(), DriverStatus::DRIVER_RUNNING);
  before = subscribes().size();
  ASSERT_TRUE(waitFor([&] { return subscribes().size() > before + 1; }));
  EXPECT_TRUE(subscribes().back().suppressedRoles.empty());
}

}  // namespace
}  // namespace tutti
