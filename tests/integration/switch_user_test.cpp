// Integration: --switch_user, and fetching URIs into sandboxes.
// --switch_user: Tasks run as CommandInfo.user, else as
// FrameworkInfo.user, with that user's groups only, and own their sandbox;
// the command executor (the agent's user) still watches, health-checks and
// kills them; their rlimits and pid namespace are set up before the ids
// drop; a custom executor runs as the user
// itself; an unknown user fails only its own task, with a message; and
// --switch_user=false keeps everything the agent's (these need root and the
// user `nobody`; skipped otherwise). Fetching: a task finds its URIs (HTTP
// from a server on loopback, file://, archives unpacked, executables) in its
// sandbox; a failed fetch fails only its task, naming the URI; the fetcher
// reads as the task's user. Real agents, fetchers and tasks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include "agent/volumes.hpp"
#include "common/files.hpp"
#include "common/host.hpp"
#include "common/user.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

FrameworkInfo frameworkAs(const std::string& user, std::vector<std::string> roles = {}) {
  FrameworkInfo f;
  f.name = "switch-user-test";
  f.user = user;
  f.roles = std::move(roles);
  return f;
}

// Launches `tasks(offer)` on the first offer, once; declines the rest.
void launchOnFirstOffer(RecordingScheduler& s,
                        std::function<std::vector<TaskInfo>(const Offer&)> tasks) {
  auto launched = std::make_shared<std::atomic<bool>>(false);
  s.onOffers = [launched, tasks](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id, Filters{3600});
      } else {
        d->launchTasks({o.id}, tasks(o));
      }
    }
  };
}

// A master, an agent and a framework that launches on its first offer.
class AgentTaskTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!driver_) return;
    driver_->stop();
    driver_->join();
  }
  // A master, an agent with `options` whose sandboxes the task's user can
  // reach (a real work dir is 0755; the test's temporary one is 0700), and
  // a framework of `user` that launches `tasks(offer)` on its first offer.
  void start(agent::AgentOptions options, const std::string& user,
             std::function<std::vector<TaskInfo>(const Offer&)> tasks) {
    launchOnFirstOffer(scheduler_, std::move(tasks));
    start(std::move(options), user);
  }
  // The same with the scheduler's onOffers already set.
  void start(agent::AgentOptions options, const std::string& user) {
    master_ = StartMaster();
    agent_ = StartAgent(*master_, options);
    ::chmod(agent_.dir->path().c_str(), 0755);
    driver_ = std::make_unique<TuttiSchedulerDriver>(&scheduler_, frameworkAs(user, roles_),
                                                     master_->messageAddress());
    ASSERT_EQ(driver_->start(), DriverStatus::DRIVER_RUNNING);
  }
  std::string sandboxFile(const std::string& executorId, const std::string& name) {
    return testing::sandboxFile(agent_->options(), executorId, name);
  }
  bool finished(const std::string& id) {
    return scheduler_.waitForState(TaskID(id), TaskState::TASK_FINISHED);
  }

  std::vector<std::string> roles_;  // the framework's (none: "*")
  std::unique_ptr<master::MasterDaemon> master_;
  AgentHandle agent_;
  RecordingScheduler scheduler_;
  std::unique_ptr<TuttiSchedulerDriver> driver_;
};

class SwitchUserTest : public AgentTaskTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "switching users needs root";
    auto u = lookupUser("nobody");
    if (!u.ok()) GTEST_SKIP() << "no user 'nobody' here";
    nobody_ = *u;
    ids_ = std::to_string(nobody_.uid) + " " + std::to_string(nobody_.gid);
  }
  UserAccount nobody_;
  std::string ids_;  // "uid gid" of nobody
};

