// launch: master + one agent in this process, N `true` tasks through the
// scheduler driver, against the machine's plain posix_spawn+waitpid rate;
// with --image, in that image through the agent's OCI runtime (--oci_runtime).
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/host.hpp"
#include "tests/bench/bench.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/image_registry.hpp"
#include "tutti/scheduler.hpp"

extern char** environ;

namespace tutti::bench {

namespace {
using Clock = std::chrono::steady_clock;

// "ext4", "tmpfs", … of the filesystem holding `path` (from /proc/mounts).
std::string filesystemOf(const std::string& path) {
  FILE* f = std::fopen("/proc/mounts", "r");
  if (!f) return "unknown";
  char dev[512], mnt[512], type[64];
  std::string best, bestType = "unknown";
  while (std::fscanf(f, "%511s %511s %63s %*[^\n]", dev, mnt, type) == 3) {
    std::string m = mnt;
    bool under = path.rfind(m, 0) == 0 && (m == "/" || path.size() == m.size() || path[m.size()] == '/');
    if (under && m.size() >= best.size()) {
      best = m;
      bestType = type;
    }
  }
  std::fclose(f);
  return bestType;
}

// Sequential posix_spawn + waitpid of /bin/true for about a second.
double spawnRate() {
  char arg0[] = "/bin/true";
  char* args[] = {arg0, nullptr};
  auto start = Clock::now();
  int n = 0;
  while (Clock::now() - start < std::chrono::seconds(1)) {
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ) != 0) break;
    int st;
    waitpid(pid, &st, 0);
    ++n;
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  return n / secs;
}

class LaunchScheduler : public Scheduler {
 public:
  LaunchScheduler(int tasks, std::string image, bool hold = false, int groupSize = 0)
      : total_(tasks), image_(std::move(image)), hold_(hold), groupSize_(groupSize) {}

  void registered(SchedulerDriver*, const FrameworkID&, const MasterInfo&) override {}
  void reregistered(SchedulerDriver*, const MasterInfo&) override {}
  void disconnected(SchedulerDriver*) override {}
  void resourceOffers(SchedulerDriver* d, const std::vector<Offer>& offers) override {
    Resources each = *Resources::parse("cpus:0.01;mem:16");
    for (const auto& o : offers) {
      std::vector<TaskInfo> launch;
      Resources left = o.resources;
      // A group's executor takes its resources from the offer too.
      Resources executor = *Resources::parse("cpus:0.01;mem:16");
      while (next_ < total_ && left.contains(each.allocate(o.allocationRole))) {
        if (groupSize_ > 0 && launch.size() % groupSize_ == 0) {
          if (!left.contains((each + executor).allocate(o.allocationRole))) break;
          left -= executor.allocate(o.allocationRole);
        }
        TaskInfo t;
        t.name = "bench";
        t.taskId = TaskID("t" + std::to_string(next_++));
        t.agentId = o.agentId;
        t.resources = each;
        CommandInfo c;
        c.value = hold_ ? "sleep 3600" : "true";
        t.command = c;
        // Killed at once: `sleep` as a container's pid 1 ignores SIGTERM,
        // and the destroy, not a grace period, is what is timed.
        if (hold_) t.killPolicy = KillPolicy{};
        if (!image_.empty()) t.container = ContainerInfo{Image{Image::Type::DOCKER, image_, true}, {}};
        left -= each.allocate(o.allocationRole);
        launch.push_back(std::move(t));
      }
      if (launch.empty()) {
        d->declineOffer(o.id, Filters{0.1});
        continue;
      }
      if (!started_) {
        started_ = true;
        start_ = Clock::now();
      }
      if (groupSize_ <= 0) {
        d->launchTasks({o.id}, launch, Filters{0.1});
        continue;
      }
      // Pods: each group under a default executor of its own.
      std::vector<Offer::Operation> ops;
      for (size_t i = 0; i < launch.size(); i += groupSize_) {
        ExecutorInfo e;
        e.executorId = ExecutorID("g" + std::to_string(groups_++));
        e.resources = executor;
        size_t end = std::min(launch.size(), i + groupSize_);
        ops.push_back(Offer::Operation::launchGroup(
            e, std::vector<TaskInfo>(launch.begin() + i, launch.begin() + end)));
      }
      d->acceptOffers({o.id}, ops, Filters{0.1});
    }
  }
  void offerRescinded(SchedulerDriver*, const OfferID&) override {}
  void statusUpdate(SchedulerDriver* d, const TaskStatus& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Updates are delivered at least once: a resent one (its
    // acknowledgement was late) counts once.
    Seen& seen = seen_[s.taskId.value];
    if (seen.ended || (s.state == TaskState::TASK_RUNNING && seen.ran)) return;
    seen.last = s.state;
    if (s.state == TaskState::TASK_RUNNING) seen.ran = true;
    if (isTerminal(s.state)) seen.ended = true;
    if (s.state == TaskState::TASK_RUNNING && ++running_ == total_) {
      runningAt_ = Clock::now();
      if (hold_) {
        for (int i = 0; i < total_; ++i) d->killTask(TaskID("t" + std::to_string(i)));
      }
    }
    if (isTerminal(s.state)) {
      ++ended_;
      TaskState expected = hold_ ? TaskState::TASK_KILLED : TaskState::TASK_FINISHED;
      if (s.state != expected) {
        if (failed_++ == 0) std::fprintf(stderr, "task failed: %s\n", s.message.c_str());
      }
      if (ended_ == total_) {
        end_ = Clock::now();
        cv_.notify_all();
      }
    }
  }
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}
  void agentLost(SchedulerDriver*, const AgentID&) override {}
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver*, const std::string& m) override {
    std::fprintf(stderr, "framework error: %s\n", m.c_str());
  }

