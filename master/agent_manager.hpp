// AgentManager: agent registration, re-registration, health (pings), and
// unreachable agents. Loop thread only.
//
// Health follows Mesos: the master pings each agent every
// --agent_ping_timeout; after --max_agent_ping_timeouts pings in a row go
// unanswered the agent is unreachable: its offers are rescinded and its
// tasks reported TASK_UNREACHABLE (partition-aware frameworks) or TASK_LOST.
// An unreachable agent may re-register later; tasks of frameworks that are
// not partition-aware are then killed, as Mesos does.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <set>
#include <optional>
#include <unordered_map>

#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/registry/registry.hpp"
#include "master/state.hpp"

namespace tutti::master {

class Master;

class AgentManager {
 public:
  explicit AgentManager(Master& master);

  void onRegisterAgent(const ConnectionId& from, const wire::RegisterAgentMessage& m);
  // Takes the message to own: its tasks move into the master's records.
  void onReregisterAgent(const ConnectionId& from, wire::ReregisterAgentMessage&& m);
  void onPong(const ConnectionId& from, const wire::PongMessage& m);
  void onUnregisterAgent(const ConnectionId& from, const wire::UnregisterAgentMessage& m);

  // After a failover: agents the registry holds. Admitted ones wait
  // --agent_reregister_timeout to re-register, then become unreachable
  // (at most --agent_removal_rate_limit of them per period).
  void restore(const std::map<AgentID, RegistryState::Agent>& agents);

  // The non-const lookups are how every change reaches a record, so they
  // drop its cached snapshot view (AgentRecord::view).
  AgentRecord* find(const AgentID& id);
  const AgentRecord* find(const AgentID& id) const;
  // Registered (reachable) agents only.
  AgentRecord* findRegistered(const AgentID& id);
  const std::map<AgentID, AgentRecord>& all() const { return agents_; }

  // Queues for a registered agent (Transport::sendSoon: it goes out when the
  // round ends); failures are logged (the agent's retries and
  // re-registration repair what is lost).
  void send(const AgentRecord& agent, const wire::Payload& message);

  // A message from a registered agent arrived on `from`: remember the
  // connection (a reconnect gets a new one).
  void touch(AgentRecord& agent, const ConnectionId& from);

  // Marks the agent unreachable: offers rescinded, tasks TASK_UNREACHABLE
  // (partition-aware frameworks) or TASK_LOST. The record stays so that the
  // agent may re-register.
  void markUnreachable(const AgentID& id, const std::string& why);
  // Removes the agent for good (it unregistered, or restarted as a new
  // agent): tasks TASK_GONE (partition-aware) or TASK_LOST with `reason`.
  void removeAgent(const AgentID& id, Reason reason, const std::string& why);
  // The operator took the agent's machine down (maintenance): the agent is
  // told to shut down (ShutdownAgentMessage with `why`) and removed; its
  // tasks become TASK_GONE_BY_OPERATOR (partition-aware) or TASK_LOST, with
  // REASON_AGENT_REMOVED_BY_OPERATOR. Its id is refused from then on by
  // this master; with `recordGone` the registry records it as gone, so that
  // it stays refused after a failover too. `durable` runs once the registry
  // holds the change.
  void removeAgentByOperator(const AgentID& id, const std::string& why, bool recordGone = false,
                             Registry::Done durable = nullptr);

  // Mesos's MARK_AGENT_GONE: a registered, recovered or unreachable agent is
  // removed as above. NotFound for an agent the master does not know; an
  // agent already gone is OK (the call is idempotent).
  Status markGone(const AgentID& id, Registry::Done durable);

  // Replaces `from` by `to` in the agent's total (a reservation made or
  // removed), tells the allocator and the agent.
  void convertResources(AgentRecord& agent, const Resources& from, const Resources& to);

  // O(1): kept as records change state.
  size_t registeredCount() const;
  size_t unreachableCount() const;
  // The sum of "cpus", "mem" or "disk" over registered agents (O(1)).
  double registeredTotal(std::string_view name) const;

 private:
  void admit(AgentRecord& agent);
  void reregistered(const ConnectionId& from, wire::ReregisterAgentMessage&& m,
                    bool wasUnreachable);
  void onReregisterTimeout();
  void drainRemovals();
  void schedulePing(AgentRecord& agent);
  void onPingTimer(const AgentID& id);
  Status validateAgentInfo(const AgentInfo& info) const;
  // Refuses (ShutdownAgentMessage) an agent whose machine is DOWN for
  // maintenance; returns whether it did.
  bool refuseIfDown(const ConnectionId& from, const AgentInfo& info, const char* what);
  // `gone`: recorded as gone in the registry (else forgotten there).
  void remove(const AgentID& id, TaskState partitionAwareState, Reason reason,
              const std::string& why, bool gone = false, Registry::Done durable = nullptr);

  // agents_ indexed by advertised address (hostname, HTTP port), so that a
  // registration finds an earlier incarnation without scanning every agent.
  using Address = std::pair<std::string, uint32_t>;
  static Address addressOf(const AgentInfo& info) { return {info.hostname, info.port}; }
  void indexAddress(const AgentRecord& agent);
  void unindexAddress(const AgentRecord& agent);

  Master& master_;
  // Creates the record (or returns the existing one) and indexes it.
  AgentRecord& insert(const AgentID& id);
  // Every change of a record's state or total goes through these, which keep
  // the counts and totals below.
  void setState(AgentRecord& agent, AgentState state);
  void setTotal(AgentRecord& agent, Resources total);
  void account(const AgentRecord& agent, int sign);
  static constexpr std::array<std::string_view, 3> kTotalNames = {"cpus", "mem", "disk"};
  std::array<int64_t, 4> counts_{};            // records by AgentState
  std::array<int64_t, 3> registeredMillis_{};  // kTotalNames over registered agents
  // A registered agent, for changes to its health fields only (pings),
  // which the state endpoints do not show: keeps its snapshot view.
  AgentRecord* findForHealth(const AgentID& id);

  std::map<AgentID, AgentRecord> agents_;  // ordered, for the HTTP endpoints
  // The same records by id, for lookups per message: ids share a long
  // prefix (the master's id), which makes ordered comparisons slow.
  std::unordered_map<AgentID, AgentRecord*> byId_;
  std::map<Address, std::set<AgentID>> byAddress_;
  uint64_t nextAgentNumber_ = 0;
  // Removed for good: refused if they come back (from the registry, and
  // agents removed by the operator since this master leads).
  std::set<AgentID> gone_;
  std::deque<AgentID> removalQueue_;       // recovered agents that did not come back
  Loop::TimerId removalTimer_ = 0;
  Counter& registrations_;
  Counter& reregistrations_;
  Counter& removals_;
  Counter& invalidRegistrations_;
  Counter& refusedDown_;
};

}  // namespace tutti::master
