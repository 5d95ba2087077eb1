#include "master/allocator/hierarchical_allocator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace tutti::master {

namespace {

// Mesos caps refuse_seconds at a year; so do we.
constexpr double kMaxRefuseSeconds = 365.0 * 24 * 3600;

// The part of `a` that is also in `b` (same kinds), for scalars, ranges
// and sets alike.
Resources overlap(const Resources& a, const Resources& b) { return a - (a - b); }

// Number of components of a role path ("eng/web" is 2); 0 for "*".
int roleDepth(const std::string& role) {
  if (role == "*") return 0;
  return static_cast<int>(std::count(role.begin(), role.end(), '/')) + 1;
}

// The resources in unallocated form (a copy only when something has a role).
Resources withoutAllocationRoles(const Resources& resources) {
  bool any = std::any_of(resources.begin(), resources.end(),
                         [](const Resource& r) { return r.allocationRole.has_value(); });
  return any ? resources.unallocate() : resources;
}

// Groups entries by allocation role; entries without one go under
// `defaultRole` (and are given it).
std::map<std::string, Resources> splitByRole(const Resources& resources,
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

}  // namespace

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

bool HierarchicalAllocator::AgentBySeq::operator()(const Agent* a, const Agent* b) const {
  return a->seq < b->seq;
}

HierarchicalAllocator::HierarchicalAllocator()
    : root_(std::make_unique<RoleNode>(basis_)) {
  root_->self = root_->children.add();
}

HierarchicalAllocator::~HierarchicalAllocator() = default;

void HierarchicalAllocator::initialize(const AllocatorOptions& options, Clock& clock,
                                       OfferCallback offerCallback) {
  options_ = options;
  clock_ = &clock;
  offerCallback_ = std::move(offerCallback);
  minimums_.clear();
  scalarMinimums_.clear();
  minimumsAreScalars_ = true;
  for (const auto& m : options_.minAllocatableResources) {
    if (m.empty()) continue;
    minimums_.push_back(m.flatten());
    std::vector<std::pair<size_t, int64_t>> alternative;
    for (const auto& r : minimums_.back()) {
      if (r.type != Resource::Type::SCALAR) minimumsAreScalars_ = false;
      alternative.emplace_back(names_.id(r.name), r.scalarMillis);
    }
    scalarMinimums_.push_back(std::move(alternative));
  }
  basisDirty_ = true;
}

// ---- Roles -------------------------------------------------------------------

HierarchicalAllocator::RoleNode* HierarchicalAllocator::findRole(const std::string& name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : it->second.get();
}

HierarchicalAllocator::RoleNode* HierarchicalAllocator::acquireRole(const std::string& name) {
  RoleNode* node = findRole(name);
  if (!node) {
    size_t slash = name.rfind('/');
    // The new child holds a reference on its parent.
    RoleNode* parent =
        slash == std::string::npos ? root_.get() : acquireRole(name.substr(0, slash));
    auto owned = std::make_unique<RoleNode>(basis_);
    node = owned.get();
    node->name = name;
    node->parent = parent;
    node->depth = parent->depth + 1;
    auto w = weights_.find(name);
    node->weight = w == weights_.end() ? 1.0 : w->second;
    node->self = node->children.add();
    node->handle = parent->children.add(node->weight);
    auto& byHandle = parent->childByHandle;
    if (byHandle.size() <= node->handle) byHandle.resize(node->handle + 1);
    byHandle[node->handle] = node;
    roles_.emplace(name, std::move(owned));
  }
  ++node->refs;
  return node;
}

void HierarchicalAllocator::releaseRole(RoleNode* node) {
  if (node == root_.get()) return;
  --node->refs;
  maybeRemoveRole(node);
}

void HierarchicalAllocator::maybeRemoveRole(RoleNode* node) {
  if (node == root_.get() || node->refs > 0) return;
  RoleNode* parent = node->parent;
  parent->children.remove(node->handle);
  parent->childByHandle[node->handle] = nullptr;
  quotaRoles_.erase(node);
  roles_.erase(node->name);
  releaseRole(parent);
}

bool HierarchicalAllocator::isSelfOrAncestor(const RoleNode* ancestor, const RoleNode* node) {
  for (; node; node = node->parent) {
    if (node == ancestor) return true;
    if (node->depth <= ancestor->depth) return false;
  }
  return false;
}

void HierarchicalAllocator::changeRoleAllocation(RoleNode* node, const ScalarVec& delta, int sign,
                                                 bool countOffer) {
  if (sign > 0) {
    addScalars(node->ownAllocated, delta);
    node->children.allocate(node->self, delta, countOffer);
  } else {
    subtractScalars(node->ownAllocated, delta);
    node->children.unallocate(node->self, delta);
  }
  for (RoleNode* n = node; n != root_.get(); n = n->parent) {
    if (sign > 0) {
      addScalars(n->allocated, delta);
      n->parent->children.allocate(n->handle, delta, countOffer);
    } else {
      subtractScalars(n->allocated, delta);
      n->parent->children.unallocate(n->handle, delta);
    }
  }
}

void HierarchicalAllocator::changeReservedFree(RoleNode* node, const ScalarVec& delta, int sign) {
  for (RoleNode* n = node; n != root_.get(); n = n->parent) {
    if (sign > 0) {
      addScalars(n->reservedFree, delta);
    } else {
      subtractScalars(n->reservedFree, delta);
    }
  }
}

void HierarchicalAllocator::changeActiveCount(RoleNode* node, int delta) {
  bool before = node->activeOwn > 0;
  node->activeOwn += delta;
  if (before != (node->activeOwn > 0)) node->children.setActive(node->self, node->activeOwn > 0);
  for (RoleNode* n = node; n != root_.get(); n = n->parent) {
    bool was = n->activeSubtree > 0;
    n->activeSubtree += delta;
    if (was != (n->activeSubtree > 0)) n->parent->children.setActive(n->handle, !was);
  }
}

ScalarVec HierarchicalAllocator::consumption(const RoleNode* node) const {
  ScalarVec c = node->allocated;
  addScalars(c, node->reservedFree);
  return c;
}

void HierarchicalAllocator::setQuotaVectors(RoleNode* node) {
  node->guarantee.clear();
  node->limit.clear();
  node->hasLimit = false;
  if (!node->quota) return;
  for (const auto& r : node->quota->guarantee) {
    if (r.type != Resource::Type::SCALAR) continue;
    size_t id = names_.id(r.name);
    if (node->guarantee.size() <= id) node->guarantee.resize(id + 1, 0);
    node->guarantee[id] += r.scalarMillis;
  }
  for (const auto& r : node->quota->limit) {
    if (r.type != Resource::Type::SCALAR) continue;
    size_t id = names_.id(r.name);
    if (node->limit.size() <= id) node->limit.resize(id + 1, -1);
    node->limit[id] = std::max<int64_t>(node->limit[id], 0) + r.scalarMillis;
    node->hasLimit = true;
  }
}

// ---- Frameworks --------------------------------------------------------------

HierarchicalAllocator::FrameworkRole* HierarchicalAllocator::frameworkRole(Framework& fw,
                                                                           const std::string& role,
                                                                           bool subscribe) {
  auto it = fw.roles.find(role);
  FrameworkRole* fr;
  if (it == fw.roles.end()) {
    auto owned = std::make_unique<FrameworkRole>();
    fr = owned.get();
    fr->framework = &fw;
    fr->role = acquireRole(role);
    fr->handle = fr->role->frameworks.add();
    auto& byHandle = fr->role->frameworkByHandle;
    if (byHandle.size() <= fr->handle) byHandle.resize(fr->handle + 1);
    byHandle[fr->handle] = fr;
    fr->suppressed = fw.suppressed.count(role) > 0;
    fw.roles.emplace(role, std::move(owned));
  } else {
    fr = it->second.get();
  }
  if (subscribe && !fr->subscribed) {
    fr->subscribed = true;
    ++fr->role->subscribed;
  }
  return fr;
}

void HierarchicalAllocator::maybeRemoveFrameworkRole(FrameworkRole* fr) {
  if (fr->subscribed || !fr->holdingAgents.empty()) return;
  clearFilters(fr);
  if (fr->active) {
    fr->active = false;
    fr->role->frameworks.setActive(fr->handle, false);
    changeActiveCount(fr->role, -1);
  }
  RoleNode* role = fr->role;
  role->frameworks.remove(fr->handle);
  role->frameworkByHandle[fr->handle] = nullptr;
  fr->framework->roles.erase(role->name);  // destroys fr
  releaseRole(role);
}

void HierarchicalAllocator::syncActive(FrameworkRole* fr) {
  bool want = fr->framework->active && fr->subscribed && !fr->suppressed;
  if (want == fr->active) return;
  fr->active = want;
  fr->role->frameworks.setActive(fr->handle, want);
  changeActiveCount(fr->role, want ? 1 : -1);
}

void HierarchicalAllocator::clearFilters(FrameworkRole* fr) {
  for (auto& [agent, list] : fr->filters) {
    agent->filteredBy.erase(fr);
    liveFilters_ -= list.size();
  }
  fr->filters.clear();
}

void HierarchicalAllocator::applyRoles(Framework& fw, const FrameworkInfo& info,
                                       const std::set<std::string>& suppressedRoles) {
  fw.info = info;
  fw.suppressed = suppressedRoles;
  std::vector<std::string> wanted = info.effectiveRoles();
  std::set<std::string> wantedSet(wanted.begin(), wanted.end());
  for (auto& [name, fr] : fw.roles) {
    if (fr->subscribed && !wantedSet.count(name)) {
      fr->subscribed = false;
      --fr->role->subscribed;
    }
  }
  for (const auto& role : wanted) frameworkRole(fw, role, true);
  std::vector<FrameworkRole*> all;
  for (auto& [name, fr] : fw.roles) {
    fr->suppressed = fw.suppressed.count(name) > 0;
    syncActive(fr.get());
    all.push_back(fr.get());
  }
  for (FrameworkRole* fr : all) maybeRemoveFrameworkRole(fr);
}

void HierarchicalAllocator::addFramework(const FrameworkID& id, const FrameworkInfo& info,
                                         const std::map<AgentID, Resources>& used, bool active,
                                         const std::set<std::string>& suppressedRoles) {
  auto& slot = frameworks_[id];
  if (!slot) {
    slot = std::make_unique<Framework>();
    slot->id = id;
  }
  Framework& fw = *slot;
  fw.active = active;
  applyRoles(fw, info, suppressedRoles);

  // Holdings recorded by addAgent(used) before the framework was known.
  auto orphans = orphans_.find(id);
  if (orphans != orphans_.end()) {
    AgentSet agents = std::move(orphans->second);
    orphans_.erase(orphans);
    for (Agent* agent : agents) {
      for (size_t i = 0; i < agent->holdings.size(); ++i) {
        if (agent->holdings[i].framework != id || agent->holdings[i].owner) continue;
        FrameworkRole* fr = frameworkRole(fw, agent->holdings[i].role->name, false);
        Holding& h = agent->holdings[i];  // frameworkRole() may not touch holdings
        h.owner = fr;
        h.ownerSlot = fr->holdingAgents.size();
        fr->holdingAgents.push_back(agent);
        fr->role->frameworks.allocate(fr->handle, h.scalars);
      }
    }
  }

  const std::string defaultRole = info.effectiveRoles().front();
  for (const auto& [agentId, resources] : used) {
    auto agent = agents_.find(agentId);
    if (agent == agents_.end()) continue;  // addAgent(used) will report it
    for (const auto& [role, part] : splitByRole(resources, defaultRole)) {
      takeUsed(*agent->second, id, part);
    }
  }
  globalChange_ = true;
}

void HierarchicalAllocator::removeFramework(const FrameworkID& id) {
  AgentSet agents;
  auto it = frameworks_.find(id);
  if (it != frameworks_.end()) {
    Framework& fw = *it->second;
    fw.active = false;
    for (auto& [name, fr] : fw.roles) {
      if (fr->subscribed) {
        fr->subscribed = false;
        --fr->role->subscribed;
      }
      syncActive(fr.get());
      clearFilters(fr.get());
      agents.insert(fr->holdingAgents.begin(), fr->holdingAgents.end());
    }
  }
  auto orphans = orphans_.find(id);
  if (orphans != orphans_.end()) agents.insert(orphans->second.begin(), orphans->second.end());

  for (Agent* agent : agents) {
    for (size_t i = agent->holdings.size(); i-- > 0;) {
      if (agent->holdings[i].framework != id) continue;
      Resources all = agent->holdings[i].resources;
      giveBack(*agent, i, all);
    }
    markChanged(*agent);
  }

  if (it != frameworks_.end()) {
    std::vector<FrameworkRole*> left;
    for (auto& [name, fr] : it->second->roles) left.push_back(fr.get());
    for (FrameworkRole* fr : left) maybeRemoveFrameworkRole(fr);
    frameworks_.erase(it);
  }
}

void HierarchicalAllocator::activateFramework(const FrameworkID& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  it->second->active = true;
  for (auto& [name, fr] : it->second->roles) syncActive(fr.get());
  globalChange_ = true;
}

void HierarchicalAllocator::deactivateFramework(const FrameworkID& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  it->second->active = false;
  for (auto& [name, fr] : it->second->roles) {
    syncActive(fr.get());
    clearFilters(fr.get());  // as Mesos: a re-activated framework starts afresh
  }
}

void HierarchicalAllocator::updateFramework(const FrameworkID& id, const FrameworkInfo& info,
                                            const std::set<std::string>& suppressedRoles) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  applyRoles(*it->second, info, suppressedRoles);
  globalChange_ = true;
}

