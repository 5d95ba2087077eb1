#include "master/allocator/simple_allocator.hpp"

#include <algorithm>

namespace tutti::master {

void SimpleAllocator::initialize(const AllocatorOptions& options, Clock& clock,
                                 OfferCallback offerCallback) {
  options_ = options;
  clock_ = &clock;
  offerCallback_ = std::move(offerCallback);
}

void SimpleAllocator::addFramework(const FrameworkID& id, const FrameworkInfo& info,
                                   const std::map<AgentID, Resources>& used, bool active,
                                   const std::set<std::string>& suppressedRoles) {
  auto& fw = frameworks_[id];
  fw.info = info;
  fw.roles = info.effectiveRoles();
  fw.active = active;
  fw.suppressed = suppressedRoles;
  for (const auto& [agentId, resources] : used) {
    fw.allocated += resources;
    auto it = agents_.find(agentId);
    if (it != agents_.end()) {
      it->second.allocated += resources.unallocate();
      it->second.allocatedTo[id] += resources;
    }
  }
  allChanged_ = true;
}

void SimpleAllocator::removeFramework(const FrameworkID& id) {
  for (auto& [agentId, agent] : agents_) {
    auto it = agent.allocatedTo.find(id);
    if (it == agent.allocatedTo.end()) continue;
    agent.allocated -= it->second.unallocate();
    agent.allocatedTo.erase(it);
    changedAgents_.insert(agentId);
  }
  frameworks_.erase(id);
}

void SimpleAllocator::activateFramework(const FrameworkID& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  it->second.active = true;
  allChanged_ = true;
}

void SimpleAllocator::deactivateFramework(const FrameworkID& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  it->second.active = false;
  it->second.filters.clear();  // as Mesos: a re-activated framework starts fresh
}

void SimpleAllocator::updateFramework(const FrameworkID& id, const FrameworkInfo& info,
                                      const std::set<std::string>& suppressedRoles) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  it->second.info = info;
  it->second.roles = info.effectiveRoles();
  it->second.suppressed = suppressedRoles;
  allChanged_ = true;
}

void SimpleAllocator::addAgent(const AgentID& id, const AgentInfo& info, const Resources& total,
                               const std::map<FrameworkID, Resources>& used) {
  auto& agent = agents_[id];
  agent.info = info;
  agent.total = total;
  agent.allocated = Resources();
  agent.allocatedTo.clear();
  agent.active = true;
  for (const auto& [fwId, resources] : used) {
    agent.allocated += resources.unallocate();
    agent.allocatedTo[fwId] += resources;
    auto it = frameworks_.find(fwId);
    if (it != frameworks_.end()) it->second.allocated += resources;
  }
  changedAgents_.insert(id);
}

void SimpleAllocator::removeAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  for (const auto& [fwId, resources] : it->second.allocatedTo) {
    auto fw = frameworks_.find(fwId);
    if (fw == frameworks_.end()) continue;
    fw->second.allocated -= resources;
    fw->second.filters.erase(id);
  }
  agents_.erase(it);
  changedAgents_.erase(id);
}

void SimpleAllocator::updateAgent(const AgentID& id, const AgentInfo& info,
                                  const Resources& total) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  it->second.info = info;
  it->second.total = total;
  changedAgents_.insert(id);
}

void SimpleAllocator::activateAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  it->second.active = true;
  changedAgents_.insert(id);
}

void SimpleAllocator::deactivateAgent(const AgentID& id) {
  auto it = agents_.find(id);
  if (it == agents_.end()) return;
  it->second.active = false;
}

void SimpleAllocator::updateAllocation(const FrameworkID& framework, const AgentID& agentId,
                                       const Resources& from, const Resources& to) {
  auto agent = agents_.find(agentId);
  if (agent != agents_.end()) {
    agent->second.allocated -= from.unallocate();
    agent->second.allocated += to.unallocate();
    auto& mine = agent->second.allocatedTo[framework];
    mine -= from;
    mine += to;
  }
  auto fw = frameworks_.find(framework);
  if (fw != frameworks_.end()) {
    fw->second.allocated -= from;
    fw->second.allocated += to;
  }
}

void SimpleAllocator::recoverResources(const FrameworkID& framework, const AgentID& agentId,
                                       const Resources& resources,
                                       const std::optional<Filters>& filters) {
  if (resources.empty()) return;
  auto agent = agents_.find(agentId);
  if (agent != agents_.end()) {
    agent->second.allocated -= resources.unallocate();
    auto mine = agent->second.allocatedTo.find(framework);
    if (mine != agent->second.allocatedTo.end()) {
      mine->second -= resources;
      if (mine->second.empty()) agent->second.allocatedTo.erase(mine);
    }
    changedAgents_.insert(agentId);
  }
  auto fw = frameworks_.find(framework);
  if (fw == frameworks_.end()) return;
  // removeAgent() already took a removed agent's resources off the books.
  if (agent == agents_.end()) return;
  fw->second.allocated -= resources;
  if (filters && filters->refuseSeconds > 0) {
    // Mesos caps refuse_seconds at a year; so do we.
    double secs = std::min(filters->refuseSeconds, 365.0 * 24 * 3600);
    fw->second.filters[agentId].push_back(
        Filter{resources.unallocate(), clock_->now() + fromSeconds(secs)});
  }
}

void SimpleAllocator::suppressOffers(const FrameworkID& framework,
                                     const std::set<std::string>& roles) {
  auto it = frameworks_.find(framework);
  if (it == frameworks_.end()) return;
  if (roles.empty()) {
    for (const auto& r : it->second.roles) it->second.suppressed.insert(r);
  } else {
    it->second.suppressed.insert(roles.begin(), roles.end());
  }
}

