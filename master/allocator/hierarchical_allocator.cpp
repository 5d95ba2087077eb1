#include "master/allocator/hierarchical_internal.hpp"

namespace tutti::master {

using namespace hierarchical;

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

}  // namespace tutti::master