void HierarchicalAllocator::suppressOffers(const FrameworkID& framework,
                                           const std::set<std::string>& roles) {
  auto it = frameworks_.find(framework);
  if (it == frameworks_.end()) return;
  Framework& fw = *it->second;
  if (roles.empty()) {
    for (const auto& r : fw.info.effectiveRoles()) fw.suppressed.insert(r);
  } else {
    fw.suppressed.insert(roles.begin(), roles.end());
  }
  for (auto& [name, fr] : fw.roles) {
    fr->suppressed = fw.suppressed.count(name) > 0;
    syncActive(fr.get());
  }
}

void HierarchicalAllocator::reviveOffers(const FrameworkID& framework,
                                         const std::set<std::string>& roles) {
  auto it = frameworks_.find(framework);
  if (it == frameworks_.end()) return;
  Framework& fw = *it->second;
  if (roles.empty()) {
    fw.suppressed.clear();
  } else {
    for (const auto& r : roles) fw.suppressed.erase(r);
  }
  for (auto& [name, fr] : fw.roles) {
    if (roles.empty() || roles.count(name)) clearFilters(fr.get());
    fr->suppressed = fw.suppressed.count(name) > 0;
    syncActive(fr.get());
  }
  globalChange_ = true;
}

void HierarchicalAllocator::updateWeights(const std::map<std::string, double>& weights) {
  for (const auto& [role, w] : weights) {
    if (!(w > 0) || !std::isfinite(w)) continue;  // the master validates; ignore nonsense
    if (w == 1.0) {
      weights_.erase(role);
    } else {
      weights_[role] = w;
    }
    if (RoleNode* node = findRole(role)) {
      node->weight = w;
      node->parent->children.setWeight(node->handle, w);
    }
  }
  globalChange_ = true;
}

