// Integration: tutti-services against the real tutti-master, tutti-agent and
// tutti-executor binaries on loopback (and a real ZooKeeper for HA).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/files.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

namespace tutti::testing {
namespace {

using nlohmann::json;

struct Reply {
  int status = 0;
  json body;
  std::string text;
  std::string location;
};

Reply call(int port, const std::string& method, const std::string& path,
           const std::string& body = "", const std::string& accept = "application/json") {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(10, 0);
  httplib::Headers headers = {{"Accept", accept}};
  httplib::Result r = method == "GET"      ? client.Get(path, headers)
                      : method == "POST"   ? client.Post(path, headers, body, "application/json")
                      : method == "PUT"    ? client.Put(path, headers, body, "application/json")
                      : method == "PATCH"  ? client.Patch(path, headers, body, "application/json")
                                           : client.Delete(path, headers);
  Reply reply;
  if (!r) return reply;
  reply.status = r->status;
  reply.text = r->body;
  reply.body = json::parse(r->body, nullptr, false);
  reply.location = r->get_header_value("Location");
  return reply;
}

// A service instance of tutti-services on its own port.
struct Services {
  ProcessHandle process;
  int port = 0;
};

Services startServices(const std::string& logPath, const std::vector<std::string>& flags,
                       int port = 0) {
  Services s;
  s.port = port ? port : freePort();
  std::vector<std::string> argv = {binary("tutti-services"), "--http_address=127.0.0.1",
                                   "--http_port=" + std::to_string(s.port)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  s.process = startProcess(argv, logPath);
  EXPECT_TRUE(waitUntil([&] { return call(s.port, "GET", "/ping").status == 200; }))
      << s.process.log();
  return s;
}

json tasksOf(int port, const std::string& app) {
  auto r = call(port, "GET", "/v2/apps" + app + "/tasks");
  return r.status == 200 ? r.body["tasks"] : json::array();
}

int countTasks(const json& tasks, bool healthyOnly) {
  int n = 0;
  for (const auto& t : tasks) {
    if (t["state"] != "TASK_RUNNING") continue;
    if (healthyOnly) {
      bool alive = !t["healthCheckResults"].empty() && t["healthCheckResults"][0]["alive"] == true;
      if (!alive) continue;
    }
    ++n;
  }
  return n;
}

bool noDeployments(int port) {
  auto r = call(port, "GET", "/v2/deployments");
  return r.status == 200 && r.body.is_array() && r.body.empty();
}

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = startMasterProcess(dir_.path());
    agent_ = startAgentProcess(master_, dir_.path());
    ASSERT_TRUE(makeDirectories(dir_.path() + "/pids").ok());
  }

  Services standalone() {
    Services s = startServices(dir_.path() + "/services.log",
                               {"--master=" + master_.address(),
                                "--state_dir=" + dir_.path() + "/state"},
                               servicesPort_);
    EXPECT_TRUE(waitUntil([&] {
      return call(s.port, "GET", "/v2/info").body.value("elected", false);
    })) << s.process.log();
    return s;
  }

  // An HTTP server instance that writes its pid under pids/<task id>.
  std::string webApp(const std::string& id, int instances, const std::string& extra = "") {
    return json{{"id", id},
                {"cmd", "echo $$ > " + dir_.path() + "/pids/$MESOS_TASK_ID; exec python3 -m "
                        "http.server $PORT0 --bind 127.0.0.1" + extra},
                {"cpus", 0.1},
                {"mem", 32},
                {"instances", instances},
                {"healthChecks", {{{"protocol", "HTTP"}, {"path", "/"}, {"portIndex", 0},
                                   {"gracePeriodSeconds", 10}, {"intervalSeconds", 1},
                                   // Generous: one check that times out on a starved CI
                                   // machine reports the instance unhealthy at once (as
                                   // Mesos does), which the capacity checks below would
                                   // count against the scheduler.
                                   {"timeoutSeconds", 10}, {"maxConsecutiveFailures", 3}}}},
                {"backoffSeconds", 0.2}}
        .dump();
  }

