// Allocator: decides which framework is offered which agent's resources.
//
// Pure logic: no sockets, no threads, no timers. The master calls it on its
// loop thread; it reports offers synchronously through the OfferCallback
// from inside allocate(). Time (for refuse filters) comes from the Clock
// given to initialize(). The interface mirrors Mesos's allocator so that the
// hierarchical DRF implementation can replace SimpleAllocator unchanged.
//
// Accounting: the allocator counts resources as allocated from the moment it
// offers them until the master gives them back with recoverResources()
// (declined or unused offer resources, resources of finished tasks).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "tutti/types.hpp"

namespace tutti::master {

struct Quota {
  Resources guarantee;
  Resources limit;  // empty: no limit
  bool operator==(const Quota&) const = default;
};

struct AllocatorOptions {
  // The master runs a full allocation this often (--allocation_interval).
  Duration allocationInterval = 1s;
  // An agent's free resources are offered only if they contain at least one
  // of these (--min_allocatable_resources, "cpus:0.01|mem:32").
  std::vector<Resources> minAllocatableResources;
  // Resources left out of dominant share computations.
  std::set<std::string> fairSharingExcludedResourceNames = {"gpus"};
  // At most this many agents per allocate() (0: every candidate at once).
  // The rest stay changed, so hasPendingChanges() holds and the master's
  // next event-triggered run (on a later turn of its loop) goes on with
  // them: offering 50,000 agents at once held the master's loop ~0.8 s.
  size_t maxAgentsPerRun = 0;
};

// framework -> role -> agent -> resources (allocated to the role).
using OfferCallback = std::function<void(
    const FrameworkID&, const std::map<std::string, std::map<AgentID, Resources>>&)>;

enum class AllocationScope {
  kChanged,  // only agents and frameworks that changed since the last run
  kAll,      // every agent
};

// Per-role figures for /master/roles and metrics.
struct RoleSummary {
  std::string role;
  double weight = 1.0;
  std::optional<Quota> quota;
  Resources allocated;  // offered + used
  std::set<FrameworkID> frameworks;
};

class Allocator {
 public:
  virtual ~Allocator() = default;

  virtual void initialize(const AllocatorOptions& options, Clock& clock,
                          OfferCallback offerCallback) = 0;

  // `used`: resources the framework already uses on each agent (after a
  // master failover); `suppressedRoles`: roles that want no offers.
  virtual void addFramework(const FrameworkID& id, const FrameworkInfo& info,
                            const std::map<AgentID, Resources>& used, bool active,
                            const std::set<std::string>& suppressedRoles) = 0;
  virtual void removeFramework(const FrameworkID& id) = 0;
  virtual void activateFramework(const FrameworkID& id) = 0;
  virtual void deactivateFramework(const FrameworkID& id) = 0;
  virtual void updateFramework(const FrameworkID& id, const FrameworkInfo& info,
                               const std::set<std::string>& suppressedRoles) = 0;

  virtual void addAgent(const AgentID& id, const AgentInfo& info, const Resources& total,
                        const std::map<FrameworkID, Resources>& used) = 0;
  virtual void removeAgent(const AgentID& id) = 0;
  virtual void updateAgent(const AgentID& id, const AgentInfo& info, const Resources& total) = 0;
  virtual void activateAgent(const AgentID& id) = 0;
  virtual void deactivateAgent(const AgentID& id) = 0;

  // Replaces `from` (allocated to the framework on the agent) by `to`, e.g.
  // unreserved resources turned into reserved ones by a RESERVE operation.
  virtual void updateAllocation(const FrameworkID& framework, const AgentID& agent,
                                const Resources& from, const Resources& to) = 0;

  // Gives resources back. With `filters`, the framework is not offered these
  // resources on this agent again for filters->refuseSeconds.
  virtual void recoverResources(const FrameworkID& framework, const AgentID& agent,
                                const Resources& resources,
                                const std::optional<Filters>& filters) = 0;

  // Empty `roles` means all of the framework's roles.
  virtual void suppressOffers(const FrameworkID& framework,
                              const std::set<std::string>& roles) = 0;
  // Also clears the framework's refuse filters for those roles.
  virtual void reviveOffers(const FrameworkID& framework, const std::set<std::string>& roles) = 0;

  virtual void updateWeights(const std::map<std::string, double>& weights) = 0;
  virtual void updateQuota(const std::string& role, const std::optional<Quota>& quota) = 0;

  // Makes offers now. kChanged looks only at what changed since the last
  // run; the master calls it soon after events, and kAll every interval.
  // With AllocatorOptions::maxAgentsPerRun a run may stop early and leave
  // the rest pending (hasPendingChanges()).
  virtual void allocate(AllocationScope scope) = 0;
  // Whether something changed since the last run (an event-triggered run
  // would have work to do).
  virtual bool hasPendingChanges() const = 0;
  // Whether the last allocate() stopped at AllocatorOptions::maxAgentsPerRun
  // with agents left for the next run.
  virtual bool stoppedEarly() const { return false; }
  // When the earliest refuse filter expires (the master runs an allocation
  // then, so a declined agent is offered again on time, not at the next
  // interval); nullopt without filters. May be a filter revive cleared.
  virtual std::optional<TimePoint> nextFilterExpiry() const = 0;

  virtual std::vector<RoleSummary> roles() const = 0;
};

}  // namespace tutti::master