void HierarchicalAllocator::updateQuota(const std::string& role,
                                        const std::optional<Quota>& quota) {
  RoleNode* node = findRole(role);
  if (quota) {
    if (!node || !node->quota) node = acquireRole(role);  // the quota's reference
    node->quota = *quota;
    setQuotaVectors(node);
    quotaRoles_.insert(node);
  } else if (node && node->quota) {
    node->quota.reset();
    setQuotaVectors(node);
    quotaRoles_.erase(node);
    releaseRole(node);
  }
  globalChange_ = true;
}

// ---- Agents and holdings -------------------------------------------------------

ScalarVec HierarchicalAllocator::scalarsOf(const Resources& resources) {
  ScalarVec v;
  for (const auto& r : resources) {
    if (r.type != Resource::Type::SCALAR) continue;
    size_t id = names_.id(r.name);
    if (v.size() <= id) v.resize(id + 1, 0);
    v[id] += r.scalarMillis;
  }
  return v;
}

HierarchicalAllocator::Holding* HierarchicalAllocator::findHolding(Agent& agent,
                                                                   const FrameworkID& fw,
                                                                   const std::string& role) {
  for (auto& h : agent.holdings) {
    if (h.framework == fw && h.role->name == role) return &h;
  }
  return nullptr;
}

HierarchicalAllocator::Holding& HierarchicalAllocator::holdingFor(Agent& agent,
                                                                  const FrameworkID& fw,
                                                                  const std::string& role) {
  if (Holding* h = findHolding(agent, fw, role)) return *h;
  auto it = frameworks_.find(fw);
  if (it == frameworks_.end()) return newHolding(agent, fw, acquireRole(role), nullptr);
  FrameworkRole* owner = frameworkRole(*it->second, role, false);
  ++owner->role->refs;
  return newHolding(agent, fw, owner->role, owner);
}

HierarchicalAllocator::Holding& HierarchicalAllocator::holdingFor(Agent& agent,
                                                                  FrameworkRole& owner) {
  for (auto& h : agent.holdings) {
    if (h.owner == &owner) return h;
  }
  ++owner.role->refs;
  return newHolding(agent, owner.framework->id, owner.role, &owner);
}

HierarchicalAllocator::Holding& HierarchicalAllocator::newHolding(Agent& agent,
                                                                  const FrameworkID& fw,
                                                                  RoleNode* role,
                                                                  FrameworkRole* owner) {
  Holding h;
  h.framework = fw;
  h.role = role;  // the caller took the holding's reference
  h.owner = owner;
  if (owner) {
    h.ownerSlot = owner->holdingAgents.size();
    owner->holdingAgents.push_back(&agent);
  } else {
    orphans_[fw].insert(&agent);
  }
  agent.holdings.push_back(std::move(h));
  return agent.holdings.back();
}

void HierarchicalAllocator::dropHolding(Agent& agent, size_t index) {
  Holding h = std::move(agent.holdings[index]);
  if (index + 1 != agent.holdings.size()) agent.holdings[index] = std::move(agent.holdings.back());
  agent.holdings.pop_back();
  if (h.owner) {
    // Swap-remove from the owner's list and fix the moved entry's slot.
    auto& list = h.owner->holdingAgents;
    Agent* moved = list.back();
    list[h.ownerSlot] = moved;
    list.pop_back();
    if (h.ownerSlot < list.size()) {
      for (auto& other : moved->holdings) {
        if (other.owner == h.owner) other.ownerSlot = h.ownerSlot;
      }
    }
    maybeRemoveFrameworkRole(h.owner);
  } else {
    auto it = orphans_.find(h.framework);
    if (it != orphans_.end()) {
      it->second.erase(&agent);
      if (it->second.empty()) orphans_.erase(it);
    }
  }
  releaseRole(h.role);
}

void HierarchicalAllocator::addToHolding(Holding& holding, Resources unallocated,
                                         const ScalarVec& scalars, bool countOffer) {
  if (holding.resources.empty()) {
    holding.resources = std::move(unallocated);
  } else {
    holding.resources += unallocated;
  }
  addScalars(holding.scalars, scalars);
  changeRoleAllocation(holding.role, scalars, +1, countOffer);
  if (holding.owner) {
    holding.owner->role->frameworks.allocate(holding.owner->handle, scalars, countOffer);
  }
}

void HierarchicalAllocator::removeFromHolding(Holding& holding, const Resources& unallocated,
                                              const ScalarVec& scalars) {
  holding.resources -= unallocated;
  subtractScalars(holding.scalars, scalars);
  changeRoleAllocation(holding.role, scalars, -1, false);
  if (holding.owner) holding.owner->role->frameworks.unallocate(holding.owner->handle, scalars);
}

void HierarchicalAllocator::takeUsed(Agent& agent, const FrameworkID& fw,
                                     const Resources& wanted) {
  if (wanted.empty()) return;
  const std::string role = *wanted.begin()->allocationRole;
  Holding* existing = findHolding(agent, fw, role);
  // What is already recorded is the same usage reported again: only the
  // rest is new, and only as far as the agent has it free.
  Resources extra = wanted.unallocate();
  if (existing) extra -= existing->resources;
  Resources taken = overlap(agent.free, extra);
  if (taken.empty()) return;
  retireFree(agent);
  agent.free -= taken;
  admitFree(agent);
  Holding& h = holdingFor(agent, fw, role);
  ScalarVec scalars = scalarsOf(taken);
  addToHolding(h, std::move(taken), scalars, false);
}

Resources HierarchicalAllocator::giveBack(Agent& agent, size_t index, const Resources& part) {
  Holding& h = agent.holdings[index];
  Resources actual = overlap(h.resources, part);
  if (actual.empty()) return actual;
  removeFromHolding(h, actual, scalarsOf(actual));
  bool empty = h.resources.empty();
  retireFree(agent);
  agent.free += actual;
  admitFree(agent);
  if (empty) dropHolding(agent, index);
  return actual;
}

void HierarchicalAllocator::retireFree(Agent& agent) {
  if (agent.active) subtractScalars(freeUnreserved_, agent.freeUnreserved);
  for (const auto& [node, v] : agent.freeReserved) changeReservedFree(node, v, -1);
}