  bool wait(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return ended_ == total_; });
  }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }
  // Launch to the last TASK_RUNNING (the measure); -1 when some
  // task never ran.
  double runningSeconds() const {
    if (running_ < total_) return -1;
    return std::chrono::duration<double>(runningAt_ - start_).count();
  }
  // The last TASK_RUNNING to the last end: with --hold, killing them all.
  double endSeconds() const {
    if (running_ < total_) return -1;
    return std::chrono::duration<double>(end_ - runningAt_).count();
  }
  int failed() const { return failed_; }
  // Counts, and the tasks that did not end with their latest state.
  std::string describe() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = std::to_string(running_) + " ran, " + std::to_string(ended_) + " ended of " +
                      std::to_string(total_) + " (launched " + std::to_string(next_) + ")";
    int shown = 0;
    for (const auto& [id, seen] : seen_) {
      if (seen.ended || shown++ >= 10) continue;
      out += "; " + id + " " + toString(seen.last);
    }
    return out;
  }

 private:
  struct Seen {
    TaskState last = TaskState::TASK_STAGING;
    bool ran = false;
    bool ended = false;
  };
  std::map<std::string, Seen> seen_;  // by task id
  int total_;
  std::string image_;
  bool hold_;
  int groupSize_;
  int groups_ = 0;
  int next_ = 0;
  bool started_ = false;
  Clock::time_point start_, end_, runningAt_;
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  int ended_ = 0;
  int failed_ = 0;
};
}  // namespace

