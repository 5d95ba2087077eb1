// Pure scheduling logic: constraints, launch backoff, the deployment planner.
#include <gtest/gtest.h>

#include "frameworks/services/backoff.hpp"
#include "frameworks/services/constraints.hpp"
#include "frameworks/services/deployment_plan.hpp"
#include "frameworks/services/task_factory.hpp"

namespace tutti::services {
namespace {

Constraint constraint(const std::string& field, Constraint::Operator op,
                      std::optional<std::string> value = std::nullopt) {
  return Constraint{field, op, std::move(value)};
}

Placement at(const std::string& host, const std::string& rack = "") {
  Placement p{host, {}};
  if (!rack.empty()) p.attributes.push_back({"rack", rack});
  return p;
}

using Op = Constraint::Operator;

TEST(ConstraintsTest, UniqueClusterLikeUnlikeMaxPer) {
  std::vector<Placement> existing = {at("a", "r1"), at("b", "r1")};
  EXPECT_FALSE(meetsConstraints({constraint("hostname", Op::kUnique)}, at("a"), existing));
  EXPECT_TRUE(meetsConstraints({constraint("hostname", Op::kUnique)}, at("c"), existing));
  EXPECT_TRUE(meetsConstraints({constraint("rack", Op::kCluster)}, at("c", "r1"), existing));
  EXPECT_FALSE(meetsConstraints({constraint("rack", Op::kCluster)}, at("c", "r2"), existing));
  EXPECT_TRUE(meetsConstraints({constraint("rack", Op::kCluster, "r2")}, at("c", "r2"), {}));
  EXPECT_TRUE(meetsConstraints({constraint("hostname", Op::kLike, "a|b")}, at("b"), {}));
  EXPECT_FALSE(meetsConstraints({constraint("hostname", Op::kLike, "a|b")}, at("bb"), {}));
  EXPECT_FALSE(meetsConstraints({constraint("hostname", Op::kUnlike, "a.*")}, at("ab"), {}));
  EXPECT_TRUE(meetsConstraints({constraint("rack", Op::kMaxPer, "3")}, at("c", "r1"), existing));
  EXPECT_FALSE(meetsConstraints({constraint("rack", Op::kMaxPer, "2")}, at("c", "r1"), existing));
}

TEST(ConstraintsTest, MissingAttributeFailsAllButUnlike) {
  EXPECT_FALSE(meetsConstraints({constraint("rack", Op::kCluster)}, at("a"), {}));
  EXPECT_FALSE(meetsConstraints({constraint("rack", Op::kLike, ".*")}, at("a"), {}));
  EXPECT_TRUE(meetsConstraints({constraint("rack", Op::kUnlike, "r1")}, at("a"), {}));
}

TEST(ConstraintsTest, GroupBySpreadsEvenly) {
  auto c = constraint("rack", Op::kGroupBy, "2");
  std::vector<Placement> existing = {at("a", "r1")};
  EXPECT_FALSE(meetsConstraints({c}, at("b", "r1"), existing));  // r2 not used yet
  EXPECT_TRUE(meetsConstraints({c}, at("b", "r2"), existing));
  existing.push_back(at("b", "r2"));
  EXPECT_TRUE(meetsConstraints({c}, at("c", "r1"), existing));
  existing.push_back(at("c", "r1"));
  EXPECT_FALSE(meetsConstraints({c}, at("d", "r1"), existing));
}

TEST(BackoffTest, GrowsByTheFactorUpToTheCap) {
  AppDefinition app;
  app.backoffSeconds = 1;
  app.backoffFactor = 2;
  app.maxLaunchDelaySeconds = 10;
  EXPECT_EQ(launchDelaySeconds(app, 0), 0);
  EXPECT_EQ(launchDelaySeconds(app, 1), 1);
  EXPECT_EQ(launchDelaySeconds(app, 2), 2);
  EXPECT_EQ(launchDelaySeconds(app, 4), 8);
  EXPECT_EQ(launchDelaySeconds(app, 5), 10);
  EXPECT_EQ(launchDelaySeconds(app, 100000), 10);
  EXPECT_EQ(nextFailureCount(3, 1), 4);
  EXPECT_EQ(nextFailureCount(3, kBackoffResetSeconds + 1), 1);
}

InstanceView instance(const std::string& id, bool current, bool ready, double stagedAt = 0) {
  return InstanceView{id, current, ready, false, stagedAt};
}

TEST(DeploymentPlanTest, StartScaleUpAndDown) {
  UpgradeStrategy s;
  auto step = planStep(3, s, KillSelection::kYoungestFirst, {});
  EXPECT_EQ(step.launch, 3);
  EXPECT_FALSE(step.converged);

  std::vector<InstanceView> live = {instance("a", true, true, 1), instance("b", true, true, 2),
                                    instance("c", true, false, 3)};
  step = planStep(3, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.launch, 0);
  EXPECT_FALSE(step.converged);  // c is not ready yet
  live[2].ready = true;
  EXPECT_TRUE(planStep(3, s, KillSelection::kYoungestFirst, live).converged);

  step = planStep(1, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.kill, (std::vector<std::string>{"c", "b"}));
  step = planStep(1, s, KillSelection::kOldestFirst, live);
  EXPECT_EQ(step.kill, (std::vector<std::string>{"a", "b"}));
  step = planStep(0, s, KillSelection::kOldestFirst, live);
  EXPECT_EQ(step.kill.size(), 3u);
}

TEST(DeploymentPlanTest, RollingUpgradeKeepsMinimumHealthAndMaxCapacity) {
  // 4 instances, at least 2 healthy, no over-capacity.
  UpgradeStrategy s{0.5, 0};
  std::vector<InstanceView> live;
  for (int i = 0; i < 4; ++i) live.push_back(instance("old" + std::to_string(i), false, true, i));
  auto step = planStep(4, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.kill.size(), 2u);  // 4 healthy, 2 needed
  EXPECT_EQ(step.launch, 2);        // back up to 4
  // The two new are not ready yet: nothing more until they are.
  live.erase(live.begin() + 2, live.end());
  live.push_back(instance("new0", true, false));
  live.push_back(instance("new1", true, false));
  step = planStep(4, s, KillSelection::kYoungestFirst, live);
  EXPECT_TRUE(step.kill.empty());
  EXPECT_EQ(step.launch, 0);
  live[2].ready = live[3].ready = true;
  step = planStep(4, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.kill.size(), 2u);
  EXPECT_EQ(step.launch, 2);
}

TEST(DeploymentPlanTest, FullHealthCapacityLaunchesBeforeKilling) {
  UpgradeStrategy s{1, 0};  // equal bounds: one extra instance lets it move
  std::vector<InstanceView> live = {instance("o1", false, true), instance("o2", false, true)};
  auto step = planStep(2, s, KillSelection::kYoungestFirst, live);
  EXPECT_TRUE(step.kill.empty());
  EXPECT_EQ(step.launch, 1);
  live.push_back(instance("n1", true, true));
  step = planStep(2, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.kill.size(), 1u);
  EXPECT_EQ(step.launch, 1);  // o1 is on its way out: n2 may start
}

TEST(DeploymentPlanTest, AResidentInstanceStopsBeforeItsReplacementStarts) {
  // One instance, 0.5/0: a plain app gets an extra instance to move on; a
  // resident one cannot (its replacement needs the old one's reservation),
  // so the old one goes first.
  UpgradeStrategy s{0.5, 0};
  std::vector<InstanceView> live = {instance("o1", false, true)};
  auto plain = planStep(1, s, KillSelection::kYoungestFirst, live);
  EXPECT_TRUE(plain.kill.empty());
  EXPECT_EQ(plain.launch, 1);
  auto resident = planStep(1, s, KillSelection::kYoungestFirst, live, true);
  EXPECT_EQ(resident.kill, (std::vector<std::string>{"o1"}));
  EXPECT_EQ(resident.launch, 1);
}

TEST(DeploymentPlanTest, UnreadyOldInstancesAreKilledAtOnce) {
  UpgradeStrategy s{1, 1};
  std::vector<InstanceView> live = {instance("o1", false, false), instance("o2", false, true)};
  auto step = planStep(2, s, KillSelection::kYoungestFirst, live);
  EXPECT_EQ(step.kill, (std::vector<std::string>{"o1"}));
  EXPECT_EQ(step.launch, 2);
}

TEST(TaskFactoryTest, PacksResourcesPortsAndHealthCheck) {
  AppDefinition app;
  app.id = "/prod/web";
  app.cmd = "serve";
  app.cpus = 0.5;
  app.mem = 64;
  app.portDefinitions = {PortDefinition{}, PortDefinition{}};
  AppHealthCheck h;
  h.portIndex = 1;
  h.intervalSeconds = 2;
  app.healthChecks = {h};
  Offer offer;
  offer.agentId = AgentID("agent-1");
  offer.resources = *Resources::parse("cpus:1;mem:100;ports:[31000-31001,31005-31005]");
  auto launch = buildInstance(app, "v1", newTaskId(app.id), offer, offer.resources);
  ASSERT_TRUE(launch);
  EXPECT_EQ(launch->ports, (std::vector<uint32_t>{31000, 31001}));
  ASSERT_TRUE(launch->task.healthCheck);
  EXPECT_EQ(launch->task.healthCheck->port, 31001u);
  EXPECT_EQ(launch->task.healthCheck->type, HealthCheck::Type::HTTP);
  EXPECT_EQ(*appIdOfTask(launch->task.taskId.value), "/prod/web");
  EXPECT_FALSE(launch->task.command->user);  // the framework's user
  app.user = "www-data";
  auto asUser = buildInstance(app, "v1", newTaskId(app.id), offer, offer.resources);
  ASSERT_TRUE(asUser);
  EXPECT_EQ(asUser->task.command->user, "www-data");
  Resources left = offer.resources - launch->task.resources;
  EXPECT_FALSE(buildInstance(app, "v1", "x.1", offer, left));  // 0.5 cpus fit, mem does not
}

}  // namespace
}  // namespace tutti::services