void HierarchicalAllocator::admitFree(Agent& agent) {
  agent.freeScalars.clear();
  agent.freeUnreserved.clear();
  agent.freeReserved.clear();
  agent.freeHasUnreserved = false;
  for (const auto& r : agent.free) {
    bool scalar = r.type == Resource::Type::SCALAR;
    size_t id = scalar ? names_.id(r.name) : 0;
    auto add = [&](ScalarVec& v) {
      if (!scalar) return;
      if (v.size() <= id) v.resize(id + 1, 0);
      v[id] += r.scalarMillis;
    };
    add(agent.freeScalars);
    if (!r.isReserved()) {
      agent.freeHasUnreserved = true;
      add(agent.freeUnreserved);
      continue;
    }
    RoleNode* node = findRole(r.reservationRole());
    if (!node) continue;  // cannot happen: the agent's total references it
    auto slot = std::find_if(agent.freeReserved.begin(), agent.freeReserved.end(),
                             [&](const auto& p) { return p.first == node; });
    if (slot == agent.freeReserved.end()) {
      agent.freeReserved.emplace_back(node, ScalarVec{});
      slot = agent.freeReserved.end() - 1;
    }
    add(slot->second);
  }
  if (agent.active) addScalars(freeUnreserved_, agent.freeUnreserved);
  for (const auto& [node, v] : agent.freeReserved) changeReservedFree(node, v, +1);
  setOfferable(agent, agent.active && meetsMinimum(agent.free, agent.freeScalars));
}

void HierarchicalAllocator::setTotal(Agent& agent, const Resources& total) {
  std::set<std::string> roles;
  for (const auto& r : total) {
    if (r.isReserved()) roles.insert(r.reservationRole());
  }
  std::vector<RoleNode*> acquired;
  for (const auto& role : roles) acquired.push_back(acquireRole(role));
  std::vector<RoleNode*> old = std::move(agent.reservationRoles);
  agent.reservationRoles = std::move(acquired);
  for (RoleNode* node : old) releaseRole(node);

  ScalarVec scalars = scalarsOf(total);
  if (scalars != agent.totalScalars) {
    subtractScalars(clusterTotal_, agent.totalScalars);
    addScalars(clusterTotal_, scalars);
    agent.totalScalars = std::move(scalars);
    basisDirty_ = true;
  }
  agent.total = total;
}

void HierarchicalAllocator::markChanged(Agent& agent) {
  if (agent.changed) return;
  agent.changed = true;
  changed_.push_back(&agent);
}

void HierarchicalAllocator::setOfferable(Agent& agent, bool offerable) {
  if (agent.offerable == offerable) return;
  agent.offerable = offerable;
  if (offerable) {
    agent.prevOfferable = offerableTail_;
    agent.nextOfferable = nullptr;
    (offerableTail_ ? offerableTail_->nextOfferable : offerableHead_) = &agent;
    offerableTail_ = &agent;
    ++offerableCount_;
  } else {
    (agent.prevOfferable ? agent.prevOfferable->nextOfferable : offerableHead_) =
        agent.nextOfferable;
    (agent.nextOfferable ? agent.nextOfferable->prevOfferable : offerableTail_) =
        agent.prevOfferable;
    agent.prevOfferable = agent.nextOfferable = nullptr;
    --offerableCount_;
  }
}

void HierarchicalAllocator::addAgent(const AgentID& id, const AgentInfo& info,
                                     const Resources& total,
                                     const std::map<FrameworkID, Resources>& used) {
  if (agents_.count(id)) removeAgent(id);
  auto owned = std::make_unique<Agent>();
  Agent& agent = *owned;
  agent.id = id;
  agent.seq = nextAgentSeq_++;
  agents_.emplace(id, std::move(owned));
  setTotal(agent, withoutAllocationRoles(total));
  agent.free = agent.total;
  admitFree(agent);
  for (const auto& [fwId, resources] : used) {
    auto fw = frameworks_.find(fwId);
    std::string defaultRole =
        fw == frameworks_.end() ? "*" : fw->second->info.effectiveRoles().front();
    for (const auto& [role, part] : splitByRole(resources, defaultRole)) {
      takeUsed(agent, fwId, part);
    }
  }
  markChanged(agent);
}

void HierarchicalAllocator::removeAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  retireFree(agent);
  agent.freeReserved.clear();
  agent.freeUnreserved.clear();
  setOfferable(agent, false);
  if (agent.changed) std::erase(changed_, &agent);

  for (FrameworkRole* fr : agent.filteredBy) {
    auto f = fr->filters.find(&agent);
    if (f == fr->filters.end()) continue;
    liveFilters_ -= f->second.size();
    fr->filters.erase(f);
  }
  agent.filteredBy.clear();

  while (!agent.holdings.empty()) {
    Holding& h = agent.holdings.back();
    removeFromHolding(h, Resources(h.resources), ScalarVec(h.scalars));
    dropHolding(agent, agent.holdings.size() - 1);
  }

  subtractScalars(clusterTotal_, agent.totalScalars);
  basisDirty_ = true;
  for (RoleNode* node : agent.reservationRoles) releaseRole(node);
  agents_.erase(it);
}

void HierarchicalAllocator::updateAgent(const AgentID& id, const AgentInfo& info,
                                        const Resources& total) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  retireFree(agent);
  setTotal(agent, withoutAllocationRoles(total));
  Resources allocated;
  for (const auto& h : agent.holdings) allocated += h.resources;
  // If the agent shrank below what is in use, nothing is free (over-committed).
  agent.free = agent.total - allocated;
  admitFree(agent);
  markChanged(agent);
}

void HierarchicalAllocator::activateAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  if (!agent.active) {
    retireFree(agent);
    agent.active = true;
    admitFree(agent);
  }
  markChanged(agent);
}

void HierarchicalAllocator::deactivateAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  if (!agent.active) return;
  retireFree(agent);
  agent.active = false;
  admitFree(agent);
}

void HierarchicalAllocator::updateAllocation(const FrameworkID& framework, const AgentID& agentId,
                                             const Resources& from, const Resources& to) {
  auto it = agents_.find(agentId);
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  auto fw = frameworks_.find(framework);
  std::string defaultRole =
      fw == frameworks_.end() ? "*" : fw->second->info.effectiveRoles().front();

  if (from.empty()) {
    // Newly reported usage: out of the free resources.
    // Unlike addAgent(used), this adds to what is held (another task).
    for (const auto& [role, part] : splitByRole(to, defaultRole)) {
      Resources taken = overlap(agent.free, part.unallocate());
      if (taken.empty()) continue;
      retireFree(agent);
      agent.free -= taken;
      admitFree(agent);
      Holding& holding = holdingFor(agent, framework, role);
      ScalarVec scalars = scalarsOf(taken);
      addToHolding(holding, std::move(taken), scalars, false);
    }
    return;
  }

  // A conversion (RESERVE, UNRESERVE): every part of `from` must be held.
  auto fromParts = splitByRole(from, defaultRole);
  auto toParts = splitByRole(to, defaultRole);
  for (const auto& [role, part] : fromParts) {
    Holding* h = findHolding(agent, framework, role);
    if (!h || !h->resources.contains(part.unallocate())) return;  // stale: ignore
  }
  Resources newTotal = agent.total - from.unallocate();
  newTotal += to.unallocate();
  // New reservation roles first, so that the holdings below can refer to them.
  setTotal(agent, newTotal);
  for (const auto& [role, part] : fromParts) {
    Holding* h = findHolding(agent, framework, role);
    Resources unallocated = part.unallocate();
    removeFromHolding(*h, unallocated, scalarsOf(unallocated));
  }
  for (const auto& [role, part] : toParts) {
    Holding& h = holdingFor(agent, framework, role);
    Resources unallocated = part.unallocate();
    ScalarVec scalars = scalarsOf(unallocated);
    addToHolding(h, std::move(unallocated), scalars, false);
  }
  for (size_t i = agent.holdings.size(); i-- > 0;) {
    if (agent.holdings[i].resources.empty()) dropHolding(agent, i);
  }
  // The free resources did not change (nor their reservation roles, which
  // the new total still references).
}

