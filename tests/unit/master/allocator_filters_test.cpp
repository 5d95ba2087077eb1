// Unit tests for the hierarchical allocator: refuse filters, suppress and revive, minimum allocatable resources, accounting.
#include "tests/unit/master/allocator_fixture.hpp"

namespace tutti::master {
namespace allocator_test {
namespace {

// ---- Filters, suppress, revive -----------------------------------------------

TEST_F(HierarchicalAllocatorTest, FilterHoldsForRefuseSecondsAndNoLonger) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  recover(offers[0], 5.0);
  EXPECT_TRUE(allocate(AllocationScope::kChanged).empty());
  clock_.advance(4999ms);
  EXPECT_FALSE(allocator_->hasPendingChanges());
  EXPECT_TRUE(allocate().empty());
  clock_.advance(1ms);
  // The expiry alone makes an event-triggered run worthwhile.
  EXPECT_TRUE(allocator_->hasPendingChanges());
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(HierarchicalAllocatorTest, ARunOffersAtMostMaxAgentsAndTheNextGoesOn) {
  AllocatorOptions options;
  options.maxAgentsPerRun = 2;
  initialize(options);
  addFramework("f1");
  for (int i = 0; i < 5; ++i) addAgent("a" + std::to_string(i), "cpus:4;mem:4096");
  std::set<AgentID> offered;
  auto take = [&](const std::vector<Allocation>& offers) {
    for (const auto& o : offers) EXPECT_TRUE(offered.insert(o.agent).second) << o.agent;
    return offers.size();
  };
  EXPECT_EQ(take(allocate()), 2u);
  EXPECT_TRUE(allocator_->stoppedEarly());
  EXPECT_TRUE(allocator_->hasPendingChanges());
  EXPECT_EQ(take(allocate(AllocationScope::kChanged)), 2u);
  EXPECT_TRUE(allocator_->stoppedEarly());
  EXPECT_EQ(take(allocate(AllocationScope::kChanged)), 1u);
  EXPECT_FALSE(allocator_->stoppedEarly());
  EXPECT_FALSE(allocator_->hasPendingChanges());
  EXPECT_EQ(offered.size(), 5u);
}

TEST_F(HierarchicalAllocatorTest, ACappedFullRunTakesTheAgentsLeftOverFirst) {
  // The offerable list starts with agents nobody can take (reserved to a
  // role without frameworks): full runs, capped at two agents, must still
  // reach the agents behind them instead of starting from the head again.
  AllocatorOptions options;
  options.maxAgentsPerRun = 2;
  initialize(options);
  addFramework("f1");
  addAgent("r0", "cpus(other):4;mem(other):4096");
  addAgent("r1", "cpus(other):4;mem(other):4096");
  for (int i = 0; i < 3; ++i) addAgent("a" + std::to_string(i), "cpus:4;mem:4096");
  std::set<AgentID> offered;
  for (int run = 0; run < 4 && offered.size() < 3; ++run) {
    for (const auto& o : allocate(AllocationScope::kAll)) offered.insert(o.agent);
  }
  EXPECT_EQ(offered, (std::set<AgentID>{AgentID("a0"), AgentID("a1"), AgentID("a2")}));
}

TEST_F(HierarchicalAllocatorTest, FilterBlocksOnlyTheSameOrLess) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  recover("f1", "a1", res("cpus:3;mem:3968").allocate("*"), 60.0);
  EXPECT_TRUE(allocate().empty());
  recover("f1", "a1", res("cpus:1;mem:128").allocate("*"));
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(HierarchicalAllocatorTest, FilterIsPerFrameworkAndAgent) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  recover(offers[0], 60.0);
  addAgent("a2", "cpus:4;mem:4096");
  addFramework("f2");
  allocator_->suppressOffers(FrameworkID("f2"), {});
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agent, AgentID("a2"));
  allocator_->reviveOffers(FrameworkID("f2"), {});
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));
  EXPECT_EQ(offers[0].agent, AgentID("a1"));
}

