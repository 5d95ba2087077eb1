#include "master/role_manager.hpp"

#include <glog/logging.h>

#include <cmath>

#include "master/master.hpp"
#include "master/validation.hpp"

namespace tutti::master {

namespace {
Status validateConcreteRole(const std::string& role) {
  Status s = validateRoleName(role);
  if (!s.ok()) return Status::InvalidArgument("Invalid role '" + role + "': " + s.message());
  if (role == "*") return Status::InvalidArgument("The default role '*' cannot be configured");
  return Status::OK();
}

Status validateQuotaResources(const Resources& r, const char* what) {
  for (const auto& x : r) {
    if (x.type != Resource::Type::SCALAR) {
      return Status::InvalidArgument(std::string(what) + ": '" + x.name + "' is not a scalar");
    }
    if (x.isReserved() || x.allocationRole) {
      return Status::InvalidArgument(std::string(what) + ": '" + x.name +
                                     "' must be given without a role");
    }
  }
  return Status::OK();
}
bool validWeight(double w) { return std::isfinite(w) && w >= 1e-6 && w <= 1e6; }
}  // namespace

void RoleManager::restore(const std::map<std::string, double>& stored,
                          const std::map<std::string, Quota>& quotas) {
  // A weight an older master stored may be out of today's bounds: it is
  // left out (weight 1), said once, rather than handed to the sorters.
  std::map<std::string, double> weights;
  for (const auto& [role, w] : stored) {
    if (validWeight(w)) {
      weights[role] = w;
    } else {
      LOG(WARNING) << "Ignoring the stored weight " << w << " of role '" << role
                   << "': weights are from 0.000001 to 1000000";
    }
  }
  weights_ = weights;
  quotas_ = quotas;
  if (!weights.empty()) master_.allocator().updateWeights(weights);
  for (const auto& [role, q] : quotas) master_.allocator().updateQuota(role, q);
}

Status RoleManager::updateWeights(const std::map<std::string, double>& weights,
                                  Registry::Done durable) {
  for (const auto& [role, w] : weights) {
    Status s = validateConcreteRole(role);
    if (!s.ok()) return s;
    // Bounded so that shares divided by weights stay finite and ordered
    // (1e-320 made them infinite; NaN would break the sorters' order).
    if (!validWeight(w)) {
      return Status::InvalidArgument("Weight of role '" + role +
                                     "' must be a number from 0.000001 to 1000000");
    }
  }
  for (const auto& [role, w] : weights) weights_[role] = w;
  master_.registry().setWeights(weights, std::move(durable));
  master_.allocator().updateWeights(weights);
  master_.requestAllocation();
  LOG(INFO) << "Updated the weights of " << weights.size() << " roles";
  return Status::OK();
}

Status RoleManager::setQuota(const std::string& role, const Quota& quota,
                             Registry::Done durable) {
  Status s = validateConcreteRole(role);
  if (!s.ok()) return s;
  s = validateQuotaResources(quota.guarantee, "guarantee");
  if (!s.ok()) return s;
  s = validateQuotaResources(quota.limit, "limit");
  if (!s.ok()) return s;
  if (quota.guarantee.empty() && quota.limit.empty()) {
    return Status::InvalidArgument("A quota needs a guarantee or a limit");
  }
  if (!quota.limit.empty()) {
    for (const auto& g : quota.guarantee) {
      if (quota.limit.names().count(g.name) &&
          quota.limit.scalarMillis(g.name) < g.scalarMillis) {
        return Status::InvalidArgument("The limit of '" + g.name +
                                       "' is below its guarantee");
      }
    }
  }
  quotas_[role] = quota;
  master_.registry().setQuota(role, quota, std::move(durable));
  master_.allocator().updateQuota(role, quota);
  master_.requestAllocation();
  LOG(INFO) << "Quota of role '" << role << "': guarantee " << quota.guarantee << ", limit "
            << (quota.limit.empty() ? std::string("none") : quota.limit.toString());
  return Status::OK();
}

Status RoleManager::removeQuota(const std::string& role, Registry::Done durable) {
  if (!quotas_.erase(role)) return Status::NotFound("Role '" + role + "' has no quota");
  master_.registry().setQuota(role, std::nullopt, std::move(durable));
  master_.allocator().updateQuota(role, std::nullopt);
  master_.requestAllocation();
  LOG(INFO) << "Removed the quota of role '" << role << "'";
  return Status::OK();
}

Status RoleManager::reserve(const AgentID& agentId, const Resources& resources) {
  AgentRecord* agent = master_.agents().findRegistered(agentId);
  if (!agent) return Status::NotFound("No registered agent '" + agentId.value + "'");
  master_.offers().rescindOffersOfAgentAndRecover(agentId);
  Resources free = agent->total - agent->usedTotal().unallocate();
  auto consumed = validateOperatorReserve(resources, free);
  if (!consumed.ok()) {
    return consumed.error().find("free") != std::string::npos
               ? Status::FailedPrecondition(consumed.error())
               : consumed.status();
  }
  master_.agents().convertResources(*agent, *consumed, resources);
  master_.requestAllocation();
  return Status::OK();
}

Status RoleManager::unreserve(const AgentID& agentId, const Resources& resources) {
  AgentRecord* agent = master_.agents().findRegistered(agentId);
  if (!agent) return Status::NotFound("No registered agent '" + agentId.value + "'");
  master_.offers().rescindOffersOfAgentAndRecover(agentId);
  Resources free = agent->total - agent->usedTotal().unallocate();
  auto to = validateOperatorUnreserve(resources, free);
  if (!to.ok()) {
    return to.error().find("free") != std::string::npos ? Status::FailedPrecondition(to.error())
                                                        : to.status();
  }
  master_.agents().convertResources(*agent, resources, *to);
  master_.requestAllocation();
  return Status::OK();
}

Status RoleManager::createVolumes(const AgentID& agentId, const Resources& volumes) {
  AgentRecord* agent = master_.agents().findRegistered(agentId);
  if (!agent) return Status::NotFound("No registered agent '" + agentId.value + "'");
  auto plain = validateCreate(volumes, std::nullopt, agent->total);
  if (!plain.ok()) return plain.status();
  master_.offers().rescindOffersOfAgentAndRecover(agentId);
  Resources free = agent->total - agent->usedTotal().unallocate();
  if (!free.contains(*plain)) {
    return Status::FailedPrecondition("Create of " + volumes.toString() + ": the agent does not "
                                      "have " + plain->toString() + " free (" + free.toString() +
                                      ")");
  }
  master_.agents().convertResources(*agent, *plain, volumes);
  master_.metrics().counter("master/operations_create").inc();
  master_.requestAllocation();
  return Status::OK();
}

Status RoleManager::destroyVolumes(const AgentID& agentId, const Resources& volumes) {
  AgentRecord* agent = master_.agents().findRegistered(agentId);
  if (!agent) return Status::NotFound("No registered agent '" + agentId.value + "'");
  auto plain = validateDestroy(volumes);
  if (!plain.ok()) return plain.status();
  master_.offers().rescindOffersOfAgentAndRecover(agentId);
  Resources free = agent->total - agent->usedTotal().unallocate();
  if (!free.contains(volumes)) {
    return Status::FailedPrecondition("Destroy of " + volumes.toString() + ": no such volume is "
                                      "free on the agent (unknown, or in use by a task)");
  }
  Status whole = checkWholeVolumes(volumes, free);
  if (!whole.ok()) return Status::InvalidArgument("Destroy " + whole.message());
  master_.agents().convertResources(*agent, volumes, *plain);
  master_.metrics().counter("master/operations_destroy").inc();
  master_.requestAllocation();
  return Status::OK();
}

}  // namespace tutti::master
