// Integration: master, agent and scheduler driver in one process, with real
// sockets, real executors and the transports' filter hook for partitions.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/host.hpp"
#include "common/process.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

FrameworkInfo framework(bool partitionAware = false) {
  FrameworkInfo f;
  f.name = "test";
  f.user = currentUserName();
  if (partitionAware) f.capabilities = {FrameworkCapability::PARTITION_AWARE};
  return f;
}

TEST(InProcessTest, DriverKillEndsTaskKilledAndTheWholeGroupIsGone) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t",
             "sleep 1000 & echo $! >> " + pids + "; echo $$ >> " + pids + "; wait");
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::vector<pid_t> taskPids;
  ASSERT_TRUE(waitUntil([&] {
    taskPids.clear();
    std::ifstream in(pids);
    pid_t x;
    while (in >> x) taskPids.push_back(x);
    return taskPids.size() == 2;
  }));
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] {
    for (pid_t p : taskPids) {
      if (processExists(p)) return false;
    }
    return true;
  }));
  // The master saw the whole life of the task.
  auto state = getJson(master->httpPort(), "/master/state");
  ASSERT_TRUE(state.is_object());
  driver.stop();
  driver.join();
}

// An accept made while the driver has no master never reaches one: as with
// Mesos's driver, its tasks come back lost (dropped, for a partition-aware
// framework) instead of being waited for forever.
TEST(InProcessTest, LaunchWithoutAMasterIsReportedLostOrDropped) {
  for (bool partitionAware : {false, true}) {
    RecordingScheduler scheduler;
    // Nothing listens on port 1: the driver never subscribes.
    TuttiSchedulerDriver driver(&scheduler, framework(partitionAware), "127.0.0.1:1");
    ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
    TaskInfo task;
    task.name = "t";
    task.taskId = TaskID("t");
    task.agentId = AgentID("a1");
    task.resources = *Resources::parse("cpus:0.1;mem:32");
    CommandInfo c;
    c.value = "true";
    task.command = c;
    ASSERT_EQ(driver.launchTasks({OfferID("o1")}, {task}), DriverStatus::DRIVER_RUNNING);
    TaskState expected = partitionAware ? TaskState::TASK_DROPPED : TaskState::TASK_LOST;
    ASSERT_TRUE(scheduler.waitForState(TaskID("t"), expected, std::chrono::seconds(10)))
        << "partition-aware: " << partitionAware;
    TaskStatus s = scheduler.updates().back();
    EXPECT_EQ(s.source, Source::SOURCE_MASTER);
    EXPECT_EQ(s.reason, Reason::REASON_MASTER_DISCONNECTED);
    EXPECT_EQ(s.agentId, AgentID("a1"));
    EXPECT_TRUE(s.uuid.empty());  // nothing to acknowledge
    driver.stop();
    driver.join();
  }
}

TEST(InProcessTest, SilentAgentBecomesUnreachableAndItsTasksAreReported) {
  auto options = testMasterOptions();
  options.agentPingTimeout = std::chrono::milliseconds(100);
  options.maxAgentPingTimeouts = 3;
  auto master = StartMaster(options);
  auto agent = StartAgent(*master);

  RecordingScheduler plain, aware;
  launchOnce(plain, "plain", "sleep 1000");
  launchOnce(aware, "aware", "sleep 1000");
  TuttiSchedulerDriver d1(&plain, framework(false), master->messageAddress());
  TuttiSchedulerDriver d2(&aware, framework(true), master->messageAddress());
  d1.start();
  ASSERT_TRUE(plain.waitForState(TaskID("plain"), TaskState::TASK_RUNNING));
  d2.start();
  ASSERT_TRUE(aware.waitForState(TaskID("aware"), TaskState::TASK_RUNNING));

  // A partition: the master no longer hears the agent's pongs, nor the
  // re-registration its own watchdog sends once the master's pings stop
  // mattering (which would end the partition within a second or so).
  master->transport().setFilter([](Transport::Direction d, const ConnectionId&,
                                   const wire::Payload& m) {
    bool fromAgent = std::holds_alternative<wire::PongMessage>(m) ||
                     std::holds_alternative<wire::ReregisterAgentMessage>(m) ||
                     std::holds_alternative<wire::RegisterAgentMessage>(m);
    return d == Transport::Direction::kInbound && fromAgent ? Transport::FilterAction::kDrop
                                                            : Transport::FilterAction::kDeliver;
  });
  ASSERT_TRUE(plain.waitForState(TaskID("plain"), TaskState::TASK_LOST));
  ASSERT_TRUE(aware.waitForState(TaskID("aware"), TaskState::TASK_UNREACHABLE));
  auto metrics = getJson(master->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(metrics["master/slaves_unreachable"], 1.0);
  EXPECT_EQ(metrics["master/tasks_unreachable"], 1.0);
  master->transport().setFilter(nullptr);
  d1.stop();
  d2.stop();
  d1.join();
  d2.join();
}

TEST(InProcessTest, StatusUpdatesAreRetriedUntilAcknowledged) {
  auto master = StartMaster();
  auto agentOptions = testAgentOptions("", "");
  agentOptions.statusUpdateRetryIntervalMin = std::chrono::milliseconds(200);
  auto agent = StartAgent(*master, agentOptions);

  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "sleep 1000");
  SchedulerDriverOptions driverOptions;
  driverOptions.implicitAcknowledgements = false;
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress(), driverOptions);
  driver.start();

  // Unacknowledged, TASK_STARTING (the first update) comes again and again;
  // nothing after it is sent while it waits.
  ASSERT_TRUE(scheduler.waitForUpdates([](const std::vector<TaskStatus>& updates) {
    int starting = 0;
    for (const auto& u : updates) starting += u.state == TaskState::TASK_STARTING;
    return starting >= 3;
  }));
  auto updates = scheduler.updates();
  for (const auto& u : updates) {
    EXPECT_EQ(u.state, TaskState::TASK_STARTING);
    EXPECT_EQ(u.uuid, updates.front().uuid);
  }
  // Acknowledged: the next update (RUNNING) follows.
  driver.acknowledgeStatusUpdate(updates.front());
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  auto running = scheduler.updates().back();
  driver.acknowledgeStatusUpdate(running);
  driver.killTask(TaskID("t"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_KILLED));
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

