// Unit tests for TuttiExecutorDriver (framework-api) against a stand-in
// agent: a ROUTER transport on loopback that records the executor's calls
// and answers them. Both ways of running the driver are covered: on a thread
// of its own (what executor authors get) and on the caller's Loop (what
// tutti-executor does). Waits are for a condition, with a deadline.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "common/wire.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tutti/executor.hpp"

namespace tutti {
namespace {

using namespace std::chrono_literals;
namespace w = tutti::wire;

constexpr auto kDeadline = 10s;
const FrameworkID kFw("fw-1");
const ExecutorID kExec("exec-1");

// Records what the driver calls back, and on which thread.
class RecordingExecutor final : public Executor {
 public:
  void registered(ExecutorDriver*, const ExecutorInfo&, const FrameworkInfo&,
                  const AgentInfo&) override {
    note();
    registered_ = true;
  }
  void reregistered(ExecutorDriver*, const AgentInfo&) override { note(); }
  void disconnected(ExecutorDriver*) override { note(); }
  void launchTask(ExecutorDriver* driver, const TaskInfo& task) override {
    note();
    {
      std::lock_guard<std::mutex> lock(mu_);
      launched_.push_back(task.taskId);
    }
    if (onLaunch) onLaunch(driver, task);
  }
  void killTask(ExecutorDriver*, const TaskID&, const std::optional<KillPolicy>&) override {
    note();
  }
  void frameworkMessage(ExecutorDriver*, const std::string&) override { note(); }
  void shutdown(ExecutorDriver*, std::chrono::nanoseconds) override { note(); }
  void error(ExecutorDriver*, const std::string&) override { note(); }

  // Runs in launchTask(), on the driver's thread (as a real executor
  // answering its launch does).
  std::function<void(ExecutorDriver*, const TaskInfo&)> onLaunch;

  bool registeredYet() const { return registered_.load(); }
  std::vector<TaskID> launched() {
    std::lock_guard<std::mutex> lock(mu_);
    return launched_;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }

 private:
  void note() {
    std::lock_guard<std::mutex> lock(mu_);
    threads_.push_back(std::this_thread::get_id());
  }
  std::atomic<bool> registered_{false};
  std::mutex mu_;
  std::vector<TaskID> launched_;
  std::vector<std::thread::id> threads_;
};

class ExecutorDriverFixture : public ::testing::Test {
 protected:
  virtual bool sharedLoop() const = 0;

  void SetUp() override {
    agentLoop_.adoptCurrentThread();
    agent_ = std::make_unique<ZmqRouterTransport>(agentLoop_, agentMetrics_, TransportOptions{});
    auto bound = agent_->bind("tcp://127.0.0.1:0");
    ASSERT_TRUE(bound.ok()) << bound.error();
    agent_->setHandler([this](const ConnectionId& from, w::Payload&& m) {
      executorConn_ = from;
      calls_.push_back(std::move(m));
    });
    ::setenv("TUTTI_AGENT_ENDPOINT", bound->c_str(), 1);
    ::setenv("TUTTI_FRAMEWORK_ID", kFw.value.c_str(), 1);
    ::setenv("TUTTI_EXECUTOR_ID", kExec.value.c_str(), 1);
    ::setenv("TUTTI_AGENT_ID", "agent-1", 1);
  }
  void TearDown() override {
    if (executorThread_.joinable()) {
      executorLoop_.stop();
      executorThread_.join();
    }
    driver_.reset();
    agent_->close();
    for (const char* v : {"TUTTI_AGENT_ENDPOINT", "TUTTI_FRAMEWORK_ID", "TUTTI_EXECUTOR_ID",
                          "TUTTI_AGENT_ID"}) {
      ::unsetenv(v);
    }
  }

  // Starts the driver; with a shared loop, a thread of the test runs that
  // loop (as tutti-executor's main thread does).
  void startDriver() {
    if (sharedLoop()) {
      driver_ = std::make_unique<TuttiExecutorDriver>(&executor_, executorLoop_);
    } else {
      driver_ = std::make_unique<TuttiExecutorDriver>(&executor_);
    }
    ASSERT_EQ(driver_->start(), DriverStatus::DRIVER_RUNNING);
    if (sharedLoop()) {
      executorThread_ = std::thread([this] { executorLoop_.run(); });
    }
  }