void HierarchicalAllocator::recoverResources(const FrameworkID& framework, const AgentID& agentId,
                                             const Resources& resources,
                                             const std::optional<Filters>& filters) {
  if (resources.empty()) return;
  auto it = agents_.find(agentId);
  // removeAgent() already released everything held on a removed agent.
  if (it == agents_.end()) return;
  Agent& agent = *it->second;
  std::string defaultRole;
  for (const auto& h : agent.holdings) {
    if (h.framework == framework) {
      defaultRole = h.role->name;
      break;
    }
  }
  if (defaultRole.empty()) return;  // holds nothing here

  double refuse = filters ? std::min(filters->refuseSeconds, kMaxRefuseSeconds) : 0;
  auto give = [&](const std::string& role, const Resources& unallocated) {
    Holding* h = findHolding(agent, framework, role);
    if (!h) return;
    FrameworkRole* owner = h->owner;
    Resources given = giveBack(agent, static_cast<size_t>(h - agent.holdings.data()), unallocated);
    if (given.empty() || !(refuse > 0) || !owner) return;
    // giveBack() may have dropped the owner (a role the framework left).
    auto fw = frameworks_.find(framework);
    if (fw == frameworks_.end() || !fw->second->roles.count(role)) return;
    TimePoint expires = clock_->now() + fromSeconds(refuse);
    owner->filters[&agent].push_back({std::move(given), expires});
    agent.filteredBy.insert(owner);
    ++liveFilters_;
    expiries_.emplace(expires, agent.id);
  };
  const auto& first = *resources.begin();
  bool oneRole = std::all_of(resources.begin(), resources.end(), [&](const Resource& r) {
    return r.allocationRole == first.allocationRole;
  });
  if (oneRole) {
    give(first.allocationRole ? *first.allocationRole : defaultRole, resources.unallocate());
  } else {
    for (const auto& [role, part] : splitByRole(resources, defaultRole)) {
      give(role, part.unallocate());
    }
  }
  markChanged(agent);
  compactExpiries();
}

void HierarchicalAllocator::compactExpiries() {
  if (expiries_.size() <= 2 * liveFilters_ + 1024) return;
  std::vector<Expiry> live;
  for (const auto& [id, fw] : frameworks_) {
    for (const auto& [name, fr] : fw->roles) {
      for (const auto& [agent, list] : fr->filters) {
        for (const auto& f : list) live.emplace_back(f.expires, agent->id);
      }
    }
  }
  expiries_ = decltype(expiries_)(std::greater<>(), std::move(live));
}

// ---- Allocation --------------------------------------------------------------

void HierarchicalAllocator::refreshBasis() {
  if (!basisDirty_) return;
  basisDirty_ = false;
  basis_.inverseTotal.assign(names_.size(), 0.0);
  for (size_t i = 0; i < names_.size(); ++i) {
    if (options_.fairSharingExcludedResourceNames.count(names_.name(i))) continue;
    int64_t total = scalarAt(clusterTotal_, i);
    if (total > 0) basis_.inverseTotal[i] = 1.0 / static_cast<double>(total);
  }
  ++basis_.version;
}

bool HierarchicalAllocator::meetsMinimum(const Resources& offer, const ScalarVec& scalars) const {
  if (offer.empty()) return false;
  if (minimums_.empty()) return true;
  if (minimumsAreScalars_) {
    for (const auto& alternative : scalarMinimums_) {
      bool enough = std::all_of(alternative.begin(), alternative.end(), [&](const auto& need) {
        return scalarAt(scalars, need.first) >= need.second;
      });
      if (enough) return true;
    }
    return false;
  }
  bool flatAlready = std::all_of(offer.begin(), offer.end(), [](const Resource& r) {
    return !r.isReserved() && !r.allocationRole;
  });
  const Resources& flat = flatAlready ? offer : offer.flatten();
  for (const auto& min : minimums_) {
    if (flat.contains(min)) return true;
  }
  return false;
}

bool HierarchicalAllocator::isFiltered(FrameworkRole& fr, Agent& agent, const Resources& offer) {
  if (fr.filters.empty()) return false;
  auto it = fr.filters.find(&agent);
  if (it == fr.filters.end()) return false;
  TimePoint now = clock_->now();
  auto& list = it->second;
  size_t before = list.size();
  std::erase_if(list, [&](const FrameworkRole::Filter& f) { return f.expires <= now; });
  liveFilters_ -= before - list.size();
  if (list.empty()) {
    fr.filters.erase(it);
    agent.filteredBy.erase(&fr);
    return false;
  }
  for (const auto& f : list) {
    if (f.resources.contains(offer)) return true;
  }
  return false;
}

void HierarchicalAllocator::processExpiredFilters(TimePoint now) {
  while (!expiries_.empty() && expiries_.top().first <= now) {
    AgentID id = expiries_.top().second;
    expiries_.pop();
    auto it = agents_.find(id);
    if (it == agents_.end()) continue;
    Agent& agent = *it->second;
    // Drop what expired so that filters of agents nobody looks at go away.
    std::vector<FrameworkRole*> emptied;
    for (FrameworkRole* fr : agent.filteredBy) {
      auto f = fr->filters.find(&agent);
      if (f == fr->filters.end()) continue;
      size_t before = f->second.size();
      std::erase_if(f->second, [&](const FrameworkRole::Filter& x) { return x.expires <= now; });
      liveFilters_ -= before - f->second.size();
      if (f->second.empty()) {
        fr->filters.erase(f);
        emptied.push_back(fr);
      }
    }
    for (FrameworkRole* fr : emptied) agent.filteredBy.erase(fr);
    markChanged(agent);
  }
}

bool HierarchicalAllocator::hasPendingChanges() const {
  for (const Agent* agent : changed_) {
    if (agent->offerable) return true;
  }
  if (globalChange_ && offerableCount_ > 0) return true;
  return clock_ && !expiries_.empty() && expiries_.top().first <= clock_->now();
}

std::optional<TimePoint> HierarchicalAllocator::nextFilterExpiry() const {
  if (expiries_.empty()) return std::nullopt;
  return expiries_.top().first;
}

ScalarVec HierarchicalAllocator::need(const RoleNode* node) const {
  ScalarVec own;
  if (node->quota && node != root_.get()) {
    ScalarVec used = consumption(node);
    own.assign(node->guarantee.size(), 0);
    for (size_t i = 0; i < node->guarantee.size(); ++i) {
      int64_t g = node->guarantee[i];
      int64_t lim = node->limitAt(i);
      if (lim >= 0) g = std::min(g, lim);
      own[i] = std::max<int64_t>(0, g - scalarAt(used, i));
    }
  }
  ScalarVec children;
  for (const RoleNode* child : node->childByHandle) {
    if (child) addScalars(children, need(child));
  }
  if (own.size() < children.size()) own.resize(children.size(), 0);
  // A parent's guarantee covers its sub-roles': what the subtree needs is
  // the larger of the two, never their sum.
  for (size_t i = 0; i < children.size(); ++i) own[i] = std::max(own[i], children[i]);
  return own;
}

ScalarVec HierarchicalAllocator::requiredHeadroom() const {
  if (quotaRoles_.empty()) return {};
  ScalarVec required = need(root_.get());
  return allZero(required) ? ScalarVec{} : required;
}