TEST(InProcessTest, OperatorEndpointsValidateBodiesAndApplyChanges) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  int port = master->httpPort();
  ASSERT_TRUE(waitUntil([&] { return getJson(port, "/master/slaves")["slaves"].size() == 1; }));
  std::string agentId = getJson(port, "/master/slaves")["slaves"][0]["id"];

  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& type = "application/json") {
    auto r = httpRequest(method, "127.0.0.1", port, path, body, type);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r->first : -1;
  };
  // Hostile or malformed bodies: a clear 4xx, nothing changes.
  EXPECT_EQ(call("PUT", "/master/weights", "{not json"), 400);
  EXPECT_EQ(call("PUT", "/master/weights", "[{\"role\": \"eng\"}]"), 400);
  EXPECT_EQ(call("PUT", "/master/weights", "[{\"role\": \"eng\", \"weight\": -2}]"), 400);
  EXPECT_EQ(call("PUT", "/master/weights", "[{\"role\": \"eng\", \"weight\": 1e308}]"), 400);
  EXPECT_EQ(call("PUT", "/master/weights", "[{\"role\": \"eng\", \"weight\": 1e-320}]"), 400);
  EXPECT_EQ(call("PUT", "/master/weights", std::string(100000, '[')), 400);
  // Nested deeper than any real body (copying such a value once overflowed
  // an HTTP thread's stack): refused whole, the master keeps serving.
  std::string deep;
  for (int i = 0; i < 60000; ++i) deep += "{\"a\":";
  deep += "1" + std::string(60000, '}');
  EXPECT_EQ(call("POST", "/master/reserve", "{\"slave_id\": \"x\", \"resources\": " + deep + "}"),
            400);
  std::string deepForm;  // (form bodies are capped at 8 KB by cpp-httplib)
  for (int i = 0; i < 200; ++i) deepForm += "[";
  EXPECT_EQ(call("POST", "/master/unreserve", "slaveId=x&resources=" + deepForm,
                 "application/x-www-form-urlencoded"),
            400);
  EXPECT_EQ(call("POST", "/master/quota", "{\"role\": \"eng\", \"guarantee\": \"cpus:-1\"}"), 400);
  EXPECT_EQ(call("POST", "/master/quota", "{\"guarantee\": \"cpus:1\"}"), 400);
  EXPECT_EQ(call("DELETE", "/master/quota/eng", ""), 404);
  EXPECT_EQ(call("POST", "/master/reserve", "{\"slave_id\": \"nope\", \"resources\": \"cpus:1\"}"),
            404);
  EXPECT_EQ(call("POST", "/master/reserve",
                 "{\"slave_id\": \"" + agentId + "\", \"resources\": []}"), 400);
  // A chunked body has no length to check up front: refused (411) before
  // it is read (it was once read whole, 50 MB and more), and what follows
  // the refused request's headers is never read as further requests (no
  // request smuggling): the server closes the connection.
  {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto sendAll = [fd](const std::string& s) {
      return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
    };
    auto receive = [fd] {
      std::string out;
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (out.find("\r\n\r\n") != std::string::npos) break;
      }
      return std::make_pair(out, n);
    };
    ASSERT_TRUE(sendAll("POST /master/quota HTTP/1.1\r\nHost: x\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n"));
    auto [first, _] = receive();
    EXPECT_EQ(first.rfind("HTTP/1.1 411", 0), 0u) << first;
    EXPECT_NE(first.find("Content-Length"), std::string::npos) << first;
    std::string inner = "GET /master/health HTTP/1.1\r\nHost: x\r\n\r\n";
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", inner.size());
    (void)sendAll(size + inner + "\r\n0\r\n\r\n");  // may fail: the server hung up
    std::string rest;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) rest.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(n, 0) << "the server did not close the connection";
    EXPECT_EQ(rest.find("HTTP/1.1"), std::string::npos) << rest;
    ::close(fd);
  }
  EXPECT_EQ(getJson(port, "/master/weights"), nlohmann::json::array());
  EXPECT_EQ(getJson(port, "/master/quota")["infos"].size(), 0u);

  // Valid requests take effect.
  EXPECT_EQ(call("PUT", "/master/weights", "[{\"role\": \"eng\", \"weight\": 2.5}]"), 200);
  EXPECT_EQ(getJson(port, "/master/weights")[0]["weight"], 2.5);
  EXPECT_EQ(call("POST", "/master/quota",
                 "{\"role\": \"eng\", \"guarantee\": \"cpus:1;mem:256\", \"limit\": {\"cpus\": 2}}"),
            200);
  auto quota = getJson(port, "/master/quota");
  ASSERT_EQ(quota["infos"].size(), 1u);
  EXPECT_EQ(quota["infos"][0]["role"], "eng");

  // Mesos's form: slaveId and a JSON resources array.
  std::string resources =
      R"([{"name":"cpus","type":"SCALAR","scalar":{"value":1},)"
      R"("reservations":[{"type":"DYNAMIC","role":"eng","principal":"ops"}]}])";
  std::string form = "slaveId=" + agentId + "&resources=" + resources;
  for (auto& c : form) {
    if (c == ' ') c = '+';
  }
  // URL-encode the JSON characters that matter in a form body.
  std::string encoded;
  for (char c : form) {
    if (c == '{' || c == '}' || c == '[' || c == ']' || c == '"' || c == ':' || c == ',') {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      encoded += buf;
    } else {
      encoded += c;
    }
  }
  EXPECT_EQ(call("POST", "/master/reserve", encoded, "application/x-www-form-urlencoded"), 202);
  auto slaves = getJson(port, "/master/slaves")["slaves"];
  EXPECT_EQ(slaves[0]["reserved_resources"]["eng"]["cpus"], 1.0);
  // Reserving more than is free is a conflict.
  EXPECT_EQ(call("POST", "/master/reserve",
                 "{\"slave_id\": \"" + agentId + "\", \"resources\": " +
                     R"([{"name":"cpus","type":"SCALAR","scalar":{"value":100},)"
                     R"("reservations":[{"type":"DYNAMIC","role":"eng"}]}]})"),
            409);
  EXPECT_EQ(call("POST", "/master/unreserve",
                 "{\"slave_id\": \"" + agentId + "\", \"resources\": " + resources + "}"),
            202);
  EXPECT_EQ(getJson(port, "/master/slaves")["slaves"][0]["reserved_resources"].size(), 0u);
  // The agent was told.
  EXPECT_TRUE(waitUntil([&] {
    return getJson(agent->httpPort(), "/state")["resources"]["cpus"] == 4.0;
  })) << getJson(agent->httpPort(), "/state")["resources"];
  EXPECT_EQ(call("DELETE", "/master/quota/eng", ""), 200);
  auto metrics = getJson(port, "/metrics/snapshot");
  EXPECT_GE(metrics["master/invalid_http_requests"].get<double>(), 7);
}