  TempDir dir_;
  MasterProcess master_;
  AgentProcess agent_;
  int servicesPort_ = freePort();
};

TEST_F(ServicesTest, HealthyAppIsReplacedWhenKilledAndScales) {
  Services services = standalone();
  auto created = call(services.port, "POST", "/v2/apps", webApp("/prod/web", 1));
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.body["id"], "/prod/web");
  EXPECT_EQ(created.body["deployments"].size(), 1u);
  ASSERT_TRUE(waitUntil([&] { return countTasks(tasksOf(services.port, "/prod/web"), true) == 1; }))
      << services.process.log();
  ASSERT_TRUE(waitUntil([&] { return noDeployments(services.port); }));

  // Service discovery: host and port, in JSON and as Marathon's text lines.
  json task = tasksOf(services.port, "/prod/web")[0];
  std::string first = task["id"];
  EXPECT_EQ(first.rfind("prod_web.", 0), 0u);
  int port = task["ports"][0];
  EXPECT_TRUE(httpGet("127.0.0.1", port, "/").ok());
  auto text = call(services.port, "GET", "/v2/tasks", "", "text/plain");
  EXPECT_EQ(task["servicePorts"][0], 10000);
  EXPECT_NE(text.text.find("prod_web\t10000\t"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find(":" + std::to_string(port)), std::string::npos) << text.text;

  // Killed by hand: replaced by a new, healthy instance.
  auto pid = readFile(dir_.path() + "/pids/" + first);
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(std::stoi(*pid), SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] {
    json tasks = tasksOf(services.port, "/prod/web");
    return tasks.size() == 1 && tasks[0]["id"] != first && countTasks(tasks, true) == 1;
  })) << services.process.log();
  auto app = call(services.port, "GET", "/v2/apps/prod/web");
  EXPECT_TRUE(app.body["app"].contains("lastTaskFailure")) << app.text;

  // Scale 3 -> 5 -> 0 -> 2.
  for (int n : {3, 5, 0, 2}) {
    auto r = call(services.port, "PUT", "/v2/apps/prod/web", json{{"instances", n}}.dump());
    ASSERT_EQ(r.status, 200) << r.text;
    EXPECT_TRUE(r.body.contains("deploymentId"));
    ASSERT_TRUE(waitUntil([&] {
      json tasks = tasksOf(services.port, "/prod/web");
      return static_cast<int>(tasks.size()) == n && countTasks(tasks, true) == n &&
             noDeployments(services.port);
    })) << "scaling to " << n << "\n" << call(services.port, "GET", "/v2/apps/prod/web").text;
  }
  auto metrics = call(services.port, "GET", "/metrics");
  EXPECT_EQ(metrics.body["services/tasks_running"], 2.0) << metrics.text;
}

TEST_F(ServicesTest, RollingUpdateKeepsMinimumHealthCapacity) {
  Services services = standalone();
  json app = json::parse(webApp("/roll", 4));
  app["upgradeStrategy"] = {{"minimumHealthCapacity", 0.5}, {"maximumOverCapacity", 0}};
  ASSERT_EQ(call(services.port, "POST", "/v2/apps", app.dump()).status, 201);
  ASSERT_TRUE(waitUntil([&] {
    return countTasks(tasksOf(services.port, "/roll"), true) == 4 && noDeployments(services.port);
  })) << services.process.log();

  auto put = call(services.port, "PUT", "/v2/apps/roll",
                  json{{"cmd", app["cmd"].get<std::string>() + " # v2"}}.dump());
  ASSERT_EQ(put.status, 200) << put.text;
  std::string version = put.body["version"];
  int fewest = 4;
  json atFewest;  // what the API showed then (for the failure message)
  ASSERT_TRUE(waitUntil([&] {
    json tasks = tasksOf(services.port, "/roll");
    if (countTasks(tasks, true) < fewest) {
      fewest = countTasks(tasks, true);
      atFewest = tasks;
    }
    if (tasks.size() != 4 || countTasks(tasks, true) != 4) return false;
    for (const auto& t : tasks) {
      if (t["version"] != version) return false;
    }
    return noDeployments(services.port);
  }, std::chrono::seconds(60))) << call(services.port, "GET", "/v2/apps/roll").text;
  // ceil(4 × 0.5) healthy at every observed moment.
  EXPECT_GE(fewest, 2) << atFewest.dump(1) << "\n" << services.process.log();
}

