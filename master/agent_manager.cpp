#include "master/agent_manager.hpp"

#include <glog/logging.h>

#include "common/duration.hpp"
#include "common/ids.hpp"
#include "common/version.hpp"
#include "master/master.hpp"

namespace tutti::master {

const char* toString(AgentState s) {
  switch (s) {
    case AgentState::kAdmitting: return "ADMITTING";
    case AgentState::kRegistered: return "REGISTERED";
    case AgentState::kRecovered: return "RECOVERED";
    case AgentState::kUnreachable: return "UNREACHABLE";
  }
  return "UNKNOWN";
}

Resources AgentRecord::usedTotal() const {
  Resources out;
  for (const auto& [_, r] : used) out += r;
  return out;
}

std::string AgentRecord::pid() const {
  return "slave(1)@" + info.hostname + ":" + std::to_string(info.port);
}

AgentManager::AgentManager(Master& master)
    : master_(master),
      registrations_(master.metrics().counter("master/slave_registrations")),
      reregistrations_(master.metrics().counter("master/slave_reregistrations")),
      removals_(master.metrics().counter("master/slave_removals")),
      invalidRegistrations_(master.metrics().counter("master/invalid_agent_registrations")),
      refusedDown_(master.metrics().counter("master/agent_registrations_refused_down")) {}

AgentRecord* AgentManager::find(const AgentID& id) {
  auto it = byId_.find(id);
  if (it == byId_.end()) return nullptr;
  it->second->view.reset();  // the caller may change it
  return it->second;
}

const AgentRecord* AgentManager::find(const AgentID& id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : it->second;
}

AgentRecord* AgentManager::findForHealth(const AgentID& id) {
  auto it = byId_.find(id);
  if (it == byId_.end() || it->second->state != AgentState::kRegistered) return nullptr;
  return it->second;
}

AgentRecord& AgentManager::insert(const AgentID& id) {
  auto [it, fresh] = agents_.try_emplace(id);
  if (fresh) {
    byId_[id] = &it->second;
    account(it->second, +1);
  }
  it->second.view.reset();
  return it->second;
}

void AgentManager::account(const AgentRecord& agent, int sign) {
  counts_[static_cast<size_t>(agent.state)] += sign;
  if (agent.state != AgentState::kRegistered) return;
  for (size_t i = 0; i < kTotalNames.size(); ++i) {
    registeredMillis_[i] += sign * agent.total.scalarMillis(kTotalNames[i]);
  }
}

void AgentManager::setState(AgentRecord& agent, AgentState state) {
  account(agent, -1);
  agent.state = state;
  account(agent, +1);
}

void AgentManager::setTotal(AgentRecord& agent, Resources total) {
  account(agent, -1);
  agent.total = std::move(total);
  account(agent, +1);
}

double AgentManager::registeredTotal(std::string_view name) const {
  for (size_t i = 0; i < kTotalNames.size(); ++i) {
    if (kTotalNames[i] == name) return static_cast<double>(registeredMillis_[i]) / 1000.0;
  }
  return 0;
}

AgentRecord* AgentManager::findRegistered(const AgentID& id) {
  AgentRecord* a = find(id);
  return a && a->state == AgentState::kRegistered ? a : nullptr;
}

size_t AgentManager::registeredCount() const {
  return static_cast<size_t>(counts_[static_cast<size_t>(AgentState::kRegistered)]);
}

size_t AgentManager::unreachableCount() const {
  return static_cast<size_t>(counts_[static_cast<size_t>(AgentState::kUnreachable)]);
}

void AgentManager::send(const AgentRecord& agent, const wire::Payload& message) {
  // Failures are logged by the transport (VLOG 1) and counted in
  // master/messages_send_failed; pings find agents that are gone.
  master_.transport().sendSoon(agent.conn, message);
}

void AgentManager::touch(AgentRecord& agent, const ConnectionId& from) {
  if (agent.conn != from) {
    VLOG(1) << "Agent " << agent.id << " now speaks on a new connection";
    agent.conn = from;
  }
}

Status AgentManager::validateAgentInfo(const AgentInfo& info) const {
  if (info.hostname.empty()) return Status::InvalidArgument("agent hostname is empty");
  if (info.port == 0 || info.port > 65535) {
    return Status::InvalidArgument("agent HTTP port " + std::to_string(info.port) +
                                   " is not a port");
  }
  if (info.resources.empty()) return Status::InvalidArgument("agent has no resources");
  if (info.id) {
    Status s = validateId("AgentID", info.id->value);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

bool AgentManager::refuseIfDown(const ConnectionId& from, const AgentInfo& info,
                                const char* what) {
  auto machine = master_.maintenance().downMachineOf(info);
  if (!machine) return false;
  refusedDown_.inc();
  std::string why = std::string(what) + " refused: machine '" + toString(*machine) +
                    "' is DOWN for maintenance; bring it up (/master/machine/up) first";
  LOG(WARNING) << "Refusing agent at " << info.hostname << ":" << info.port << ": " << why;
  (void)master_.transport().send(from,
                                 wire::ShutdownAgentMessage{info.id.value_or(AgentID()), why});
  return true;
}

void AgentManager::onRegisterAgent(const ConnectionId& from, const wire::RegisterAgentMessage& m) {
  Status valid = validateAgentInfo(m.agentInfo);
  if (!valid.ok()) {
    invalidRegistrations_.inc();
    LOG(WARNING) << "Refusing agent registration from " << m.agentInfo.hostname << ":"
                 << m.agentInfo.port << ": " << valid.message();
    (void)master_.transport().send(
        from, wire::ShutdownAgentMessage{AgentID(), "Registration refused: " + valid.message()});
    return;
  }
  if (refuseIfDown(from, m.agentInfo, "Registration")) return;

  // A retry of a registration that already succeeded (or is being
  // recorded): answer again, or let the pending answer do.
  auto sameAddress = byAddress_.find(addressOf(m.agentInfo));
  std::vector<AgentID> candidates;
  if (sameAddress != byAddress_.end()) {
    candidates.assign(sameAddress->second.begin(), sameAddress->second.end());
  }
  for (const AgentID& id : candidates) {
    AgentRecord& agent = *find(id);
    if (agent.state == AgentState::kAdmitting && agent.conn == from &&
        agent.info.hostname == m.agentInfo.hostname && agent.info.port == m.agentInfo.port) {
      return;
    }
    if (agent.state != AgentState::kRegistered) continue;
    if (agent.info.hostname != m.agentInfo.hostname || agent.info.port != m.agentInfo.port) {
      continue;
    }
    if (agent.conn == from) {
      send(agent, wire::AgentRegisteredMessage{agent.id, master_.options().agentPingTimeout});
      return;
    }
    // Same address, new connection, no id: the agent restarted without its
    // state. The old agent and its tasks are gone.
    removeAgent(id, Reason::REASON_AGENT_RESTARTED,
                "agent at " + agent.info.hostname + ":" + std::to_string(agent.info.port) +
                    " restarted and registered as a new agent");
    break;
  }

  AgentID id(master_.info().id.value + "-S" + std::to_string(nextAgentNumber_++));
  AgentRecord& agent = insert(id);
  agent.id = id;
  agent.info = m.agentInfo;
  agent.info.id = id;
  agent.conn = from;
  agent.version = m.version;
  setTotal(agent, m.agentInfo.resources);
  agent.registeredTime = master_.loop().clock().wallSeconds();
  setState(agent, AgentState::kAdmitting);
  indexAddress(agent);
  registrations_.inc();
  // Durable first: a failed-over master must know every admitted agent.
  // (An agent whose machine goes DOWN meanwhile is removed, so `a` is gone.)
  master_.registry().admitAgent(agent.info, [this, id](Status s) {
    AgentRecord* a = find(id);
    if (!s.ok() || !a || a->state != AgentState::kAdmitting) return;
    LOG(INFO) << "Registered agent " << id << " at " << a->pid() << " with " << a->total;
    // Registered first, then pinged: an agent ignores pings until it knows its id.
    send(*a, wire::AgentRegisteredMessage{id, master_.options().agentPingTimeout});
    admit(*a);
  });
}

void AgentManager::admit(AgentRecord& agent) {
  setState(agent, AgentState::kRegistered);
  agent.missedPings = 0;
  agent.pongSinceLastPing = true;
  master_.allocator().addAgent(agent.id, agent.info, agent.total, agent.used);
  schedulePing(agent);
  master_.requestAllocation();
}

void AgentManager::onReregisterAgent(const ConnectionId& from,
                                     wire::ReregisterAgentMessage&& m) {
  Status valid = validateAgentInfo(m.agentInfo);
  if (valid.ok() && !m.agentInfo.id) valid = Status::InvalidArgument("re-registration without an AgentID");
  if (!valid.ok()) {
    invalidRegistrations_.inc();
    LOG(WARNING) << "Refusing agent re-registration from " << m.agentInfo.hostname << ":"
                 << m.agentInfo.port << ": " << valid.message();
    (void)master_.transport().send(
        from, wire::ShutdownAgentMessage{AgentID(), "Re-registration refused: " + valid.message()});
    return;
  }
  const AgentID id = *m.agentInfo.id;
  if (gone_.count(id)) {
    LOG(WARNING) << "Refusing re-registration of agent " << id << ": it was removed";
    (void)master_.transport().send(
        from, wire::ShutdownAgentMessage{id, "This agent was removed from the cluster"});
    return;
  }
  if (refuseIfDown(from, m.agentInfo, "Re-registration")) return;
  reregistrations_.inc();
  AgentRecord* existing = find(id);

  if (existing && existing->state == AgentState::kRegistered) {
    // A reconnect: same agent, maybe a new connection.
    touch(*existing, from);
    existing->reregisteredTime = master_.loop().clock().wallSeconds();
    LOG(INFO) << "Agent " << id << " at " << existing->pid() << " re-registered (reconnect)";
    master_.tasks().reconcileAgentTasks(*existing, m.tasks, m.executors);
    send(*existing, wire::AgentReregisteredMessage{id, master_.options().agentPingTimeout});
    // A reservation or volume change it missed while away (messages to a
    // disconnected peer are lost): our view is the one frameworks were told.
    if (m.agentInfo.resources != existing->total) {
      LOG(INFO) << "Agent " << id << " reported resources " << m.agentInfo.resources
                << "; sending it ours: " << existing->total;
      send(*existing, wire::CheckpointResourcesMessage{id, existing->total});
    }
    return;
  }
  if (existing && existing->state == AgentState::kAdmitting) return;  // being recorded

  const bool wasUnreachable = existing && existing->state == AgentState::kUnreachable;
  if (existing) unindexAddress(*existing);
  AgentRecord& agent = insert(id);
  agent.id = id;
  agent.info = m.agentInfo;
  indexAddress(agent);
  agent.conn = from;
  setState(agent, AgentState::kAdmitting);
  // The message (its tasks above all) moves into the callback and from
  // there into the task records: re-admitting 100,000 tasks after a
  // failover copies none of them.
  master_.registry().admitAgent(
      agent.info, [this, from, m = std::move(m), wasUnreachable](Status s) mutable {
        if (!s.ok()) return;  // the master steps down
        reregistered(from, std::move(m), wasUnreachable);
      });
}

void AgentManager::reregistered(const ConnectionId& from, wire::ReregisterAgentMessage&& m,
                                bool wasUnreachable) {
  const AgentID id = *m.agentInfo.id;
  AgentRecord* a = find(id);
  if (!a || a->state != AgentState::kAdmitting) return;
  AgentRecord& agent = *a;
  agent.info = std::move(m.agentInfo);
  agent.conn = from;
  agent.version = m.version;
  setTotal(agent, agent.info.resources);
  agent.reregisteredTime = master_.loop().clock().wallSeconds();
  if (agent.registeredTime == 0) agent.registeredTime = agent.reregisteredTime;
  LOG(INFO) << "Agent " << id << " at " << agent.pid() << " re-registered"
            << (wasUnreachable ? " after being unreachable" : "") << " with " << m.tasks.size()
            << " tasks";

  // Frameworks the agent knows and we do not (this master restarted) come
  // back as disconnected frameworks waiting to re-subscribe.
  for (const auto& fwInfo : m.frameworks) master_.frameworks().recoverFramework(fwInfo);
  // What the agent runs now replaces what we knew (the allocator has no
  // record of this agent until admit() below).
  std::vector<FrameworkID> withExecutors;
  for (const auto& [fwId, _] : agent.executors) withExecutors.push_back(fwId);
  for (const auto& fwId : withExecutors) {
    master_.tasks().releaseExecutors(agent, fwId, /*toAllocator=*/false);
  }
  master_.tasks().addAgentTasks(agent, std::move(m.tasks), m.executors, wasUnreachable);
  send(agent, wire::AgentReregisteredMessage{id, master_.options().agentPingTimeout});
  admit(agent);
}

void AgentManager::restore(const std::map<AgentID, RegistryState::Agent>& agents) {
  size_t recovered = 0;
  for (const auto& [id, a] : agents) {
    if (a.state == RegistryState::Agent::State::kGone) {
      gone_.insert(id);
      continue;
    }
    AgentRecord& agent = insert(id);
    agent.id = id;
    agent.info = a.info;
    indexAddress(agent);
    setTotal(agent, a.info.resources);
    if (a.state == RegistryState::Agent::State::kUnreachable) {
      setState(agent, AgentState::kUnreachable);
      agent.unreachableTime = a.unreachableTime;
    } else {
      setState(agent, AgentState::kRecovered);
      ++recovered;
    }
  }
  if (recovered > 0) {
    LOG(INFO) << "Waiting " << formatDuration(master_.options().agentReregisterTimeout)
              << " for " << recovered << " agents to re-register";
    master_.loop().after(master_.options().agentReregisterTimeout, "master.reregister_timeout",
                         [this] { onReregisterTimeout(); });
  }
}

void AgentManager::onReregisterTimeout() {
  for (const auto& [id, agent] : agents_) {
    if (agent.state == AgentState::kRecovered) removalQueue_.push_back(id);
  }
  if (!removalQueue_.empty()) {
    LOG(WARNING) << removalQueue_.size() << " agents did not re-register within "
                 << formatDuration(master_.options().agentReregisterTimeout);
  }
  drainRemovals();
}

void AgentManager::drainRemovals() {
  removalTimer_ = 0;
  int limit = master_.options().agentRemovalRateLimit;
  int n = 0;
  while (!removalQueue_.empty() && (limit <= 0 || n < limit)) {
    AgentID id = removalQueue_.front();
    removalQueue_.pop_front();
    AgentRecord* agent = find(id);
    if (!agent || agent->state != AgentState::kRecovered) continue;
    ++n;
    removals_.inc();
    setState(*agent, AgentState::kUnreachable);
    agent->unreachableTime = master_.loop().clock().wallSeconds();
    master_.registry().markUnreachable(id, agent->unreachableTime, nullptr);
    LOG(WARNING) << "Agent " << id << " did not re-register after the failover: unreachable";
    // The master does not know its tasks (agents report them); frameworks
    // learn that the agent is lost and reconcile (TASK_UNREACHABLE, or
    // TASK_LOST for frameworks that are not partition-aware).
    master_.frameworks().broadcastAgentLost(id);
  }
  if (!removalQueue_.empty()) {
    removalTimer_ = master_.loop().after(master_.options().agentRemovalRatePeriod,
                                         "master.agent_removal", [this] { drainRemovals(); });
  }
}

void AgentManager::onPong(const ConnectionId& from, const wire::PongMessage& m) {
  AgentRecord* agent = findForHealth(m.agentId);
  if (!agent) return;  // it will notice the missing pings and re-register
  touch(*agent, from);
  agent->pongSinceLastPing = true;
  agent->missedPings = 0;
}

void AgentManager::onUnregisterAgent(const ConnectionId& from,
                                     const wire::UnregisterAgentMessage& m) {
  AgentRecord* agent = find(m.agentId);
  if (!agent) return;
  LOG(INFO) << "Agent " << m.agentId << " unregistered";
  removeAgent(m.agentId, Reason::REASON_AGENT_REMOVED, "agent " + m.agentId.value + " shut down");
}

void AgentManager::convertResources(AgentRecord& agent, const Resources& from,
                                    const Resources& to) {
  setTotal(agent, agent.total - from.unallocate() + to.unallocate());
  agent.info.resources = agent.total;
  master_.registry().admitAgent(agent.info, nullptr);  // reservations survive failovers
  master_.allocator().updateAgent(agent.id, agent.info, agent.total);
  send(agent, wire::CheckpointResourcesMessage{agent.id, agent.total});
  LOG(INFO) << "Agent " << agent.id << " resources are now " << agent.total;
}

void AgentManager::schedulePing(AgentRecord& agent) {
  if (agent.pingTimer) master_.loop().cancel(agent.pingTimer);
  agent.pongSinceLastPing = false;
  send(agent, wire::PingMessage{agent.id, true});
  AgentID id = agent.id;
  agent.pingTimer = master_.loop().after(master_.options().agentPingTimeout, "master.agent_ping",
                                         [this, id] { onPingTimer(id); });
}

void AgentManager::onPingTimer(const AgentID& id) {
  AgentRecord* agent = findForHealth(id);
  if (!agent) return;
  agent->pingTimer = 0;
  if (!agent->pongSinceLastPing) {
    agent->missedPings++;
    if (agent->missedPings >= master_.options().maxAgentPingTimeouts) {
      markUnreachable(id, "missed " + std::to_string(agent->missedPings) + " pings in a row");
      return;
    }
  }
  schedulePing(*agent);
}

void AgentManager::markUnreachable(const AgentID& id, const std::string& why) {
  AgentRecord* agent = findRegistered(id);
  if (!agent) return;
  LOG(WARNING) << "Agent " << id << " at " << agent->pid() << " is unreachable: " << why;
  removals_.inc();
  if (agent->pingTimer) master_.loop().cancel(agent->pingTimer);
  agent->pingTimer = 0;
  setState(*agent, AgentState::kUnreachable);
  agent->unreachableTime = master_.loop().clock().wallSeconds();
  master_.registry().markUnreachable(id, agent->unreachableTime, nullptr);
  master_.offers().rescindOffersOfAgent(id);
  master_.allocator().removeAgent(id);
  master_.tasks().agentLost(*agent, TaskState::TASK_UNREACHABLE, Reason::REASON_AGENT_REMOVED,
                            "Agent " + id.value + " is unreachable: " + why);
  master_.frameworks().broadcastAgentLost(id);
}

void AgentManager::removeAgent(const AgentID& id, Reason reason, const std::string& why) {
  remove(id, TaskState::TASK_GONE, reason, why);
}

void AgentManager::removeAgentByOperator(const AgentID& id, const std::string& why,
                                         bool recordGone, Registry::Done durable) {
  AgentRecord* agent = find(id);
  if (!agent) {
    if (durable) durable(Status::OK());
    return;
  }
  if (!agent->conn.empty()) send(*agent, wire::ShutdownAgentMessage{id, why});
  gone_.insert(id);
  remove(id, TaskState::TASK_GONE_BY_OPERATOR, Reason::REASON_AGENT_REMOVED_BY_OPERATOR, why,
         recordGone, std::move(durable));
}

Status AgentManager::markGone(const AgentID& id, Registry::Done durable) {
  if (gone_.count(id)) {
    durable(Status::OK());
    return Status::OK();
  }
  if (!find(id)) return Status::NotFound("No agent '" + id.value + "' is known to the master");
  removeAgentByOperator(id, "Agent " + id.value + " was marked gone by an operator",
                        /*recordGone=*/true, std::move(durable));
  return Status::OK();
}

void AgentManager::remove(const AgentID& id, TaskState partitionAwareState, Reason reason,
                          const std::string& why, bool gone, Registry::Done durable) {
  AgentRecord* agent = find(id);
  if (!agent) return;
  LOG(INFO) << "Removing agent " << id << ": " << why;
  removals_.inc();
  if (agent->pingTimer) master_.loop().cancel(agent->pingTimer);
  master_.offers().rescindOffersOfAgent(id);
  master_.allocator().removeAgent(id);
  master_.tasks().agentLost(*agent, partitionAwareState, reason, why);
  master_.frameworks().broadcastAgentLost(id);
  if (gone) {
    master_.registry().markGone(id, std::move(durable));
  } else {
    master_.registry().removeAgent(id, std::move(durable));
  }
  unindexAddress(*agent);
  account(*agent, -1);
  byId_.erase(id);
  agents_.erase(id);
}

void AgentManager::indexAddress(const AgentRecord& agent) {
  byAddress_[addressOf(agent.info)].insert(agent.id);
}

void AgentManager::unindexAddress(const AgentRecord& agent) {
  auto it = byAddress_.find(addressOf(agent.info));
  if (it == byAddress_.end()) return;
  it->second.erase(agent.id);
  if (it->second.empty()) byAddress_.erase(it);
}

}  // namespace tutti::master
