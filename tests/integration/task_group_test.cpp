// Integration: LAUNCH_GROUP through a real master and agent. The tasks of a
// group run under one default executor (tutti-executor), each in its own
// sandbox; a failed task takes its group down, not the executor's other
// groups; an invalid group is refused whole.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>

#include <atomic>
#include <deque>
#include <filesystem>
#include <mutex>

#include "common/files.hpp"
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

// Each task of a group fetches its own URIs into its own sandbox before it
// starts (as its user); a URI that cannot be fetched fails its task, which
// takes its group down, with tutti-fetcher's reason in the message.
TEST(TaskGroupTest, TasksOfAGroupFetchTheirOwnUris) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  TempDir files;
  ASSERT_TRUE(writeFileAtomically(files.path() + "/greeting.txt", "hello from a URI\n").ok());
  RecordingScheduler scheduler;
  std::atomic<int> groups{0};
  scheduler.onOffers = [&](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      int n = groups.fetch_add(1);
      if (n >= 2) {
        d->declineOffer(o.id, Filters{0.2});
        continue;
      }
      std::vector<TaskInfo> tasks;
      if (n == 0) {
        TaskInfo reader = commandTask("reader", "cat greeting.txt", o);
        reader.command->uris = {CommandURI{"file://" + files.path() + "/greeting.txt"}};
        tasks.push_back(reader);
      } else {
        TaskInfo broken = commandTask("broken", "true", o);
        broken.command->uris = {CommandURI{files.path() + "/missing.txt"}};
        tasks.push_back(broken);
        tasks.push_back(commandTask("mate", "exec sleep 1000", o));
      }
      d->acceptOffers({o.id}, {Offer::Operation::launchGroup(pod("pod" + std::to_string(n)), tasks)},
                      Filters{0});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("reader"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "reader") ? lastUpdate(scheduler, "reader")->message : "");
  EXPECT_EQ(taskFile(agent->options(), "pod0", "reader", "stdout"), "hello from a URI\n");
  EXPECT_EQ(taskFile(agent->options(), "pod0", "reader", "greeting.txt"), "hello from a URI\n");

  ASSERT_TRUE(scheduler.waitForState(TaskID("broken"), TaskState::TASK_FAILED));
  auto failed = lastUpdate(scheduler, "broken");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_NE(failed->message.find("missing.txt"), std::string::npos) << failed->message;
  ASSERT_TRUE(scheduler.waitForState(TaskID("mate"), TaskState::TASK_KILLED));
  driver.stop();
  driver.join();
}

// The pids of processes named `comm` working under directory `under` (so
// that other tests' processes do not count).
std::vector<pid_t> processesNamed(const std::string& comm, const std::string& under) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    auto text = readFile(e.path().string() + "/comm");
    if (!text.ok() || *text != comm + "\n") continue;
    std::string cwd = std::filesystem::read_symlink(e.path() / "cwd", ec).string();
    if (!ec && cwd.rfind(under, 0) == 0) out.push_back(std::stoi(name));
  }
  return out;
}

// A task killed while its URIs are fetched ends TASK_KILLED at once, and
// its fetcher goes with it.
TEST(TaskGroupTest, AKillStopsAFetchUnderWay) {
  // A server that accepts connections and never answers.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string uri = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/slow.tgz";

  auto master = StartMaster();
  auto agent = StartAgent(*master);
  RecordingScheduler scheduler;
  std::atomic<bool> launched{false};
  scheduler.onOffers = [&](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched.exchange(true)) {
        d->declineOffer(o.id, Filters{0.2});
        continue;
      }
      TaskInfo slow = commandTask("slow", "true", o);
      slow.command->uris = {CommandURI{uri}};
      d->acceptOffers({o.id}, {Offer::Operation::launchGroup(pod(), {slow})}, Filters{0});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  std::string work = agent->options().workDir;
  ASSERT_TRUE(waitUntil([&] { return processesNamed("tutti-fetcher", work).size() == 1; }));
  driver.killTask(TaskID("slow"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("slow"), TaskState::TASK_KILLED));
  EXPECT_NE(lastUpdate(scheduler, "slow")->message.find("fetched"), std::string::npos)
      << lastUpdate(scheduler, "slow")->message;
  EXPECT_TRUE(waitUntil([&] { return processesNamed("tutti-fetcher", work).empty(); }));
  driver.stop();
  driver.join();
  ::close(listener);
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