TEST_F(SwitchUserTest, TasksRunAsTheirUserWithItsGroupsAndOwnTheirSandbox) {
  start(testAgentOptions("", ""), "nobody", [&](const Offer& o) {
    // The framework's user: its ids and groups only (not root's), its
    // USER and HOME, and a sandbox it owns and can write.
    TaskInfo fw = commandTask("fw",
                              "id -u; id -G; echo \"$USER $HOME\"; touch mine && "
                              "stat -c '%u %g' mine . stdout",
                              o);
    // The command's user wins over the framework's.
    TaskInfo cmd = commandTask("cmd", "id -u", o);
    cmd.command->user = "root";
    // Health checks run as the task's user; the executor, still root, kills.
    TaskInfo web = commandTask("web", "exec sleep 1000", o);
    HealthCheck check;
    check.type = HealthCheck::Type::COMMAND;
    check.delaySeconds = 0;
    check.intervalSeconds = 0.2;
    check.gracePeriodSeconds = 0;
    check.consecutiveFailures = 100;
    CommandInfo c;
    c.value = "[ \"$(id -u)\" = " + std::to_string(nobody_.uid) + " ]";
    check.command = c;
    web.healthCheck = check;
    web.killPolicy = KillPolicy{std::chrono::milliseconds(200)};
    return std::vector<TaskInfo>{fw, cmd, web};
  });
  ASSERT_TRUE(finished("fw"));
  ASSERT_TRUE(finished("cmd"));
  std::string u = std::to_string(nobody_.uid), g = std::to_string(nobody_.gid);
  EXPECT_EQ(sandboxFile("fw", "stdout"), u + "\n" + g + "\nnobody " + nobody_.home + "\n" +
                                             ids_ + "\n" + ids_ + "\n" + ids_ + "\n");
  EXPECT_EQ(sandboxFile("cmd", "stdout"), "0\n");
  ASSERT_TRUE(scheduler_.waitForUpdates([](const std::vector<TaskStatus>& all) {
    for (const auto& s : all) {
      if (s.taskId.value == "web" && s.healthy == std::optional<bool>(true)) return true;
    }
    return false;
  })) << "the check never passed as the task's user";
  driver_->killTask(TaskID("web"));
  ASSERT_TRUE(scheduler_.waitForState(TaskID("web"), TaskState::TASK_KILLED));
}

