// Unit tests for the hierarchical allocator: basics, weighted DRF over the role tree, the starvation guard.
#include "tests/unit/master/allocator_fixture.hpp"

namespace tutti::master {
namespace allocator_test {
namespace {

// ---- Basics ------------------------------------------------------------------

TEST_F(HierarchicalAllocatorTest, SingleAgentIsOfferedWholeToOneFramework) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096;ports:[31000-32000]");
  EXPECT_TRUE(allocator_->hasPendingChanges());
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
  EXPECT_EQ(offers[0].role, "*");
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096;ports:[31000-32000]").allocate("*"));
  EXPECT_FALSE(allocator_->hasPendingChanges());
  EXPECT_TRUE(allocate().empty());
  EXPECT_EQ(allocatedToRole("*"), offers[0].resources);
}

TEST_F(HierarchicalAllocatorTest, NothingWithoutFrameworksOrAgents) {
  addAgent("a1", "cpus:4;mem:4096");
  EXPECT_TRUE(allocate().empty());
  initialize({});
  addFramework("f1");
  EXPECT_TRUE(allocate().empty());
}

TEST_F(HierarchicalAllocatorTest, ChangedScopeLooksOnlyAtChangedAgents) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  ASSERT_EQ(allocate().size(), 1u);
  addAgent("a2", "cpus:2;mem:1024");
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agent, AgentID("a2"));
  EXPECT_FALSE(allocator_->hasPendingChanges());
  EXPECT_TRUE(allocate(AllocationScope::kChanged).empty());
}

TEST_F(HierarchicalAllocatorTest, NewFrameworkGetsAgentsNobodyWanted) {
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:4;mem:4096");
  EXPECT_TRUE(allocate().empty());
  EXPECT_FALSE(allocator_->hasPendingChanges());
  addFramework("f1");
  EXPECT_TRUE(allocator_->hasPendingChanges());
  EXPECT_EQ(allocate(AllocationScope::kChanged).size(), 2u);
  // A framework event with nothing free leaves nothing to do.
  addFramework("f2");
  EXPECT_FALSE(allocator_->hasPendingChanges());
}

TEST_F(HierarchicalAllocatorTest, RecoveredResourcesAreOfferedInTheNextEventCycle) {
  addFramework("f1");
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_FALSE(allocator_->hasPendingChanges());
  recover(offers[0]);
  EXPECT_TRUE(allocator_->hasPendingChanges());
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
}

TEST_F(HierarchicalAllocatorTest, RecoveringMoreThanHeldChangesNothing) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  Resources half = res("cpus:2;mem:2048").allocate("*");
  recover("f1", "a1", half);
  // The master repeats itself: the same resources again, and a framework
  // that holds nothing here.
  allocator_->recoverResources(FrameworkID("f1"), AgentID("a1"),
                               res("cpus:4;mem:4096").allocate("*"), std::nullopt);
  held_[{"f1", "a1"}] = Resources();
  allocator_->recoverResources(FrameworkID("nobody"), AgentID("a1"), half, std::nullopt);
  checkInvariants();
  EXPECT_EQ(allocator_->freeResources(AgentID("a1")), res("cpus:4;mem:4096"));
}

// ---- DRF ---------------------------------------------------------------------

// The example of Ghodsi et al., "Dominant Resource Fairness" (NSDI 2011):
// <9 CPUs, 18 GB>; A's tasks need <1 CPU, 4 GB>, B's <3 CPUs, 1 GB>. DRF
// gives A three tasks and B two (both end with a dominant share of 2/3).
TEST_F(HierarchicalAllocatorTest, DrfPaperExample) {
  addAgent("a1", "cpus:9;mem:18432");
  addFramework("A");
  addFramework("B");
  std::map<std::string, Resources> task = {{"A", res("cpus:1;mem:4096").allocate("*")},
                                           {"B", res("cpus:3;mem:1024").allocate("*")}};
  std::map<std::string, int> tasks;
  for (int round = 0; round < 50; ++round) {
    auto offers = allocate(AllocationScope::kChanged);
    if (offers.empty()) break;
    for (const auto& o : offers) {
      const Resources& t = task[o.framework.value];
      if (o.resources.contains(t)) {
        ++tasks[o.framework.value];  // launch one task, give back the rest
        recover(o.framework.value, o.agent.value, o.resources - t);
      } else {
        recover(o, 3600.0);  // nothing fits: decline for good
      }
    }
  }
  EXPECT_EQ(tasks["A"], 3);
  EXPECT_EQ(tasks["B"], 2);
  EXPECT_EQ(heldBy("A"), res("cpus:3;mem:12288").allocate("*"));
  EXPECT_EQ(heldBy("B"), res("cpus:6;mem:2048").allocate("*"));
}