// Health checks run by the built-in executor: results flip `healthy` on
// TASK_RUNNING updates, and a failure streak kills the task; the task sees
// its ports as PORT0/PORTS.
TEST(InProcessTest, HealthChecksFlipHealthyAndKillAfterFailures) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  TempDir dir;
  std::string flag = dir.path() + "/healthy";
  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  auto port = std::make_shared<std::atomic<uint64_t>>(0);  // the task's first port
  std::string out = dir.path();
  scheduler.onOffers = [launched, port, flag, out](SchedulerDriver* d,
                                                   const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id, Filters{3600});
        continue;
      }
      // Two ports from inside the offered range (not its first ones).
      *port = o.resources.ports().at(0).begin + 7;
      std::string range = std::to_string(*port) + "-" + std::to_string(*port + 1);
      TaskInfo t = commandTask("web", "echo \"$PORT0 $PORTS $PORT\" > " + out +
                                           "/ports; exec sleep 1000",
                               o, "cpus:0.1;mem:32;ports:[" + range + "]");
      HealthCheck check;
      check.type = HealthCheck::Type::COMMAND;
      check.delaySeconds = 0;
      check.intervalSeconds = 0.1;
      check.timeoutSeconds = 5;
      check.gracePeriodSeconds = 0;
      check.consecutiveFailures = 5;
      CommandInfo c;
      c.value = "test -e " + flag;
      check.command = c;
      t.healthCheck = check;
      t.killPolicy = KillPolicy{std::chrono::milliseconds(200)};
      d->launchTasks({o.id}, {t});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("web"), TaskState::TASK_RUNNING));
  auto healthUpdates = [&](bool healthy) {
    size_t n = 0;
    for (const auto& u : scheduler.updates()) {
      n += u.taskId.value == "web" && u.state == TaskState::TASK_RUNNING && u.healthy == healthy;
    }
    return n;
  };
  // Not there yet: unhealthy; then healthy once the flag exists.
  ASSERT_TRUE(waitUntil([&] { return healthUpdates(false) >= 1; }));
  std::ofstream(flag) << "ok";
  ASSERT_TRUE(waitUntil([&] { return healthUpdates(true) >= 1; }));
  for (const auto& u : scheduler.updates()) {
    if (u.healthy) {
      EXPECT_EQ(u.reason, Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED);
    }
  }
  std::string ports;
  ASSERT_TRUE(waitUntil([&] {
    std::ifstream in(out + "/ports");
    std::getline(in, ports);
    return !ports.empty();
  }));
  std::string p0 = std::to_string(port->load()), p1 = std::to_string(*port + 1);
  EXPECT_EQ(ports, p0 + " " + p0 + "," + p1 + " " + p0);
  // Gone again: five failures in a row kill the task.
  ::unlink(flag.c_str());
  ASSERT_TRUE(scheduler.waitForState(TaskID("web"), TaskState::TASK_KILLED));
  auto last = scheduler.updates().back();
  EXPECT_EQ(last.healthy, std::optional<bool>(false));
  EXPECT_NE(last.message.find("5 consecutive failed health checks"), std::string::npos)
      << last.message;
  driver.stop();
  driver.join();
}

