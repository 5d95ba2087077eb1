#include "master/allocator/hierarchical_internal.hpp"

namespace tutti::master {

using namespace hierarchical;

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
    // A persistent volume is offered whole or not at all.
    if (r.disk && take < r.scalarMillis) take = 0;
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
    // Changed agents first (among them those a capped run left over), then
    // the rest of the offerable list: with maxAgentsPerRun, agents at the
    // list's tail must not wait behind its head run after run.
    candidates.reserve(offerableCount_);
    for (Agent* agent : changed_) {
      if (agent->offerable) candidates.push_back(agent);
    }
    for (Agent* a = offerableHead_; a; a = a->nextOfferable) {
      if (!a->changed) candidates.push_back(a);
    }
  } else {
    for (Agent* agent : changed_) {
      if (agent->offerable) candidates.push_back(agent);
    }
  }
  for (Agent* agent : changed_) agent->changed = false;
  changed_.clear();
  globalChange_ = false;
  size_t limit = options_.maxAgentsPerRun;
  stoppedEarly_ = limit > 0 && candidates.size() > limit;
  if (stoppedEarly_) {
    // The rest go first in the next run.
    for (size_t i = limit; i < candidates.size(); ++i) markChanged(*candidates[i]);
    candidates.resize(limit);
  }

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

}  // namespace tutti::master
