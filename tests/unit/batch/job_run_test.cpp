// tutti-batch's JobRun: placement, dependencies, retries, timeouts, restore.
// Time is passed in, so no test sleeps.
#include "frameworks/batch/job_run.hpp"

#include <gtest/gtest.h>

namespace tutti::batch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Job jobOf(const std::string& text) {
  auto job = parseJob(text);
  EXPECT_TRUE(job.ok()) << job.error();
  return *job;
}

Offer offerOf(const std::string& resources, const std::string& host = "h1",
              Attributes attrs = {}) {
  Offer o;
  o.id = OfferID("o-" + host);
  o.agentId = AgentID("agent-" + host);
  o.hostname = host;
  o.allocationRole = "*";
  o.resources = Resources::parse(resources)->allocate("*");
  o.attributes = std::move(attrs);
  return o;
}

TaskStatus statusOf(const TaskInfo& task, TaskState state) {
  TaskStatus s;
  s.taskId = task.taskId;
  s.state = state;
  return s;
}

std::string env(const TaskInfo& t, const std::string& name) {
  for (const auto& e : t.command->environment) {
    if (e.name == name) return e.value;
  }
  return "";
}

class JobRunTest : public ::testing::Test {
 protected:
  Clock::time_point t0_ = Clock::now();
};

TEST_F(JobRunTest, PacksTasksIntoOneOfferAndRunsStagesInDependencyOrder) {
  JobRun run(jobOf(R"({"stages": [
    {"name": "b", "command": "x", "depends_on": ["a"], "count": 2, "user": "loader"},
    {"name": "a", "command": "x", "count": 3, "resources": "cpus:1;mem:10"}]})"),
             t0_);
  Placement p = run.place(offerOf("cpus:2;mem:100"), t0_);
  ASSERT_EQ(p.tasks.size(), 2u);  // a.0 and a.1; b is blocked
  EXPECT_TRUE(p.unfit);           // a.2 did not fit
  EXPECT_EQ(p.tasks[0].taskId.value, "a.0.1");
  EXPECT_EQ(env(p.tasks[1], "TUTTI_TASK_INDEX"), "1");
  EXPECT_EQ(p.tasks[0].command->value, "x");
  EXPECT_FALSE(p.tasks[0].command->user);  // the framework's user

  Placement p2 = run.place(offerOf("cpus:4;mem:100", "h2"), t0_);
  ASSERT_EQ(p2.tasks.size(), 1u);
  EXPECT_EQ(p2.tasks[0].taskId.value, "a.2.1");
  EXPECT_FALSE(run.hasReady(t0_));

  EXPECT_EQ(run.onStatus(statusOf(p.tasks[0], TaskState::TASK_RUNNING), t0_), std::nullopt);
  EXPECT_EQ(run.onStatus(statusOf(p.tasks[0], TaskState::TASK_FINISHED), t0_), "a.0");
  run.onStatus(statusOf(p.tasks[1], TaskState::TASK_FINISHED), t0_);
  EXPECT_FALSE(run.hasReady(t0_));  // a.2 still runs
  run.onStatus(statusOf(p2.tasks[0], TaskState::TASK_FINISHED), t0_);
  EXPECT_TRUE(run.hasReady(t0_));
  Placement p3 = run.place(offerOf("cpus:4;mem:100"), t0_);
  ASSERT_EQ(p3.tasks.size(), 2u);
  EXPECT_EQ(p3.tasks[0].taskId.value, "b.0.1");
  EXPECT_EQ(p3.tasks[0].command->user, "loader");
  for (const auto& t : p3.tasks) run.onStatus(statusOf(t, TaskState::TASK_FINISHED), t0_);
  EXPECT_EQ(run.status(), JobStatus::kSucceeded);
  Progress progress = run.progress(t0_);
  EXPECT_EQ(progress.stages[0].name, "a");
  EXPECT_EQ(progress.stages[0].done, 3);
  EXPECT_EQ(progress.stages[1].done, 2);
}

TEST_F(JobRunTest, HonoursParallelismAndUniqueHosts) {
  JobRun run(jobOf(R"({"stages": [
    {"name": "p", "command": "x", "count": 5, "parallelism": 2},
    {"name": "u", "command": "x", "count": 2, "constraints": [["hostname", "UNIQUE"]]}]})"),
             t0_);
  Placement p = run.place(offerOf("cpus:10;mem:1000"), t0_);
  ASSERT_EQ(p.tasks.size(), 3u);  // two of p, one of u
  EXPECT_EQ(p.tasks[2].taskId.value, "u.0.1");
  Placement again = run.place(offerOf("cpus:10;mem:1000"), t0_);
  EXPECT_TRUE(again.tasks.empty());  // p at its cap, u.1 needs another host
  Placement other = run.place(offerOf("cpus:10;mem:1000", "h2"), t0_);
  ASSERT_EQ(other.tasks.size(), 1u);
  EXPECT_EQ(other.tasks[0].taskId.value, "u.1.1");
  run.onStatus(statusOf(p.tasks[0], TaskState::TASK_FINISHED), t0_);
  EXPECT_EQ(run.place(offerOf("cpus:10;mem:1000"), t0_).tasks.size(), 1u);
}

TEST_F(JobRunTest, ConstraintsKeepTasksOffOtherMachines) {
  JobRun run(jobOf(R"({"stages": [{"name": "c", "command": "x",
    "constraints": [["rack", "EQUALS", "r1"]]}]})"),
             t0_);
  Placement p = run.place(offerOf("cpus:1;mem:100", "h1", {{"rack", "r2"}}), t0_);
  EXPECT_TRUE(p.tasks.empty());
  EXPECT_TRUE(p.unfit);
  EXPECT_EQ(run.place(offerOf("cpus:1;mem:100", "h2", {{"rack", "r1"}}), t0_).tasks.size(), 1u);
}

