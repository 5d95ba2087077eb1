// Unit tests for master::HierarchicalAllocator (and its DrfSorter) through
// the Allocator interface, with a manual clock and a callback that records
// every offer into a ledger of what each framework holds on each agent.
// After every allocation the ledger is compared with the allocator's own
// books (allocated + free == total per agent, nothing handed out twice) and
// the allocator re-checks its incremental aggregates from scratch.
#include "master/allocator/hierarchical_allocator.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "master/allocator/sorter.hpp"

namespace tutti::master {
namespace {

Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

Resources dynamicallyReserved(std::string_view text, const std::string& role) {
  ReservationInfo info;
  info.type = ReservationInfo::Type::DYNAMIC;
  info.role = role;
  info.principal = "ops-team";
  return res(text).pushReservation(info);
}

using ByRole = std::map<std::string, std::map<AgentID, Resources>>;

struct Allocation {
  FrameworkID framework;
  std::string role;
  AgentID agent;
  Resources resources;
};

class HierarchicalAllocatorTest : public ::testing::Test {
 protected:
  using Key = std::pair<std::string, std::string>;  // (framework, agent)

  void SetUp() override { initialize({}); }

  void initialize(AllocatorOptions options) {
    allocator_ = std::make_unique<HierarchicalAllocator>();
    held_.clear();
    totals_.clear();
    offers_.clear();
    allocator_->initialize(options, clock_, [this](const FrameworkID& fw, const ByRole& byRole) {
      for (const auto& [role, byAgent] : byRole) {
        for (const auto& [agent, r] : byAgent) {
          offers_.push_back({fw, role, agent, r});
          held_[{fw.value, agent.value}] += r;
        }
      }
    });
  }

  void addAgent(const std::string& id, std::string_view resources,
                const std::map<FrameworkID, Resources>& used = {}) {
    AgentInfo info;
    info.hostname = id + ".example";
    info.id = AgentID(id);
    info.resources = res(resources);
    totals_[id] = info.resources;
    for (const auto& [fw, r] : used) held_[{fw.value, id}] += r;
    allocator_->addAgent(AgentID(id), info, info.resources, used);
  }

  void removeAgent(const std::string& id) {
    allocator_->removeAgent(AgentID(id));
    totals_.erase(id);
    std::erase_if(held_, [&](const auto& e) { return e.first.second == id; });
  }

  static FrameworkInfo frameworkInfo(const std::string& id, std::vector<std::string> roles) {
    FrameworkInfo info;
    info.name = id;
    info.id = FrameworkID(id);
    info.roles = std::move(roles);
    if (info.roles.size() > 1) info.capabilities.push_back(FrameworkCapability::MULTI_ROLE);
    return info;
  }

  void addFramework(const std::string& id, std::vector<std::string> roles = {},
                    const std::map<AgentID, Resources>& used = {}) {
    allocator_->addFramework(FrameworkID(id), frameworkInfo(id, std::move(roles)), used, true,
                             {});
  }

  void removeFramework(const std::string& id) {
    allocator_->removeFramework(FrameworkID(id));
    std::erase_if(held_, [&](const auto& e) { return e.first.first == id; });
  }

  // Gives `r` (allocated form) back and keeps the ledger. `r` is a copy: it
  // may be the ledger's own entry.
  void recover(const std::string& fw, const std::string& agent, Resources r,
               std::optional<double> refuseSeconds = std::nullopt) {
    std::optional<Filters> filters;
    if (refuseSeconds) filters = Filters{*refuseSeconds};
    held_[{fw, agent}] -= r;
    allocator_->recoverResources(FrameworkID(fw), AgentID(agent), r, filters);
  }
  void recover(const Allocation& offer, std::optional<double> refuseSeconds = std::nullopt) {
    recover(offer.framework.value, offer.agent.value, offer.resources, refuseSeconds);
  }

  std::vector<Allocation> allocate(AllocationScope scope = AllocationScope::kAll) {
    offers_.clear();
    allocator_->allocate(scope);
    checkInvariants();
    return offers_;
  }

  // The allocator's books agree with the ledger; nothing is handed out
  // twice or beyond an agent's total; the aggregates agree with a recount.
  void checkInvariants() {
    EXPECT_EQ(allocator_->checkConsistency(), "");
    std::map<std::string, Resources> byAgent;
    for (const auto& [key, r] : held_) byAgent[key.second] += r;
    for (const auto& [agent, total] : totals_) {
      Resources allocated = allocator_->allocatedResources(AgentID(agent));
      EXPECT_EQ(allocated, byAgent[agent]) << "agent " << agent;
      EXPECT_TRUE(total.contains(allocated.unallocate()))
          << "agent " << agent << " has " << total << " but " << allocated << " is handed out";
      EXPECT_EQ(allocator_->freeResources(AgentID(agent)) + allocated.unallocate(), total)
          << "agent " << agent;
    }
  }

