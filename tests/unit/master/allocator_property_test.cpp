// Unit tests for the hierarchical allocator: random sequences with invariants checked after every step.
#include "tests/unit/master/allocator_fixture.hpp"

namespace tutti::master {
namespace allocator_test {
namespace {

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

}  // namespace
}  // namespace allocator_test
}  // namespace tutti::master