void SimpleAllocator::reviveOffers(const FrameworkID& framework,
                                   const std::set<std::string>& roles) {
  auto it = frameworks_.find(framework);
  if (it == frameworks_.end()) return;
  if (roles.empty()) {
    it->second.suppressed.clear();
  } else {
    for (const auto& r : roles) it->second.suppressed.erase(r);
  }
  it->second.filters.clear();
  allChanged_ = true;
}

void SimpleAllocator::updateWeights(const std::map<std::string, double>& weights) {
  for (const auto& [role, w] : weights) weights_[role] = w;
  allChanged_ = true;
}

void SimpleAllocator::updateQuota(const std::string& role, const std::optional<Quota>& quota) {
  if (quota) {
    quotas_[role] = *quota;
  } else {
    quotas_.erase(role);
  }
}

bool SimpleAllocator::isFiltered(FrameworkEntry& fw, const AgentID& agent,
                                 const Resources& offerable) {
  auto it = fw.filters.find(agent);
  if (it == fw.filters.end()) return false;
  TimePoint now = clock_->now();
  auto& list = it->second;
  std::erase_if(list, [&](const Filter& f) { return f.expires <= now; });
  if (list.empty()) {
    fw.filters.erase(it);
    return false;
  }
  for (const auto& f : list) {
    if (f.resources.contains(offerable)) return true;
  }
  return false;
}

bool SimpleAllocator::meetsMinimum(const Resources& offerable) const {
  if (offerable.empty()) return false;
  if (options_.minAllocatableResources.empty()) return true;
  Resources flat = offerable.flatten();
  for (const auto& min : options_.minAllocatableResources) {
    if (flat.contains(min)) return true;
  }
  return false;
}

double SimpleAllocator::weightOf(const FrameworkEntry& fw) const {
  auto it = weights_.find(fw.roles.front());
  return it == weights_.end() || it->second <= 0 ? 1.0 : it->second;
}

double SimpleAllocator::dominantShare(const FrameworkEntry& fw,
                                      const Resources& clusterTotal) const {
  double share = 0;
  for (const auto& name : clusterTotal.names()) {
    if (options_.fairSharingExcludedResourceNames.count(name)) continue;
    double total = clusterTotal.scalar(name);
    if (total <= 0) continue;
    share = std::max(share, fw.allocated.scalar(name) / total);
  }
  return share;
}

void SimpleAllocator::allocate(AllocationScope scope) {
  std::vector<AgentID> candidates;
  if (scope == AllocationScope::kAll || allChanged_) {
    for (const auto& [id, _] : agents_) candidates.push_back(id);
  } else {
    candidates.assign(changedAgents_.begin(), changedAgents_.end());
  }
  changedAgents_.clear();
  allChanged_ = false;
  if (candidates.empty() || frameworks_.empty()) return;

  Resources clusterTotal;
  for (const auto& [_, agent] : agents_) {
    if (agent.active) clusterTotal += agent.total.flatten();
  }

  std::map<FrameworkID, std::map<std::string, std::map<AgentID, Resources>>> offers;
  std::vector<std::pair<double, FrameworkID>> order;
  for (const auto& agentId : candidates) {
    auto ait = agents_.find(agentId);
    if (ait == agents_.end() || !ait->second.active) continue;
    AgentEntry& agent = ait->second;
    Resources available = agent.total - agent.allocated;
    if (available.empty()) continue;

    order.clear();
    for (const auto& [fwId, fw] : frameworks_) {
      if (fw.active) order.emplace_back(dominantShare(fw, clusterTotal) / weightOf(fw), fwId);
    }
    std::sort(order.begin(), order.end());

    for (const auto& [_, fwId] : order) {
      FrameworkEntry& fw = frameworks_[fwId];
      for (const auto& role : fw.roles) {
        if (fw.suppressed.count(role)) continue;
        Resources offerable = available.allocatableTo(role);
        if (!meetsMinimum(offerable)) continue;
        if (isFiltered(fw, agentId, offerable)) continue;
        Resources allocated = offerable.allocate(role);
        agent.allocated += offerable;
        agent.allocatedTo[fwId] += allocated;
        fw.allocated += allocated;
        offers[fwId][role][agentId] += allocated;
        available -= offerable;
        if (available.empty()) break;
      }
      if (available.empty()) break;
    }
  }

  for (const auto& [fwId, byRole] : offers) offerCallback_(fwId, byRole);
}

std::vector<RoleSummary> SimpleAllocator::roles() const {
  std::map<std::string, RoleSummary> byRole;
  for (const auto& [fwId, fw] : frameworks_) {
    for (const auto& role : fw.roles) {
      auto& s = byRole[role];
      s.role = role;
      s.frameworks.insert(fwId);
    }
    for (const auto& r : fw.allocated) {
      if (!r.allocationRole) continue;
      auto& s = byRole[*r.allocationRole];
      s.role = *r.allocationRole;
      s.allocated += r;
    }
  }
  for (const auto& [role, w] : weights_) byRole[role].role = role;
  for (const auto& [role, q] : quotas_) byRole[role].role = role;
  std::vector<RoleSummary> out;
  for (auto& [role, s] : byRole) {
    auto w = weights_.find(role);
    s.weight = w == weights_.end() ? 1.0 : w->second;
    auto q = quotas_.find(role);
    if (q != quotas_.end()) s.quota = q->second;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tutti::master