  std::map<FrameworkID, int> countByFramework(const std::vector<Allocation>& offers) {
    std::map<FrameworkID, int> out;
    for (const auto& o : offers) ++out[o.framework];
    return out;
  }

  Resources heldBy(const std::string& fw) {
    Resources out;
    for (const auto& [key, r] : held_) {
      if (key.first == fw) out += r;
    }
    return out;
  }

  const RoleSummary* summary(const std::string& role) {
    summaries_ = allocator_->roles();
    for (const auto& s : summaries_) {
      if (s.role == role) return &s;
    }
    return nullptr;
  }

  Resources allocatedToRole(const std::string& role) {
    const RoleSummary* s = summary(role);
    return s ? s->allocated : Resources();
  }

  ManualClock clock_;
  std::unique_ptr<HierarchicalAllocator> allocator_;
  std::vector<Allocation> offers_;
  std::map<Key, Resources> held_;
  std::map<std::string, Resources> totals_;
  std::vector<RoleSummary> summaries_;
};

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

// ---- Property test ---------------------------------------------------------------

// Random sequences of agents and frameworks coming and going, offers kept in
// part (used) or declined with filters, recoveries, suppress/revive,
// RESERVE/UNRESERVE and time passing. After every step: the allocator's
// books agree with the ledger (nothing offered twice, allocated + free ==
// total per agent, nothing beyond a total), its aggregates agree with a
// recount, and no role with a limit consumes more than it.
class AllocatorProperty : public HierarchicalAllocatorTest,
                          public ::testing::WithParamInterface<uint32_t> {};

TEST_P(AllocatorProperty, InvariantsHoldAfterEveryStep) {
  std::mt19937 rng(GetParam());
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };

  AllocatorOptions options;
  if (chance(50)) options.minAllocatableResources = {res("cpus:0.01"), res("mem:32")};
  initialize(options);
  const std::vector<std::string> roles = {"*", "eng", "eng/web", "eng/db", "ops", "ops/x"};
  const std::vector<std::string> agentKinds = {
      "cpus:4;mem:4096;ports:[31000-31009]",
      "cpus:2;mem:2048;gpus:1;disk:100",
      "cpus(eng):1;mem(eng):512;cpus:3;mem:1024",
      "cpus(eng/db):2;cpus:1;mem:512;ports:[1-4]",
      "cpus:8;mem:512",
  };
  // Limits on roles without static reservations in their subtree (a static
  // reservation alone may exceed a limit: it counts, but nobody offered it).
  std::map<std::string, Resources> limits = {{"ops", res("cpus:5;mem:3000")},
                                             {"eng/web", res("cpus:3")}};
  for (const auto& [role, limit] : limits) {
    Quota q;
    q.limit = limit;
    if (role == "ops") q.guarantee = res("cpus:2");
    allocator_->updateQuota(role, q);
  }
  Quota engQuota;
  engQuota.guarantee = res("cpus:3;mem:1024");
  allocator_->updateQuota("eng", engQuota);

  std::vector<std::string> agents, frameworks;
  std::map<std::string, std::vector<std::string>> frameworkRoles;
  int nextAgent = 0, nextFramework = 0;
  int offersSeen = 0, reserves = 0;

  auto heldKeys = [&] {
    std::vector<Key> keys;
    for (const auto& [key, r] : held_) {
      if (!r.empty()) keys.push_back(key);
    }
    return keys;
  };
  // A random part of `r` (allocated form): scalars cut, ranges halved.
  auto part = [&](const Resources& r) {
    Resources out;
    for (const auto& x : r) {
      Resource p = x;
      if (x.type == Resource::Type::SCALAR) {
        p.scalarMillis = static_cast<int64_t>(rng() % (x.scalarMillis + 1));
      } else if (x.type == Resource::Type::RANGES) {
        if (chance(50)) continue;
        p.ranges = {x.ranges.front()};
        p.ranges[0].end = p.ranges[0].begin + (p.ranges[0].end - p.ranges[0].begin) / 2;
      }
      out += p;
    }
    return out;
  };