std::vector<HierarchicalAllocator::RoleNode*> HierarchicalAllocator::unmetRoles() {
  std::vector<std::pair<double, RoleNode*>> unmet;
  for (RoleNode* node : quotaRoles_) {
    if (node->activeSubtree == 0 || node->guarantee.empty()) continue;
    ScalarVec used = consumption(node);
    double satisfied = 1.0;
    bool missing = false;
    for (size_t i = 0; i < node->guarantee.size(); ++i) {
      int64_t g = node->guarantee[i];
      int64_t lim = node->limitAt(i);
      if (lim >= 0) g = std::min(g, lim);
      if (g <= 0) continue;
      int64_t u = scalarAt(used, i);
      if (u < g) {
        missing = true;
        satisfied = std::min(satisfied, static_cast<double>(u) / static_cast<double>(g));
      }
    }
    if (missing) unmet.emplace_back(satisfied, node);
  }
  std::sort(unmet.begin(), unmet.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return a.second->name < b.second->name;
  });
  std::vector<RoleNode*> out;
  for (const auto& [_, node] : unmet) out.push_back(node);
  return out;
}

bool HierarchicalAllocator::relevant(const RoleNode* node, const Agent& agent) const {
  if (agent.freeHasUnreserved) return true;
  for (const auto& [reserved, _] : agent.freeReserved) {
    if (isSelfOrAncestor(reserved, node) || isSelfOrAncestor(node, reserved)) return true;
  }
  return false;
}

bool HierarchicalAllocator::walk(RoleNode* node, Agent& agent, Visit& visit) {
  for (const auto& entry : node->children.order()) {
    if (entry.handle == node->self) {
      for (const auto& f : node->frameworks.order()) {
        FrameworkRole* fr = node->frameworkByHandle[f.handle];
        if (fr->tried == visit.id) continue;
        fr->tried = visit.id;
        // A placement re-sorts the sorters being walked: stop right there.
        if (tryOffer(*fr, agent, visit)) return true;
      }
      continue;
    }
    RoleNode* child = node->childByHandle[entry.handle];
    if (!relevant(child, agent)) continue;
    if (walk(child, agent, visit)) return true;
  }
  return false;
}

bool HierarchicalAllocator::allocateGuarantees(Agent& agent) {
  while (agent.offerable) {
    std::vector<RoleNode*> roles = unmetRoles();
    if (roles.empty()) return false;
    ScalarVec required = requiredHeadroom();
    bool placed = false;
    for (RoleNode* role : roles) {
      if (!relevant(role, agent)) continue;
      Visit visit;
      visit.id = ++visitSeq_;
      visit.stage = 1;
      visit.quotaRole = role;
      visit.required = required;
      ScalarVec used = consumption(role);
      visit.unmet.assign(role->guarantee.size(), 0);
      for (size_t i = 0; i < role->guarantee.size(); ++i) {
        int64_t g = role->guarantee[i];
        int64_t lim = role->limitAt(i);
        if (lim >= 0) g = std::min(g, lim);
        visit.unmet[i] = std::max<int64_t>(0, g - scalarAt(used, i));
      }
      // The role's own frameworks and those of its sub-roles, in share order.
      if (walk(role, agent, visit)) {
        placed = true;
        break;
      }
    }
    if (!placed) break;
  }
  return true;
}

void HierarchicalAllocator::allocateFairShare(Agent& agent, const ScalarVec& required) {
  Visit visit;
  visit.id = ++visitSeq_;
  visit.stage = 2;
  visit.required = required;
  while (agent.offerable && walk(root_.get(), agent, visit)) {
  }
}

bool HierarchicalAllocator::shapeForGuarantee(const Visit& visit, Resources& offer) {
  const RoleNode* role = visit.quotaRole;
  ScalarVec unmet = visit.unmet;
  ScalarVec surplus;
  for (size_t i = 0; i < visit.required.size(); ++i) {
    if (visit.required[i] <= 0) continue;
    if (surplus.size() <= i) surplus.resize(i + 1, 0);
    surplus[i] = scalarAt(freeUnreserved_, i) - visit.required[i];
  }
  bool helps = false;
  Resources out;
  for (const auto& r : offer) {
    if (r.isReserved() || r.type != Resource::Type::SCALAR) {
      out += r;
      continue;
    }
    long found = names_.find(r.name);
    size_t id = found < 0 ? SIZE_MAX : static_cast<size_t>(found);
    int64_t take = r.scalarMillis;
    if (found >= 0 && scalarAt(role->guarantee, id) > 0) {
      take = std::min(take, scalarAt(unmet, id));
      if (take > 0) {
        helps = true;
        unmet[id] -= take;
      }
    } else if (found >= 0 && scalarAt(visit.required, id) > 0) {
      take = std::min(take, std::max<int64_t>(0, scalarAt(surplus, id)));
      if (take > 0) surplus[id] -= take;
    }
    if (take <= 0) continue;
    Resource c = r;
    c.scalarMillis = take;
    out += c;
  }
  offer = std::move(out);
  return helps;
}

bool HierarchicalAllocator::clampToLimits(const RoleNode* role, Resources& offer) const {
  struct Room {
    const RoleNode* node;
    ScalarVec left;
  };
  std::vector<Room> rooms;
  for (const RoleNode* n = role; n != root_.get(); n = n->parent) {
    if (!n->hasLimit) continue;
    Room room{n, consumption(n)};
    room.left.resize(std::max(room.left.size(), n->limit.size()), 0);
    for (size_t i = 0; i < room.left.size(); ++i) {
      int64_t lim = n->limitAt(i);
      room.left[i] = lim < 0 ? INT64_MAX : std::max<int64_t>(0, lim - room.left[i]);
    }
    rooms.push_back(std::move(room));
  }
  if (rooms.empty()) return false;

  bool cut = false;
  Resources out;
  for (const auto& r : offer) {
    long found = r.type == Resource::Type::SCALAR ? names_.find(r.name) : -1;
    if (found < 0) {
      out += r;
      continue;
    }
    size_t id = static_cast<size_t>(found);
    int resDepth = r.isReserved() ? roleDepth(r.reservationRole()) : 0;
    int64_t take = r.scalarMillis;
    for (const auto& room : rooms) {
      // Offering a resource reserved within the node's subtree does not
      // change its consumption (the reservation already counts).
      bool counts = !r.isReserved() || resDepth < room.node->depth;
      if (counts && id < room.left.size()) take = std::min(take, room.left[id]);
    }
    for (auto& room : rooms) {
      bool counts = !r.isReserved() || resDepth < room.node->depth;
      if (counts && id < room.left.size() && room.left[id] != INT64_MAX) room.left[id] -= take;
    }
    if (take < r.scalarMillis) cut = true;
    if (take <= 0) continue;
    Resource c = r;
    c.scalarMillis = take;
    out += c;
  }
  offer = std::move(out);
  return cut;
}

