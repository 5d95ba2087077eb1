#include "master/allocator/hierarchical_internal.hpp"

#include <sstream>

namespace tutti::master {

using namespace hierarchical;

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
