// HierarchicalAllocator: hierarchical weighted DRF over the role tree, with
// quota (guarantee and limit), static and dynamic reservations, refuse
// filters, suppress/revive and minimum allocatable resources (DESIGN §7).
// It implements Allocator (allocator.hpp) and replaces SimpleAllocator.
//
// Role tree. Roles are '/'-separated paths ("eng", "eng/web"); each path
// component is a node under a root (ancestors exist implicitly). Every node
// has a DrfSorter over its children plus one "self" client standing for the
// frameworks subscribed to the node's own role (weight 1), and a DrfSorter
// over those frameworks. A child's share is the dominant share of everything
// allocated in its subtree divided by the role's weight, so weights apply per
// level: "eng/web" with weight 3 competes with its siblings under "eng", and
// "eng" competes with "ops" by eng's weight. A multi-role framework is a
// separate client in each of its roles, holding what it was allocated in that
// role. Inactive frameworks and suppressed roles leave the order but keep
// counting in their roles' shares.
//
// A cycle visits candidate agents (below) in the order they were added and,
// for each, walks the tree from the root in share order to the first
// framework that can use the agent's free resources: active, role not
// suppressed, something allocatable to its role (unreserved, or reserved to
// the role or an ancestor: Resources::allocatableTo), at least one of
// AllocatorOptions::minAllocatableResources, no refuse filter containing the
// offer, within quota limits. What is left on the agent (resources reserved
// for other roles, parts cut by limits) goes on to the next framework.
//
// Starvation guard: the order is never computed once per cycle. Each
// placement adds the offer to the receiving framework's and its roles'
// allocations at once (offered counts as allocated) and moves their sorter
// entries, so the next agent is placed by the updated order: a cycle spreads
// agents in DRF order instead of handing every agent to whoever was lowest
// when it started. Declined resources come back through recoverResources()
// with a refuse filter, which passes the agent to the next framework in
// order for refuse_seconds; an expiring filter makes the agent a candidate
// of the next event-triggered cycle (hasPendingChanges() watches the
// earliest expiry). Equal shares are broken by fewer offers received, so
// equal frameworks take turns rather than one of them winning every tie. A
// framework that others' declines keep offering nothing to therefore still
// climbs to its fair share, one placement at a time.
//
// Quota. consumption(role) = what is allocated to the role and its sub-roles
// plus the unallocated resources reserved to them (as in Mesos 1.9+).
// Stage 1 serves roles whose guarantee exceeds their consumption, least
// satisfied first: each gets, on each agent, the unreserved resources of the
// guaranteed names up to what is missing, the resources reserved to it, and
// other unreserved resources as far as they are not held back for other
// guarantees. Stage 2 is fair sharing over all roles; it never takes
// unreserved resources that the unmet guarantees need: when an offer's
// unreserved part would leave less free (on active agents) than the sum of
// unmet guarantees (nested guarantees are not counted twice), it offers only
// the reserved part. Limits bound consumption in both stages, counting
// sub-roles and offers: scalar quantities are cut down to what the role and
// every ancestor with a limit still have room for (limits on non-scalar
// resources are ignored).
//
// Cost. kAll looks at every agent with offerable free resources; kChanged at
// agents whose free resources changed, whose filter expired, and, after a
// framework/role/weight/quota event, those with free resources (in a busy
// cluster few are: everything is offered). A placement costs O(depth ×
// log clients) sorter updates plus the Resources arithmetic of one offer; the
// per-agent walk skips subtrees with no active framework and, when the agent
// has only reserved resources left, subtrees those reservations cannot serve.
// A cluster-total change (agent added/removed/resized) re-sorts each sorter
// once, on its next use. roles() is O(allocations).
//
// Accounting: allocated = offered + used, per agent and framework, kept in
// Resources; recoverResources() gives back at most what is held, and a
// recovery for a removed agent is ignored (removeAgent() already released
// it). addAgent(used) and addFramework(used) merge: usage reported by both
// counts once. updateAllocation(from, to) converts `from` into `to` in the
// agent's total and the allocation (RESERVE/UNRESERVE); with an empty `from`
// it records `to` as newly used, out of the agent's free resources.
//
// Thread: the master's loop only; offers are reported synchronously from
// allocate() through the OfferCallback, after the cycle's bookkeeping is
// done. Errors: calls about unknown frameworks or agents are ignored.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "master/allocator/allocator.hpp"
#include "master/allocator/sorter.hpp"

