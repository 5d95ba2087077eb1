#include "master/allocator/hierarchical_internal.hpp"

namespace tutti::master {

using namespace hierarchical;

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

}  // namespace tutti::master