// Sandboxes: runs/latest points at the newest run, and an ended executor's
// sandbox is garbage-collected after --gc_delay.
TEST(InProcessTest, LatestLinkAndSandboxGarbageCollection) {
  auto master = StartMaster();
  agent::AgentOptions options = testAgentOptions("", "");
  options.gcDelay = std::chrono::milliseconds(1500);
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  launchOnce(scheduler, "short", "echo hello");
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("short"), TaskState::TASK_FINISHED));
  std::string sandbox;
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(agent->httpPort(), "/state");
    for (const auto& fw : state["completed_frameworks"]) {
      for (const auto& ex : fw["completed_executors"]) sandbox = ex.value("directory", "");
    }
    for (const auto& fw : state["frameworks"]) {
      for (const auto& ex : fw["completed_executors"]) sandbox = ex.value("directory", "");
    }
    return !sandbox.empty();
  }));
  std::string runs = sandbox.substr(0, sandbox.rfind('/'));
  std::error_code ec;
  auto target = std::filesystem::read_symlink(runs + "/latest", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(target.string(), sandbox.substr(sandbox.rfind('/') + 1));
  EXPECT_EQ(getJson(agent->httpPort(),
                    "/files/read?path=" + runs + "/latest/stdout&offset=0")["data"],
            "hello\n");
  std::string executorDir = runs.substr(0, runs.rfind('/'));
  EXPECT_TRUE(waitUntil([&] { return !std::filesystem::exists(executorDir); }))
      << executorDir << " is still there";
  // The collector counts a removal once the whole tree is gone, a moment
  // after the directory itself disappears.
  EXPECT_TRUE(waitUntil([&] {
    return getJson(agent->httpPort(), "/metrics/snapshot").value("slave/gc_removed", 0.0) >= 1.0;
  })) << "slave/gc_removed stayed 0";
  driver.stop();
  driver.join();
}

// POST /api/v1 MARK_AGENT_GONE: malformed calls are refused and change
// nothing; a valid one removes the agent (it is told to shut down) and its
// partition-aware framework's task ends TASK_GONE_BY_OPERATOR.
TEST(InProcessTest, OperatorApiMarksAnAgentGone) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  int port = master->httpPort();
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "sleep 1000");
  FrameworkInfo info = framework(/*partitionAware=*/true);
  TuttiSchedulerDriver driver(&scheduler, info, master->messageAddress());
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  std::string agentId = getJson(port, "/master/slaves")["slaves"][0]["id"];

  auto call = [&](const std::string& body, const std::string& type = "application/json") {
    auto r = httpRequest("POST", "127.0.0.1", port, "/api/v1", body, type);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r->first : -1;
  };
  auto gone = [](const std::string& id) {
    return R"({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": ")" + id +
           R"("}}})";
  };
  auto invalidRequests = [&] {
    return getJson(port, "/metrics/snapshot").value("master/invalid_http_requests", 0.0);
  };
  double invalid = invalidRequests();
  EXPECT_EQ(call("{not json"), 400);
  EXPECT_EQ(call(R"({"type": 7})"), 400);
  EXPECT_EQ(call(R"({"type": "MARK_AGENT_GONE"})"), 400);
  EXPECT_EQ(call(R"({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {}}})"), 400);
  EXPECT_EQ(call(gone("no-such-agent")), 404);
  EXPECT_EQ(call(R"({"type": "GET_STATE"})"), 501);
  EXPECT_EQ(call(gone(agentId), "application/x-protobuf"), 415);
  EXPECT_EQ(invalidRequests(), invalid + 7);
  EXPECT_EQ(getJson(port, "/master/slaves")["slaves"].size(), 1u);
  EXPECT_EQ(scheduler.stateOf(TaskID("t")), TaskState::TASK_RUNNING);
  auto health = httpRequest("POST", "127.0.0.1", port, "/api/v1", R"({"type": "GET_HEALTH"})",
                            "application/json");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(nlohmann::json::parse(health->second)["get_health"]["healthy"], true);

  EXPECT_EQ(call(gone(agentId)), 200);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_GONE_BY_OPERATOR));
  EXPECT_TRUE(getJson(port, "/master/slaves")["slaves"].empty());
  ASSERT_TRUE(waitUntil([&] { return agent->fatalError().has_value(); }));
  EXPECT_NE(agent->fatalError()->find("marked gone"), std::string::npos) << *agent->fatalError();
  EXPECT_EQ(call(gone(agentId)), 200);  // idempotent
  driver.stop();
  driver.join();
}

