// Unit tests for the hierarchical allocator: quota guarantees and limits, reservations.
#include "tests/unit/master/allocator_fixture.hpp"

namespace tutti::master {
namespace allocator_test {
namespace {

// ---- Quota -------------------------------------------------------------------

TEST_F(HierarchicalAllocatorTest, GuaranteeIsMetBeforeFairShares) {
  for (int i = 0; i < 12; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("fq", {"q"});
  addFramework("f1", {"r1"});
  addFramework("f2", {"r2"});
  addFramework("f3", {"r3"});
  Quota quota;
  quota.guarantee = res("cpus:6;mem:6144");
  allocator_->updateQuota("q", quota);
  allocate();
  // Fair share alone would give each role 3 agents.
  EXPECT_EQ(heldBy("fq").scalar("cpus"), 6);
  EXPECT_EQ(heldBy("f1").scalar("cpus"), 2);
  EXPECT_EQ(heldBy("f2").scalar("cpus"), 2);
  EXPECT_EQ(heldBy("f3").scalar("cpus"), 2);
  const RoleSummary* q = summary("q");
  ASSERT_NE(q, nullptr);
  ASSERT_TRUE(q->quota.has_value());
  EXPECT_EQ(q->quota->guarantee, quota.guarantee);
}

// Guaranteed resources are held back even while the role takes nothing
// (suppressed, or no framework yet): other roles never get into them.
TEST_F(HierarchicalAllocatorTest, GuaranteeIsHeldForAnIdleRole) {
  for (int i = 0; i < 12; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("f1", {"r1"});
  addFramework("f2", {"r2"});
  Quota quota;
  quota.guarantee = res("cpus:6;mem:6144");
  allocator_->updateQuota("q", quota);
  allocate();
  EXPECT_EQ(heldBy("f1").scalar("cpus") + heldBy("f2").scalar("cpus"), 6);
  // Offers coming back do not let others eat into the guarantee either.
  for (const auto& [key, r] : std::map<Key, Resources>(held_)) recover(key.first, key.second, r);
  allocate();
  EXPECT_EQ(heldBy("f1").scalar("cpus") + heldBy("f2").scalar("cpus"), 6);

  addFramework("fq", {"q"});
  allocator_->suppressOffers(FrameworkID("fq"), {});
  allocate();
  EXPECT_TRUE(heldBy("fq").empty());
  allocator_->reviveOffers(FrameworkID("fq"), {});
  allocate(AllocationScope::kChanged);
  EXPECT_EQ(heldBy("fq").scalar("cpus"), 6);
}

// Guarantees nest: a parent's guarantee covers its sub-roles', so the
// headroom held for them is max(parent, sum of children), not the sum of all.
TEST_F(HierarchicalAllocatorTest, NestedGuaranteesAreNotHeldTwice) {
  for (int i = 0; i < 10; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("ops", {"ops"});
  auto guarantee = [this](const std::string& role, std::string_view cpus) {
    Quota q;
    q.guarantee = res(cpus);
    allocator_->updateQuota(role, q);
  };
  guarantee("eng", "cpus:3");
  guarantee("eng/web", "cpus:2");
  guarantee("eng/db", "cpus:2");
  allocate();
  // max(3, 2 + 2) = 4 cpus are held for eng's idle subtree.
  EXPECT_EQ(heldBy("ops").scalar("cpus"), 6);
}

// A guarantee on a parent role is served by the frameworks of its sub-roles.
TEST_F(HierarchicalAllocatorTest, ParentGuaranteeServesSubRoles) {
  for (int i = 0; i < 10; ++i) addAgent("a" + std::to_string(i), "cpus:1;mem:1024");
  addFramework("web", {"eng/web"});
  addFramework("ops", {"ops"});
  Quota quota;
  quota.guarantee = res("cpus:7");
  allocator_->updateQuota("eng", quota);
  allocate();
  EXPECT_EQ(heldBy("web").scalar("cpus"), 7);
  EXPECT_EQ(heldBy("ops").scalar("cpus"), 3);
}

// A guarantee of cpus only takes just the cpus it misses from a big agent,
// with the agent's memory; the rest of the agent is shared fairly.
TEST_F(HierarchicalAllocatorTest, GuaranteeTakesOnlyWhatItMisses) {
  addAgent("big", "cpus:16;mem:16384");
  addFramework("fq", {"q"});
  addFramework("f1", {"r1"});
  Quota quota;
  quota.guarantee = res("cpus:4");
  allocator_->updateQuota("q", quota);
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(heldBy("fq"), res("cpus:4;mem:16384").allocate("q"));
  EXPECT_EQ(heldBy("f1"), res("cpus:12").allocate("r1"));
}

TEST_F(HierarchicalAllocatorTest, LimitIsNeverExceededNotEvenByOffers) {
  for (int i = 0; i < 4; ++i) addAgent("a" + std::to_string(i), "cpus:2;mem:2048");
  addFramework("fl", {"l"});
  addFramework("sub", {"l/sub"});
  Quota quota;
  quota.limit = res("cpus:3");
  allocator_->updateQuota("l", quota);
  for (int round = 0; round < 10; ++round) {
    allocate(round % 2 ? AllocationScope::kAll : AllocationScope::kChanged);
    // The role and its sub-role together stay within the limit.
    double cpus = heldBy("fl").scalar("cpus") + heldBy("sub").scalar("cpus");
    EXPECT_LE(cpus, 3);
    if (round == 0) {
      EXPECT_EQ(cpus, 3);
    }
    // Give one holding back and see that it is not exceeded on re-offer.
    if (!held_.empty()) {
      auto it = std::next(held_.begin(), round % held_.size());
      Resources r = it->second;
      recover(it->first.first, it->first.second, r);
    }
    clock_.advance(1s);
  }
  // Memory has no limit.
  EXPECT_GT(heldBy("fl").scalar("mem") + heldBy("sub").scalar("mem"), 4096);

  // A framework in another role gets the cpus the limit leaves.
  addFramework("other", {"o"});
  allocate();
  EXPECT_LE(heldBy("fl").scalar("cpus") + heldBy("sub").scalar("cpus"), 3);
  EXPECT_EQ(heldBy("fl").scalar("cpus") + heldBy("sub").scalar("cpus") +
                heldBy("other").scalar("cpus"),
            8);
}

TEST_F(HierarchicalAllocatorTest, LimitCountsUnallocatedReservations) {
  // 2 cpus reserved to "l" already count towards its limit of 3.
  addAgent("r", "cpus(l):2;mem(l):512");
  addAgent("u", "cpus:4;mem:4096");
  addFramework("fl", {"l"});
  Quota quota;
  quota.limit = res("cpus:3");
  allocator_->updateQuota("l", quota);
  allocate();
  EXPECT_EQ(heldBy("fl").scalar("cpus"), 3);
  EXPECT_EQ(allocator_->allocatedResources(AgentID("u")), res("cpus:1;mem:4096").allocate("l"));
}

// ---- Reservations ------------------------------------------------------------

TEST_F(HierarchicalAllocatorTest, ReservedResourcesNeverReachAnotherRole) {
  addFramework("star");                // "*"
  addFramework("ops", {"ops"});        // another role
  addFramework("engx", {"engineering"});  // same prefix, not a sub-role
  addFramework("db", {"eng/db"});      // sibling of the reserved sub-role
  addAgent("a1", "cpus(eng/web):1;mem(eng/web):64;cpus:3;mem:1024");
  for (int i = 0; i < 5; ++i) {
    for (const auto& o : allocate()) {
      EXPECT_TRUE(o.resources.reserved().empty()) << o.framework << " got " << o.resources;
      recover(o);
    }
  }
  EXPECT_EQ(allocator_->freeResources(AgentID("a1")).reserved(),
            res("cpus(eng/web):1;mem(eng/web):64"));

  // A framework in the reserved role (or below) gets them.
  addFramework("web", {"eng/web/x"});
  allocator_->suppressOffers(FrameworkID("star"), {});
  allocator_->suppressOffers(FrameworkID("ops"), {});
  allocator_->suppressOffers(FrameworkID("engx"), {});
  allocator_->suppressOffers(FrameworkID("db"), {});
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("web"));
  EXPECT_EQ(offers[0].resources,
            res("cpus(eng/web):1;mem(eng/web):64;cpus:3;mem:1024").allocate("eng/web/x"));
}

TEST_F(HierarchicalAllocatorTest, ReservedPartGoesToItsRoleAndTheRestToOthers) {
  addFramework("star");
  addFramework("eng", {"eng"});
  allocator_->updateWeights({{"eng", 0.001}});  // eng comes last in the order
  addAgent("a1", "cpus(eng):1;cpus:3;mem:1024");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  std::map<FrameworkID, Resources> got;
  for (const auto& o : offers) got[o.framework] = o.resources;
  EXPECT_EQ(got[FrameworkID("star")], res("cpus:3;mem:1024").allocate("*"));
  EXPECT_EQ(got[FrameworkID("eng")], res("cpus(eng):1").allocate("eng"));
}

TEST_F(HierarchicalAllocatorTest, DynamicReserveAndUnreserve) {
  addFramework("eng", {"eng"});
  addFramework("ops", {"ops"});
  allocator_->suppressOffers(FrameworkID("ops"), {});
  addAgent("a1", "cpus:4;mem:1024");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  ASSERT_EQ(offers[0].framework, FrameworkID("eng"));

  // RESERVE cpus:2 for eng out of the offer.
  Resources from = res("cpus:2").allocate("eng");
  Resources to = dynamicallyReserved("cpus:2", "eng").allocate("eng");
  allocator_->updateAllocation(FrameworkID("eng"), AgentID("a1"), from, to);
  held_[{"eng", "a1"}] = held_[{"eng", "a1"}] - from + to;
  totals_["a1"] = res("cpus:2;mem:1024") + dynamicallyReserved("cpus:2", "eng");
  checkInvariants();

  // Declined: the reservation stays with eng, the rest goes to ops.
  recover("eng", "a1", held_[{"eng", "a1"}], 3600.0);
  allocator_->reviveOffers(FrameworkID("ops"), {});
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("ops"));
  EXPECT_EQ(offers[0].resources, res("cpus:2;mem:1024").allocate("ops"));
  allocator_->reviveOffers(FrameworkID("eng"), {});
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("eng"));
  EXPECT_EQ(offers[0].resources, to);

  // UNRESERVE: the cpus are plain again and go back to the pool.
  allocator_->updateAllocation(FrameworkID("eng"), AgentID("a1"), to, from);
  held_[{"eng", "a1"}] = from;
  totals_["a1"] = res("cpus:4;mem:1024");
  checkInvariants();
  recover("eng", "a1", from, 3600.0);
  recover("ops", "a1", held_[{"ops", "a1"}]);
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("ops"));
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:1024").allocate("ops"));
}

TEST_F(HierarchicalAllocatorTest, UpdateAllocationWithoutFromRecordsNewUse) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->suppressOffers(FrameworkID("f1"), {});
  allocate();
  // What the master does for a task a reconnecting agent reports.
  Resources task = res("cpus:1;mem:1024").allocate("*");
  allocator_->updateAllocation(FrameworkID("f1"), AgentID("a1"), Resources(), task);
  allocator_->updateAllocation(FrameworkID("f1"), AgentID("a1"), Resources(), task);
  held_[{"f1", "a1"}] = task + task;
  checkInvariants();
  EXPECT_EQ(allocator_->freeResources(AgentID("a1")), res("cpus:2;mem:2048"));
}

}  // namespace
}  // namespace allocator_test
}  // namespace tutti::master