  const int steps = 2500;
  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("seed " + std::to_string(GetParam()) + " step " + std::to_string(step));
    int action = static_cast<int>(pick(100));
    if (action < 6 && agents.size() < 10) {
      std::string id = "a" + std::to_string(nextAgent++);
      addAgent(id, agentKinds[pick(agentKinds.size())]);
      agents.push_back(id);
    } else if (action < 9 && !agents.empty()) {
      size_t i = pick(agents.size());
      removeAgent(agents[i]);
      agents.erase(agents.begin() + i);
    } else if (action < 14 && frameworks.size() < 7) {
      std::string id = "f" + std::to_string(nextFramework++);
      std::vector<std::string> mine = {roles[pick(roles.size())]};
      if (chance(30)) {
        std::string second = roles[pick(roles.size())];
        if (second != mine[0]) mine.push_back(second);
      }
      frameworkRoles[id] = mine;
      addFramework(id, mine);
      frameworks.push_back(id);
    } else if (action < 16 && !frameworks.empty()) {
      size_t i = pick(frameworks.size());
      removeFramework(frameworks[i]);
      frameworks.erase(frameworks.begin() + i);
    } else if (action < 40) {
      // Accept: keep a part as used, give the rest back (maybe filtered).
      auto keys = heldKeys();
      if (keys.empty()) continue;
      Key key = keys[pick(keys.size())];
      Resources keep = part(held_[key]);
      Resources rest = held_[key] - keep;
      std::optional<double> refuse;
      if (chance(50)) refuse = static_cast<double>(pick(8));
      recover(key.first, key.second, rest, refuse);
    } else if (action < 52) {
      // Decline everything held there, with a filter.
      auto keys = heldKeys();
      if (keys.empty()) continue;
      Key key = keys[pick(keys.size())];
      recover(key.first, key.second, held_[key], 1.0 + pick(6));
    } else if (action < 58) {
      // Tasks finish: part of what is used comes back.
      auto keys = heldKeys();
      if (keys.empty()) continue;
      Key key = keys[pick(keys.size())];
      recover(key.first, key.second, part(held_[key]));
    } else if (action < 62 && !frameworks.empty()) {
      const std::string& fw = frameworks[pick(frameworks.size())];
      const auto& mine = frameworkRoles[fw];
      std::set<std::string> which;
      if (chance(50)) which.insert(mine[pick(mine.size())]);
      if (chance(50)) {
        allocator_->suppressOffers(FrameworkID(fw), which);
      } else {
        allocator_->reviveOffers(FrameworkID(fw), which);
      }
    } else if (action < 65) {
      // RESERVE one unreserved cpu of a holding for its role, or UNRESERVE.
      auto keys = heldKeys();
      if (keys.empty()) continue;
      Key key = keys[pick(keys.size())];
      const Resources& h = held_[key];
      std::string role = *h.begin()->allocationRole;
      if (role == "*") continue;
      Resources plain = res("cpus:1").allocate(role);
      Resources reserved = dynamicallyReserved("cpus:1", role).allocate(role);
      Resources from, to;
      if (h.contains(plain)) {
        from = plain;
        to = reserved;
      } else if (h.contains(reserved)) {
        from = reserved;
        to = plain;
      } else {
        continue;
      }
      allocator_->updateAllocation(FrameworkID(key.first), AgentID(key.second), from, to);
      held_[key] = held_[key] - from + to;
      totals_[key.second] = totals_[key.second] - from.unallocate() + to.unallocate();
      ++reserves;
    } else if (action < 75) {
      clock_.advance(std::chrono::milliseconds(pick(3000)));
    } else if (action < 77) {
      allocator_->updateWeights({{roles[pick(roles.size())], 0.5 + pick(4)}});
    } else if (action < 78 && !agents.empty()) {
      // The agent grows (a resize never below what is in use).
      const std::string& a = agents[pick(agents.size())];
      totals_[a] += res("cpus:1;mem:256");
      AgentInfo info;
      info.id = AgentID(a);
      allocator_->updateAgent(AgentID(a), info, totals_[a]);
    } else if (action < 79 && !agents.empty()) {
      const std::string& a = agents[pick(agents.size())];
      if (chance(50)) {
        allocator_->deactivateAgent(AgentID(a));
      } else {
        allocator_->activateAgent(AgentID(a));
      }
    } else if (action < 81 && !frameworks.empty()) {
      const std::string& fw = frameworks[pick(frameworks.size())];
      if (chance(50)) {
        allocator_->deactivateFramework(FrameworkID(fw));
      } else {
        allocator_->activateFramework(FrameworkID(fw));
      }
    } else {
      std::map<std::string, Resources> freeBefore;
      for (const auto& a : agents) freeBefore[a] = allocator_->freeResources(AgentID(a));
      auto offers = allocate(chance(70) ? AllocationScope::kChanged : AllocationScope::kAll);
      offersSeen += static_cast<int>(offers.size());
      // Offers come out of free resources, each piece once; reserved
      // resources only to their role or a sub-role.
      std::map<std::string, Resources> offered;
      for (const auto& o : offers) {
        offered[o.agent.value] += o.resources.unallocate();
        for (const auto& x : o.resources) {
          if (!x.isReserved()) continue;
          const std::string& r = x.reservationRole();
          EXPECT_TRUE(o.role == r || o.role.rfind(r + "/", 0) == 0)
              << o.role << " was offered " << o.resources;
        }
      }
      for (const auto& [agent, r] : offered) {
        EXPECT_TRUE(freeBefore[agent].contains(r))
            << "agent " << agent << " offered " << r << " of free " << freeBefore[agent];
      }
    }
    checkInvariants();

