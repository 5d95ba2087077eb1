// FrameworkManager: subscription, re-subscription (failover), heartbeats,
// disconnection, failover timeouts and teardown. Loop thread only.
//
// A framework is disconnected when a send to it fails (its connection is
// gone) — heartbeats every --heartbeat_interval make sure this is noticed.
// A disconnected framework gets no offers; after its failover_timeout it is
// torn down and its tasks killed.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <unordered_map>

#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/state.hpp"

namespace tutti::master {

class Master;

class FrameworkManager {
 public:
  explicit FrameworkManager(Master& master);

  void onSubscribe(const ConnectionId& from, const wire::SubscribeCall& m);
  void onTeardown(const ConnectionId& from, const wire::TeardownCall& m);
  void onRevive(const ConnectionId& from, const wire::ReviveCall& m);
  void onSuppress(const ConnectionId& from, const wire::SuppressCall& m);

  // The framework if `from` is its subscribed connection; otherwise logs,
  // counts master/invalid_framework_calls and returns null.
  FrameworkRecord* authorize(const ConnectionId& from, const FrameworkID& id, const char* call);

  // The non-const lookup is how every change reaches a record, so it drops
  // the record's cached snapshot view (FrameworkRecord::view).
  FrameworkRecord* find(const FrameworkID& id);
  const FrameworkRecord* find(const FrameworkID& id) const;
  bool isCompleted(const FrameworkID& id) const { return completedIds_.count(id) > 0; }
  const std::map<FrameworkID, FrameworkRecord>& all() const { return frameworks_; }
  const std::deque<FrameworkRecord>& completed() const { return completed_; }

  // Sends to a connected framework; a failed send disconnects it. Returns
  // whether the message was handed to the transport.
  bool send(FrameworkRecord& fw, const wire::Payload& message);
  // The same through Transport::sendSoon() (status updates): a send that
  // fails when the round's queue goes out disconnects it then
  // (onSendFailed). Returns whether the framework is connected.
  bool sendSoon(FrameworkRecord& fw, const wire::Payload& message);
  // A queued send to `conn` failed: the framework on it is disconnected.
  void onSendFailed(const ConnectionId& conn, const Status& why);

  // After a failover: the frameworks the registry holds wait, disconnected,
  // for their schedulers (see recoverFramework).
  void restore(const std::map<FrameworkID, FrameworkInfo>& frameworks);

  // A framework an agent reported after this master started: it waits,
  // disconnected, for its scheduler to re-subscribe.
  void recoverFramework(const FrameworkInfo& info);
  // Tells every connected framework that the agent is gone (agentLost).
  void broadcastAgentLost(const AgentID& agent);
  // Removes the framework: offers recovered, tasks killed on the agents.
  void teardown(const FrameworkID& id, const std::string& why);
  // An operator's teardown (/master/teardown): a connected framework is told
  // with an ERROR event first. InvalidArgument when no such framework is
  // registered (unknown, or already completed).
  Status teardownByOperator(const FrameworkID& id);

 private:
  Status validate(const FrameworkInfo& info) const;
  void disconnect(FrameworkRecord& fw, const std::string& why);
  void scheduleHeartbeat(FrameworkRecord& fw);
  void startFailoverTimer(FrameworkRecord& fw, Duration timeout);

  Master& master_;
  // Creates the record (or returns the existing one) and indexes it.
  FrameworkRecord& insert(const FrameworkID& id);

  std::map<FrameworkID, FrameworkRecord> frameworks_;  // ordered, for the HTTP endpoints
  std::unordered_map<FrameworkID, FrameworkRecord*> byId_;  // the same, for lookups per message
  std::deque<FrameworkRecord> completed_;
  std::set<FrameworkID> completedIds_;
  uint64_t nextFrameworkNumber_ = 0;
  std::set<FrameworkID> pendingSubscriptions_;  // waiting for the registry
  std::set<ConnectionId> pendingConnections_;   // the same, by connection
  Counter& subscriptions_;
  Counter& invalidCalls_;
  Counter& invalidSubscriptions_;
};

}  // namespace tutti::master
