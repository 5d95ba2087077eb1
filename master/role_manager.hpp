// RoleManager: role weights and quota (/master/weights, /master/quota) and
// operator reservations (/master/reserve, /master/unreserve). Loop thread
// only. Weights and quota are kept in the registry.
//
// Errors are InvalidArgument (a malformed request: HTTP 400),
// FailedPrecondition (the resources are not free: 409) or NotFound (404).
#pragma once

#include <map>
#include <string>

#include "master/allocator/allocator.hpp"
#include "master/registry/registry.hpp"
#include "master/state.hpp"

namespace tutti::master {

class Master;

class RoleManager {
 public:
  explicit RoleManager(Master& master) : master_(master) {}

  // After a failover: the weights and quota the registry holds.
  void restore(const std::map<std::string, double>& weights,
               const std::map<std::string, Quota>& quotas);

  // Weights must be finite and > 0; roles valid and not "*". Weights and
  // quota are written to the registry (a failed write steps the master
  // down); `durable` runs once the change is stored (not on a validation
  // error, which is returned instead).
  Status updateWeights(const std::map<std::string, double>& weights,
                       Registry::Done durable = nullptr);
  const std::map<std::string, double>& weights() const { return weights_; }

  // Sets (or replaces) a role's quota. The guarantee and limit are
  // unreserved scalars; a limit, when given, must hold the guarantee.
  Status setQuota(const std::string& role, const Quota& quota, Registry::Done durable = nullptr);
  Status removeQuota(const std::string& role, Registry::Done durable = nullptr);
  const std::map<std::string, Quota>& quotas() const { return quotas_; }

  // Operator reservations on an agent's free (unused) resources. Offers
  // outstanding on the agent are rescinded first, so that what they held
  // counts as free.
  Status reserve(const AgentID& agent, const Resources& resources);
  Status unreserve(const AgentID& agent, const Resources& resources);
  // Operator persistent volumes (/master/create-volumes, /destroy-volumes):
  // created out of the agent's free reserved disk, destroyed when no task
  // uses them (FailedPrecondition otherwise), offers rescinded first.
  Status createVolumes(const AgentID& agent, const Resources& volumes);
  Status destroyVolumes(const AgentID& agent, const Resources& volumes);

 private:
  Master& master_;
  std::map<std::string, double> weights_;
  std::map<std::string, Quota> quotas_;
};

}  // namespace tutti::master