TEST_F(SwitchUserTest, AnotherUsersTaskGetsItsRlimitsAndPidNamespace) {
  // Set up in the task's own process, before it drops to the user's ids:
  // no root wrapper (unshare, prlimit) ever runs with the task's environment.
  agent::AgentOptions options = testAgentOptions("", "");
  options.isolation = "posix/rlimits,namespaces/pid";
  start(options, "nobody", [&](const Offer& o) {
    TaskInfo limited = commandTask(
        "limited", "id -u; ulimit -n; ulimit -Hn; echo pid=$$; ls /proc | grep -c '^[0-9]'", o);
    limited.container = ContainerInfo{std::nullopt, {{"RLMT_NOFILE", 100, 200}}};
    // pid 1 ignores the SIGTERM it has no handler for: killed after its
    // grace period, by the executor (root), through the task's group.
    TaskInfo held = commandTask("held", "echo up; exec sleep 1000", o);
    held.killPolicy = KillPolicy{std::chrono::milliseconds(200)};
    // Its check runs as its user, in its pid namespace (a handful of
    // processes there, dozens on the host).
    HealthCheck check;
    check.type = HealthCheck::Type::COMMAND;
    check.intervalSeconds = 0.2;
    check.gracePeriodSeconds = 0;
    check.consecutiveFailures = 100;
    CommandInfo c;
    c.value = "[ \"$(id -u)\" = " + std::to_string(nobody_.uid) +
              " ] && [ \"$(ls /proc | grep -c '^[0-9]')\" -lt 10 ]";
    check.command = c;
    held.healthCheck = check;
    return std::vector<TaskInfo>{limited, held};
  });
  ASSERT_TRUE(finished("limited"));
  std::string prefix = std::to_string(nobody_.uid) + "\n100\n200\npid=1\n";
  std::string out = sandboxFile("limited", "stdout");
  EXPECT_TRUE(out == prefix + "2\n" || out == prefix + "3\n") << out;
  ASSERT_TRUE(scheduler_.waitForState(TaskID("held"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler_.waitForUpdates([](const std::vector<TaskStatus>& all) {
    for (const auto& s : all) {
      if (s.taskId.value == "held" && s.healthy == std::optional<bool>(true)) return true;
    }
    return false;
  })) << "the check did not run as the task's user in its pid namespace";
  driver_->killTask(TaskID("held"));
  ASSERT_TRUE(scheduler_.waitForState(TaskID("held"), TaskState::TASK_KILLED));
  // The task itself (pid 1, unmoved by SIGTERM) is what the executor
  // watched and killed after the grace period.
  EXPECT_NE(lastUpdate(scheduler_, "held")->message.find("killed by signal 9"), std::string::npos)
      << lastUpdate(scheduler_, "held")->message;
}

TEST_F(SwitchUserTest, ACustomExecutorRunsAsTheUserItself) {
  start(testAgentOptions("", ""), "nobody", [&](const Offer& o) {
    // Not a real executor: it records who it is and exits (the task is
    // then lost with it).
    TaskInfo t = commandTask("custom-task", "true", o);
    t.command.reset();
    ExecutorInfo e;
    e.executorId = ExecutorID("custom");
    CommandInfo c;
    c.value = "echo \"$(id -u) $(id -g)\" > who";
    e.command = c;
    e.resources = *Resources::parse("cpus:0.1;mem:32");
    t.executor = e;
    return std::vector<TaskInfo>{t};
  });
  ASSERT_TRUE(waitUntil([&] { return !sandboxFile("custom", "who").empty(); }));
  EXPECT_EQ(sandboxFile("custom", "who"), ids_ + "\n");
}

TEST_F(SwitchUserTest, APersistentVolumeBelongsToTheUserOfTheTaskThatUsesIt) {
  agent::AgentOptions options = testAgentOptions("", "");
  options.resources += ";disk(eng):50";
  roles_ = {"eng"};
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler_.onOffers = [launched](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id, Filters{3600});
        continue;
      }
      Resources db{persistentVolume(20, {{ReservationInfo::Type::STATIC, "eng", "", {}}}, "db",
                                    "data")};
      TaskInfo t = commandTask("owner", "echo mine > data/f", o);
      t.resources += db;
      d->acceptOffers({o.id}, {Offer::Operation::create(db), Offer::Operation::launch({t})},
                      Filters{0});
    }
  };
  start(options, "nobody");
  ASSERT_TRUE(finished("owner")) << (lastUpdate(scheduler_, "owner")
                                        ? lastUpdate(scheduler_, "owner")->message
                                        : "");
  std::string dir = agent::volumesRoot(agent_->options().workDir) + "/eng/db";
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody_.uid);
  auto data = readFile(dir + "/f");
  ASSERT_TRUE(data.ok()) << data.error();
  EXPECT_EQ(*data, "mine\n");
}