    // Limits: consumption (allocated to the role and its sub-roles plus
    // their unallocated reservations) never exceeds the limit.
    for (const auto& [role, limit] : limits) {
      auto inSubtree = [&](const std::string& r) {
        return r == role || (r.size() > role.size() && r.compare(0, role.size(), role) == 0 &&
                             r[role.size()] == '/');
      };
      Resources consumed;
      for (const auto& [key, r] : held_) {
        for (const auto& x : r) {
          if (x.allocationRole && inSubtree(*x.allocationRole)) consumed += x;
        }
      }
      for (const auto& a : agents) {
        for (const auto& x : allocator_->freeResources(AgentID(a))) {
          if (x.isReserved() && inSubtree(x.reservationRole())) consumed += x;
        }
      }
      for (const auto& name : limit.names()) {
        EXPECT_LE(consumed.scalar(name), limit.scalar(name))
            << "role " << role << " consumes " << consumed;
      }
    }
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(offersSeen, 100);
  EXPECT_GT(reserves, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, AllocatorProperty, ::testing::Values(1u, 7u, 42u, 1234u, 99991u));

// ---- DrfSorter -------------------------------------------------------------------

TEST(DrfSorterTest, OrdersByWeightedDominantShareIncrementally) {
  ShareBasis basis;
  basis.inverseTotal = {1.0 / 100, 1.0 / 1000};  // 100 cpus, 1000 mem
  basis.version = 1;
  DrfSorter sorter(basis);
  auto a = sorter.add();
  auto b = sorter.add(2.0);
  auto c = sorter.add();
  sorter.setActive(a, true);
  sorter.setActive(b, true);
  auto order = [&] {
    std::vector<DrfSorter::Handle> out;
    for (const auto& e : sorter.order()) out.push_back(e.handle);
    return out;
  };
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, b}));  // c is inactive
  sorter.allocate(a, {10, 0});   // 0.1
  sorter.allocate(b, {0, 300});  // 0.3 / 2 = 0.15
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, b}));
  sorter.allocate(a, {10, 0});  // 0.2
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{b, a}));
  sorter.setActive(c, true);
  EXPECT_EQ(order().front(), c);
  sorter.unallocate(a, {20, 0});
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, c, b}));  // tie a/c: a was added first
  sorter.countOffer(a);
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, a, b}));  // tie: fewer offers

  // A new basis (cluster totals changed) re-sorts: mem is now scarce.
  sorter.allocate(a, {50, 0});  // a: 0.5 cpus
  basis.inverseTotal = {1.0 / 100, 1.0 / 310};
  ++basis.version;
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, b, a}));  // b: 300/310/2 = 0.48
  EXPECT_NEAR(sorter.share(b), 300.0 / 310 / 2, 1e-12);
  sorter.setWeight(b, 0.5);
  EXPECT_EQ(order().back(), b);
  sorter.remove(b);
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, a}));
}

TEST(DrfSorterTest, ExcludedNamesHaveNoDenominator) {
  ShareBasis basis;
  basis.inverseTotal = {1.0 / 10, 0.0};  // name 1 (say gpus) excluded
  DrfSorter sorter(basis);
  auto a = sorter.add();
  sorter.allocate(a, {1, 1000000});
  EXPECT_DOUBLE_EQ(sorter.share(a), 0.1);
}

}  // namespace
}  // namespace tutti::master