TEST_F(HierarchicalAllocatorTest, ZeroRefuseSecondsInstallsNoFilter) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  recover(offers[0], 0.0);
  EXPECT_EQ(allocate(AllocationScope::kChanged).size(), 1u);
}

TEST_F(HierarchicalAllocatorTest, ReviveClearsTheRolesFilters) {
  addFramework("f1", {"a", "b"});
  addAgent("a1", "cpus:4;mem:4096");
  std::set<std::string> declined;
  for (int i = 0; i < 2; ++i) {
    auto offers = allocate();
    ASSERT_EQ(offers.size(), 1u);
    declined.insert(offers[0].role);
    recover(offers[0], 3600.0);
  }
  EXPECT_EQ(declined, (std::set<std::string>{"a", "b"}));
  EXPECT_TRUE(allocate().empty());

  allocator_->reviveOffers(FrameworkID("f1"), {"a"});
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].role, "a");
  recover(offers[0], 3600.0);
  // Role b's filter is still there.
  EXPECT_TRUE(allocate().empty());
  allocator_->reviveOffers(FrameworkID("f1"), {});
  EXPECT_EQ(allocate().size(), 1u);
}

TEST_F(HierarchicalAllocatorTest, SuppressedGetsNothingUntilRevived) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->suppressOffers(FrameworkID("f1"), {});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(allocate().empty());
    clock_.advance(10s);
  }
  EXPECT_FALSE(allocator_->hasPendingChanges());
  allocator_->reviveOffers(FrameworkID("f1"), {});
  EXPECT_TRUE(allocator_->hasPendingChanges());
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
}

TEST_F(HierarchicalAllocatorTest, SuppressOneRoleOfAMultiRoleFramework) {
  addFramework("f1", {"a", "b"});
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->suppressOffers(FrameworkID("f1"), {"a"});
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].role, "b");
}

TEST_F(HierarchicalAllocatorTest, DeactivatedFrameworkAndAgent) {
  addFramework("f1");
  addFramework("f2");
  allocator_->deactivateFramework(FrameworkID("f1"));
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));
  recover(offers[0]);
  allocator_->deactivateFramework(FrameworkID("f2"));
  EXPECT_TRUE(allocate().empty());
  allocator_->activateFramework(FrameworkID("f1"));
  allocator_->deactivateAgent(AgentID("a1"));
  EXPECT_TRUE(allocate().empty());
  allocator_->activateAgent(AgentID("a1"));
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
}

TEST_F(HierarchicalAllocatorTest, MinAllocatableResourcesBlockTinyLeftovers) {
  AllocatorOptions options;
  options.minAllocatableResources = {res("cpus:0.01"), res("mem:32")};
  initialize(options);
  addFramework("f1");
  addAgent("a1", "cpus:1;mem:64");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  recover("f1", "a1", res("cpus:0.005;mem:16").allocate("*"));
  EXPECT_FALSE(allocator_->hasPendingChanges());
  EXPECT_TRUE(allocate().empty());
  recover("f1", "a1", res("mem:16").allocate("*"));
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:0.005;mem:32").allocate("*"));
}

// ---- Accounting ----------------------------------------------------------------

TEST_F(HierarchicalAllocatorTest, LateRecoveryForARemovedAgentChangesNothing) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:2;mem:1024");
  ASSERT_EQ(allocate().size(), 2u);
  removeAgent("a1");
  allocator_->recoverResources(FrameworkID("f1"), AgentID("a1"),
                               res("cpus:4;mem:4096").allocate("*"), std::nullopt);
  EXPECT_EQ(allocatedToRole("*"), res("cpus:2;mem:1024").allocate("*"));
  checkInvariants();
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(HierarchicalAllocatorTest, UsageReportedByAgentAndFrameworkCountsOnce) {
  Resources used = res("cpus:1;mem:1024").allocate("*");
  // Master failover: the agent re-registers first, then the framework.
  addAgent("a1", "cpus:4;mem:4096", {{FrameworkID("f1"), used}});
  checkInvariants();
  addFramework("f1", {}, {{AgentID("a1"), used}});
  checkInvariants();
  EXPECT_EQ(allocator_->allocatedResources(AgentID("a1")), used);
  EXPECT_EQ(allocatedToRole("*"), used);
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:3;mem:3072").allocate("*"));

  // The other way round.
  initialize({});
  addFramework("f1", {}, {{AgentID("a1"), used}});  // agent unknown yet
  addAgent("a1", "cpus:4;mem:4096", {{FrameworkID("f1"), used}});
  addFramework("f1", {}, {{AgentID("a1"), used}});  // repeated subscription
  checkInvariants();
  EXPECT_EQ(allocator_->allocatedResources(AgentID("a1")), used);
}

