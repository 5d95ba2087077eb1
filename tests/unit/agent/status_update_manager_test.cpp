// Unit tests for the agent's StatusUpdateManager: at-least-once delivery,
// in order per task, with exponential backoff on a manual clock.
#include "agent/status_updates/status_update_manager.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"

namespace tutti {

[[maybe_unused]] static void PrintTo(TaskState s, std::ostream* os) { *os << toString(s); }

namespace agent {
namespace {

std::string uuid(int n) {
  std::string u(16, 'u');
  u[15] = static_cast<char>(n);
  return u;
}

TaskStatus status(const std::string& task, TaskState state, int uuidNumber) {
  TaskStatus s;
  s.taskId = TaskID(task);
  s.state = state;
  s.source = Source::SOURCE_EXECUTOR;
  s.uuid = uuid(uuidNumber);
  s.message = std::string(toString(state)) + " " + task;
  return s;
}

const FrameworkID kFw1("fw1");
const FrameworkID kFw2("fw2");

class StatusUpdateManagerTest : public ::testing::Test {
 protected:
  StatusUpdateManagerTest() : loop_(clock_) {}

  void SetUp() override { make(StatusUpdateManager::Options{}); }

  void make(StatusUpdateManager::Options options) {
    manager_.reset();
    manager_ = std::make_unique<StatusUpdateManager>(
        loop_, options, [this](const wire::StatusUpdateMessage& m) {
          sent_.push_back(m);
          return true;
        });
    manager_->setAgentId(AgentID("agent-1"));
    loop_.settle();
  }

  void advance(Duration d) {
    clock_.advance(d);
    loop_.settle();
  }

  std::vector<wire::StatusUpdateMessage> take() {
    auto out = std::move(sent_);
    sent_.clear();
    return out;
  }

  ManualClock clock_;
  Loop loop_;
  std::vector<wire::StatusUpdateMessage> sent_;
  std::unique_ptr<StatusUpdateManager> manager_;
};

TEST_F(StatusUpdateManagerTest, HeadIsSentAtOnceLaterUpdatesWait) {
  EXPECT_TRUE(manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1)));
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frameworkId, kFw1);
  EXPECT_EQ(sent[0].agentId, AgentID("agent-1"));
  EXPECT_EQ(sent[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(sent[0].status.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(sent[0].status.uuid, uuid(1));
  EXPECT_EQ(sent[0].status.agentId, AgentID("agent-1"));
  EXPECT_EQ(sent[0].status.message, "TASK_RUNNING t1");
  EXPECT_EQ(sent[0].latestState, TaskState::TASK_RUNNING);

  EXPECT_TRUE(manager_->update(kFw1, status("t1", TaskState::TASK_FINISHED, 2)));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 2u);
  EXPECT_EQ(manager_->streams(), 1u);
  EXPECT_TRUE(manager_->hasPending(kFw1, TaskID("t1")));

  // Another task's stream is independent: its head goes at once.
  EXPECT_TRUE(manager_->update(kFw1, status("t2", TaskState::TASK_RUNNING, 3)));
  sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status.taskId, TaskID("t2"));
  EXPECT_EQ(manager_->streams(), 2u);

  auto pending = manager_->pending();
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].second.uuid, uuid(1));
  EXPECT_EQ(pending[1].second.uuid, uuid(2));
  EXPECT_EQ(pending[2].second.uuid, uuid(3));
}

TEST_F(StatusUpdateManagerTest, AcknowledgeSendsTheNextWithTheLatestState) {
  manager_->update(kFw1, status("t1", TaskState::TASK_STARTING, 1));
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 2));
  manager_->update(kFw1, status("t1", TaskState::TASK_FINISHED, 3));
  ASSERT_EQ(take().size(), 1u);

  auto acked = manager_->acknowledge(kFw1, TaskID("t1"), uuid(1));
  ASSERT_TRUE(acked.has_value());
  EXPECT_EQ(acked->uuid, uuid(1));
  EXPECT_EQ(acked->state, TaskState::TASK_STARTING);
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status.uuid, uuid(2));
  EXPECT_EQ(sent[0].status.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(sent[0].latestState, TaskState::TASK_FINISHED);
  EXPECT_EQ(manager_->pendingUpdates(), 2u);

  acked = manager_->acknowledge(kFw1, TaskID("t1"), uuid(2));
  ASSERT_TRUE(acked.has_value());
  sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status.uuid, uuid(3));
  EXPECT_EQ(sent[0].latestState, TaskState::TASK_FINISHED);
}

TEST_F(StatusUpdateManagerTest, UnacknowledgedHeadIsRetriedWithBackoff) {
  StatusUpdateManager::Options options;
  options.retryMin = 10s;
  options.retryMax = 60s;
  make(options);
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  ASSERT_EQ(take().size(), 1u);

  // Retries after 10 s, then 20 s, 40 s, then capped at 60 s.
  struct Step {
    Duration wait;
    size_t sends;
  };
  for (const auto& [wait, sends] : std::vector<Step>{{9999ms, 0},
                                                     {1ms, 1},  // t = 10 s
                                                     {19s, 0},
                                                     {1s, 1},  // t = 30 s
                                                     {39s, 0},
                                                     {1s, 1},  // t = 70 s
                                                     {59s, 0},
                                                     {1s, 1},  // t = 130 s (capped)
                                                     {59s, 0},
                                                     {1s, 1}}) {  // t = 190 s
    advance(wait);
    auto sent = take();
    ASSERT_EQ(sent.size(), sends) << "at " << toSeconds(clock_.now()) << " s";
    for (const auto& m : sent) EXPECT_EQ(m.status.uuid, uuid(1));
  }
}