TEST_F(HierarchicalAllocatorTest, LowerDominantShareGoesFirst) {
  addFramework("f1");
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096", {{FrameworkID("f1"), res("cpus:1;mem:2048").allocate("*")}});
  addAgent("a2", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  std::map<AgentID, Allocation> byAgent;
  for (const auto& o : offers) byAgent[o.agent] = o;
  // f2 (share 0) is placed first (a1's rest, 3/8 cpus); f1 (1/4 of mem) next.
  EXPECT_EQ(byAgent[AgentID("a1")].framework, FrameworkID("f2"));
  EXPECT_EQ(byAgent[AgentID("a1")].resources, res("cpus:3;mem:2048").allocate("*"));
  EXPECT_EQ(byAgent[AgentID("a2")].framework, FrameworkID("f1"));
}

// The order is updated after every placement, not once per cycle: in one
// cycle, equal frameworks get equal numbers of agents.
TEST_F(HierarchicalAllocatorTest, OrderIsRecomputedAfterEachPlacement) {
  for (int i = 0; i < 12; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("f1");
  addFramework("f2");
  addFramework("f3");
  auto counts = countByFramework(allocate());
  EXPECT_EQ(counts[FrameworkID("f1")], 4);
  EXPECT_EQ(counts[FrameworkID("f2")], 4);
  EXPECT_EQ(counts[FrameworkID("f3")], 4);
}

TEST_F(HierarchicalAllocatorTest, WeightsThreeToOneGiveSharesThreeToOne) {
  for (int i = 0; i < 40; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("fa", {"a"});
  addFramework("fb", {"b"});
  allocator_->updateWeights({{"a", 3.0}});
  allocate();
  double shareA = heldBy("fa").scalar("cpus") / 40;
  double shareB = heldBy("fb").scalar("cpus") / 40;
  // Within one resource unit (one agent of 40).
  EXPECT_NEAR(shareA, 3 * shareB, 1.0 / 40 + 1e-9);
  EXPECT_EQ(heldBy("fa").scalar("cpus"), 30);
  const RoleSummary* a = summary("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->weight, 3.0);
}

// Weights apply per level: "eng" and "ops" split the cluster 1:1 (equal
// weights), and inside "eng", "eng/web" (3) and "eng/db" (1) split eng's half
// 3:1. A flat weighting (3:1:1) would give ops a fifth instead of a half.
TEST_F(HierarchicalAllocatorTest, HierarchicalWeightsApplyPerLevel) {
  for (int i = 0; i < 32; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("web", {"eng/web"});
  addFramework("db", {"eng/db"});
  addFramework("ops", {"ops"});
  allocator_->updateWeights({{"eng/web", 3.0}});
  allocate();
  EXPECT_EQ(heldBy("ops").scalar("cpus"), 16);
  EXPECT_EQ(heldBy("web").scalar("cpus"), 12);
  EXPECT_EQ(heldBy("db").scalar("cpus"), 4);

  // The weight of a parent role scales its whole subtree against siblings.
  initialize({});
  for (int i = 0; i < 32; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("web", {"eng/web"});
  addFramework("db", {"eng/db"});
  addFramework("ops", {"ops"});
  allocator_->updateWeights({{"eng", 3.0}});
  allocate();
  EXPECT_EQ(heldBy("ops").scalar("cpus"), 8);
  EXPECT_EQ(heldBy("web").scalar("cpus"), 12);
  EXPECT_EQ(heldBy("db").scalar("cpus"), 12);
}

// A role with frameworks of its own and sub-roles: its own frameworks
// compete with the sub-roles as one client of weight 1.
TEST_F(HierarchicalAllocatorTest, OwnFrameworksCompeteWithSubRoles) {
  for (int i = 0; i < 12; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("eng1", {"eng"});
  addFramework("eng2", {"eng"});
  addFramework("web", {"eng/web"});
  addFramework("ops", {"ops"});
  allocate();
  EXPECT_EQ(heldBy("ops").scalar("cpus"), 6);
  EXPECT_EQ(heldBy("web").scalar("cpus"), 3);
  EXPECT_EQ(heldBy("eng1").scalar("cpus") + heldBy("eng2").scalar("cpus"), 3);
  EXPECT_GE(heldBy("eng1").scalar("cpus"), 1);
  EXPECT_GE(heldBy("eng2").scalar("cpus"), 1);
}

TEST_F(HierarchicalAllocatorTest, ExcludedResourcesDoNotCountInShares) {
  auto scenario = [this](AllocatorOptions options) {
    initialize(options);
    addFramework("f1");
    addFramework("f2");
    // f1 holds half the gpus and 1 of 10 cpus; f2 holds 2 of 10 cpus.
    addAgent("g1", "gpus:8;cpus:1;mem:128",
             {{FrameworkID("f1"), res("gpus:4;cpus:1").allocate("*")}});
    addAgent("c1", "cpus:2;mem:128", {{FrameworkID("f2"), res("cpus:2").allocate("*")}});
    addAgent("c2", "cpus:7;mem:1024");
    // Agents are visited in the order they were added: g1's rest goes to
    // whoever is first.
    auto offers = allocate();
    for (const auto& o : offers) {
      if (o.agent == AgentID("g1")) return o.framework;
    }
    return FrameworkID();
  };
  // gpus excluded (the default): f1's share is 1/10 < 2/10: f1 first.
  EXPECT_EQ(scenario({}), FrameworkID("f1"));
  AllocatorOptions counted;
  counted.fairSharingExcludedResourceNames = {};
  // gpus counted: f1's share is 4/8 > 2/10: f2 first.
  EXPECT_EQ(scenario(counted), FrameworkID("f2"));
}

TEST_F(HierarchicalAllocatorTest, MultiRoleFrameworkIsAClientInEachRole) {
  for (int i = 0; i < 8; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("multi", {"a", "b"});
  addFramework("onlyB", {"b"});
  auto offers = allocate();
  std::map<std::string, int> byRole;
  for (const auto& o : offers) {
    ++byRole[o.framework.value + ":" + o.role];
    EXPECT_EQ(o.resources.allocationRoles(), std::set<std::string>{o.role});
  }
  // Roles a and b split 4:4; in b, multi and onlyB split b's 4.
  EXPECT_EQ(byRole["multi:a"], 4);
  EXPECT_EQ(byRole["multi:b"], 2);
  EXPECT_EQ(byRole["onlyB:b"], 2);
}

// ---- Starvation guard --------------------------------------------------------

// A framework with the lowest share declines everything it is offered; the
// declined agents go to the next framework in order instead of waiting for
// the decliner, so the accepting framework reaches what it asks for.
TEST_F(HierarchicalAllocatorTest, DeclinerDoesNotStarveOthers) {
  for (int i = 0; i < 4; ++i) addAgent("a" + std::to_string(i), "cpus:4;mem:4096");
  addFramework("decliner");
  addFramework("worker", {}, {});
  Resources task = res("cpus:1;mem:1024").allocate("*");
  int tasks = 0;
  int declinerOffers = 0;
  for (int round = 0; round < 40 && tasks < 16; ++round) {
    for (const auto& o : allocate(round % 5 == 0 ? AllocationScope::kAll
                                                 : AllocationScope::kChanged)) {
      if (o.framework == FrameworkID("decliner")) {
        ++declinerOffers;
        recover(o, 5.0);
        continue;
      }
      Resources rest = o.resources;
      while (rest.contains(task)) {
        rest -= task;
        ++tasks;
      }
      recover(o.framework.value, o.agent.value, rest);
    }
    clock_.advance(1s);
  }
  EXPECT_EQ(tasks, 16);
  EXPECT_GT(declinerOffers, 0);
}

// Equal shares are broken by fewer offers first: two idle frameworks that
// give everything straight back take turns instead of one winning every tie.
TEST_F(HierarchicalAllocatorTest, EqualSharesTakeTurns) {
  addAgent("a1", "cpus:4;mem:4096");
  addFramework("f1");
  addFramework("f2");
  std::map<FrameworkID, int> count;
  for (int i = 0; i < 10; ++i) {
    auto offers = allocate(AllocationScope::kChanged);
    ASSERT_EQ(offers.size(), 1u);
    ++count[offers[0].framework];
    recover(offers[0]);
  }
  EXPECT_EQ(count[FrameworkID("f1")], 5);
  EXPECT_EQ(count[FrameworkID("f2")], 5);
}

}  // namespace
}  // namespace allocator_test
}  // namespace tutti::master
