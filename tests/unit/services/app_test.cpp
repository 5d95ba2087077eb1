// App definitions: Marathon's defaults, validation errors by path, JSON
// round trip, ids.
#include <gtest/gtest.h>

#include "frameworks/services/app.hpp"

namespace tutti::services {
namespace {

using nlohmann::json;

ParsedApp parse(const std::string& text) { return parseApp(json::parse(text)); }

bool hasError(const ParsedApp& p, const std::string& path) {
  for (const auto& e : p.errors) {
    if (e.path == path) return true;
  }
  return false;
}

TEST(AppTest, PersistentVolumesMakeAResidentAppWithMarathonsLimits) {
  auto p = parse(R"({"id": "db", "cmd": "x", "container": {"type": "MESOS", "volumes": [
      {"containerPath": "data", "mode": "RW", "persistent": {"size": 512}}]}})");
  ASSERT_TRUE(p.app) << (p.errors.empty() ? "" : p.errors[0].path);
  EXPECT_TRUE(p.app->resident());
  ASSERT_EQ(p.app->persistentVolumes.size(), 1u);
  EXPECT_EQ(p.app->persistentVolumes[0].containerPath, "data");
  EXPECT_EQ(p.app->persistentVolumes[0].sizeMb, 512);
  EXPECT_FALSE(p.app->image);
  // Old instances stop before new ones start in their reservations.
  EXPECT_EQ(p.app->upgradeStrategy.minimumHealthCapacity, 0.5);
  EXPECT_EQ(p.app->upgradeStrategy.maximumOverCapacity, 0);
  json j = toJson(*p.app);
  EXPECT_EQ(j["container"]["type"], "MESOS");
  EXPECT_EQ(j["residency"]["taskLostBehavior"], "WAIT_FOREVER");
  auto again = parseApp(j);
  ASSERT_TRUE(again.app);
  EXPECT_EQ(*again.app, *p.app);

  auto bad = parse(R"({"id": "db", "cmd": "x",
      "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5},
      "container": {"type": "MESOS", "volumes": [
        {"containerPath": "a/b", "mode": "RW", "persistent": {"size": 1}},
        {"containerPath": "ro", "mode": "RO", "persistent": {"size": 1}},
        {"containerPath": "nosize", "mode": "RW", "persistent": {}},
        {"containerPath": "host", "hostPath": "/etc", "mode": "RW"},
        {"containerPath": "plain", "mode": "RW"}]}})");
  EXPECT_FALSE(bad.app);
  EXPECT_TRUE(hasError(bad, "/container/volumes(0)/containerPath"));
  EXPECT_TRUE(hasError(bad, "/container/volumes(1)/mode"));
  EXPECT_TRUE(hasError(bad, "/container/volumes(2)/persistent/size"));
  EXPECT_TRUE(hasError(bad, "/container/volumes(3)/persistent"));
  EXPECT_TRUE(hasError(bad, "/container/volumes(4)/persistent"));
  EXPECT_TRUE(hasError(bad, "/upgradeStrategy/minimumHealthCapacity"));
  EXPECT_TRUE(hasError(bad, "/upgradeStrategy/maximumOverCapacity"));

  // A docker container still needs its image.
  EXPECT_FALSE(parse(R"({"id": "db", "container": {"type": "DOCKER", "docker": {}}})").app);
  EXPECT_FALSE(parse(R"({"id": "db", "cmd": "x", "container": {"type": "MESOS"}})").app);
}

TEST(AppTest, MinimalAppGetsMarathonDefaults) {
  auto p = parse(R"({"id": "web", "cmd": "sleep 100"})");
  ASSERT_TRUE(p.app) << p.errors.size();
  const AppDefinition& a = *p.app;
  EXPECT_EQ(a.id, "/web");
  EXPECT_EQ(a.cpus, 1);
  EXPECT_EQ(a.mem, 128);
  EXPECT_EQ(a.disk, 0);
  EXPECT_EQ(a.instances, 1);
  ASSERT_EQ(a.portDefinitions.size(), 1u);
  EXPECT_EQ(a.portDefinitions[0].port, 0u);
  EXPECT_EQ(a.backoffSeconds, 1);
  EXPECT_DOUBLE_EQ(a.backoffFactor, 1.15);
  EXPECT_EQ(a.maxLaunchDelaySeconds, 300);
  EXPECT_EQ(a.upgradeStrategy.minimumHealthCapacity, 1);
  EXPECT_EQ(a.upgradeStrategy.maximumOverCapacity, 1);
  EXPECT_EQ(a.killSelection, KillSelection::kYoungestFirst);
  EXPECT_FALSE(a.requirePorts);
}