TEST_F(StatusUpdateManagerTest, DefaultBackoffStartsAtTenSecondsAndCapsAtTenMinutes) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  take();
  std::vector<double> at;
  for (int i = 0; i < 1300; ++i) {
    advance(1s);
    if (!take().empty()) at.push_back(toSeconds(clock_.now()));
  }
  // 10, +20, +40, +80, +160, +320, +600, +600.
  EXPECT_EQ(at, (std::vector<double>{10, 30, 70, 150, 310, 630, 1230}));
}

TEST_F(StatusUpdateManagerTest, AcknowledgementResetsTheBackoff) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw1, status("t1", TaskState::TASK_FINISHED, 2));
  take();
  advance(10s);
  advance(20s);
  ASSERT_EQ(take().size(), 2u);  // backoff is now 40 s
  ASSERT_TRUE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());
  ASSERT_EQ(take().size(), 1u);
  // The next update starts again at retryMin.
  advance(9s);
  EXPECT_TRUE(take().empty());
  advance(1s);
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status.uuid, uuid(2));
}

TEST_F(StatusUpdateManagerTest, AcknowledgedHeadIsNotRetried) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  take();
  ASSERT_TRUE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());
  advance(60min);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 0u);
  EXPECT_FALSE(manager_->hasPending(kFw1, TaskID("t1")));
}

TEST_F(StatusUpdateManagerTest, DuplicatesByUuidAreIgnored) {
  EXPECT_TRUE(manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1)));
  EXPECT_FALSE(manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1)));
  EXPECT_EQ(take().size(), 1u);
  EXPECT_TRUE(manager_->update(kFw1, status("t1", TaskState::TASK_KILLING, 2)));
  EXPECT_FALSE(manager_->update(kFw1, status("t1", TaskState::TASK_KILLING, 2)));
  EXPECT_EQ(manager_->pendingUpdates(), 2u);

  // Also once acknowledged (a retrying executor resends it).
  ASSERT_TRUE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());
  take();
  EXPECT_FALSE(manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1)));
  EXPECT_EQ(manager_->pendingUpdates(), 1u);
  EXPECT_TRUE(take().empty());
}

TEST_F(StatusUpdateManagerTest, StaleOrUnknownAcknowledgementsAreIgnored) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw1, status("t1", TaskState::TASK_FINISHED, 2));
  take();

  // Not the head.
  EXPECT_FALSE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(2)).has_value());
  // Unknown uuid, task, framework.
  EXPECT_FALSE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(9)).has_value());
  EXPECT_FALSE(manager_->acknowledge(kFw1, TaskID("t9"), uuid(1)).has_value());
  EXPECT_FALSE(manager_->acknowledge(kFw2, TaskID("t1"), uuid(1)).has_value());
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 2u);

  ASSERT_TRUE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());
  take();
  // The same acknowledgement again is stale now.
  EXPECT_FALSE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 1u);
}

TEST_F(StatusUpdateManagerTest, TerminalAcknowledgementRemovesTheStream) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw1, status("t1", TaskState::TASK_FAILED, 2));
  manager_->acknowledge(kFw1, TaskID("t1"), uuid(1));
  take();
  EXPECT_EQ(manager_->streams(), 1u);
  auto acked = manager_->acknowledge(kFw1, TaskID("t1"), uuid(2));
  ASSERT_TRUE(acked.has_value());
  EXPECT_EQ(acked->state, TaskState::TASK_FAILED);
  EXPECT_EQ(manager_->streams(), 0u);
  EXPECT_EQ(manager_->pendingUpdates(), 0u);
  EXPECT_FALSE(manager_->hasPending(kFw1, TaskID("t1")));
  advance(60min);
  EXPECT_TRUE(take().empty());
}

TEST_F(StatusUpdateManagerTest, ResendAllSendsEveryHead) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw1, status("t1", TaskState::TASK_FINISHED, 2));
  manager_->update(kFw2, status("t2", TaskState::TASK_RUNNING, 3));
  take();
  advance(10s);  // both retried once; backoff now 20 s
  ASSERT_EQ(take().size(), 2u);

  manager_->resendAll();
  auto sent = take();
  ASSERT_EQ(sent.size(), 2u);
  std::set<std::string> uuids;
  for (const auto& m : sent) uuids.insert(m.status.uuid);
  EXPECT_EQ(uuids, (std::set<std::string>{uuid(1), uuid(3)}));
  // And restarts the backoff at retryMin.
  advance(9s);
  EXPECT_TRUE(take().empty());
  advance(1s);
  EXPECT_EQ(take().size(), 2u);
}