int runLaunch(const LaunchOptions& options) {
  double limit = spawnRate();

  if (!options.workDir.empty()) setenv("TMPDIR", options.workDir.c_str(), 1);
  testing::TempDir dir;
  master::MasterDaemon master(testing::testMasterOptions());
  if (!master.start().ok()) return 1;
  agent::AgentOptions ao = testing::testAgentOptions(master.messageAddress(), dir.path());
  ao.resources = "cpus:1000;mem:1000000;disk:100000";
  // The agent's own default, not the tests' 1 s: a loaded machine acknowledges
  // late, and every resent update is work the launches wait behind.
  ao.statusUpdateRetryIntervalMin = agent::AgentOptions{}.statusUpdateRetryIntervalMin;
  ao.ociRuntime = options.ociRuntime;
  agent::AgentDaemon agent(ao);
  if (!agent.start().ok()) return 1;

  // With an image: serve it ("builtin"), and pull it once, timed, before
  // the timed run (which then measures launches from the cached image).
  std::unique_ptr<testing::TempDir> imageDir;
  std::unique_ptr<testing::RegistryServer> registry;
  std::string image = options.image;
  double pullSeconds = 0;
  if (image == "builtin") {
    std::string missing = testing::imageToolsMissing();
    if (!missing.empty()) {
      std::fprintf(stderr, "launch: --image=builtin needs the image tools (%s)\n",
                   missing.c_str());
      return 1;
    }
    imageDir = std::make_unique<testing::TempDir>();
    Status s = testing::buildTestImage(imageDir->path() + "/layout", "latest");
    if (s.ok()) {
      registry = std::make_unique<testing::RegistryServer>(imageDir->path() + "/registry");
      s = registry->ok() ? registry->push(imageDir->path() + "/layout", "latest", "busybox:latest")
                         : Status::Unavailable(registry->error());
    }
    if (!s.ok()) {
      std::fprintf(stderr, "launch: cannot serve the builtin image: %s\n", s.message().c_str());
      return 1;
    }
    image = registry->address() + "/busybox:latest";
  }
  FrameworkInfo fw;
  fw.name = "tutti-bench";
  fw.user = currentUserName();
  fw.checkpoint = options.checkpoint;
  if (!image.empty()) {
    LaunchScheduler pull(1, image);
    TuttiSchedulerDriver driver(&pull, fw, master.messageAddress());
    driver.start();
    bool pulled = pull.wait(std::chrono::seconds(600));
    driver.stop();
    driver.join();
    if (!pulled || pull.failed() > 0) {
      std::fprintf(stderr, "launch: the first task in %s did not finish\n", image.c_str());
      return 1;
    }
    pullSeconds = pull.seconds();
  }

  LaunchScheduler scheduler(options.tasks, image, options.hold, options.groupSize);
  TuttiSchedulerDriver driver(&scheduler, fw, master.messageAddress());
  driver.start();
  bool done = scheduler.wait(std::chrono::seconds(600));
  driver.stop();
  driver.join();
  agent.stop();
  master.stop();
  if (!done) {
    std::fprintf(stderr, "launch: not every task ended within 10 minutes: %s\n",
                 scheduler.describe().c_str());
    return 1;
  }
  double secs = scheduler.seconds();
  double rate = options.tasks / secs;
  double running = scheduler.runningSeconds();
  std::printf("launch tasks=%d seconds=%.3f running_seconds=%.3f tasks_per_s=%.1f"
              " running_per_s=%.1f spawn_limit_per_s=%.1f ratio=%.3f failed=%d hold=%d",
              options.tasks, secs, running, rate, running > 0 ? options.tasks / running : 0.0,
              limit, rate / limit, scheduler.failed(), options.hold ? 1 : 0);
  if (options.hold) std::printf(" kill_seconds=%.3f", scheduler.endSeconds());
  std::printf(" group_size=%d", options.groupSize);
  std::printf(" containerizer=%s work_fs=%s checkpoint=%d",
              image.empty() ? options.containerizer.c_str() : "oci",
              filesystemOf(dir.path()).c_str(), options.checkpoint ? 1 : 0);
  if (!image.empty()) {
    std::printf(" image=%s pull_seconds=%.3f oci_runtime=%s", image.c_str(), pullSeconds,
                options.ociRuntime.c_str());
  }
  std::printf("\n");
  return scheduler.failed() == 0 ? 0 : 1;
}

}  // namespace tutti::bench