TEST_F(ServicesTest, InvalidDefinitionsAreRejectedAndChangeNothing) {
  Services services = standalone();
  auto bad = call(services.port, "POST", "/v2/apps", R"({"id": "x", "cmd": "true", "cpus": -1})");
  EXPECT_EQ(bad.status, 422) << bad.text;
  EXPECT_EQ(bad.body["message"], "Object is not valid");
  EXPECT_EQ(bad.body["details"][0]["path"], "/cpus");
  EXPECT_EQ(call(services.port, "POST", "/v2/apps", "{not json").status, 400);
  EXPECT_EQ(call(services.port, "POST", "/v2/apps", std::string(100000, '[')).status, 400);
  EXPECT_EQ(call(services.port, "POST", "/v2/apps", "[1, 2]").status, 422);
  auto missing = call(services.port, "GET", "/v2/apps/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["message"], "App '/nope' does not exist");
  EXPECT_EQ(call(services.port, "GET", "/v2/apps").body["apps"].size(), 0u);

  std::string good = R"({"id": "/keep", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16})";
  ASSERT_EQ(call(services.port, "POST", "/v2/apps", good).status, 201);
  EXPECT_EQ(call(services.port, "POST", "/v2/apps", good).status, 409);
  ASSERT_TRUE(waitUntil([&] { return noDeployments(services.port); }));
  auto before = call(services.port, "GET", "/v2/apps/keep").body["app"];
  auto put = call(services.port, "PUT", "/v2/apps/keep",
                  R"({"instances": -3, "constraints": [["hostname", "NEVER"]]})");
  EXPECT_EQ(put.status, 422) << put.text;
  EXPECT_EQ(call(services.port, "PATCH", "/v2/apps/keep", "]").status, 400);
  auto after = call(services.port, "GET", "/v2/apps/keep").body["app"];
  EXPECT_EQ(after["version"], before["version"]);
  EXPECT_EQ(after["instances"], 1);
  auto metrics = call(services.port, "GET", "/metrics");
  EXPECT_GE(metrics.body["services/api_rejections"], 7.0) << metrics.text;
  EXPECT_TRUE(services.process.alive());
}

TEST_F(ServicesTest, RestartedSchedulerKeepsItsAppsAndTasks) {
  std::string starts = dir_.path() + "/starts";
  std::string app = json{{"id", "/sleepy"}, {"cmd", "echo x >> " + starts + "; exec sleep 1000"},
                         {"cpus", 0.1}, {"mem", 16}, {"instances", 2}}.dump();
  std::vector<std::string> ids;
  {
    Services services = standalone();
    ASSERT_EQ(call(services.port, "POST", "/v2/apps", app).status, 201);
    ASSERT_TRUE(waitUntil([&] { return countTasks(tasksOf(services.port, "/sleepy"), false) == 2; }));
    for (const auto& t : tasksOf(services.port, "/sleepy")) ids.push_back(t["id"]);
    ASSERT_NE(services.process.stop(SIGKILL), -1);
  }
  Services services = standalone();
  ASSERT_TRUE(waitUntil([&] { return countTasks(tasksOf(services.port, "/sleepy"), false) == 2; }))
      << services.process.log();
  std::vector<std::string> after;
  for (const auto& t : tasksOf(services.port, "/sleepy")) after.push_back(t["id"]);
  EXPECT_EQ(after, ids);
  auto lines = readFile(starts);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(std::count(lines->begin(), lines->end(), '\n'), 2) << "an instance was relaunched";
  auto state = getJson(master_.httpPort, "/state");
  EXPECT_EQ(state["frameworks"].size(), 1u) << state.dump();

  // Deleting the app kills every instance.
  ASSERT_EQ(call(services.port, "DELETE", "/v2/apps/sleepy").status, 200);
  ASSERT_TRUE(waitUntil([&] { return call(services.port, "GET", "/v2/apps/sleepy").status == 404; }));
  ASSERT_TRUE(waitUntil([&] {
    auto s = getJson(master_.httpPort, "/state");
    return s["frameworks"].size() == 1u && s["frameworks"][0]["tasks"].empty();
  })) << services.process.log();
}

TEST_F(ServicesTest, ExitsWhenItsFrameworkWasRemovedWhileAway) {
  std::vector<std::string> flags = {"--master=" + master_.address(),
                                    "--state_dir=" + dir_.path() + "/state",
                                    "--failover_timeout=0.5"};
  {
    Services services = startServices(dir_.path() + "/first.log", flags);
    ASSERT_TRUE(waitUntil([&] {
      json info = call(services.port, "GET", "/v2/info").body;
      return info.is_object() && info["frameworkId"].is_string() &&
             !info["frameworkId"].get<std::string>().empty();
    }));
    ASSERT_NE(services.process.stop(SIGKILL), -1);
  }
  // The master forgets the framework after its failover timeout.
  ASSERT_TRUE(waitUntil([&] {
    return getJson(master_.httpPort, "/state")["completed_frameworks"].size() == 1u;
  }));
  std::vector<std::string> argv = {binary("tutti-services"), "--http_address=127.0.0.1",
                                   "--http_port=" + std::to_string(freePort())};
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto r = runCommand(argv, std::chrono::seconds(30));
  EXPECT_EQ(r.exitCode, 3) << r.output;
  EXPECT_NE(r.output.find("has been removed"), std::string::npos) << r.output;
}

TEST_F(ServicesTest, StandbyTakesOverWhenTheLeaderDies) {
  ZooKeeperServer zk;
  zk.start();
  std::vector<std::string> flags = {"--master=" + master_.address(), "--zk=" + zk.url("/svc"),
                                    "--zk_session_timeout=2secs"};
  Services first = startServices(dir_.path() + "/first.log", flags);
  ASSERT_TRUE(waitUntil([&] {
    return call(first.port, "GET", "/v2/info").body.value("elected", false);
  })) << first.process.log();
  Services second = startServices(dir_.path() + "/second.log", flags);
  std::string firstAddress = "127.0.0.1:" + std::to_string(first.port);
  ASSERT_TRUE(waitUntil([&] {
    return call(second.port, "GET", "/v2/leader").body.value("leader", "") == firstAddress;
  })) << second.process.log();

  // The standby redirects API calls to the leader.
  auto redirected = call(second.port, "GET", "/v2/apps");
  EXPECT_EQ(redirected.status, 307);
  EXPECT_EQ(redirected.location, "http://" + firstAddress + "/v2/apps");

  std::string app = R"({"id": "/ha", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16})";
  ASSERT_EQ(call(first.port, "POST", "/v2/apps", app).status, 201);
  ASSERT_TRUE(waitUntil([&] { return countTasks(tasksOf(first.port, "/ha"), false) == 1; }));
  std::string taskId = tasksOf(first.port, "/ha")[0]["id"];

  ASSERT_NE(first.process.stop(SIGKILL), -1);
  ASSERT_TRUE(waitUntil([&] { return countTasks(tasksOf(second.port, "/ha"), false) == 1; }))
      << second.process.log();
  EXPECT_EQ(tasksOf(second.port, "/ha")[0]["id"], taskId);
  EXPECT_EQ(call(second.port, "GET", "/v2/leader").body["leader"],
            "127.0.0.1:" + std::to_string(second.port));
}

// GET /v2/queue shows an app waiting out its launch backoff; DELETE
// /v2/queue/{id}/delay ends the wait.
TEST_F(ServicesTest, LaunchQueueShowsTheBackoffAndItsDelayCanBeReset) {
  Services services = standalone();
  std::string app = json{{"id", "/crash"}, {"cmd", "exit 1"}, {"cpus", 0.1}, {"mem", 16},
                         {"backoffSeconds", 3600}}.dump();
  ASSERT_EQ(call(services.port, "POST", "/v2/apps", app).status, 201);
  auto launched = [&] {
    return call(services.port, "GET", "/metrics").body.value("services/tasks_launched", 0.0);
  };
  auto delayed = [&] {
    auto q = call(services.port, "GET", "/v2/queue");
    return q.status == 200 && q.body["queue"].size() == 1 &&
           q.body["queue"][0]["delay"]["overdue"] == false &&
           q.body["queue"][0]["delay"]["timeLeftSeconds"].get<int>() > 200;
  };
  ASSERT_TRUE(waitUntil(delayed)) << call(services.port, "GET", "/v2/queue").text;
  EXPECT_EQ(launched(), 1);
  auto q = call(services.port, "GET", "/v2/queue");
  EXPECT_EQ(q.body["queue"][0]["app"]["id"], "/crash");
  EXPECT_EQ(q.body["queue"][0]["count"], 1);

  EXPECT_EQ(call(services.port, "DELETE", "/v2/queue/nope/delay").status, 404);
  EXPECT_EQ(call(services.port, "DELETE", "/v2/queue/crash/delay").status, 204);
  // Launched again at once, failed again, delayed again.
  ASSERT_TRUE(waitUntil([&] { return launched() == 2 && delayed(); }))
      << call(services.port, "GET", "/v2/queue").text;
}

// GET /v2/events: Marathon's event stream (Server-Sent Events) as
// marathon-lb reads it, filtered by event_type.
TEST_F(ServicesTest, EventStreamReportsApiCallsStatusUpdatesAndDeployments) {
  Services services = standalone();
  std::mutex mu;
  std::string received;
  httplib::Client client("127.0.0.1", services.port);
  client.set_read_timeout(60, 0);
  std::thread reader([&] {
    client.Get("/v2/events?event_type=event_stream_attached&event_type=api_post_event"
               "&event_type=status_update_event&event_type=deployment_success",
               {{"Accept", "text/event-stream"}}, [&](const char* data, size_t n) {
                 std::lock_guard<std::mutex> lock(mu);
                 received.append(data, n);
                 return true;
               });
  });
  auto has = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    return received.find(what) != std::string::npos;
  };
  ASSERT_TRUE(waitUntil([&] { return has("event: event_stream_attached"); }));
  ASSERT_EQ(call(services.port, "POST", "/v2/apps", webApp("/ev", 1)).status, 201);
  EXPECT_TRUE(waitUntil([&] {
    return has("event: deployment_success") && has("\"taskStatus\":\"TASK_RUNNING\"");
  })) << received;
  std::string text;
  {
    std::lock_guard<std::mutex> lock(mu);
    text = received;
  }
  client.stop();
  reader.join();

  std::map<std::string, std::vector<json>> byType;
  for (size_t at = 0; (at = text.find("event: ", at)) != std::string::npos;) {
    size_t nl = text.find('\n', at);
    size_t end = text.find("\n\n", nl);
    ASSERT_NE(end, std::string::npos) << text;
    ASSERT_EQ(text.compare(nl + 1, 6, "data: "), 0) << text;
    json data = json::parse(text.substr(nl + 7, end - nl - 7), nullptr, false);
    ASSERT_TRUE(data.is_object()) << text;
    byType[text.substr(at + 7, nl - at - 7)].push_back(data);
    at = end;
  }
  ASSERT_EQ(byType["api_post_event"].size(), 1u) << text;
  EXPECT_EQ(byType["api_post_event"][0]["appDefinition"]["id"], "/ev");
  EXPECT_EQ(byType["api_post_event"][0]["uri"], "/v2/apps");
  ASSERT_FALSE(byType["status_update_event"].empty());
  const json& update = byType["status_update_event"].back();
  EXPECT_EQ(update["appId"], "/ev");
  EXPECT_EQ(update["host"], "127.0.0.1");
  EXPECT_EQ(update["ports"].size(), 1u);
  EXPECT_EQ(byType["deployment_success"].size(), 1u);
  EXPECT_EQ(byType["deployment_success"][0]["plan"]["affectedApps"][0], "/ev");
  // Only the asked-for types.
  EXPECT_EQ(byType.count("deployment_info"), 0u) << text;
  EXPECT_EQ(byType.size(), 4u) << text;

  // The closed stream is noticed at its next write (the app's deletion
  // brings events), and its thread goes back to the API.
  ASSERT_EQ(call(services.port, "DELETE", "/v2/apps/ev").status, 200);
  EXPECT_TRUE(waitUntil([&] {
    return call(services.port, "GET", "/metrics").body.value("services/event_subscribers", -1.0) ==
           0;
  })) << call(services.port, "GET", "/metrics").text;
}