TEST(AppTest, FullDefinitionParsesAndRoundTrips) {
  auto p = parse(R"({
    "id": "/prod/web", "cmd": "python3 -m http.server $PORT0", "user": "www-data",
    "fetch": [{"uri": "http://repo/site.tgz"},
              {"uri": "/opt/bin/tool", "executable": true, "destPath": "bin/tool"}],
    "cpus": 0.25, "mem": 64,
    "instances": 3, "env": {"A": "1"}, "labels": {"team": "x"},
    "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0, "protocol": "udp"}],
    "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 1,
                      "gracePeriodSeconds": 5, "intervalSeconds": 2, "timeoutSeconds": 1,
                      "maxConsecutiveFailures": 2}],
    "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"], ["zone", "LIKE", "a.*"]],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0},
    "backoffSeconds": 2, "backoffFactor": 2, "maxLaunchDelaySeconds": 60,
    "killSelection": "OLDEST_FIRST"})");
  ASSERT_TRUE(p.app);
  const AppDefinition& a = *p.app;
  EXPECT_EQ(a.instances, 3);
  EXPECT_EQ(a.user, "www-data");
  ASSERT_EQ(a.fetch.size(), 2u);
  EXPECT_TRUE(a.fetch[0].extract);
  EXPECT_TRUE(a.fetch[1].executable);
  EXPECT_EQ(a.fetch[1].outputFile, "bin/tool");
  ASSERT_EQ(a.healthChecks.size(), 1u);
  EXPECT_EQ(a.healthChecks[0].portIndex, 1u);
  EXPECT_EQ(a.healthChecks[0].path, "/health");
  ASSERT_EQ(a.constraints.size(), 3u);
  EXPECT_EQ(a.constraints[1].op, Constraint::Operator::kGroupBy);
  EXPECT_EQ(a.upgradeStrategy.minimumHealthCapacity, 0.5);
  EXPECT_EQ(a.killSelection, KillSelection::kOldestFirst);
  auto again = parseApp(toJson(a));
  ASSERT_TRUE(again.app);
  EXPECT_EQ(*again.app, a);
}

TEST(AppTest, LegacyPortsAndDockerContainer) {
  auto p = parse(R"({"id": "db", "ports": [0, 0], "uris": ["https://repo/db.tar.gz"],
                     "container": {"type": "DOCKER", "docker": {"image": "busybox"}}})");
  ASSERT_TRUE(p.app);
  EXPECT_EQ(p.app->portDefinitions.size(), 2u);
  EXPECT_EQ(p.app->image, "busybox");
  ASSERT_EQ(p.app->fetch.size(), 1u);
  EXPECT_EQ(p.app->fetch[0].value, "https://repo/db.tar.gz");
}

TEST(AppTest, InvalidFieldsAreReportedByPath) {
  auto p = parse(R"({"id": "Bad_Id", "cmd": "x", "cpus": -1, "mem": "lots", "instances": 1.5,
                     "healthChecks": [{"protocol": "SMOKE", "portIndex": 4}],
                     "constraints": [["hostname", "SOMETIMES"], ["rack", "MAX_PER"]],
                     "upgradeStrategy": {"minimumHealthCapacity": 2},
                     "backoffFactor": 0.5, "killSelection": "RANDOM", "user": "../x",
                     "fetch": [{"uri": "ftp://x"}, {"uri": "/x", "destPath": "../y"}]})");
  EXPECT_FALSE(p.app);
  for (const char* path : {"/id", "/cpus", "/mem", "/instances", "/healthChecks(0)/protocol",
                           "/healthChecks(0)/portIndex", "/constraints(0)", "/constraints(1)",
                           "/upgradeStrategy/minimumHealthCapacity", "/backoffFactor",
                           "/killSelection", "/user", "/fetch(0)/uri", "/fetch(1)/destPath"}) {
    EXPECT_TRUE(hasError(p, path)) << path;
  }
}

TEST(AppTest, EnvironmentNamesTheMasterWouldRefuseAreRejected) {
  for (const char* env : {R"({"": "x"})", R"({"A=B": "x"})", R"({"A\u0000": "x"})",
                          R"({"A": "x\u0000y"})"}) {
    auto p = parse(std::string(R"({"id": "x", "cmd": "a", "env": )") + env + "}");
    EXPECT_FALSE(p.app) << env;
    EXPECT_TRUE(hasError(p, "/env")) << env;
  }
  EXPECT_TRUE(parse(R"({"id": "x", "cmd": "a", "env": {"A_1": "x=y"}})").app);
}

