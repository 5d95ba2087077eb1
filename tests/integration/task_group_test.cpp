// Integration: LAUNCH_GROUP through a real master and agent. The tasks of a
// group run under one default executor (tutti-executor), each in its own
// sandbox; a failed task takes its group down, not the executor's other
// groups; an invalid group is refused whole.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <mutex>

#include "common/host.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

FrameworkInfo framework() {
  FrameworkInfo f;
  f.name = "groups";
  f.user = currentUserName();
  return f;
}

ExecutorInfo pod(const std::string& id = "pod") {
  ExecutorInfo e;
  e.executorId = ExecutorID(id);
  e.name = "pod " + id;
  e.resources = *Resources::parse("cpus:0.1;mem:32");
  return e;
}

// Launches the queued groups, one per offer, in order; declines the rest.
class GroupLauncher {
 public:
  explicit GroupLauncher(RecordingScheduler& s) {
    s.onOffers = [this](SchedulerDriver* d, const std::vector<Offer>& offers) {
      for (const auto& o : offers) {
        std::optional<std::pair<ExecutorInfo, std::vector<std::pair<std::string, std::string>>>> g;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (!queue_.empty()) {
            g = std::move(queue_.front());
            queue_.pop_front();
          }
        }
        if (!g) {
          d->declineOffer(o.id, Filters{0.2});
          continue;
        }
        std::vector<TaskInfo> tasks;
        for (const auto& [id, command] : g->second) tasks.push_back(commandTask(id, command, o));
        d->acceptOffers({o.id}, {Offer::Operation::launchGroup(g->first, tasks)}, Filters{0});
      }
    };
  }
  void add(ExecutorInfo e, std::vector<std::pair<std::string, std::string>> tasks) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.emplace_back(std::move(e), std::move(tasks));
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<ExecutorInfo, std::vector<std::pair<std::string, std::string>>>> queue_;
};

// The task's own file `name` in the default executor's sandbox.
std::string taskFile(const agent::AgentOptions& options, const std::string& executorId,
                     const std::string& taskId, const std::string& name) {
  std::error_code ec;
  std::string suffix = "/tasks/" + taskId + "/" + name;
  for (auto it = std::filesystem::recursive_directory_iterator(options.workDir + "/slaves", ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string p = it->path().string();
    if (p.find("/executors/" + executorId + "/runs/") != std::string::npos &&
        p.find("/latest/") == std::string::npos && p.size() > suffix.size() &&
        p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      auto text = readFile(p);
      return text.ok() ? *text : "";
    }
  }
  return "";
}

TEST(TaskGroupTest, GroupsShareTheDefaultExecutorAndEndTogether) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  RecordingScheduler scheduler;
  GroupLauncher launcher(scheduler);
  launcher.add(pod(), {{"a", "echo out-a; exec sleep 1000"}, {"b", "exec sleep 1000"}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("a"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler.waitForState(TaskID("b"), TaskState::TASK_RUNNING));
  EXPECT_EQ(lastUpdate(scheduler, "a")->executorId, ExecutorID("pod"));
  ASSERT_TRUE(waitUntil([&] { return taskFile(agent->options(), "pod", "a", "stdout") == "out-a\n"; }));

  // A second group joins the running executor; its failed task takes its
  // own group down only.
  launcher.add(pod(), {{"c", "exit 3"}, {"d", "exec sleep 1000"}});
  ASSERT_TRUE(scheduler.waitForState(TaskID("d"), TaskState::TASK_KILLED));
  EXPECT_EQ(scheduler.stateOf(TaskID("c")), TaskState::TASK_FAILED);
  EXPECT_NE(lastUpdate(scheduler, "d")->message.find("Task c of its group ended TASK_FAILED"),
            std::string::npos)
      << lastUpdate(scheduler, "d")->message;
  EXPECT_EQ(scheduler.stateOf(TaskID("a")), TaskState::TASK_RUNNING);

  // One executor for both groups, with all four tasks.
  auto state = getJson(agent->httpPort(), "/state");
  ASSERT_TRUE(state.is_object());
  int executors = 0;
  for (const auto& fw : state["frameworks"]) {
    for (const auto& ex : fw["executors"]) {
      ++executors;
      EXPECT_EQ(ex["id"], "pod");
      EXPECT_EQ(ex["type"], "DEFAULT");
    }
  }
  EXPECT_EQ(executors, 1) << state.dump();

  // Killing one task of the first group ends the other too.
  driver.killTask(TaskID("a"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("a"), TaskState::TASK_KILLED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("b"), TaskState::TASK_KILLED));
  driver.stop();
  driver.join();
}

TEST(TaskGroupTest, AnInvalidGroupIsRefusedWhole) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  RecordingScheduler scheduler;
  // The second task asks for more than the agent has: neither runs.
  ExecutorInfo e = pod("bad-pod");
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [e, launched](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id);
        continue;
      }
      std::vector<TaskInfo> tasks = {commandTask("fits", "exec sleep 1000", o),
                                     commandTask("huge", "true", o, "cpus:1000;mem:32")};
      d->acceptOffers({o.id}, {Offer::Operation::launchGroup(e, tasks)}, Filters{0});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("fits"), TaskState::TASK_ERROR));
  ASSERT_TRUE(scheduler.waitForState(TaskID("huge"), TaskState::TASK_ERROR));
  auto s = lastUpdate(scheduler, "fits");
  EXPECT_EQ(s->reason, Reason::REASON_TASK_GROUP_INVALID);
  EXPECT_NE(s->message.find("Task 'huge' uses more resources"), std::string::npos) << s->message;
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing
