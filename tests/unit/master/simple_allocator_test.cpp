// Unit tests for master::SimpleAllocator through the Allocator interface,
// with a manual clock and a callback that records every offer.
#include "master/allocator/simple_allocator.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tutti::master {
namespace {

Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

using ByRole = std::map<std::string, std::map<AgentID, Resources>>;

struct Allocation {
  FrameworkID framework;
  std::string role;
  AgentID agent;
  Resources resources;
};

class SimpleAllocatorTest : public ::testing::Test {
 protected:
  void SetUp() override { initialize({}); }

  void initialize(AllocatorOptions options) {
    allocator_ = std::make_unique<SimpleAllocator>();
    allocator_->initialize(options, clock_, [this](const FrameworkID& fw, const ByRole& byRole) {
      for (const auto& [role, byAgent] : byRole) {
        for (const auto& [agent, r] : byAgent) {
          offers_.push_back({fw, role, agent, r});
          // Ledger: what the allocator handed out and nobody gave back yet.
          outstanding_[agent] += r;
        }
      }
    });
  }

  void addAgent(const std::string& id, std::string_view resources,
                const std::map<FrameworkID, Resources>& used = {}) {
    AgentInfo info;
    info.hostname = id + ".example";
    info.port = 5051;
    info.id = AgentID(id);
    info.resources = res(resources);
    totals_[AgentID(id)] = info.resources;
    for (const auto& [_, r] : used) outstanding_[AgentID(id)] += r;
    allocator_->addAgent(AgentID(id), info, info.resources, used);
  }

  void addFramework(const std::string& id, std::vector<std::string> roles = {},
                    const std::map<AgentID, Resources>& used = {}) {
    FrameworkInfo info;
    info.name = id;
    info.id = FrameworkID(id);
    info.roles = std::move(roles);
    if (info.roles.size() > 1) info.capabilities.push_back(FrameworkCapability::MULTI_ROLE);
    allocator_->addFramework(FrameworkID(id), info, used, true, {});
  }

  // Gives `r` (allocated form) back, and keeps the ledger.
  void recover(const std::string& fw, const std::string& agent, const Resources& r,
               std::optional<double> refuseSeconds = std::nullopt) {
    std::optional<Filters> filters;
    if (refuseSeconds) filters = Filters{*refuseSeconds};
    outstanding_[AgentID(agent)] -= r;
    allocator_->recoverResources(FrameworkID(fw), AgentID(agent), r, filters);
  }

  std::vector<Allocation> allocate(AllocationScope scope = AllocationScope::kAll) {
    offers_.clear();
    allocator_->allocate(scope);
    checkInvariant();
    return offers_;
  }

  // Never more handed out on an agent than it has.
  void checkInvariant() {
    for (const auto& [agent, r] : outstanding_) {
      auto total = totals_.find(agent);
      if (total == totals_.end()) continue;
      EXPECT_TRUE(total->second.contains(r.unallocate()))
          << "agent " << agent << " has " << total->second << " but " << r.unallocate()
          << " is offered or allocated";
    }
    Resources allocated;
    for (const auto& role : allocator_->roles()) allocated += role.allocated;
    Resources cluster;
    for (const auto& [_, t] : totals_) cluster += t;
    EXPECT_TRUE(cluster.contains(allocated.unallocate()))
        << "roles() report " << allocated.unallocate() << " of " << cluster;
  }

  Resources allocatedToRole(const std::string& role) {
    for (const auto& s : allocator_->roles()) {
      if (s.role == role) return s.allocated;
    }
    return Resources();
  }

  ManualClock clock_;
  std::unique_ptr<SimpleAllocator> allocator_;
  std::vector<Allocation> offers_;
  std::map<AgentID, Resources> outstanding_;
  std::map<AgentID, Resources> totals_;
};

TEST_F(SimpleAllocatorTest, SingleAgentIsOfferedWholeToOneFramework) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  EXPECT_TRUE(allocator_->hasPendingChanges());
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
  EXPECT_EQ(offers[0].role, "*");
  EXPECT_EQ(offers[0].agent, AgentID("a1"));
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
  EXPECT_FALSE(allocator_->hasPendingChanges());

  // Everything is allocated: nothing more to offer.
  EXPECT_TRUE(allocate().empty());
  EXPECT_EQ(allocatedToRole("*"), res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(SimpleAllocatorTest, NothingWithoutFrameworksOrAgents) {
  addAgent("a1", "cpus:4;mem:4096");
  EXPECT_TRUE(allocate().empty());
  initialize({});
  addFramework("f1");
  EXPECT_TRUE(allocate().empty());
}

TEST_F(SimpleAllocatorTest, ChangedScopeLooksOnlyAtChangedAgents) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto first = allocate();
  ASSERT_EQ(first.size(), 1u);
  addAgent("a2", "cpus:2;mem:1024");
  auto second = allocate(AllocationScope::kChanged);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].agent, AgentID("a2"));
  EXPECT_TRUE(allocate(AllocationScope::kChanged).empty());
}

TEST_F(SimpleAllocatorTest, EachFrameworkGetsAnAgentInTurn) {
  addFramework("f1");
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  std::map<AgentID, FrameworkID> byAgent;
  for (const auto& o : offers) byAgent[o.agent] = o.framework;
  // Equal shares: f1 (first id) gets a1; then f1's share is higher and f2
  // gets a2.
  EXPECT_EQ(byAgent[AgentID("a1")], FrameworkID("f1"));
  EXPECT_EQ(byAgent[AgentID("a2")], FrameworkID("f2"));
}

TEST_F(SimpleAllocatorTest, LowerDominantShareGoesFirst) {
  // f1 already uses half of a1's memory: its dominant share is higher.
  addFramework("f1");
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096", {{FrameworkID("f1"), res("cpus:1;mem:2048").allocate("*")}});
  addAgent("a2", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  std::map<AgentID, Allocation> byAgent;
  for (const auto& o : offers) byAgent[o.agent] = o;
  // f2 (share 0) comes before f1 (share 0.25 of mem) for both agents; after
  // a1's rest, f2's share is 3/8 cpus, above f1's 1/4 of mem, so f1 gets a2.
  EXPECT_EQ(byAgent[AgentID("a1")].framework, FrameworkID("f2"));
  EXPECT_EQ(byAgent[AgentID("a1")].resources, res("cpus:3;mem:2048").allocate("*"));
  EXPECT_EQ(byAgent[AgentID("a2")].framework, FrameworkID("f1"));
}

// f1 (role "a") uses 2 of 12 cpus, f2 (role "b") 1 of 12: without weights
// f2 comes first; with weight 4 for "a", f1's share 2/12/4 is below 1/12.
TEST_F(SimpleAllocatorTest, RoleWeightScalesTheShare) {
  auto scenario = [this](std::optional<double> weightOfA) {
    initialize({});
    offers_.clear();
    outstanding_.clear();
    totals_.clear();
    addFramework("f1", {"a"});
    addFramework("f2", {"b"});
    addAgent("a1", "cpus:2;mem:128", {{FrameworkID("f1"), res("cpus:2;mem:128").allocate("a")}});
    addAgent("a2", "cpus:1;mem:128", {{FrameworkID("f2"), res("cpus:1;mem:128").allocate("b")}});
    addAgent("a3", "cpus:9;mem:12032");
    if (weightOfA) allocator_->updateWeights({{"a", *weightOfA}});
    auto offers = allocate();
    EXPECT_EQ(offers.size(), 1u);
    return offers.empty() ? FrameworkID() : offers[0].framework;
  };
  EXPECT_EQ(scenario(std::nullopt), FrameworkID("f2"));
  EXPECT_EQ(scenario(4.0), FrameworkID("f1"));
  bool weightReported = false;
  for (const auto& s : allocator_->roles()) {
    if (s.role == "a") weightReported = s.weight == 4.0;
  }
  EXPECT_TRUE(weightReported);
}

TEST_F(SimpleAllocatorTest, RefuseFilterBlocksUntilItExpires) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  recover("f1", "a1", offers[0].resources, 5.0);
  EXPECT_TRUE(allocate(AllocationScope::kChanged).empty());
  clock_.advance(4999ms);
  EXPECT_TRUE(allocate().empty());
  clock_.advance(1ms);
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(SimpleAllocatorTest, RefuseFilterIsPerFramework) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  addFramework("f2");
  recover("f1", "a1", offers[0].resources, 5.0);
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));

  // f2 gives it back without a filter: f1 is still filtered, f2 gets it.
  recover("f2", "a1", offers[0].resources);
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));
}

TEST_F(SimpleAllocatorTest, RefuseFilterIsPerAgent) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  recover("f1", "a1", offers[0].resources, 60.0);
  addAgent("a2", "cpus:4;mem:4096");
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agent, AgentID("a2"));
}

TEST_F(SimpleAllocatorTest, RefuseFilterDoesNotBlockMoreResources) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  // Declines a part (as the rest of an accept does), then the rest comes
  // back too: the whole agent is more than what was refused.
  recover("f1", "a1", res("cpus:3;mem:3968").allocate("*"), 60.0);
  EXPECT_TRUE(allocate().empty());
  recover("f1", "a1", res("cpus:1;mem:128").allocate("*"));
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

TEST_F(SimpleAllocatorTest, ZeroRefuseSecondsInstallsNoFilter) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  recover("f1", "a1", offers[0].resources, 0.0);
  EXPECT_EQ(allocate(AllocationScope::kChanged).size(), 1u);
}

TEST_F(SimpleAllocatorTest, SuppressAndRevive) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->suppressOffers(FrameworkID("f1"), {});
  EXPECT_TRUE(allocate().empty());
  auto summary = allocatedToRole("*");
  EXPECT_TRUE(summary.empty());

  allocator_->reviveOffers(FrameworkID("f1"), {});
  EXPECT_TRUE(allocator_->hasPendingChanges());
  auto offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
}

TEST_F(SimpleAllocatorTest, SuppressOneRoleOfAMultiRoleFramework) {
  addFramework("f1", {"a", "b"});
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->suppressOffers(FrameworkID("f1"), {"a"});
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].role, "b");
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("b"));
}

TEST_F(SimpleAllocatorTest, ReviveClearsRefuseFilters) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  recover("f1", "a1", offers[0].resources, 3600.0);
  EXPECT_TRUE(allocate().empty());
  allocator_->reviveOffers(FrameworkID("f1"), {});
  EXPECT_EQ(allocate().size(), 1u);
}

TEST_F(SimpleAllocatorTest, DeactivatedFrameworkGetsNoOffers) {
  addFramework("f1");
  addFramework("f2");
  allocator_->deactivateFramework(FrameworkID("f1"));
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));

  recover("f2", "a1", offers[0].resources);
  allocator_->deactivateFramework(FrameworkID("f2"));
  EXPECT_TRUE(allocate().empty());

  allocator_->activateFramework(FrameworkID("f1"));
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
}

TEST_F(SimpleAllocatorTest, ReservedResourcesOnlyForTheRoleAndItsSubRoles) {
  addFramework("f1");                 // "*"
  addFramework("f2", {"ops"});        // another role
  addFramework("f3", {"engineering"});  // same prefix, not a sub-role
  addAgent("a1", "cpus(eng):1;cpus:3;mem:1024");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f1"));
  EXPECT_EQ(offers[0].resources, res("cpus:3;mem:1024").allocate("*"));
  // The reservation stays unoffered: nobody is in "eng".
  EXPECT_TRUE(allocate().empty());

  addFramework("f4", {"eng/web"});
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f4"));
  EXPECT_EQ(offers[0].role, "eng/web");
  EXPECT_EQ(offers[0].resources, res("cpus(eng):1").allocate("eng/web"));
}

TEST_F(SimpleAllocatorTest, ReservationForASubRoleIsNotOfferedToItsParent) {
  addFramework("f1", {"eng"});
  addAgent("a1", "cpus(eng/web):1;cpus:1;mem:128");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:1;mem:128").allocate("eng"));
}

TEST_F(SimpleAllocatorTest, FrameworkInTheReservedRoleGetsBoth) {
  addFramework("f1", {"eng"});
  addAgent("a1", "cpus(eng):1;cpus:3;mem:1024");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].role, "eng");
  EXPECT_EQ(offers[0].resources, res("cpus(eng):1;cpus:3;mem:1024").allocate("eng"));
}

TEST_F(SimpleAllocatorTest, MinAllocatableResourcesBlockTinyLeftovers) {
  AllocatorOptions options;
  options.minAllocatableResources = {res("cpus:0.01"), res("mem:32")};
  initialize(options);
  addFramework("f1");
  addAgent("a1", "cpus:1;mem:64");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);

  // A tiny piece comes back: below both minimums.
  recover("f1", "a1", res("cpus:0.005;mem:16").allocate("*"));
  EXPECT_TRUE(allocate().empty());
  // More memory: mem:32 meets the second alternative.
  recover("f1", "a1", res("mem:16").allocate("*"));
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:0.005;mem:32").allocate("*"));
}

TEST_F(SimpleAllocatorTest, MinAllocatableCpusAlone) {
  AllocatorOptions options;
  options.minAllocatableResources = {res("cpus:0.01"), res("mem:32")};
  initialize(options);
  addFramework("f1");
  addAgent("a1", "cpus:0.01;mem:1");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:0.01;mem:1").allocate("*"));
}

TEST_F(SimpleAllocatorTest, WithoutMinimumsAnythingIsOffered) {
  addFramework("f1");
  addAgent("a1", "disk:1");
  EXPECT_EQ(allocate().size(), 1u);
}

TEST_F(SimpleAllocatorTest, RemoveFrameworkFreesItsAllocation) {
  addFramework("f1");
  addFramework("f2");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  ASSERT_EQ(offers[0].framework, FrameworkID("f1"));
  outstanding_.erase(AgentID("a1"));  // the master forgets f1's offers
  allocator_->removeFramework(FrameworkID("f1"));
  EXPECT_TRUE(allocator_->hasPendingChanges());
  offers = allocate(AllocationScope::kChanged);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].framework, FrameworkID("f2"));
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
  for (const auto& s : allocator_->roles()) EXPECT_EQ(s.frameworks.count(FrameworkID("f1")), 0u);
}

TEST_F(SimpleAllocatorTest, RemoveAgentDropsItsAllocation) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:2;mem:1024");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(allocatedToRole("*"), res("cpus:6;mem:5120").allocate("*"));

  allocator_->removeAgent(AgentID("a1"));
  totals_.erase(AgentID("a1"));
  outstanding_.erase(AgentID("a1"));
  EXPECT_EQ(allocatedToRole("*"), res("cpus:2;mem:1024").allocate("*"));
  EXPECT_TRUE(allocate().empty());

  // The same agent coming back is offered whole.
  addAgent("a1", "cpus:4;mem:4096");
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agent, AgentID("a1"));
  EXPECT_EQ(offers[0].resources, res("cpus:4;mem:4096").allocate("*"));
}

// removeAgent() already dropped what the frameworks had there; a late
// recoverResources() for that agent (e.g. an offer callback racing with the
// removal, as Mesos allows for) must not subtract it a second time.
TEST_F(SimpleAllocatorTest, LateRecoveryForARemovedAgentChangesNothing) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  addAgent("a2", "cpus:2;mem:1024");
  ASSERT_EQ(allocate().size(), 2u);
  allocator_->removeAgent(AgentID("a1"));
  totals_.erase(AgentID("a1"));
  outstanding_.erase(AgentID("a1"));
  allocator_->recoverResources(FrameworkID("f1"), AgentID("a1"),
                               res("cpus:4;mem:4096").allocate("*"), std::nullopt);
  EXPECT_EQ(allocatedToRole("*"), res("cpus:2;mem:1024").allocate("*"));
}

TEST_F(SimpleAllocatorTest, DeactivatedAgentIsNotOffered) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  allocator_->deactivateAgent(AgentID("a1"));
  EXPECT_TRUE(allocate().empty());
  allocator_->activateAgent(AgentID("a1"));
  EXPECT_EQ(allocate(AllocationScope::kChanged).size(), 1u);
}