TEST(AppTest, HostileLikePatternsAreRejectedNotFatal) {
  // std::regex overflowed its stack on both; they are 422s now.
  for (const std::string& pattern :
       {std::string(30000, '(') + "a" + std::string(30000, ')'), std::string(200000, 'a'),
        std::string("(")}) {
    auto p = parseApp(json{{"id", "x"}, {"cmd", "a"},
                           {"constraints", json::array({json::array({"rack", "LIKE", pattern})})}});
    EXPECT_FALSE(p.app) << pattern.substr(0, 20);
    EXPECT_TRUE(hasError(p, "/constraints(0)")) << pattern.substr(0, 20);
  }
  EXPECT_TRUE(parse(R"({"id": "x", "cmd": "a", "constraints": [["rack", "UNLIKE", "(a|aa)*c"]]})")
                  .app);
}

TEST(AppTest, NeedsCommandArgsOrContainer) {
  EXPECT_TRUE(hasError(parse(R"({"id": "x"})"), "/"));
  EXPECT_TRUE(hasError(parse(R"({"id": "x", "cmd": "a", "args": ["b"]})"), "/"));
  EXPECT_TRUE(hasError(parse(R"({"cmd": "a"})"), "/id"));
  EXPECT_TRUE(hasError(parseApp(json::array()), "/"));
  EXPECT_TRUE(hasError(parse(R"({"id": "x", "args": [1]})"), "/args"));
  EXPECT_TRUE(hasError(parse(R"({"id": "x", "cmd": "a", "mem": 1e300})"), "/mem"));
  EXPECT_TRUE(hasError(parseApp(json{{"id", std::string(201, 'a')}, {"cmd", "a"}}), "/id"));
  EXPECT_TRUE(parse(R"({"id": "x", "args": ["sleep", "1"]})").app);
}

TEST(AppTest, RequirePortsNeedsFixedPorts) {
  EXPECT_TRUE(hasError(parse(R"({"id": "x", "cmd": "a", "requirePorts": true})"),
                       "/requirePorts"));
  EXPECT_TRUE(parse(R"({"id": "x", "cmd": "a", "requirePorts": true, "ports": [31005]})").app);
  EXPECT_TRUE(hasError(parse(R"({"id": "x", "cmd": "a", "ports": [80, 80]})"),
                       "/portDefinitions"));
}

TEST(AppTest, IdsNormalizeAndMapToSafeIds) {
  EXPECT_EQ(*normalizeAppId("prod/web/"), "/prod/web");
  EXPECT_EQ(*normalizeAppId("/a.b/c-d"), "/a.b/c-d");
  EXPECT_FALSE(normalizeAppId("/a//b").ok());
  EXPECT_FALSE(normalizeAppId("/A").ok());
  EXPECT_FALSE(normalizeAppId("/a_b").ok());
  EXPECT_FALSE(normalizeAppId("/-a").ok());
  EXPECT_EQ(safeAppId("/prod/web"), "prod_web");
  EXPECT_EQ(appIdFromSafe("prod_web"), "/prod/web");
}

TEST(AppTest, ServicePortsAreAssignedOnceAndKept) {
  auto a = *parse(R"({"id": "x", "cmd": "a", "ports": [0, 0, 10005]})").app;
  ASSERT_TRUE(assignServicePorts(&a, {10000, 10002}));
  EXPECT_EQ(a.portDefinitions[0].port, 10001u);
  EXPECT_EQ(a.portDefinitions[1].port, 10003u);
  EXPECT_EQ(a.portDefinitions[2].port, 10005u);
  auto b = *parse(R"({"id": "x", "cmd": "b", "ports": [0, 0]})").app;
  ASSERT_TRUE(assignServicePorts(&b, {10000, 10002}, &a));
  EXPECT_EQ(b.portDefinitions[0].port, 10001u);  // kept from the previous version
  EXPECT_EQ(b.portDefinitions[1].port, 10003u);
}

TEST(AppTest, SameConfigIgnoresOnlyInstances) {
  auto a = *parse(R"({"id": "x", "cmd": "a"})").app;
  auto b = a;
  b.instances = 5;
  EXPECT_TRUE(a.sameConfig(b));
  b.cmd = "b";
  EXPECT_FALSE(a.sameConfig(b));
}

}  // namespace
}  // namespace tutti::services