TEST_F(SwitchUserTest, AnUnknownUserFailsOnlyItsTaskWithAMessage) {
  start(testAgentOptions("", ""), "nobody", [&](const Offer& o) {
    TaskInfo ghost = commandTask("ghost", "true", o);
    ghost.command->user = "no-such-user-tutti";
    return std::vector<TaskInfo>{ghost, commandTask("fine", "id -u", o)};
  });
  ASSERT_TRUE(scheduler_.waitForState(TaskID("ghost"), TaskState::TASK_FAILED));
  ASSERT_TRUE(finished("fine"));
  auto ghost = lastUpdate(scheduler_, "ghost");
  EXPECT_EQ(ghost->reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_NE(ghost->message.find("no user 'no-such-user-tutti'"), std::string::npos)
      << ghost->message;
  EXPECT_EQ(sandboxFile("fine", "stdout"), std::to_string(nobody_.uid) + "\n");
  EXPECT_GE(getJson(agent_->httpPort(), "/metrics/snapshot")
                .value("slave/container_launch_errors", 0.0),
            1.0);
}

TEST_F(SwitchUserTest, WithoutSwitchUserTasksRunAsTheAgent) {
  agent::AgentOptions options = testAgentOptions("", "");
  options.switchUser = false;
  start(options, "nobody", [&](const Offer& o) {
    TaskInfo t = commandTask("mine", "id -u; stat -c %u .", o);
    t.command->user = "nobody";
    return std::vector<TaskInfo>{t};
  });
  ASSERT_TRUE(finished("mine"));
  std::string me = std::to_string(::geteuid());
  EXPECT_EQ(sandboxFile("mine", "stdout"), me + "\n" + me + "\n");
}

// ---- Fetching URIs (agent/fetcher) ----

// Serves `files` (path → body) over HTTP on loopback while it lives; GETs
// of a `stalled` path get no answer until it stops.
class FileServer {
 public:
  explicit FileServer(std::map<std::string, std::string> files,
                      std::vector<std::string> stalled = {}) {
    for (const auto& path : stalled) {
      server_.Get(path, [this](const httplib::Request&, httplib::Response& res) {
        requests_++;
        std::unique_lock<std::mutex> lock(mu_);
        stopped_.wait(lock, [this] { return stopping_; });
        res.status = 503;
      });
    }
    for (const auto& [path, body] : files) {
      server_.Get(path, [this, body](const httplib::Request&, httplib::Response& res) {
        requests_++;
        res.set_content(body, "application/octet-stream");
      });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    waitUntil([this] { return server_.is_running(); });
  }
  ~FileServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    stopped_.notify_all();
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return requests_; }

 private:
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::condition_variable stopped_;
  bool stopping_ = false;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

CommandURI fetched(std::string value, std::optional<std::string> output = std::nullopt,
                   bool executable = false) {
  CommandURI u;
  u.value = std::move(value);
  u.outputFile = std::move(output);
  u.executable = executable;
  return u;
}

// A tar.gz of `dir`'s `entry`, made with tar(1), as bytes.
std::string tarGz(const std::string& dir, const std::string& entry) {
  std::string archive = dir + "/archive.tgz";
  EXPECT_EQ(std::system(("tar -czf " + archive + " -C " + dir + " " + entry).c_str()), 0);
  auto bytes = readFile(archive);
  return bytes.ok() ? *bytes : "";
}

class FetchTest : public AgentTaskTest {};

TEST_F(FetchTest, TasksFindTheirUrisInTheSandboxAndAFailedFetchFailsOnlyItsTask) {
  TempDir source;
  ASSERT_TRUE(makeDirectories(source.path() + "/app").ok());
  std::ofstream(source.path() + "/app/conf") << "colour=blue\n";
  std::ofstream(source.path() + "/run.sh") << "#!/bin/sh\necho running\n";
  FileServer http({{"/app.tgz", tarGz(source.path(), "app")}});
  start(testAgentOptions("", ""), currentUserName(), [&](const Offer& o) {
    TaskInfo t = commandTask("with-uris", "./bin/run && cat app/conf", o);
    t.command->uris = {fetched(http.url("/app.tgz")),
                       fetched("file://" + source.path() + "/run.sh", "bin/run", true)};
    TaskInfo bad = commandTask("bad-uri", "true", o);
    bad.command->uris = {fetched(http.url("/missing.tgz"))};
    return std::vector<TaskInfo>{t, bad};
  });
  ASSERT_TRUE(finished("with-uris")) << sandboxFile("with-uris", "stderr");
  EXPECT_EQ(sandboxFile("with-uris", "stdout"), "running\ncolour=blue\n");
  // The fetcher's progress is in the sandbox's stderr, as Mesos's is.
  EXPECT_NE(sandboxFile("with-uris", "stderr").find("Fetched '" + http.url("/app.tgz")),
            std::string::npos);
  ASSERT_TRUE(scheduler_.waitForState(TaskID("bad-uri"), TaskState::TASK_FAILED));
  auto bad = lastUpdate(scheduler_, "bad-uri");
  EXPECT_EQ(bad->reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_NE(bad->message.find("Failed to fetch '" + http.url("/missing.tgz") + "'"),
            std::string::npos)
      << bad->message;
  EXPECT_NE(bad->message.find("HTTP 404"), std::string::npos) << bad->message;
}

// cache: true: the agent downloads a URI once, for two tasks launched
// together and for a later one of the same user, which copy it from the
// fetcher cache.
TEST_F(FetchTest, ACachedUriIsDownloadedOnceForABurstAndLaterTasks) {
  TempDir source;
  std::ofstream(source.path() + "/run.sh") << "#!/bin/sh\necho cached-run\n";
  FileServer http({{"/tool.tgz", tarGz(source.path(), "run.sh")}});
  auto task = [&](const std::string& id, const Offer& o) {
    TaskInfo t = commandTask(id, "sh run.sh", o);
    CommandURI u = fetched(http.url("/tool.tgz"));
    u.cache = true;
    t.command->uris = {u};
    return t;
  };
  // Two tasks, then (once they finished and offers are revived) another.
  auto launched = std::make_shared<std::atomic<int>>(0);
  auto secondAllowed = std::make_shared<std::atomic<bool>>(false);
  scheduler_.onOffers = [=](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      int n = launched->load();
      if (n == 0) {
        launched->store(1);
        d->launchTasks({o.id}, {task("first", o), task("twin", o)});
      } else if (n == 1 && secondAllowed->load()) {
        launched->store(2);
        d->launchTasks({o.id}, {task("second", o)});
      } else {
        d->declineOffer(o.id, Filters{3600});
      }
    }
  };
  start(testAgentOptions("", ""), currentUserName());
  ASSERT_TRUE(finished("first")) << sandboxFile("first", "stderr");
  ASSERT_TRUE(finished("twin")) << sandboxFile("twin", "stderr");
  EXPECT_EQ(http.requests(), 1);
  secondAllowed->store(true);
  driver_->reviveOffers();
  ASSERT_TRUE(finished("second")) << sandboxFile("second", "stderr");
  EXPECT_EQ(sandboxFile("first", "stdout"), "cached-run\n");
  EXPECT_EQ(sandboxFile("twin", "stdout"), "cached-run\n");
  EXPECT_EQ(sandboxFile("second", "stdout"), "cached-run\n");
  EXPECT_EQ(http.requests(), 1);
  EXPECT_NE(sandboxFile("second", "stderr").find("from the cache"), std::string::npos)
      << sandboxFile("second", "stderr");
}

// A fetch that never ends (a server that sends nothing, within the
// download's stall timeout) fails its task once the executor registration
// timeout has passed, as in Mesos, and the fetcher is gone.
TEST_F(FetchTest, AFetchThatDoesNotEndFailsItsTaskAtTheRegistrationTimeout) {
  FileServer http({}, {"/slow.tgz"});
  agent::AgentOptions options = testAgentOptions("", "");
  options.executorRegistrationTimeout = std::chrono::seconds(1);
  start(options, currentUserName(), [&](const Offer& o) {
    TaskInfo t = commandTask("slow", "true", o);
    t.command->uris = {fetched(http.url("/slow.tgz"))};
    return std::vector<TaskInfo>{t};
  });
  ASSERT_TRUE(scheduler_.waitForState(TaskID("slow"), TaskState::TASK_FAILED));
  auto failed = lastUpdate(scheduler_, "slow");
  EXPECT_EQ(failed->reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_NE(failed->message.find("did not end within --executor_registration_timeout (1secs)"),
            std::string::npos)
      << failed->message;
  EXPECT_EQ(http.requests(), 1);
}

TEST_F(SwitchUserTest, TheFetcherRunsAsTheTasksUser) {
  TempDir source;
  ::chmod(source.path().c_str(), 0755);
  std::string secret = source.path() + "/secret", open = source.path() + "/open";
  std::ofstream(secret) << "root only";
  std::ofstream(open) << "anyone";
  ::chmod(secret.c_str(), 0600);
  ::chmod(open.c_str(), 0644);
  start(testAgentOptions("", ""), "nobody", [&](const Offer& o) {
    TaskInfo denied = commandTask("denied", "true", o);
    denied.command->uris = {fetched(secret)};
    TaskInfo allowed = commandTask("allowed", "stat -c '%u %g' open; cat open", o);
    allowed.command->uris = {fetched("file://" + open)};
    return std::vector<TaskInfo>{denied, allowed};
  });
  ASSERT_TRUE(scheduler_.waitForState(TaskID("denied"), TaskState::TASK_FAILED));
  EXPECT_NE(lastUpdate(scheduler_, "denied")->message.find("cannot read '" + secret + "'"),
            std::string::npos)
      << lastUpdate(scheduler_, "denied")->message;
  ASSERT_TRUE(finished("allowed")) << sandboxFile("allowed", "stderr");
  EXPECT_EQ(sandboxFile("allowed", "stdout"), ids_ + "\nanyone");
}

}  // namespace
}  // namespace tutti::testing