bool HierarchicalAllocator::tryOffer(FrameworkRole& fr, Agent& agent, Visit& visit) {
  const RoleNode* role = fr.role;
  Resources scratch;
  const Resources* offer = &agent.free;
  bool whole = true;
  if (!agent.freeReserved.empty()) {
    scratch = agent.free.allocatableTo(role->name);
    whole = scratch.size() == agent.free.size();
    offer = &scratch;
  }
  if (offer->empty()) return false;
  auto own = [&] {
    if (offer != &scratch) scratch = *offer;
    offer = &scratch;
    whole = false;
  };

  if (visit.stage == 1) {
    own();
    if (!shapeForGuarantee(visit, scratch)) return false;
  }
  if (!quotaRoles_.empty()) {
    bool limited = false;
    for (const RoleNode* n = role; n != root_.get() && !limited; n = n->parent) {
      limited = n->hasLimit;
    }
    if (limited) {
      own();
      clampToLimits(role, scratch);
    }
  }
  if (visit.stage == 2 && !visit.required.empty()) {
    // Keep what the unmet guarantees need: without enough headroom, only
    // the reserved part is offered.
    ScalarVec unreserved;
    for (const auto& r : *offer) {
      if (r.isReserved() || r.type != Resource::Type::SCALAR) continue;
      long id = names_.find(r.name);
      if (id < 0 || scalarAt(visit.required, id) <= 0) continue;
      if (unreserved.size() <= static_cast<size_t>(id)) unreserved.resize(id + 1, 0);
      unreserved[id] += r.scalarMillis;
    }
    for (size_t i = 0; i < unreserved.size(); ++i) {
      if (scalarAt(freeUnreserved_, i) - unreserved[i] < scalarAt(visit.required, i)) {
        own();
        scratch = scratch.reserved();
        break;
      }
    }
  }
  ScalarVec scalars = whole ? agent.freeScalars : scalarsOf(*offer);
  if (!meetsMinimum(*offer, scalars)) return false;
  if (isFiltered(fr, agent, *offer)) return false;
  place(fr, agent, *offer, std::move(scalars), whole);
  return true;
}

Resources HierarchicalAllocator::allocatedForm(const Resources& offer, RoleNode* role,
                                               bool idleAgent) {
  if (!idleAgent) return offer.allocate(role->name);
  // Idle agents of one shape make identical offers: a copy is a third of
  // the cost of Resources::allocate(). Partly used agents rarely repeat.
  for (const auto& form : role->offerForms) {
    if (form.source == offer && !form.source.empty()) return form.allocated;
  }
  Resources allocated = offer.allocate(role->name);
  role->offerForms[role->nextOfferForm++ % role->offerForms.size()] = {offer, allocated};
  return allocated;
}

void HierarchicalAllocator::place(FrameworkRole& fr, Agent& agent, const Resources& offer,
                                  ScalarVec scalars, bool whole) {
  if (fr.offers.empty()) offering_.push_back(&fr);
  fr.offers.emplace_back(&agent, allocatedForm(offer, fr.role, whole && agent.holdings.empty()));
  Resources taken;
  retireFree(agent);
  if (whole) {
    // `offer` is agent.free: move it into the holding rather than copy.
    taken = std::move(agent.free);
    agent.free = Resources();
  } else {
    taken = offer;
    agent.free -= taken;
  }
  admitFree(agent);
  addToHolding(holdingFor(agent, fr), std::move(taken), scalars, true);
}

void HierarchicalAllocator::allocate(AllocationScope scope) {
  if (!clock_) return;
  processExpiredFilters(clock_->now());
  refreshBasis();

  std::vector<Agent*>& candidates = candidates_;  // keeps its capacity
  candidates.clear();
  if (scope == AllocationScope::kAll || globalChange_) {
    candidates.reserve(offerableCount_);
    for (Agent* a = offerableHead_; a; a = a->nextOfferable) candidates.push_back(a);
  } else {
    for (Agent* agent : changed_) {
      if (agent->offerable) candidates.push_back(agent);
    }
  }
  for (Agent* agent : changed_) agent->changed = false;
  changed_.clear();
  globalChange_ = false;

  if (!candidates.empty() && root_->children.activeCount() > 0) {
    if (!quotaRoles_.empty()) {
      for (Agent* agent : candidates) {
        if (agent->offerable && !allocateGuarantees(*agent)) break;
      }
    }
    ScalarVec required = requiredHeadroom();
    for (Agent* agent : candidates) {
      if (agent->offerable) allocateFairShare(*agent, required);
    }
  }
  flushOffers();
}

void HierarchicalAllocator::flushOffers() {
  if (offering_.empty()) return;
  std::sort(offering_.begin(), offering_.end(), [](const FrameworkRole* a, const FrameworkRole* b) {
    if (a->framework != b->framework) return a->framework->id < b->framework->id;
    return a->role->name < b->role->name;
  });
  // Everything is taken out first: a callback may call back into us.
  using ByRole = std::map<std::string, std::map<AgentID, Resources>>;
  std::vector<std::pair<FrameworkID, ByRole>> out;
  for (FrameworkRole* fr : offering_) {
    if (out.empty() || out.back().first != fr->framework->id) {
      out.emplace_back(fr->framework->id, ByRole{});
    }
    auto& byAgent = out.back().second[fr->role->name];
    for (auto& [agent, resources] : fr->offers) {
      auto [it, inserted] = byAgent.try_emplace(agent->id, std::move(resources));
      if (!inserted) it->second += resources;
    }
    fr->offers.clear();
  }
  offering_.clear();
  for (const auto& [fw, byRole] : out) offerCallback_(fw, byRole);
}

// ---- Reports -------------------------------------------------------------------

std::vector<RoleSummary> HierarchicalAllocator::roles() const {
  std::map<std::string, RoleSummary> byRole;
  for (const auto& [id, agent] : agents_) {
    for (const auto& h : agent->holdings) {
      byRole[h.role->name].allocated += h.resources.allocate(h.role->name);
    }
  }
  for (const auto& [id, fw] : frameworks_) {
    for (const auto& [name, fr] : fw->roles) {
      if (fr->subscribed) byRole[name].frameworks.insert(id);
    }
  }
  for (const auto& [role, w] : weights_) byRole[role];
  for (const RoleNode* node : quotaRoles_) byRole[node->name].quota = node->quota;
  std::vector<RoleSummary> out;
  for (auto& [role, s] : byRole) {
    s.role = role;
    auto w = weights_.find(role);
    s.weight = w == weights_.end() ? 1.0 : w->second;
    out.push_back(std::move(s));
  }
  return out;
}

Resources HierarchicalAllocator::freeResources(const AgentID& agent) const {
  auto it = agents_.find(agent);
  return it == agents_.end() ? Resources() : it->second->free;
}

Resources HierarchicalAllocator::allocatedResources(const AgentID& agent) const {
  auto it = agents_.find(agent);
  Resources out;
  if (it == agents_.end()) return out;
  for (const auto& h : it->second->holdings) out += h.resources.allocate(h.role->name);
  return out;
}

// ---- Consistency check (tests) ---------------------------------------------------

namespace {

ScalarVec trimmed(ScalarVec v) {
  while (!v.empty() && v.back() == 0) v.pop_back();
  return v;
}

std::string show(const ScalarVec& v) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  out << "]";
  return out.str();
}

}  // namespace