  bool agentWaitsFor(const std::function<bool()>& condition) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      agentLoop_.runOnce(10ms);
    }
    return true;
  }
  // The test thread runs the executor's loop too (as tutti-executor's main
  // thread does) while the agent waits.
  bool bothWaitFor(const std::function<bool()>& condition) {
    return agentWaitsFor([&] {
      executorLoop_.runOnce(0ms);
      return condition();
    });
  }
  template <typename T>
  std::vector<T> callsOf() const {
    std::vector<T> out;
    for (const auto& c : calls_) {
      if (const T* t = std::get_if<T>(&c)) out.push_back(*t);
    }
    return out;
  }
  void send(w::Payload m) { ASSERT_TRUE(agent_->send(executorConn_, std::move(m)).ok()); }

  Loop agentLoop_{RealClock::instance(), Loop::Options{"agent"}};
  Metrics agentMetrics_;
  std::unique_ptr<ZmqRouterTransport> agent_;
  ConnectionId executorConn_;
  std::vector<w::Payload> calls_;

  Loop executorLoop_{RealClock::instance(), Loop::Options{"executor"}};
  std::thread executorThread_;
  RecordingExecutor executor_;
  std::unique_ptr<TuttiExecutorDriver> driver_;
};

// Both modes.
class ExecutorDriverTest : public ExecutorDriverFixture,
                           public ::testing::WithParamInterface<bool> {
 protected:
  bool sharedLoop() const override { return GetParam(); }
};

// What only a driver on the caller's loop does.
class ExecutorDriverOnTheCallersLoopTest : public ExecutorDriverFixture {
 protected:
  bool sharedLoop() const override { return true; }
};