// The hierarchical allocator behind the real master: a static reservation
// for "eng" reaches eng's sub-role and never another role; /master/roles and
// the allocator's metrics show the decisions.
TEST(InProcessTest, ReservedResourcesReachOnlyTheirRoleAndDecisionsAreVisible) {
  auto master = StartMaster();
  agent::AgentOptions agentOptions = testAgentOptions("", "");
  agentOptions.resources = "cpus:2;mem:2048;cpus(eng):2;mem(eng):1024";
  auto agent = StartAgent(*master, agentOptions);
  int port = master->httpPort();
  ASSERT_TRUE(waitUntil([&] { return getJson(port, "/master/slaves")["slaves"].size() == 1; }));

  // ops subscribes first and keeps its offer: it gets the unreserved part.
  RecordingScheduler ops;
  FrameworkInfo opsInfo = framework();
  opsInfo.roles = {"ops"};
  TuttiSchedulerDriver opsDriver(&ops, opsInfo, master->messageAddress());
  opsDriver.start();
  ASSERT_TRUE(waitUntil([&] { return !ops.offers().empty(); }));
  Resources opsOffered = ops.offers()[0].resources;
  EXPECT_TRUE(opsOffered.reserved().empty()) << opsOffered.toString();
  EXPECT_EQ(opsOffered.scalar("cpus"), 2);

  // eng/web gets what is left: the resources reserved for its parent.
  RecordingScheduler web;
  FrameworkInfo webInfo = framework();
  webInfo.roles = {"eng/web"};
  TuttiSchedulerDriver webDriver(&web, webInfo, master->messageAddress());
  webDriver.start();
  ASSERT_TRUE(waitUntil([&] { return !web.offers().empty(); }));
  Resources webOffered = web.offers()[0].resources;
  EXPECT_EQ(webOffered.reserved("eng").scalar("cpus"), 2) << webOffered.toString();
  EXPECT_EQ(webOffered.unreserved().scalar("cpus"), 0) << webOffered.toString();
  for (const auto& o : ops.offers()) EXPECT_TRUE(o.resources.reserved().empty());

  auto roles = getJson(port, "/master/roles")["roles"];
  std::map<std::string, nlohmann::json> byName;
  for (const auto& r : roles) byName[r["name"]] = r;
  ASSERT_TRUE(byName.count("ops")) << roles;
  ASSERT_TRUE(byName.count("eng/web")) << roles;
  EXPECT_EQ(byName["ops"]["offered"]["cpus"], 2.0);
  EXPECT_EQ(byName["eng/web"]["offered"]["cpus"], 2.0);
  EXPECT_EQ(byName["ops"]["frameworks"].size(), 1u);
  // "eng" has no framework but holds the reservation (and is eng/web's
  // parent): it is listed, with what is reserved for its subtree.
  ASSERT_TRUE(byName.count("eng")) << roles;
  EXPECT_EQ(byName["eng"]["reserved"]["cpus"], 2.0);
  EXPECT_EQ(byName["eng"]["reserved"]["mem"], 1024.0);
  EXPECT_TRUE(byName["eng"]["frameworks"].empty());
  EXPECT_EQ(byName["eng/web"]["reserved"]["cpus"], 0.0) << byName["eng/web"];
  EXPECT_EQ(byName["ops"]["reserved"]["cpus"], 0.0) << byName["ops"];
  auto metrics = getJson(port, "/metrics/snapshot");
  EXPECT_EQ(metrics["allocator/offers"], 2.0);
  EXPECT_TRUE(metrics.contains("allocator/allocation_runs"));
  opsDriver.stop();
  webDriver.stop();
  opsDriver.join();
  webDriver.join();
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

std::vector<pid_t> readPids(const std::string& path) {
  std::vector<pid_t> out;
  std::ifstream in(path);
  pid_t x;
  while (in >> x) out.push_back(x);
  return out;
}

TEST(FrameworkFailoverTest, WithinTheTimeoutTasksKeepRunningAndPendingUpdatesArrive) {
  auto options = testMasterOptions();
  options.heartbeatInterval = std::chrono::milliseconds(200);
  auto master = StartMaster(options);
  auto agentOptions = testAgentOptions("", "");
  agentOptions.statusUpdateRetryIntervalMin = std::chrono::milliseconds(200);
  auto agent = StartAgent(*master, agentOptions);
  TempDir dir;
  std::string go = dir.path() + "/go";

  FrameworkInfo info;
  info.name = "failover";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 60;
  RecordingScheduler first;
  // The task ends when the test says so (while its scheduler is away).
  launchOnce(first, "t", "while [ ! -e " + go + " ]; do sleep 0.05; done");
  auto d1 = std::make_unique<TuttiSchedulerDriver>(&first, info, master->messageAddress());
  d1->start();
  ASSERT_TRUE(first.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  FrameworkID id = *first.frameworkId();
  d1->stop(/*failover=*/true);
  d1->join();
  d1.reset();
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(master->httpPort(), "/metrics/snapshot");
    return m.is_object() && m["master/frameworks_disconnected"] == 1.0;
  }));
  { std::ofstream(go) << "go"; }  // the task finishes while nobody listens

  info.id = id;
  RecordingScheduler second;
  TuttiSchedulerDriver d2(&second, info, master->messageAddress());
  d2.start();
  ASSERT_TRUE(second.waitForState(TaskID("t"), TaskState::TASK_FINISHED));
  EXPECT_EQ(second.frameworkId(), id);
  d2.stop();
  d2.join();
}