TEST_F(SimpleAllocatorTest, UpdateAllocationMovesResources) {
  addFramework("f1");
  addAgent("a1", "cpus:4;mem:4096");
  auto offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  // What the master does for a task reported by a reconnecting agent.
  Resources before = res("cpus:4;mem:4096").allocate("*");
  Resources after = res("cpus:2;mem:2048").allocate("*");
  allocator_->updateAllocation(FrameworkID("f1"), AgentID("a1"), before, after);
  outstanding_[AgentID("a1")] = after;
  EXPECT_EQ(allocatedToRole("*"), after);
  offers = allocate();
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].resources, res("cpus:2;mem:2048").allocate("*"));
}

TEST_F(SimpleAllocatorTest, QuotaIsRecordedForRoles) {
  Quota q;
  q.guarantee = res("cpus:2");
  allocator_->updateQuota("eng", q);
  bool found = false;
  for (const auto& s : allocator_->roles()) {
    if (s.role == "eng") {
      found = true;
      ASSERT_TRUE(s.quota.has_value());
      EXPECT_EQ(s.quota->guarantee, res("cpus:2"));
    }
  }
  EXPECT_TRUE(found);
  allocator_->updateQuota("eng", std::nullopt);
  for (const auto& s : allocator_->roles()) EXPECT_NE(s.role, "eng");
}

// A long mixed sequence: offers, partial recoveries with and without
// filters, suppress/revive, agents leaving and joining, time passing. After
// every run nothing on an agent is handed out twice (checkInvariant()).
TEST_F(SimpleAllocatorTest, NeverOffersMoreThanAnAgentHas) {
  AllocatorOptions options;
  options.minAllocatableResources = {res("cpus:0.01"), res("mem:32")};
  initialize(options);
  addFramework("f1");
  addFramework("f2", {"eng"});
  addFramework("f3", {"eng/web", "ops"});
  addAgent("a1", "cpus:4;mem:4096;ports:[31000-31100]");
  addAgent("a2", "cpus(eng):2;cpus:2;mem:2048");
  addAgent("a3", "cpus(ops):1;mem(ops):512;cpus:1;mem:512");

  // Who holds what, from the callback, so the test can give parts back.
  std::map<std::pair<std::string, std::string>, Resources> held;  // (fw, agent) -> resources
  auto record = [&](const std::vector<Allocation>& offers) {
    for (const auto& o : offers) held[{o.framework.value, o.agent.value}] += o.resources;
  };
  int totalOffers = 0;
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto offers = allocate(round % 3 == 0 ? AllocationScope::kAll : AllocationScope::kChanged);
    totalOffers += static_cast<int>(offers.size());
    record(offers);
    // Give back half of some holdings (every resource halved where it can be).
    int i = 0;
    for (auto& [key, r] : held) {
      if (r.empty() || (i++ + round) % 2 != 0) continue;
      Resources part;
      for (const auto& x : r) {
        Resource half = x;
        if (x.type == Resource::Type::SCALAR) {
          half.scalarMillis = x.scalarMillis / 2;
        }
        part += half;
      }
      if (part.empty()) continue;
      std::optional<double> refuse;
      if (round % 4 == 1) refuse = 2.0;
      recover(key.first, key.second, part, refuse);
      r -= part;
    }
    if (round == 10) allocator_->suppressOffers(FrameworkID("f1"), {});
    if (round == 20) allocator_->reviveOffers(FrameworkID("f1"), {});
    if (round == 30) {
      allocator_->removeAgent(AgentID("a3"));
      totals_.erase(AgentID("a3"));
      outstanding_.erase(AgentID("a3"));
      for (auto it = held.begin(); it != held.end();) {
        it = it->first.second == "a3" ? held.erase(it) : std::next(it);
      }
    }
    if (round == 40) addAgent("a3", "cpus:2;mem:1024");
    if (round == 45) {
      // f2 leaves: its holdings are gone from the allocator and the ledger.
      for (auto it = held.begin(); it != held.end();) {
        if (it->first.first == "f2") {
          outstanding_[AgentID(it->first.second)] -= it->second;
          it = held.erase(it);
        } else {
          ++it;
        }
      }
      allocator_->removeFramework(FrameworkID("f2"));
    }
    clock_.advance(1s);
  }
  EXPECT_GT(totalOffers, 20);
}

}  // namespace
}  // namespace tutti::master