TEST_F(JobRunTest, RetriesWithExponentialBackoffThenFailsTheJob) {
  JobRun run(jobOf(R"({"stages": [{"name": "f", "command": "x", "retries": 2,
    "backoff": 1, "backoff_factor": 2}]})"),
             t0_);
  auto offer = offerOf("cpus:1;mem:100");
  Placement a1 = run.place(offer, t0_);
  ASSERT_EQ(a1.tasks.size(), 1u);
  run.onStatus(statusOf(a1.tasks[0], TaskState::TASK_FAILED), t0_);
  std::optional<Clock::time_point> next;
  EXPECT_FALSE(run.hasReady(t0_, &next));
  EXPECT_EQ(next, t0_ + seconds(1));
  EXPECT_TRUE(run.place(offer, t0_ + milliseconds(999)).tasks.empty());
  Placement a2 = run.place(offer, t0_ + seconds(1));
  ASSERT_EQ(a2.tasks.size(), 1u);
  EXPECT_EQ(a2.tasks[0].taskId.value, "f.0.2");
  // A late duplicate of the first attempt changes nothing.
  run.onStatus(statusOf(a1.tasks[0], TaskState::TASK_FAILED), t0_ + seconds(1));
  run.onStatus(statusOf(a2.tasks[0], TaskState::TASK_FAILED), t0_ + seconds(1));
  EXPECT_FALSE(run.hasReady(t0_ + seconds(2), &next));
  EXPECT_EQ(next, t0_ + seconds(3));  // 2 s after the second failure
  Placement a3 = run.place(offer, t0_ + seconds(3));
  ASSERT_EQ(a3.tasks.size(), 1u);
  TaskStatus last = statusOf(a3.tasks[0], TaskState::TASK_FAILED);
  last.message = "exited with status 1";
  run.onStatus(last, t0_ + seconds(3));
  EXPECT_EQ(run.status(), JobStatus::kFailed);
  EXPECT_NE(run.failureMessage().find("f.0.3 failed after 3 attempt(s)"), std::string::npos)
      << run.failureMessage();
  EXPECT_NE(run.failureMessage().find("exited with status 1"), std::string::npos);
  Progress p = run.progress(t0_ + seconds(4));
  EXPECT_EQ(p.retries, 2);
  EXPECT_EQ(p.stages[0].failed, 3);
  EXPECT_EQ(p.stages[0].pending, 0);
}

TEST_F(JobRunTest, LostTasksAreRetriedWithoutCountingAgainstRetries) {
  JobRun run(jobOf(R"({"stages": [{"name": "l", "command": "x"}]})"), t0_);
  auto offer = offerOf("cpus:1;mem:100");
  Placement a1 = run.place(offer, t0_);
  run.onStatus(statusOf(a1.tasks[0], TaskState::TASK_LOST), t0_);
  EXPECT_EQ(run.status(), JobStatus::kRunning);
  EXPECT_EQ(run.place(offer, t0_).tasks.size(), 1u);
}

TEST_F(JobRunTest, AttemptsOverTheirTimeoutAreReportedOnceAndFail) {
  JobRun run(jobOf(R"({"stages": [{"name": "t", "command": "x", "timeout": 5}]})"), t0_);
  Placement a1 = run.place(offerOf("cpus:1;mem:100"), t0_);
  EXPECT_TRUE(run.overdue(t0_ + seconds(4)).empty());
  auto over = run.overdue(t0_ + seconds(5));
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0], a1.tasks[0].taskId);
  EXPECT_TRUE(run.overdue(t0_ + seconds(6)).empty());
  run.onStatus(statusOf(a1.tasks[0], TaskState::TASK_KILLED), t0_ + seconds(6));
  EXPECT_EQ(run.status(), JobStatus::kFailed);
  EXPECT_NE(run.failureMessage().find("timed out"), std::string::npos);
}

TEST_F(JobRunTest, RestoredTasksAreNotRelaunched) {
  JobRun run(jobOf(R"({"stages": [{"name": "r", "command": "x", "count": 3}]})"), t0_);
  run.restoreSucceeded("r.0");
  run.restoreLaunched(TaskID("r.1.4"), AgentID("agent-7"));
  Placement p = run.place(offerOf("cpus:10;mem:1000"), t0_);
  ASSERT_EQ(p.tasks.size(), 1u);
  EXPECT_EQ(p.tasks[0].taskId.value, "r.2.1");
  // Both are reconciled with the agent each went to.
  auto launched = run.launched();
  ASSERT_EQ(launched.size(), 2u);
  EXPECT_EQ(launched[0], std::make_pair(TaskID("r.1.4"), AgentID("agent-7")));
  EXPECT_EQ(launched[1], std::make_pair(TaskID("r.2.1"), p.tasks[0].agentId));
  EXPECT_FALSE(run.isStale(TaskID("r.1.4")));
  EXPECT_TRUE(run.isStale(TaskID("r.1.3")));
  EXPECT_TRUE(run.isStale(TaskID("r.0.1")));
  EXPECT_TRUE(run.isStale(TaskID("other.0.1")));
  // The restored attempt keeps its id: its updates count.
  TaskStatus s;
  s.taskId = TaskID("r.1.4");
  s.state = TaskState::TASK_FINISHED;
  EXPECT_EQ(run.onStatus(s, t0_), "r.1");
  run.onStatus(statusOf(p.tasks[0], TaskState::TASK_FINISHED), t0_);
  EXPECT_EQ(run.status(), JobStatus::kSucceeded);
  EXPECT_EQ(run.succeededKeys(), (std::vector<std::string>{"r.0", "r.1", "r.2"}));
}

}  // namespace
}  // namespace tutti::batch