namespace tutti::master {

class HierarchicalAllocator final : public Allocator {
 public:
  HierarchicalAllocator();
  ~HierarchicalAllocator() override;

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
  bool hasPendingChanges() const override;
  bool stoppedEarly() const override { return stoppedEarly_; }
  std::optional<TimePoint> nextFilterExpiry() const override;
  std::vector<RoleSummary> roles() const override;

  // Diagnostics beyond the interface (tests, debugging).
  // The agent's free (unallocated) resources; empty for an unknown agent.
  Resources freeResources(const AgentID& agent) const;
  // Everything allocated (offered + used) on the agent, in allocated form.
  Resources allocatedResources(const AgentID& agent) const;
  // Recomputes every incremental aggregate from scratch and compares; returns
  // a description of the first mismatch, or "" when all agree. O(everything).
  std::string checkConsistency() const;

 private:
  struct Agent;
  struct Framework;
  struct FrameworkRole;
  struct RoleNode;
  struct Holding;
  struct Visit;
  struct AgentBySeq {
    bool operator()(const Agent* a, const Agent* b) const;
  };
  struct IdHash {
    size_t operator()(const AgentID& id) const { return std::hash<std::string>()(id.value); }
  };
  using AgentSet = std::set<Agent*, AgentBySeq>;

  // ---- Roles --------------------------------------------------------------
  RoleNode* findRole(const std::string& name) const;
  // Finds or creates the node (and its ancestors) and takes a reference.
  RoleNode* acquireRole(const std::string& name);
  // Drops a reference; removes nodes nothing refers to any more.
  void releaseRole(RoleNode* node);
  void maybeRemoveRole(RoleNode* node);
  static bool isSelfOrAncestor(const RoleNode* ancestor, const RoleNode* node);
  // Adds (sign > 0) or removes `delta` to/from the role's own allocation and
  // the subtree allocations up to the root, moving each sorter entry.
  void changeRoleAllocation(RoleNode* node, const ScalarVec& delta, int sign, bool countOffer);
  void changeReservedFree(RoleNode* node, const ScalarVec& delta, int sign);
  // An active framework client of `node` came (+1) or went (-1).
  void changeActiveCount(RoleNode* node, int delta);
  ScalarVec consumption(const RoleNode* node) const;
  void setQuotaVectors(RoleNode* node);

  // ---- Frameworks ---------------------------------------------------------
  FrameworkRole* frameworkRole(Framework& fw, const std::string& role, bool subscribe);
  void maybeRemoveFrameworkRole(FrameworkRole* fr);
  void syncActive(FrameworkRole* fr);
  void clearFilters(FrameworkRole* fr);
  void applyRoles(Framework& fw, const FrameworkInfo& info,
                  const std::set<std::string>& suppressedRoles);

  // ---- Agents and holdings ------------------------------------------------
  Holding* findHolding(Agent& agent, const FrameworkID& fw, const std::string& role);
  // Finds or creates the holding (references to holdings die with the next).
  Holding& holdingFor(Agent& agent, const FrameworkID& fw, const std::string& role);
  Holding& holdingFor(Agent& agent, FrameworkRole& owner);
  Holding& newHolding(Agent& agent, const FrameworkID& fw, RoleNode* role, FrameworkRole* owner);
  void dropHolding(Agent& agent, size_t index);
  // Book-keeping of a holding and every aggregate above it; free resources
  // are the caller's business.
  void addToHolding(Holding& holding, Resources unallocated, const ScalarVec& scalars,
                    bool countOffer);
  void removeFromHolding(Holding& holding, const Resources& unallocated, const ScalarVec& scalars);
  // Records `wanted` (allocated form, one role) as held unless it already is,
  // out of the agent's free resources (never beyond them).
  void takeUsed(Agent& agent, const FrameworkID& fw, const Resources& wanted);
  // Gives (at most) `part` (unallocated form) of the holding back; returns
  // what was given.
  Resources giveBack(Agent& agent, size_t holdingIndex, const Resources& part);
  // Around every change of agent.free: retireFree() takes the agent's free
  // resources out of the aggregates, admitFree() re-derives and re-adds them.
  void retireFree(Agent& agent);
  void admitFree(Agent& agent);
  void setTotal(Agent& agent, const Resources& total);
  void markChanged(Agent& agent);
  void setOfferable(Agent& agent, bool offerable);
  ScalarVec scalarsOf(const Resources& resources);