// A resident app (Marathon's stateful apps): its instance reserves cpus,
// mem and a persistent volume on the agent, every relaunch (after a crash,
// after a scale to 0 and back) runs there with the same volume and its
// data, and deleting the app destroys the volume and releases the
// reservation.
TEST_F(ServicesTest, AResidentAppKeepsItsVolumeAcrossRelaunchesUntilDeleted) {
  auto start = [&] {
    Services s = startServices(dir_.path() + "/services.log",
                               {"--master=" + master_.address(),
                                "--state_dir=" + dir_.path() + "/state", "--role=stateful",
                                "--decline_refuse_seconds=1"},
                               servicesPort_);
    EXPECT_TRUE(waitUntil([&] {
      return call(s.port, "GET", "/v2/info").body.value("elected", false);
    })) << s.process.log();
    return s;
  };
  std::optional<Services> restarted;
  Services services = start();
  json app = {{"id", "/db"},
              {"cmd", "echo $$ > " + dir_.path() + "/pids/$MESOS_TASK_ID; echo run >> "
                      "data/runs; exec sleep 600"},
              {"cpus", 0.1},
              {"mem", 32},
              {"instances", 1},
              {"container",
               {{"type", "MESOS"},
                {"volumes",
                 {{{"containerPath", "data"}, {"mode", "RW"}, {"persistent", {{"size", 16}}}}}}}},
              {"backoffSeconds", 0.2}};
  auto created = call(services.port, "POST", "/v2/apps", app.dump());
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.body["upgradeStrategy"]["maximumOverCapacity"], 0.0) << created.text;
  EXPECT_EQ(created.body["container"]["volumes"][0]["persistent"]["size"], 16.0) << created.text;

  // The first instance: reserved, its volume created and linked.
  auto running = [&](const std::string& not_) -> json {
    json tasks = tasksOf(services.port, "/db");
    if (tasks.size() != 1 || tasks[0]["state"] != "TASK_RUNNING" || tasks[0]["id"] == not_) {
      return nullptr;
    }
    return tasks[0];
  };
  json task;
  ASSERT_TRUE(waitUntil([&] { return !(task = running("")).is_null(); }))
      << services.process.log();
  ASSERT_EQ(task["localVolumes"].size(), 1u) << task.dump();
  std::string persistenceId = task["localVolumes"][0]["persistenceId"];
  EXPECT_EQ(persistenceId.rfind("db.data.", 0), 0u) << persistenceId;
  std::string volume = dir_.path() + "/work/volumes/roles/stateful/" + persistenceId;
  auto runs = [&] {
    auto text = readFile(volume + "/runs");
    return text.ok() ? *text : std::string();
  };
  ASSERT_TRUE(waitUntil([&] { return runs() == "run\n"; })) << runs();
  auto reserved = [&]() -> json {
    auto state = httpGet("127.0.0.1", master_.httpPort, "/master/state");
    if (!state.ok()) return nullptr;
    json j = json::parse(state->second, nullptr, false);
    if (!j.is_object() || j["slaves"].empty()) return nullptr;
    return j["slaves"][0]["reserved_resources_full"].value("stateful", json::array());
  };
  json held = reserved();
  bool volumeHeld = false;
  for (const auto& r : held) {
    volumeHeld = volumeHeld || (r.contains("disk") &&
                                r["disk"]["persistence"]["id"] == persistenceId);
  }
  EXPECT_TRUE(volumeHeld) << held.dump();
  // The operator's view (tutti volume list), and a volume in use cannot be
  // destroyed under its task.
  std::string master = "127.0.0.1:" + std::to_string(master_.httpPort);
  auto cli = runCommand({binary("tutti"), "--master=" + master, "volume", "list"},
                        std::chrono::seconds(30));
  EXPECT_EQ(cli.exitCode, 0) << cli.output;
  EXPECT_NE(cli.output.find(persistenceId), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find("tutti_services_reservation="), std::string::npos) << cli.output;
  cli = runCommand({binary("tutti"), "--master=" + master, "volume", "destroy",
                    task["slaveId"].get<std::string>(), persistenceId},
                   std::chrono::seconds(30));
  EXPECT_EQ(cli.exitCode, 1) << cli.output;
  EXPECT_TRUE(std::filesystem::exists(volume));

  // Killed by hand: relaunched on the same reservation, with its data.
  std::string first = task["id"];
  std::string agentId = task["slaveId"];
  auto pid = readFile(dir_.path() + "/pids/" + first);
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(std::stoi(*pid), SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] { return !(task = running(first)).is_null(); }))
      << services.process.log();
  EXPECT_EQ(task["localVolumes"][0]["persistenceId"], persistenceId);
  EXPECT_EQ(task["slaveId"], agentId);
  ASSERT_TRUE(waitUntil([&] { return runs() == "run\nrun\n"; })) << runs();

  // Scaled to 0 the reservation and volume stay; back to 1, they are used.
  std::string second = task["id"];
  auto r = call(services.port, "PUT", "/v2/apps/db", json{{"instances", 0}}.dump());
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_TRUE(waitUntil([&] {
    json tasks = tasksOf(services.port, "/db");
    return tasks.size() == 1 && tasks[0]["state"] == "TASK_RESERVED" &&
           tasks[0]["localVolumes"][0]["persistenceId"] == persistenceId;
  })) << tasksOf(services.port, "/db").dump();
  EXPECT_EQ(runs(), "run\nrun\n");
  r = call(services.port, "PUT", "/v2/apps/db", json{{"instances", 1}}.dump());
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_TRUE(waitUntil([&] { return !(task = running(second)).is_null(); }))
      << services.process.log();
  EXPECT_EQ(task["localVolumes"][0]["persistenceId"], persistenceId);
  ASSERT_TRUE(waitUntil([&] { return runs() == "run\nrun\nrun\n"; })) << runs();

  // A new command rolls the instance within its reservation: the old task
  // stops first (0.5/0 is the resident default), the new one has the data.
  std::string rolled = task["id"];
  json v2 = app;
  v2["cmd"] = "echo $$ > " + dir_.path() + "/pids/$MESOS_TASK_ID; echo v2 >> data/runs; exec "
              "sleep 600";
  r = call(services.port, "PUT", "/v2/apps/db", json{{"cmd", v2["cmd"]}}.dump());
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_TRUE(waitUntil([&] { return !(task = running(rolled)).is_null(); }))
      << services.process.log();
  EXPECT_EQ(task["localVolumes"][0]["persistenceId"], persistenceId);
  ASSERT_TRUE(waitUntil([&] { return runs() == "run\nrun\nrun\nv2\n"; })) << runs();
  ASSERT_TRUE(waitUntil([&] { return noDeployments(services.port); }));

  // Restarted from its state: the reservation is still the instance's (not
  // released as unknown), and the next relaunch uses it.
  std::string third = task["id"];
  ASSERT_NE(services.process.stop(SIGKILL), -1);
  restarted.emplace(start());
  int port = restarted->port;
  ASSERT_TRUE(waitUntil([&] { return !running("").is_null(); })) << restarted->process.log();
  pid = readFile(dir_.path() + "/pids/" + third);
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::kill(std::stoi(*pid), SIGKILL), 0);
  ASSERT_TRUE(waitUntil([&] { return !(task = running(third)).is_null(); }))
      << restarted->process.log();
  EXPECT_EQ(task["localVolumes"][0]["persistenceId"], persistenceId);
  ASSERT_TRUE(waitUntil([&] { return runs() == "run\nrun\nrun\nv2\nv2\n"; })) << runs();

  // Its reservation cannot change under it.
  r = call(port, "PUT", "/v2/apps/db", json{{"mem", 64}}.dump());
  EXPECT_EQ(r.status, 422) << r.text;

  // Deleted: the volume is destroyed and the reservation released.
  r = call(port, "DELETE", "/v2/apps/db");
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_TRUE(waitUntil([&] {
    json left = reserved();
    return left.is_array() && left.empty() && !std::filesystem::exists(volume);
  })) << reserved().dump() << "\n" << restarted->process.log();
  cli = runCommand({binary("tutti"), "--master=" + master, "volume", "list"},
                   std::chrono::seconds(30));
  EXPECT_EQ(cli.exitCode, 0) << cli.output;
  EXPECT_EQ(cli.output.find(persistenceId), std::string::npos) << cli.output;
}

// Without a role of its own, tutti-services refuses apps with volumes.
TEST_F(ServicesTest, AResidentAppNeedsARole) {
  Services services = standalone();
  json app = {{"id", "/db"},
              {"cmd", "sleep 600"},
              {"container",
               {{"type", "MESOS"},
                {"volumes",
                 {{{"containerPath", "data"}, {"mode", "RW"}, {"persistent", {{"size", 16}}}}}}}}};
  auto r = call(services.port, "POST", "/v2/apps", app.dump());
  EXPECT_EQ(r.status, 422) << r.text;
  EXPECT_NE(r.text.find("--role"), std::string::npos) << r.text;
  EXPECT_EQ(call(services.port, "GET", "/v2/apps/db").status, 404);
}

}  // namespace
}  // namespace tutti::testing