std::string HierarchicalAllocator::checkConsistency() const {
  std::ostringstream err;
  auto scalars = [&](const Resources& resources) {
    ScalarVec v;
    for (const auto& r : resources) {
      if (r.type != Resource::Type::SCALAR) continue;
      long id = names_.find(r.name);
      if (id < 0) {
        err << "resource name " << r.name << " was never interned; ";
        continue;
      }
      if (v.size() <= static_cast<size_t>(id)) v.resize(id + 1, 0);
      v[id] += r.scalarMillis;
    }
    return v;
  };
  auto same = [](const ScalarVec& a, const ScalarVec& b) { return trimmed(a) == trimmed(b); };

  ScalarVec clusterTotal, freeUnreserved;
  std::map<const RoleNode*, ScalarVec> own, reservedFree;
  std::map<const FrameworkRole*, ScalarVec> byOwner;
  std::map<const FrameworkRole*, std::set<const Agent*>> ownerAgents;
  size_t offerable = 0;
  for (const auto& [id, ptr] : agents_) {
    const Agent& agent = *ptr;
    std::string where = "agent " + id.value + ": ";
    Resources held;
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& h : agent.holdings) {
      if (h.resources.empty()) err << where << "empty holding; ";
      if (!keys.insert({h.framework.value, h.role->name}).second) {
        err << where << "two holdings of " << h.framework << " in " << h.role->name << "; ";
      }
      for (const auto& r : h.resources) {
        if (r.allocationRole) err << where << "holding entry with an allocation role; ";
      }
      if (!same(h.scalars, scalars(h.resources))) err << where << "holding scalars differ; ";
      held += h.resources;
      addScalars(own[h.role], h.scalars);
      if (h.owner) {
        if (h.owner->framework->id != h.framework) err << where << "holding owner mismatch; ";
        const auto& list = h.owner->holdingAgents;
        if (h.ownerSlot >= list.size() || list[h.ownerSlot] != &agent) {
          err << where << "owner does not list the agent; ";
        }
        addScalars(byOwner[h.owner], h.scalars);
        ownerAgents[h.owner].insert(&agent);
      } else {
        if (frameworks_.count(h.framework)) err << where << "orphan of a known framework; ";
        auto o = orphans_.find(h.framework);
        if (o == orphans_.end() || !o->second.count(const_cast<Agent*>(&agent))) {
          err << where << "orphan not indexed; ";
        }
      }
    }
    if (agent.total.contains(held) && agent.free + held != agent.total) {
      err << where << "free " << agent.free << " + allocated " << held << " != total "
          << agent.total << "; ";
    }
    if (!same(agent.totalScalars, scalars(agent.total))) err << where << "total scalars; ";
    addScalars(clusterTotal, agent.totalScalars);
    if (!same(agent.freeScalars, scalars(agent.free))) err << where << "free scalars; ";
    ScalarVec unreserved = scalars(agent.free.unreserved());
    if (!same(agent.freeUnreserved, unreserved)) err << where << "free unreserved; ";
    if (agent.active) addScalars(freeUnreserved, unreserved);
    for (const auto& r : agent.free) {
      if (!r.isReserved()) continue;
      RoleNode* node = findRole(r.reservationRole());
      if (!node) {
        err << where << "reservation role " << r.reservationRole() << " has no node; ";
        continue;
      }
      Resources one;
      one += r;
      for (const RoleNode* n = node; n != root_.get(); n = n->parent) {
        addScalars(reservedFree[n], scalars(one));
      }
    }
    bool shouldOffer = agent.active && meetsMinimum(agent.free, scalars(agent.free));
    if (agent.offerable != shouldOffer) err << where << "offerable flag; ";
    offerable += agent.offerable;
    for (const FrameworkRole* fr : agent.filteredBy) {
      if (!fr->filters.count(const_cast<Agent*>(&agent))) err << where << "stale filteredBy; ";
    }
  }
  size_t listed = 0;
  for (const Agent* a = offerableHead_; a; a = a->nextOfferable) {
    if (!a->offerable || !agents_.count(a->id) || agents_.at(a->id).get() != a) {
      err << "offerable list holds agent " << a->id << " wrongly; ";
    }
    if (++listed > agents_.size()) break;
  }
  if (offerable != offerableCount_ || listed != offerableCount_) {
    err << "offerable list: " << listed << " listed, " << offerableCount_ << " counted, "
        << offerable << " offerable; ";
  }
  if (!same(clusterTotal, clusterTotal_)) {
    err << "cluster total " << show(clusterTotal_) << " != " << show(clusterTotal) << "; ";
  }
  if (!same(freeUnreserved, freeUnreserved_)) {
    err << "free unreserved " << show(freeUnreserved_) << " != " << show(freeUnreserved) << "; ";
  }

  std::map<const RoleNode*, int> activeOwn, subscribed;
  for (const auto& [id, fw] : frameworks_) {
    for (const auto& [name, fr] : fw->roles) {
      std::string where = "framework " + id.value + " role " + name + ": ";
      if (fr->role->name != name) err << where << "role mismatch; ";
      ScalarVec expected = byOwner[fr.get()];
      if (!same(fr->role->frameworks.allocation(fr->handle), expected)) {
        err << where << "sorter allocation " << show(fr->role->frameworks.allocation(fr->handle))
            << " != " << show(expected) << "; ";
      }
      if (fr->holdingAgents.size() != ownerAgents[fr.get()].size()) {
        err << where << "holding agents; ";
      }
      bool active = fw->active && fr->subscribed && !fr->suppressed;
      if (fr->active != active) err << where << "active flag; ";
      if (fr->role->frameworks.active(fr->handle) != active) err << where << "sorter activity; ";
      if (!fr->subscribed && fr->holdingAgents.empty()) err << where << "should be gone; ";
      activeOwn[fr->role] += active;
      subscribed[fr->role] += fr->subscribed;
      for (const auto& [agent, list] : fr->filters) {
        if (list.empty()) err << where << "empty filter list; ";
        if (!agent->filteredBy.count(fr.get())) err << where << "filter not indexed; ";
      }
    }
  }

  // Role nodes: references recounted, bottom-up sums.
  std::map<const RoleNode*, int> refs;
  for (const auto& [name, node] : roles_) {
    if (node->parent != root_.get()) ++refs[node->parent];
    if (node->quota) ++refs[node.get()];
  }
  for (const auto& [id, fw] : frameworks_) {
    for (const auto& [name, fr] : fw->roles) ++refs[fr->role];
  }
  for (const auto& [id, agent] : agents_) {
    for (const auto& h : agent->holdings) ++refs[h.role];
    for (const RoleNode* node : agent->reservationRoles) ++refs[node];
  }
  std::map<const RoleNode*, ScalarVec> subtree;
  std::map<const RoleNode*, int> activeSubtree;
  for (const auto& [name, node] : roles_) {
    for (const RoleNode* n = node.get(); n != root_.get(); n = n->parent) {
      addScalars(subtree[n], own[node.get()]);
      activeSubtree[n] += activeOwn[node.get()];
    }
  }
  for (const auto& [name, node] : roles_) {
    std::string where = "role " + name + ": ";
    const RoleNode* n = node.get();
    if (!same(n->ownAllocated, own[n])) err << where << "own allocation; ";
    if (!same(n->children.allocation(n->self), own[n])) err << where << "self client; ";
    if (!same(n->allocated, subtree[n])) {
      err << where << "allocated " << show(n->allocated) << " != " << show(subtree[n]) << "; ";
    }
    if (!same(n->parent->children.allocation(n->handle), subtree[n])) {
      err << where << "client in parent; ";
    }
    if (!same(n->reservedFree, reservedFree[n])) {
      err << where << "reserved free " << show(n->reservedFree) << " != "
          << show(reservedFree[n]) << "; ";
    }
    if (n->activeOwn != activeOwn[n]) err << where << "active own count; ";
    if (n->activeSubtree != activeSubtree[n]) err << where << "active subtree count; ";
    if (n->children.active(n->self) != (activeOwn[n] > 0)) err << where << "self activity; ";
    if (n->parent->children.active(n->handle) != (activeSubtree[n] > 0)) {
      err << where << "activity in parent; ";
    }
    if (n->subscribed != subscribed[n]) err << where << "subscribed count; ";
    if (n->refs != refs[n]) err << where << "refs " << n->refs << " != " << refs[n] << "; ";
    if (n->refs <= 0) err << where << "unreferenced node kept; ";
  }
  return err.str();
}

}  // namespace tutti::master
