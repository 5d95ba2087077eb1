// The fixture of the allocator's unit tests (allocator_*_test.cpp): the
// HierarchicalAllocator through the Allocator interface, with a manual
// clock and a callback that records every offer into a ledger of what each
// framework holds on each agent. After every allocation the ledger is
// compared with the allocator's own books (allocated + free == total per
// agent, nothing handed out twice) and the allocator re-checks its
// incremental aggregates from scratch. Include from test files only.
#pragma once

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
namespace allocator_test {

inline Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

inline Resources dynamicallyReserved(std::string_view text, const std::string& role) {
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

}  // namespace allocator_test
}  // namespace tutti::master