TEST(FrameworkFailoverTest, PastTheTimeoutTheFrameworkIsTornDownAndItsTasksKilled) {
  auto options = testMasterOptions();
  options.heartbeatInterval = std::chrono::milliseconds(200);
  auto master = StartMaster(options);
  auto agent = StartAgent(*master);
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  FrameworkInfo info;
  info.name = "failover";
  info.user = currentUserName();
  info.failoverTimeoutSecs = 1;
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "echo $$ >> " + pids + "; exec sleep 1000");
  auto driver = std::make_unique<TuttiSchedulerDriver>(&scheduler, info, master->messageAddress());
  driver->start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(waitUntil([&] { return readPids(pids).size() == 1; }));
  pid_t taskPid = readPids(pids)[0];
  driver->stop(/*failover=*/true);
  driver->join();
  driver.reset();
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(master->httpPort(), "/metrics/snapshot");
    return m.is_object() && m["master/frameworks_completed"] == 1.0;
  }));
  EXPECT_TRUE(waitUntil([&] { return !processExists(taskPid); }));
  auto m = getJson(master->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(m["master/tasks_killed"], 1.0);
}

TEST(FrameworkFailoverTest, OperatorTeardownKillsTheTasksAndTellsTheFramework) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  RecordingScheduler scheduler;
  launchOnce(scheduler, "t", "echo $$ >> " + pids + "; exec sleep 1000");
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(waitUntil([&] { return readPids(pids).size() == 1; }));
  pid_t taskPid = readPids(pids)[0];
  auto state = getJson(master->httpPort(), "/master/state");
  std::string id = state["frameworks"][0]["id"];

  auto post = [&](const std::string& body, const std::string& type) {
    auto r = httpRequest("POST", "127.0.0.1", master->httpPort(), "/master/teardown", body, type);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->first : 0;
  };
  // Bad requests change nothing.
  EXPECT_EQ(post("", "application/x-www-form-urlencoded"), 400);
  EXPECT_EQ(post("frameworkId=no-such-framework", "application/x-www-form-urlencoded"), 400);
  EXPECT_EQ(post(R"({"framework_id": 7})", "application/json"), 400);
  EXPECT_TRUE(processExists(taskPid));
  auto m = getJson(master->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(m["master/invalid_http_requests"], 3.0);
  EXPECT_EQ(m["master/frameworks_active"], 1.0);

  // Mesos's form: curl -d frameworkId=ID .../master/teardown
  EXPECT_EQ(post("frameworkId=" + id, "application/x-www-form-urlencoded"), 200);
  EXPECT_TRUE(waitUntil([&] { return !processExists(taskPid); }));
  EXPECT_TRUE(waitUntil([&] { return !scheduler.errors().empty(); }));
  EXPECT_NE(scheduler.errors()[0].find("removed by an operator"), std::string::npos)
      << scheduler.errors()[0];
  state = getJson(master->httpPort(), "/master/state");
  EXPECT_TRUE(state["frameworks"].empty());
  ASSERT_EQ(state["completed_frameworks"].size(), 1u);
  EXPECT_EQ(state["completed_frameworks"][0]["id"], id);
  // Twice: already gone.
  EXPECT_EQ(post(R"({"framework_id": ")" + id + R"("})", "application/json"), 400);
  driver.stop();
  driver.join();
}

}  // namespace
}  // namespace tutti::testing

