// Internals of HierarchicalAllocator shared by its source files
// (hierarchical_allocator.cpp: roles and frameworks; hierarchical_agents.cpp:
// agents, holdings and recovery; hierarchical_cycle.cpp: the allocation
// cycle; hierarchical_reports.cpp: summaries and the consistency check).
// Not part of the allocator's interface: include only from those files.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string>

#include "master/allocator/hierarchical_allocator.hpp"

namespace tutti::master {
namespace hierarchical {

// Mesos caps refuse_seconds at a year; so do we.
inline constexpr double kMaxRefuseSeconds = 365.0 * 24 * 3600;

// The part of `a` that is also in `b` (same kinds), for scalars, ranges
// and sets alike.
inline Resources overlap(const Resources& a, const Resources& b) { return a - (a - b); }

// Number of components of a role path ("eng/web" is 2); 0 for "*".
inline int roleDepth(const std::string& role) {
  if (role == "*") return 0;
  return static_cast<int>(std::count(role.begin(), role.end(), '/')) + 1;
}

// The resources in unallocated form (a copy only when something has a role).
inline Resources withoutAllocationRoles(const Resources& resources) {
  bool any = std::any_of(resources.begin(), resources.end(),
                         [](const Resource& r) { return r.allocationRole.has_value(); });
  return any ? resources.unallocate() : resources;
}

// Groups entries by allocation role; entries without one go under
// `defaultRole` (and are given it).
inline std::map<std::string, Resources> splitByRole(const Resources& resources,
                                                    const std::string& defaultRole) {
  std::map<std::string, Resources> out;
  for (const auto& r : resources) {
    if (r.allocationRole) {
      out[*r.allocationRole] += r;
    } else {
      Resource c = r;
      c.allocationRole = defaultRole;
      out[defaultRole] += c;
    }
  }
  return out;
}

}  // namespace hierarchical

// ---- Internal records --------------------------------------------------------

struct HierarchicalAllocator::RoleNode {
  explicit RoleNode(const ShareBasis& basis) : children(basis), frameworks(basis) {}

  std::string name;  // "" for the root
  RoleNode* parent = nullptr;
  int depth = 0;  // the root is 0, "eng" 1, "eng/web" 2

  // Child roles plus `self`, the frameworks subscribed to this very role.
  DrfSorter children;
  DrfSorter::Handle self = 0;
  DrfSorter::Handle handle = 0;  // in parent->children
  std::vector<RoleNode*> childByHandle;
  DrfSorter frameworks;
  std::vector<FrameworkRole*> frameworkByHandle;

  int refs = 0;        // children, framework roles, holdings, agent reservations, quota
  int subscribed = 0;  // frameworks subscribed to this role
  double weight = 1.0;
  std::optional<Quota> quota;
  ScalarVec guarantee;
  std::vector<int64_t> limit;  // -1: no limit on that name
  bool hasLimit = false;

  ScalarVec allocated;     // this role and its sub-roles
  ScalarVec ownAllocated;  // this role only
  ScalarVec reservedFree;  // unallocated, reserved to this role or a sub-role
  int activeOwn = 0;       // active framework clients of this role
  int activeSubtree = 0;   // ... of this role and its sub-roles

  // offer.allocate(name) of recent whole idle agents (see allocatedForm()).
  struct OfferForm {
    Resources source;
    Resources allocated;
  };
  std::array<OfferForm, 4> offerForms;
  size_t nextOfferForm = 0;

  int64_t limitAt(size_t i) const { return i < limit.size() ? limit[i] : -1; }
};

struct HierarchicalAllocator::FrameworkRole {
  struct Filter {
    Resources resources;  // unallocated form
    TimePoint expires;
  };

  Framework* framework = nullptr;
  RoleNode* role = nullptr;
  DrfSorter::Handle handle = 0;  // in role->frameworks
  bool subscribed = false;       // false: only holds resources in the role
  bool suppressed = false;
  bool active = false;  // in the order: framework active, subscribed, not suppressed
  std::unordered_map<Agent*, std::vector<Filter>> filters;
  std::vector<Agent*> holdingAgents;  // Holding::ownerSlot indexes it
  uint64_t tried = 0;  // Visit id of the last attempt
  // Offers made in the running cycle, reported when it ends.
  std::vector<std::pair<Agent*, Resources>> offers;
};

struct HierarchicalAllocator::Framework {
  FrameworkID id;
  FrameworkInfo info;
  bool active = true;
  std::set<std::string> suppressed;
  std::map<std::string, std::unique_ptr<FrameworkRole>> roles;
};

// What one framework holds (offered + used) in one role on one agent.
struct HierarchicalAllocator::Holding {
  FrameworkID framework;
  RoleNode* role = nullptr;
  FrameworkRole* owner = nullptr;  // null: a framework the allocator does not know
  size_t ownerSlot = 0;            // in owner->holdingAgents
  Resources resources;             // unallocated form: the role is `role`
  ScalarVec scalars;               // of `resources`
};

struct HierarchicalAllocator::Agent {
  AgentID id;
  uint64_t seq = 0;
  bool active = true;
  Resources total;
  ScalarVec totalScalars;
  std::vector<RoleNode*> reservationRoles;  // referenced by `total`

  Resources free;  // unallocated form
  // Derived from `free` by admitFree().
  ScalarVec freeScalars;
  ScalarVec freeUnreserved;
  bool freeHasUnreserved = false;
  std::vector<std::pair<RoleNode*, ScalarVec>> freeReserved;  // by reservation role
  // In the list of offerable agents (active, free resources meet the minimum).
  bool offerable = false;
  Agent* prevOfferable = nullptr;
  Agent* nextOfferable = nullptr;
  bool changed = false;  // in changed_

  std::vector<Holding> holdings;
  std::unordered_set<FrameworkRole*> filteredBy;
};

// One attempt to place an agent's resources (one stage, one agent).
struct HierarchicalAllocator::Visit {
  uint64_t id = 0;
  int stage = 2;
  RoleNode* quotaRole = nullptr;  // stage 1: the role whose guarantee is served
  ScalarVec unmet;                // stage 1: what that guarantee still misses
  ScalarVec required;             // unmet guarantees of all roles (the headroom to keep)
};

}  // namespace tutti::master