  // ---- Allocation ---------------------------------------------------------
  void refreshBasis();
  // `scalars` are the offer's scalar quantities.
  bool meetsMinimum(const Resources& offer, const ScalarVec& scalars) const;
  bool isFiltered(FrameworkRole& fr, Agent& agent, const Resources& offer);
  void processExpiredFilters(TimePoint now);
  void compactExpiries();
  // Roles with quota whose guarantee exceeds their consumption, least
  // satisfied first (only those with an active framework in their subtree).
  std::vector<RoleNode*> unmetRoles();
  // Unreserved quantities the unmet guarantees still need (nested ones not
  // counted twice).
  ScalarVec requiredHeadroom() const;
  ScalarVec need(const RoleNode* node) const;
  // Stage 1 on one agent; false when no guarantee is unmet any more.
  bool allocateGuarantees(Agent& agent);
  // Stage 2 on one agent.
  void allocateFairShare(Agent& agent, const ScalarVec& required);
  // Walks `node`'s subtree in share order and makes at most one offer.
  bool walk(RoleNode* node, Agent& agent, Visit& visit);
  bool relevant(const RoleNode* node, const Agent& agent) const;
  bool tryOffer(FrameworkRole& fr, Agent& agent, Visit& visit);
  // Stage 1: cuts the offer down to what serves the guarantee; false when it
  // serves none of it.
  bool shapeForGuarantee(const Visit& visit, Resources& offer);
  // Cuts scalar quantities down to what the role's limits (and its
  // ancestors') allow; true when something was cut.
  bool clampToLimits(const RoleNode* role, Resources& offer) const;
  // `whole`: the offer is all of agent.free.
  void place(FrameworkRole& fr, Agent& agent, const Resources& offer, ScalarVec scalars,
             bool whole);
  // offer.allocate(role), memoised for offers of whole idle agents.
  Resources allocatedForm(const Resources& offer, RoleNode* role, bool idleAgent);
  void flushOffers();

  AllocatorOptions options_;
  std::vector<Resources> minimums_;  // flattened alternatives
  // The same as (name id, millis) lists, used when all are scalars.
  std::vector<std::vector<std::pair<size_t, int64_t>>> scalarMinimums_;
  bool minimumsAreScalars_ = true;
  Clock* clock_ = nullptr;
  OfferCallback offerCallback_;

  ResourceNames names_;
  std::vector<bool> excludedName_;  // by name id
  ShareBasis basis_;
  ScalarVec clusterTotal_;
  bool basisDirty_ = true;

  std::unique_ptr<RoleNode> root_;
  std::unordered_map<std::string, std::unique_ptr<RoleNode>> roles_;
  std::set<RoleNode*> quotaRoles_;
  std::map<std::string, double> weights_;

  std::map<FrameworkID, std::unique_ptr<Framework>> frameworks_;
  // Holdings on agents of frameworks the allocator does not know (yet).
  std::map<FrameworkID, AgentSet> orphans_;

  std::unordered_map<AgentID, std::unique_ptr<Agent>, IdHash> agents_;
  uint64_t nextAgentSeq_ = 0;
  // Active agents whose free resources meet the minimum, in the order they
  // became so (an intrusive list through Agent).
  Agent* offerableHead_ = nullptr;
  Agent* offerableTail_ = nullptr;
  size_t offerableCount_ = 0;
  std::vector<Agent*> changed_;  // since the last cycle, each once
  bool stoppedEarly_ = false;    // the last allocate() left agents for the next
  bool globalChange_ = false;
  ScalarVec freeUnreserved_;  // on active agents: the headroom for guarantees

  // Refuse filter expiries (earliest first); entries may be stale.
  using Expiry = std::pair<TimePoint, AgentID>;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<>> expiries_;
  size_t liveFilters_ = 0;

  uint64_t visitSeq_ = 0;
  std::vector<FrameworkRole*> offering_;  // with offers in the running cycle
  std::vector<Agent*> candidates_;
};

}  // namespace tutti::master