TEST_F(StatusUpdateManagerTest, NothingIsSentWithoutAnAgentId) {
  manager_.reset();
  manager_ = std::make_unique<StatusUpdateManager>(
      loop_, StatusUpdateManager::Options{}, [this](const wire::StatusUpdateMessage& m) {
        sent_.push_back(m);
        return true;
      });
  EXPECT_TRUE(manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1)));
  EXPECT_TRUE(take().empty());
  advance(10s);
  advance(20s);
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 1u);

  // Registered: resendAll() delivers, with the id filled in.
  manager_->setAgentId(AgentID("agent-7"));
  manager_->resendAll();
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].agentId, AgentID("agent-7"));
  EXPECT_EQ(sent[0].status.agentId, AgentID("agent-7"));
  EXPECT_EQ(sent[0].status.uuid, uuid(1));
}

TEST_F(StatusUpdateManagerTest, FailedForwardIsRetriedLater) {
  bool up = false;
  manager_.reset();
  manager_ = std::make_unique<StatusUpdateManager>(
      loop_, StatusUpdateManager::Options{}, [&](const wire::StatusUpdateMessage& m) {
        if (!up) return false;
        sent_.push_back(m);
        return true;
      });
  manager_->setAgentId(AgentID("agent-1"));
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_TRUE(take().empty());
  up = true;
  advance(10s);
  EXPECT_EQ(take().size(), 1u);
  manager_.reset();  // its callback refers to `up`
}

TEST_F(StatusUpdateManagerTest, RemoveFrameworkForgetsItsStreams) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw1, status("t2", TaskState::TASK_RUNNING, 2));
  manager_->update(kFw2, status("t1", TaskState::TASK_RUNNING, 3));
  take();
  EXPECT_EQ(manager_->streams(), 3u);

  manager_->removeFramework(kFw1);
  EXPECT_EQ(manager_->streams(), 1u);
  EXPECT_EQ(manager_->pendingUpdates(), 1u);
  EXPECT_FALSE(manager_->hasPending(kFw1, TaskID("t1")));
  EXPECT_TRUE(manager_->hasPending(kFw2, TaskID("t1")));
  EXPECT_FALSE(manager_->acknowledge(kFw1, TaskID("t1"), uuid(1)).has_value());

  // Only fw2's update is retried.
  advance(10s);
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frameworkId, kFw2);
  EXPECT_EQ(sent[0].status.uuid, uuid(3));
}

TEST_F(StatusUpdateManagerTest, SameTaskIdInTwoFrameworksAreSeparateStreams) {
  manager_->update(kFw1, status("t1", TaskState::TASK_RUNNING, 1));
  manager_->update(kFw2, status("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_EQ(take().size(), 2u);
  ASSERT_TRUE(manager_->acknowledge(kFw2, TaskID("t1"), uuid(1)).has_value());
  EXPECT_TRUE(manager_->hasPending(kFw1, TaskID("t1")));
  EXPECT_FALSE(manager_->hasPending(kFw2, TaskID("t1")));
}

// The persist hook runs before the update is sent, and after an
// acknowledgement; restore() puts checkpointed streams back without sending.
TEST_F(StatusUpdateManagerTest, PersistRunsBeforeSendingAndRestoreWaitsForResend) {
  std::vector<std::string> events;
  manager_->setPersist([&](const FrameworkID& fw, const ExecutorID& ex) {
    events.push_back("persist " + fw.value + "/" + ex.value + " sent=" +
                     std::to_string(sent_.size()));
  });
  TaskStatus running = status("t1", TaskState::TASK_RUNNING, 1);
  running.executorId = ExecutorID("e1");
  ASSERT_TRUE(manager_->update(kFw1, running));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "persist fw1/e1 sent=0");  // written before it went out
  EXPECT_EQ(take().size(), 1u);
  TaskStatus finished = status("t1", TaskState::TASK_FINISHED, 2);
  finished.executorId = ExecutorID("e1");
  manager_->update(kFw1, finished);
  manager_->acknowledge(kFw1, TaskID("t1"), uuid(1));
  EXPECT_EQ(events.size(), 3u);

  std::vector<TaskStatus> pending;
  std::vector<std::string> acked;
  manager_->pendingForExecutor(kFw1, ExecutorID("e1"), &pending, &acked);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].uuid, uuid(2));
  EXPECT_EQ(acked, std::vector<std::string>{uuid(1)});
  pending.clear();
  acked.clear();
  manager_->pendingForExecutor(kFw1, ExecutorID("other"), &pending, &acked);
  EXPECT_TRUE(pending.empty());

  // A restarted agent's manager gets the stream back; nothing is sent
  // until resendAll(), and the acknowledged uuid stays a duplicate.
  make(StatusUpdateManager::Options{});
  take();
  manager_->restore(kFw1, TaskID("t1"), {running, finished}, {uuid(1)});
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(manager_->pendingUpdates(), 1u);
  EXPECT_FALSE(manager_->update(kFw1, running));
  manager_->resendAll();
  auto sent = take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status.state, TaskState::TASK_FINISHED);
}

}  // namespace
}  // namespace agent
}  // namespace tutti