namespace tutti::testing {
namespace {

// Maintenance primitives end to end: a schedule drains an agent's machine
// (its offers carry the unavailability), /machine/down removes the agent and
// reports its task, the machine refuses agents until /machine/up.
TEST(MaintenanceIntegrationTest, DrainDownAndUpAMachine) {
  auto master = StartMaster();
  int port = master->httpPort();
  auto onMachine = [&] {
    agent::AgentOptions o = testAgentOptions("", "");
    o.hostname = "maint-host";
    return o;
  };
  auto agent = StartAgent(*master, onMachine());
  agent::AgentOptions elsewhere = testAgentOptions("", "");
  elsewhere.hostname = "other-host";
  auto bystander = StartAgent(*master, elsewhere);
  ASSERT_TRUE(waitUntil([&] { return getJson(port, "/master/slaves")["slaves"].size() == 2; }));

  auto call = [&](const std::string& method, const std::string& path, const std::string& body) {
    auto r = httpRequest(method, "127.0.0.1", port, path, body);
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? r->first : -1;
  };
  const std::string schedule =
      R"({"windows": [{"machine_ids": [{"hostname": "MAINT-HOST"}],
          "unavailability": {"start": {"nanoseconds": 1900000000000000000},
                             "duration": {"nanoseconds": 3600000000000}}}]})";
  const std::string machine = R"([{"hostname": "maint-host"}])";

  // Hostile bodies: 400, counted, and nothing changes.
  std::string many = "[";
  for (int i = 0; i < 12000; ++i) many += std::string(i ? "," : "") + R"({"ip": "10.0.0.1"})";
  many += "]";
  EXPECT_EQ(call("POST", "/master/maintenance/schedule", "{not json"), 400);
  EXPECT_EQ(call("POST", "/master/maintenance/schedule", std::string(100000, '[')), 400);
  EXPECT_EQ(call("POST", "/master/maintenance/schedule", R"({"windows": 7})"), 400);
  EXPECT_EQ(call("POST", "/master/maintenance/schedule",
                 R"({"windows": [{"machine_ids": )" + many +
                     R"(, "unavailability": {"start": {"nanoseconds": 1}}}]})"),
            400);
  EXPECT_EQ(call("POST", "/master/machine/down", machine), 400) << "not in the schedule";
  EXPECT_EQ(call("POST", "/master/machine/up", R"({"hostname": "maint-host"})"), 400);
  EXPECT_EQ(getJson(port, "/master/maintenance/schedule"), nlohmann::json({{"windows", nlohmann::json::array()}}));
  EXPECT_GE(getJson(port, "/metrics/snapshot")["master/invalid_http_requests"].get<double>(), 6);

  // The schedule: the machine is DRAINING.
  ASSERT_EQ(call("POST", "/master/maintenance/schedule", schedule), 200);
  auto stored = getJson(port, "/maintenance/schedule");
  ASSERT_EQ(stored["windows"].size(), 1u);
  EXPECT_EQ(stored["windows"][0]["machine_ids"][0]["hostname"], "maint-host");
  auto status = getJson(port, "/master/maintenance/status");
  ASSERT_EQ(status["draining_machines"].size(), 1u) << status;
  EXPECT_EQ(status["draining_machines"][0]["id"]["hostname"], "maint-host");
  EXPECT_EQ(status["down_machines"].size(), 0u);

  // A partition-aware framework: offers of the draining agent carry the
  // window; it runs a task there anyway.
  std::string agentId;
  auto registered = getJson(port, "/master/slaves");
  for (const auto& s : registered["slaves"]) {
    if (s["hostname"] == "maint-host") agentId = s["id"];
  }
  ASSERT_FALSE(agentId.empty());
  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched, agentId](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (o.agentId.value == agentId && !launched->exchange(true)) {
        d->launchTasks({o.id}, {commandTask("t", "sleep 1000", o)});
      } else {
        d->declineOffer(o.id);
      }
    }
  };
  FrameworkInfo info;
  info.name = "maintenance";
  info.user = currentUserName();
  info.capabilities = {FrameworkCapability::PARTITION_AWARE};
  TuttiSchedulerDriver driver(&scheduler, info, master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_RUNNING));
  bool sawDraining = false, sawOther = false;
  for (const auto& o : scheduler.offers()) {
    if (o.agentId.value == agentId) {
      ASSERT_TRUE(o.unavailability.has_value());
      EXPECT_EQ(o.unavailability->start, std::chrono::nanoseconds(1900000000000000000));
      EXPECT_EQ(o.unavailability->duration, std::chrono::hours(1));
      sawDraining = true;
    } else {
      EXPECT_FALSE(o.unavailability.has_value());
      sawOther = true;
    }
  }
  EXPECT_TRUE(sawDraining);
  EXPECT_TRUE(sawOther);

  // Down: the agent is told to shut down and removed; the task is gone.
  EXPECT_EQ(call("POST", "/master/machine/up", machine), 400) << "DRAINING, not DOWN";
  ASSERT_EQ(call("POST", "/master/machine/down", machine), 200);
  ASSERT_TRUE(scheduler.waitForState(TaskID("t"), TaskState::TASK_GONE_BY_OPERATOR));
  auto updates = scheduler.updates();
  EXPECT_EQ(updates.back().reason, Reason::REASON_AGENT_REMOVED_BY_OPERATOR);
  ASSERT_TRUE(waitUntil([&] { return agent->fatalError().has_value(); }));
  EXPECT_NE(agent->fatalError()->find("DOWN"), std::string::npos) << *agent->fatalError();
  auto slaves = getJson(port, "/master/slaves")["slaves"];
  ASSERT_EQ(slaves.size(), 1u);
  EXPECT_EQ(slaves[0]["hostname"], "other-host");
  status = getJson(port, "/master/maintenance/status");
  EXPECT_EQ(status["down_machines"], nlohmann::json::parse(machine));
  EXPECT_EQ(status["draining_machines"].size(), 0u);
  EXPECT_EQ(call("POST", "/master/maintenance/schedule", R"({"windows": []})"), 400)
      << "a DOWN machine leaves the schedule only through /machine/up";

  // A new agent on the machine is refused with a clear message.
  auto refused = StartAgent(*master, onMachine());
  ASSERT_TRUE(waitUntil([&] { return refused->fatalError().has_value(); }));
  EXPECT_NE(refused->fatalError()->find("is DOWN for maintenance"), std::string::npos)
      << *refused->fatalError();
  EXPECT_EQ(getJson(port, "/master/slaves")["slaves"].size(), 1u);
  // The real binary exits on refusal; in-process the agent would keep trying.
  refused->stop();

  // Up: out of the schedule; an agent on the machine registers again.
  ASSERT_EQ(call("POST", "/machine/up", machine), 200);
  EXPECT_EQ(getJson(port, "/master/maintenance/schedule")["windows"].size(), 0u);
  status = getJson(port, "/master/maintenance/status");
  EXPECT_EQ(status["down_machines"].size(), 0u);
  auto back = StartAgent(*master, onMachine());
  ASSERT_TRUE(waitUntil([&] { return getJson(port, "/master/slaves")["slaves"].size() == 2; }));
  EXPECT_FALSE(back->fatalError().has_value());
  driver.stop();
  driver.join();
}

