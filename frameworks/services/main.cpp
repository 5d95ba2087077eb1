// tutti-services: a long-running service scheduler with a Marathon-compatible
// REST API (docs/services.md). Uses the public framework API, plus common's
// flags, HTTP server, files and ZooKeeper helpers.
//
// Standalone it keeps its state in --state_dir; with --zk several instances
// elect a leader among themselves, keep their state in ZooKeeper, and the
// standbys redirect API calls to the leader.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <thread>

#include "common/duration.hpp"
#include "common/flags.hpp"
#include "common/host.hpp"
#include "common/http.hpp"
#include "common/transport.hpp"
#include "common/version.hpp"
#include "frameworks/services/leader_election.hpp"
#include "frameworks/services/service_scheduler.hpp"
#include "frameworks/services/services_api.hpp"
#include "tutti/scheduler.hpp"

DEFINE_string(master, "",
              "The master: HOST:PORT of its message port, or zk://host:port,.../path (required)");
DEFINE_int32(http_port, 8080, "Port of the REST API");
DEFINE_string(http_address, "0.0.0.0", "Address the REST API listens on");
DEFINE_string(hostname, "",
              "Host name other instances and clients reach this one by (default: "
              "--http_address, or the machine's name when that is 0.0.0.0)");
DEFINE_string(state_dir, "", "Keep state (apps, FrameworkID) in files here (standalone)");
DEFINE_string(zk, "",
              "Keep state in ZooKeeper and elect a leader among instances: "
              "zk://host1:2181,host2:2181/path");
DEFINE_string(zk_session_timeout, "10secs", "ZooKeeper session timeout");
DEFINE_string(role, "*",
              "Role to subscribe with (apps with persistent volumes reserve for it, so they "
              "need a role other than '*')");
DEFINE_string(principal, "",
              "The framework's principal: reservations and persistent volumes are made in its "
              "name");
DEFINE_string(user, "", "User the tasks run as (default: the current user)");
DEFINE_string(framework_name, "tutti-services", "The framework's name");
DEFINE_double(failover_timeout, 7 * 24 * 3600.0,
              "Seconds the master keeps the framework's tasks while no tutti-services is "
              "connected");
DEFINE_bool(checkpoint, true, "Ask agents to checkpoint the tasks (they survive agent restarts)");
DEFINE_double(decline_refuse_seconds, 5,
              "refuse_seconds for offers that fit none of the instances waiting");
DEFINE_double(idle_refuse_seconds, 120, "refuse_seconds for offers when nothing waits");

DEFINE_validator(master, &tutti::validateHostPortFlag);
DEFINE_validator(http_port, &tutti::validatePortFlag);
DEFINE_validator(zk_session_timeout, &tutti::validateDurationFlag);

