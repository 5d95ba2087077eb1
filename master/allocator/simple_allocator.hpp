// SimpleAllocator: the first Allocator (see allocator.hpp).
//
// Offers each agent's free resources whole to one framework at a time,
// choosing frameworks in order of lowest dominant share (weighted by role
// weight) across the cluster, skipping inactive frameworks, suppressed roles
// and refuse filters. Reserved resources go only to frameworks in the
// reservation's role or a sub-role. It ignores quota (updateQuota is
// recorded for /master/roles only): the hierarchical DRF allocator replaces
// it. Loop thread only.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "master/allocator/allocator.hpp"

namespace tutti::master {

class SimpleAllocator final : public Allocator {
 public:
  void initialize(const AllocatorOptions& options, Clock& clock,
                  OfferCallback offerCallback) override;

  void addFramework(const FrameworkID& id, const FrameworkInfo& info,
                    const std::map<AgentID, Resources>& used, bool active,
                    const std::set<std::string>& suppressedRoles) override;
  void removeFramework(const FrameworkID& id) override;
  void activateFramework(const FrameworkID& id) override;
  void deactivateFramework(const FrameworkID& id) override;
  void updateFramework(const FrameworkID& id, const FrameworkInfo& info,
                       const std::set<std::string>& suppressedRoles) override;

  void addAgent(const AgentID& id, const AgentInfo& info, const Resources& total,
                const std::map<FrameworkID, Resources>& used) override;
  void removeAgent(const AgentID& id) override;
  void updateAgent(const AgentID& id, const AgentInfo& info, const Resources& total) override;
  void activateAgent(const AgentID& id) override;
  void deactivateAgent(const AgentID& id) override;

  void updateAllocation(const FrameworkID& framework, const AgentID& agent,
                        const Resources& from, const Resources& to) override;
  void recoverResources(const FrameworkID& framework, const AgentID& agent,
                        const Resources& resources,
                        const std::optional<Filters>& filters) override;
  void suppressOffers(const FrameworkID& framework, const std::set<std::string>& roles) override;
  void reviveOffers(const FrameworkID& framework, const std::set<std::string>& roles) override;
  void updateWeights(const std::map<std::string, double>& weights) override;
  void updateQuota(const std::string& role, const std::optional<Quota>& quota) override;

  void allocate(AllocationScope scope) override;
  bool hasPendingChanges() const override { return allChanged_ || !changedAgents_.empty(); }
  std::vector<RoleSummary> roles() const override;

 private:
  struct Filter {
    Resources resources;  // unallocated form
    TimePoint expires;
  };
  struct AgentEntry {
    AgentInfo info;
    Resources total;
    Resources allocated;  // unallocated form (no allocation roles)
    std::map<FrameworkID, Resources> allocatedTo;  // with allocation roles
    bool active = true;
  };
  struct FrameworkEntry {
    FrameworkInfo info;
    std::vector<std::string> roles;
    bool active = true;
    std::set<std::string> suppressed;
    Resources allocated;  // with allocation roles, across agents
    std::map<AgentID, std::vector<Filter>> filters;
  };

  bool isFiltered(FrameworkEntry& fw, const AgentID& agent, const Resources& offerable);
  bool meetsMinimum(const Resources& offerable) const;
  double dominantShare(const FrameworkEntry& fw, const Resources& clusterTotal) const;
  double weightOf(const FrameworkEntry& fw) const;

  AllocatorOptions options_;
  Clock* clock_ = nullptr;
  OfferCallback offerCallback_;
  std::map<AgentID, AgentEntry> agents_;
  std::map<FrameworkID, FrameworkEntry> frameworks_;
  std::set<AgentID> changedAgents_;
  bool allChanged_ = false;
  std::map<std::string, double> weights_;
  std::map<std::string, Quota> quotas_;
};

}  // namespace tutti::master