// The schedule and the machines' modes survive a restart of a master with
// the local registry (--work_dir).
TEST(MaintenanceIntegrationTest, ScheduleSurvivesARestartWithTheLocalRegistry) {
  TempDir workDir;
  auto options = testMasterOptions();
  options.workDir = workDir.path();
  const std::string schedule =
      R"({"windows": [{"machine_ids": [{"hostname": "a"}, {"hostname": "b", "ip": "10.0.0.2"}],
                       "unavailability": {"start": {"nanoseconds": 5000000000}}},
                      {"machine_ids": [{"ip": "10.0.0.3"}],
                       "unavailability": {"start": {"nanoseconds": 6000000000},
                                          "duration": {"nanoseconds": 1000}}}]})";
  nlohmann::json before, statusBefore;
  {
    auto master = StartMaster(options);
    int port = master->httpPort();
    auto r = httpRequest("POST", "127.0.0.1", port, "/master/maintenance/schedule", schedule);
    ASSERT_TRUE(r.ok() && r->first == 200) << (r.ok() ? r->second : r.error());
    r = httpRequest("POST", "127.0.0.1", port, "/master/machine/down", R"([{"ip": "10.0.0.3"}])");
    ASSERT_TRUE(r.ok() && r->first == 200) << (r.ok() ? r->second : r.error());
    before = getJson(port, "/master/maintenance/schedule");
    statusBefore = getJson(port, "/master/maintenance/status");
    ASSERT_EQ(statusBefore["down_machines"].size(), 1u);
    ASSERT_EQ(statusBefore["draining_machines"].size(), 2u);
  }
  auto master = StartMaster(options);
  int port = master->httpPort();
  ASSERT_TRUE(waitUntil([&] { return getJson(port, "/master/maintenance/schedule") == before; }))
      << getJson(port, "/master/maintenance/schedule");
  EXPECT_EQ(getJson(port, "/master/maintenance/status"), statusBefore);
  // Still DOWN: an agent on it is refused.
  agent::AgentOptions o = testAgentOptions("", "");
  o.hostname = "10.0.0.3";
  auto agent = StartAgent(*master, o);
  ASSERT_TRUE(waitUntil([&] { return agent->fatalError().has_value(); }));
}

}  // namespace
}  // namespace tutti::testing