namespace {

using namespace tutti;
using namespace tutti::services;

constexpr const char* kUsage =
    "tutti-services: long-running services with a Marathon-compatible REST API.\n"
    "  tutti-services --master=HOST:PORT --http_port=8080 --state_dir=DIR\n"
    "  tutti-services --master=zk://HOST:2181/tutti --zk=zk://HOST:2181/tutti-services";

FrameworkInfo frameworkInfo(const std::string& id) {
  FrameworkInfo info;
  info.name = FLAGS_framework_name;
  info.user = FLAGS_user.empty() ? currentUserName() : FLAGS_user;
  info.hostname = localHostname();
  info.roles = {FLAGS_role};
  info.principal = FLAGS_principal;
  info.checkpoint = FLAGS_checkpoint;
  info.failoverTimeoutSecs = FLAGS_failover_timeout;
  info.capabilities = {FrameworkCapability::TASK_KILLING_STATE};
  if (!id.empty()) info.id = FrameworkID(id);
  return info;
}

// What both the leader and standbys share with the API's threads.
struct Shared {
  std::atomic<ServiceScheduler*> scheduler{nullptr};
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::string> leader;
  bool elected = false;
  std::string lost;  // set when the election was lost: exit
  std::atomic<bool> stopping{false};
};

// Runs the scheduler while this instance leads, until a signal.
int lead(Shared& shared, StateStore& store, Metrics& metrics, EventBus& events) {
  ServicesOptions options;
  options.unfitRefuseSeconds = FLAGS_decline_refuse_seconds;
  options.idleRefuseSeconds = FLAGS_idle_refuse_seconds;
  options.role = FLAGS_role;
  options.principal = FLAGS_principal;
  ServiceScheduler scheduler(&store, options, &metrics, &events);
  Status loaded = scheduler.load();
  if (!loaded.ok()) {
    LOG(ERROR) << "Cannot load the state: " << loaded;
    return 1;
  }
  int code = 0;
  {
    TuttiSchedulerDriver driver(&scheduler, frameworkInfo(scheduler.frameworkId()),
                                FLAGS_master);
    scheduler.setDriver(&driver);
    // The API works before the subscription: changes are stored, and acted
    // on once subscribed (kills are sent again then).
    shared.scheduler.store(&scheduler);
    if (driver.start() != DriverStatus::DRIVER_RUNNING) {
      LOG(ERROR) << "Cannot start the scheduler driver (is --master right?)";
      shared.scheduler.store(nullptr);
      return 1;
    }
    std::unique_lock<std::mutex> lock(shared.mu);
    std::string fatal;
    while (!shared.stopping.load() && shared.lost.empty() && fatal.empty()) {
      shared.cv.wait_for(lock, std::chrono::milliseconds(200));
      lock.unlock();
      scheduler.tick();
      fatal = scheduler.fatalError();
      lock.lock();
    }
    if (!shared.lost.empty()) code = 2;
    if (!fatal.empty()) {
      // The driver aborted (e.g. the framework was removed): exit, to be
      // restarted by the supervisor; the state stays for the operator.
      LOG(ERROR) << "Exiting: the master reported: " << fatal;
      code = 3;
    }
    lock.unlock();
    shared.scheduler.store(nullptr);
    // Leave the framework registered: the tasks keep running and the next
    // leader re-subscribes with the FrameworkID (failover).
    driver.stop(true);
    driver.join();
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  parseFlags(&argc, &argv, kUsage);
  initLogging(argv[0]);
  if (FLAGS_master.empty()) {
    std::cerr << "--master is required (see --help)\n";
    return 1;
  }
  if (FLAGS_state_dir.empty() == FLAGS_zk.empty()) {
    std::cerr << "Give exactly one of --state_dir (standalone) and --zk (HA)\n";
    return 1;
  }
  std::pair<std::string, std::string> zkUrl;
  if (!FLAGS_zk.empty()) {
    auto parsed = ZooKeeper::parseUrl(FLAGS_zk);
    if (!parsed.ok()) {
      std::cerr << "Invalid --zk: " << parsed.error() << "\n";
      return 1;
    }
    zkUrl = *parsed;
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  Shared shared;
  Metrics metrics;
  // Before the server: its event streams end before the bus does.
  EventBus events(&metrics);
  std::string self = FLAGS_hostname;
  if (self.empty()) self = FLAGS_http_address == "0.0.0.0" ? localHostname() : FLAGS_http_address;
  self += ":" + std::to_string(FLAGS_http_port);

  Leadership leadership;
  leadership.scheduler = [&shared] { return shared.scheduler.load(); };
  leadership.leader = [&shared]() -> std::optional<std::string> {
    std::lock_guard<std::mutex> lock(shared.mu);
    return shared.leader;
  };
  nlohmann::json info = {{"name", "tutti-services"},
                         {"version", tuttiVersion()},
                         {"http_config", {{"http_port", FLAGS_http_port}}},
                         {"marathon_config",
                          {{"master", FLAGS_master},
                           {"failover_timeout", FLAGS_failover_timeout},
                           {"framework_name", FLAGS_framework_name},
                           {"checkpoint", FLAGS_checkpoint},
                           {"mesos_role", FLAGS_role},
                           {"hostname", self}}},
                         {"zookeeper_config", {{"zk", FLAGS_zk}}}};
  ServicesApi api(leadership, &metrics, info, &events);
  HttpServer::Options httpOptions;
  // Event streams (at most EventBus::Options::maxSubscribers) hold a
  // thread each; the rest serve the API.
  httpOptions.threads = 8;
  httpOptions.maxBodyBytes = 1u << 20;
  HttpServer server(httpOptions);
  api.install(server);
  auto port = server.start(FLAGS_http_address, FLAGS_http_port);
  if (!port.ok()) {
    std::cerr << "Cannot serve --http_port=" << FLAGS_http_port << ": " << port.error() << "\n";
    return 1;
  }
  LOG(INFO) << "REST API on http://" << self;

  std::thread signals([&] {
    while (!shared.stopping.load()) {
      timespec timeout{0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &timeout);
      if (sig > 0) {
        LOG(INFO) << "Stopping on signal " << sig;
        std::lock_guard<std::mutex> lock(shared.mu);
        shared.stopping.store(true);
        shared.cv.notify_all();
      }
    }
  });

  int code = 0;
  if (FLAGS_zk.empty()) {
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.leader = self;
    }
    auto store = makeFileStore(FLAGS_state_dir);
    code = lead(shared, *store, metrics, events);
  } else {
    Loop loop(RealClock::instance(), Loop::Options{"services-zk"});
    std::thread loopThread([&] { loop.run(); });
    std::unique_ptr<ZooKeeper> zk;
    std::unique_ptr<LeaderElection> election;
    loop.call("services.zk_start", [&] {
      ZooKeeper::Options o;
      o.servers = zkUrl.first;
      o.sessionTimeout = *parseDuration(FLAGS_zk_session_timeout);
      zk = std::make_unique<ZooKeeper>(loop, o, [&](ZooKeeper::SessionState s) {
        if (election) election->onSession(s);
      });
      LeaderElection::Callbacks callbacks;
      callbacks.onElected = [&] {
        std::lock_guard<std::mutex> lock(shared.mu);
        shared.elected = true;
        shared.cv.notify_all();
      };
      callbacks.onLeader = [&](const std::optional<std::string>& leader) {
        std::lock_guard<std::mutex> lock(shared.mu);
        shared.leader = leader;
      };
      callbacks.onLost = [&](const std::string& why) {
        std::lock_guard<std::mutex> lock(shared.mu);
        shared.lost = why;
        shared.cv.notify_all();
      };
      election = std::make_unique<LeaderElection>(loop, *zk, zkUrl.second + "/leader", self,
                                                  callbacks);
      Status s = zk->start();
      if (!s.ok()) callbacks.onLost(s.message());
    });
    bool elected = false;
    {
      std::unique_lock<std::mutex> lock(shared.mu);
      shared.cv.wait(lock, [&] {
        return shared.elected || shared.stopping.load() || !shared.lost.empty();
      });
      elected = shared.elected && shared.lost.empty() && !shared.stopping.load();
      if (!shared.lost.empty()) code = 2;
    }
    if (elected) {
      auto store = makeZkStore(loop, *zk, zkUrl.second + "/state");
      code = lead(shared, *store, metrics, events);
    }
    loop.call("services.zk_stop", [&] {
      election.reset();
      zk.reset();
    });
    loop.stop();
    loopThread.join();
  }
  shared.stopping.store(true);
  signals.join();
  events.close();  // open event streams end now, not at their next poll
  server.stop();
  // The driver is gone: flush what it queued before the process ends.
  terminateZmqContext();
  return code;
}