TEST_F(HierarchicalAllocatorTest, UsageBeyondTheAgentIsNotCounted) {
  addFramework("f1");
  addAgent("a1", "cpus:2;mem:1024", {{FrameworkID("f1"), res("cpus:3;mem:512").allocate("*")}});
  held_[{"f1", "a1"}] = res("cpus:2;mem:512").allocate("*");
  checkInvariants();
}

TEST_F(HierarchicalAllocatorTest, RemoveFrameworkFreesItsAllocation) {
  addFramework("f1", {"eng/web"});
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  std::string first = offers[0].framework.value;
  removeFramework(first);
  EXPECT_TRUE(allocator_->hasPendingChanges());
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_NE(offers[0].framework.value, first);
  for (const auto& s : allocator_->roles()) EXPECT_EQ(s.frameworks.count(FrameworkID(first)), 0u);
}

TEST_F(HierarchicalAllocatorTest, RolesComeAndGo) {
  addAgent("a1", "cpus(x/y):1;cpus:4;mem:4096");
  addFramework("f1", {"a/b/c", "a/d"});
  addFramework("f2", {"x/y/z"});
  allocate();
  EXPECT_FALSE(allocator_->roles().empty());
  removeFramework("f1");
  removeFramework("f2");
  checkInvariants();  // recounts every role's references
  EXPECT_TRUE(allocator_->roles().empty());
  removeAgent("a1");
  checkInvariants();
}

TEST_F(HierarchicalAllocatorTest, UpdateAgentResizes) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  ASSERT_EQ(allocate().size(), 1u);
  AgentInfo info;
  info.id = AgentID("a1");
  totals_["a1"] = res("cpus:6;mem:4096;gpus:1");
  allocator_->updateAgent(AgentID("a1"), info, totals_["a1"]);
  EXPECT_TRUE(allocator_->hasPendingChanges());
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:2;gpus:1").allocate("*"));
}

TEST_F(HierarchicalAllocatorTest, RolesSummary) {
  addFramework("f1", {"eng/web"});
  addFramework("f2", {"eng/web", "ops"});
  allocator_->updateWeights({{"ops", 2.0}});
  Quota q;
  q.guarantee = res("cpus:1");
  q.limit = res("cpus:10");
  allocator_->updateQuota("eng", q);
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:4;mem:4096");
  allocate();
  Resources total;
  std::map<std::string, RoleSummary> byRole;
  for (const auto& s : allocator_->roles()) {
    byRole[s.role] = s;
    total += s.allocated.unallocate();
  }
  EXPECT_EQ(total, res("cpus:8;mem:8192"));
  EXPECT_EQ(byRole["eng/web"].frameworks,
            (std::set<FrameworkID>{FrameworkID("f1"), FrameworkID("f2")}));
  EXPECT_EQ(byRole["ops"].frameworks, std::set<FrameworkID>{FrameworkID("f2")});
  EXPECT_EQ(byRole["ops"].weight, 2.0);
  ASSERT_TRUE(byRole["eng"].quota.has_value());
  EXPECT_EQ(*byRole["eng"].quota, q);
  allocator_->updateQuota("eng", std::nullopt);
  EXPECT_EQ(summary("eng"), nullptr);
}

}  // namespace
}  // namespace allocator_test
}  // namespace tutti::master