TEST_P(ExecutorDriverTest, SubscribesLaunchesAndKeepsAnUpdateUntilAcknowledged) {
  startDriver();
  ASSERT_TRUE(agentWaitsFor([&] { return !callsOf<w::ExecutorSubscribeCall>().empty(); }));
  EXPECT_EQ(callsOf<w::ExecutorSubscribeCall>().front().frameworkId, kFw);
  EXPECT_EQ(callsOf<w::ExecutorSubscribeCall>().front().executorId, kExec);

  send(w::ExecutorSubscribedEvent{});
  TaskInfo task;
  task.taskId = TaskID("t1");
  send(w::LaunchEvent{task});
  ASSERT_TRUE(agentWaitsFor([&] { return executor_.launched().size() == 1; }));
  EXPECT_TRUE(executor_.registeredYet());
  EXPECT_EQ(executor_.launched().front(), TaskID("t1"));

  TaskStatus running;
  running.taskId = TaskID("t1");
  running.state = TaskState::TASK_RUNNING;
  ASSERT_EQ(driver_->sendStatusUpdate(running), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(agentWaitsFor([&] { return !callsOf<w::ExecutorUpdateCall>().empty(); }));
  w::ExecutorUpdateCall update = callsOf<w::ExecutorUpdateCall>().front();
  EXPECT_EQ(update.status.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(update.status.executorId, kExec);
  EXPECT_FALSE(update.status.uuid.empty());
  EXPECT_EQ(driver_->unacknowledgedUpdates(), 1u);

  send(w::AcknowledgedEvent{TaskID("t1"), update.status.uuid});
  ASSERT_TRUE(agentWaitsFor([&] { return driver_->unacknowledgedUpdates() == 0; }));

  // Every callback ran on one thread, never the test's (the agent's).
  std::vector<std::thread::id> threads = executor_.threads();
  ASSERT_FALSE(threads.empty());
  for (auto id : threads) {
    EXPECT_EQ(id, threads.front());
    EXPECT_NE(id, std::this_thread::get_id());
  }
  if (sharedLoop()) {
    EXPECT_EQ(threads.front(), executorThread_.get_id());
  }
}

TEST_P(ExecutorDriverTest, StopEndsTheDriverAndJoinReturns) {
  startDriver();
  ASSERT_TRUE(agentWaitsFor([&] { return !callsOf<w::ExecutorSubscribeCall>().empty(); }));
  EXPECT_EQ(driver_->stop(), DriverStatus::DRIVER_STOPPED);
  EXPECT_EQ(driver_->join(), DriverStatus::DRIVER_STOPPED);
  TaskStatus late;
  late.taskId = TaskID("t1");
  late.state = TaskState::TASK_RUNNING;
  EXPECT_EQ(driver_->sendStatusUpdate(late), DriverStatus::DRIVER_STOPPED);
  if (sharedLoop()) {
    // The loop is its owner's: stopping the driver left it running.
    std::atomic<bool> ran{false};
    executorLoop_.post("test.still_running", [&] { ran = true; });
    EXPECT_TRUE(agentWaitsFor([&] { return ran.load(); }));
  }
}

TEST_F(ExecutorDriverOnTheCallersLoopTest, ADriverDestroyedWhileItsLoopRunsOnLeavesNothingBehind) {
  // A subscribed driver gets an update from another thread (queued on its
  // loop) and is destroyed before the loop runs it: the queued work and its
  // timers must not run on the destroyed driver, and the loop runs on
  // (ctest also runs this test under valgrind, which reports a read of the
  // destroyed driver).
  auto driver = std::make_unique<TuttiExecutorDriver>(&executor_, executorLoop_);
  ASSERT_EQ(driver->start(), DriverStatus::DRIVER_RUNNING);
  executorLoop_.adoptCurrentThread();
  ASSERT_TRUE(bothWaitFor([&] { return !callsOf<w::ExecutorSubscribeCall>().empty(); }));
  send(w::ExecutorSubscribedEvent{});
  ASSERT_TRUE(bothWaitFor([&] { return executor_.registeredYet(); }));
  std::thread([&] {
    TaskStatus running;
    running.taskId = TaskID("t1");
    running.state = TaskState::TASK_RUNNING;
    EXPECT_EQ(driver->sendStatusUpdate(running), DriverStatus::DRIVER_RUNNING);
  }).join();
  driver.reset();
  bool ran = false;
  executorLoop_.post("test.after", [&] { ran = true; });
  ASSERT_TRUE(bothWaitFor([&] { return ran; }));
  auto until = std::chrono::steady_clock::now() + 200ms;
  while (std::chrono::steady_clock::now() < until) bothWaitFor([] { return true; });
  EXPECT_TRUE(callsOf<w::ExecutorUpdateCall>().empty()) << "a destroyed driver sent an update";
}

TEST_F(ExecutorDriverOnTheCallersLoopTest, OnItsLoopsThreadUpdatesGoOutInlineAndStopEndsItAtOnce) {
  // As tutti-executor: the test thread runs the executor's loop (and the
  // agent's); the executor answers its launch on that thread.
  executor_.onLaunch = [](ExecutorDriver* d, const TaskInfo& task) {
    TaskStatus running;
    running.taskId = task.taskId;
    running.state = TaskState::TASK_RUNNING;
    d->sendStatusUpdate(running);
    EXPECT_EQ(d->unacknowledgedUpdates(), 1u);
  };
  driver_ = std::make_unique<TuttiExecutorDriver>(&executor_, executorLoop_);
  ASSERT_EQ(driver_->start(), DriverStatus::DRIVER_RUNNING);
  executorLoop_.adoptCurrentThread();
  ASSERT_TRUE(bothWaitFor([&] { return !callsOf<w::ExecutorSubscribeCall>().empty(); }));
  send(w::ExecutorSubscribedEvent{});
  TaskInfo task;
  task.taskId = TaskID("t1");
  send(w::LaunchEvent{task});
  ASSERT_TRUE(bothWaitFor([&] { return !callsOf<w::ExecutorUpdateCall>().empty(); }));
  send(w::AcknowledgedEvent{TaskID("t1"), callsOf<w::ExecutorUpdateCall>().front().status.uuid});
  ASSERT_TRUE(bothWaitFor([&] { return driver_->unacknowledgedUpdates() == 0; }));

  // On the loop's own thread stop() finishes the driver at once, and join()
  // returns rather than wait for the loop it would block.
  EXPECT_EQ(driver_->stop(), DriverStatus::DRIVER_STOPPED);
  EXPECT_EQ(driver_->join(), DriverStatus::DRIVER_STOPPED);
}

TEST_F(ExecutorDriverOnTheCallersLoopTest, AnUnansweredSubscribeIsRetriedWithBackoff) {
  // A busy agent (a thousand executors starting at once) must not be made
  // busier by the retries of the executors it has not answered yet: after
  // the first subscribe, retries come 1, 2, 4, 8 and then every 16 seconds.
  // The executor's loop runs on a manual clock; the agent never answers.
  ManualClock clock;
  Loop loop(clock, Loop::Options{"executor-manual"});
  loop.adoptCurrentThread();
  auto driver = std::make_unique<TuttiExecutorDriver>(&executor_, loop);
  ASSERT_EQ(driver->start(), DriverStatus::DRIVER_RUNNING);
  std::vector<Duration> arrivals;  // manual time of each subscribe's arrival
  TimePoint start = clock.now();
  auto runBoth = [&](const std::function<bool()>& condition) {
    return agentWaitsFor([&] {
      loop.runOnce(0ms);
      while (arrivals.size() < callsOf<w::ExecutorSubscribeCall>().size()) {
        arrivals.push_back(clock.now() - start);
      }
      return condition();
    });
  };
  auto subscribes = [&] { return callsOf<w::ExecutorSubscribeCall>().size(); };
  // The first one goes out once the connection is up (polled every 10 ms of
  // the driver's time, doubling), then the clock starts from it.
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (subscribes() == 0 && std::chrono::steady_clock::now() < deadline) {
    loop.runOnce(0ms);
    agentLoop_.runOnce(5ms);
    if (subscribes() == 0) clock.advance(10ms);
  }
  ASSERT_EQ(subscribes(), 1u);
  start = clock.now();
  arrivals = {Duration(0)};
  const std::vector<Duration> expected = {0s, 1s, 3s, 7s, 15s, 31s, 47s};
  for (Duration t = 500ms; t <= 50s; t += 500ms) {
    clock.advance(500ms);
    size_t due = 0;
    for (Duration e : expected) due += e <= t ? 1 : 0;
    ASSERT_TRUE(runBoth([&] { return subscribes() >= due; })) << "at " << toSeconds(t) << "s";
  }
  EXPECT_EQ(arrivals, expected);
  driver.reset();
}

TEST_F(ExecutorDriverOnTheCallersLoopTest, SubscribesAsSoonAsTheConnectionIsReady) {
  // Nothing listens at first (a port held without listen()): the first
  // subscribe finds no connection. The driver's loop runs on a manual clock
  // that never moves, so its retry timer never fires: a subscribe that
  // arrives once an agent listens was sent because the connection came up.
  tutti::testing::HeldPort held;
  std::string endpoint = held.endpoint();
  ::setenv("TUTTI_AGENT_ENDPOINT", endpoint.c_str(), 1);

  ManualClock clock;
  Loop loop(clock, Loop::Options{"executor-manual"});
  loop.adoptCurrentThread();
  auto driver = std::make_unique<TuttiExecutorDriver>(&executor_, loop);
  ASSERT_EQ(driver->start(), DriverStatus::DRIVER_RUNNING);
  for (int i = 0; i < 20; ++i) loop.runOnce(5ms);  // connects, is refused, tries again

  held.release();
  Metrics metrics;
  ZmqRouterTransport late(agentLoop_, metrics, TransportOptions{});
  std::vector<w::ExecutorSubscribeCall> subscribes;
  late.setHandler([&](const ConnectionId&, w::Payload&& m) {
    if (auto* c = std::get_if<w::ExecutorSubscribeCall>(&m)) subscribes.push_back(*c);
  });
  ASSERT_TRUE(late.bind(endpoint).ok());
  TimePoint frozen = clock.now();
  EXPECT_TRUE(agentWaitsFor([&] {
    loop.runOnce(0ms);
    return !subscribes.empty();
  }));
  EXPECT_EQ(clock.now(), frozen);
  ASSERT_EQ(subscribes.size(), 1u);
  EXPECT_EQ(subscribes[0].executorId, kExec);
  driver.reset();
  late.close();
}

INSTANTIATE_TEST_SUITE_P(Modes, ExecutorDriverTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("OnTheCallersLoop")
                                             : std::string("OnItsOwnThread");
                         });

}  // namespace
}  // namespace tutti
