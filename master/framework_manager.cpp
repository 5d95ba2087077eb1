#include "master/framework_manager.hpp"

#include <glog/logging.h>

#include <cstdio>

#include "common/ids.hpp"
#include "master/master.hpp"

namespace tutti::master {

const char* toString(FrameworkState s) {
  switch (s) {
    case FrameworkState::kActive: return "ACTIVE";
    case FrameworkState::kDisconnected: return "DISCONNECTED";
    case FrameworkState::kCompleted: return "COMPLETED";
  }
  return "UNKNOWN";
}

FrameworkManager::FrameworkManager(Master& master)
    : master_(master),
      subscriptions_(master.metrics().counter("master/framework_subscriptions")),
      invalidCalls_(master.metrics().counter("master/invalid_framework_calls")),
      invalidSubscriptions_(master.metrics().counter("master/invalid_subscriptions")) {}

FrameworkRecord* FrameworkManager::find(const FrameworkID& id) {
  auto it = byId_.find(id);
  if (it == byId_.end()) return nullptr;
  it->second->view.reset();  // the caller may change it
  return it->second;
}

const FrameworkRecord* FrameworkManager::find(const FrameworkID& id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : it->second;
}

FrameworkRecord& FrameworkManager::insert(const FrameworkID& id) {
  auto [it, fresh] = frameworks_.try_emplace(id);
  if (fresh) byId_[id] = &it->second;
  it->second.view.reset();
  return it->second;
}

FrameworkRecord* FrameworkManager::authorize(const ConnectionId& from, const FrameworkID& id,
                                             const char* call) {
  FrameworkRecord* fw = find(id);
  if (fw && fw->state == FrameworkState::kActive && fw->conn == from) return fw;
  invalidCalls_.inc();
  LOG_EVERY_N(WARNING, 100) << "Dropping " << call << " for framework '" << id
                            << "': " << (fw ? "not subscribed on this connection"
                                            : "unknown framework")
                            << " (" << google::COUNTER << " such calls so far)";
  return nullptr;
}

Status FrameworkManager::validate(const FrameworkInfo& info) const {
  if (info.name.empty()) return Status::InvalidArgument("FrameworkInfo.name must be set");
  if (info.user.find('\0') != std::string::npos) {
    return Status::InvalidArgument("FrameworkInfo.user has a NUL byte");
  }
  if (info.roles.size() > 1 && !info.hasCapability(FrameworkCapability::MULTI_ROLE)) {
    return Status::InvalidArgument("Several roles need the MULTI_ROLE capability");
  }
  std::set<std::string> seen;
  for (const auto& role : info.roles) {
    Status s = validateRoleName(role);
    if (!s.ok()) return Status::InvalidArgument("Invalid role '" + role + "': " + s.message());
    if (!seen.insert(role).second) {
      return Status::InvalidArgument("Role '" + role + "' is listed twice");
    }
  }
  if (info.id) {
    Status s = validateId("FrameworkID", info.id->value);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

void FrameworkManager::onSubscribe(const ConnectionId& from, const wire::SubscribeCall& m) {
  Status valid = validate(m.frameworkInfo);
  // Checked at subscription only: a framework recovered from the registry
  // or from agents keeps its tasks until it comes back (and is refused).
  if (valid.ok() && !master_.options().rootSubmissions &&
      (m.frameworkInfo.user == "root" || m.frameworkInfo.user.empty())) {
    valid = Status::InvalidArgument(
        "User '" + m.frameworkInfo.user +
        "' may not run frameworks on this master (--root_submissions=false; an empty user "
        "runs tasks as the agents' user)");
  }
  if (!valid.ok()) {
    invalidSubscriptions_.inc();
    LOG(WARNING) << "Refusing subscription of framework '" << m.frameworkInfo.name
                 << "': " << valid.message();
    (void)master_.transport().send(from, wire::ErrorEvent{valid.message()});
    return;
  }
  std::set<std::string> suppressed(m.suppressedRoles.begin(), m.suppressedRoles.end());
  double now = master_.loop().clock().wallSeconds();
  subscriptions_.inc();

  if (m.frameworkInfo.id) {
    const FrameworkID& id = *m.frameworkInfo.id;
    if (isCompleted(id)) {
      (void)master_.transport().send(
          from, wire::ErrorEvent{"Framework " + id.value + " has been removed"});
      return;
    }
    if (FrameworkRecord* fw = find(id)) {
      // Re-subscription: a reconnect or a failover to a new scheduler.
      if (fw->state == FrameworkState::kActive && fw->conn != from) {
        (void)master_.transport().send(fw->conn,
                                       wire::ErrorEvent{"Framework failed over"});
      }
      if (fw->failoverTimer) master_.loop().cancel(fw->failoverTimer);
      fw->failoverTimer = 0;
      // Offers made to the previous connection are void.
      master_.offers().removeOffersOfFramework(id, /*rescind=*/false);
      FrameworkInfo info = m.frameworkInfo;
      if (!(fw->info == info)) master_.registry().addFramework(info, nullptr);
      fw->info = info;
      fw->conn = from;
      fw->state = FrameworkState::kActive;
      fw->reregisteredTime = now;
      fw->suppressedRoles = suppressed;
      master_.allocator().updateFramework(id, info, suppressed);
      master_.allocator().activateFramework(id);
      LOG(INFO) << "Framework " << id << " (" << info.name << ") re-subscribed";
      send(*fw, wire::SubscribedEvent{id, toSeconds(master_.options().heartbeatInterval),
                                      master_.info()});
      scheduleHeartbeat(*fw);
      master_.requestAllocation();
      return;
    }
  }

  if (!m.frameworkInfo.id) {
    // A retry of a first subscription (the driver re-sends SUBSCRIBE when
    // the answer is slow, as on a master busy offering a large cluster): as
    // Mesos does for a framework already registered from the same pid,
    // answer again rather than register a second framework.
    if (pendingConnections_.count(from)) return;
    for (auto& [id, fw] : frameworks_) {
      if (fw.state == FrameworkState::kActive && fw.conn == from &&
          fw.info.name == m.frameworkInfo.name) {
        send(fw, wire::SubscribedEvent{id, toSeconds(master_.options().heartbeatInterval),
                                       master_.info()});
        return;
      }
    }
  }

  FrameworkID id;
  if (m.frameworkInfo.id) {
    id = *m.frameworkInfo.id;  // unknown to this master (it restarted): keep the id
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "-%04llu",
                  static_cast<unsigned long long>(nextFrameworkNumber_++));
    id = FrameworkID(master_.info().id.value + buf);
  }
  FrameworkInfo info = m.frameworkInfo;
  info.id = id;
  if (pendingSubscriptions_.count(id)) return;  // a retry while the registry writes
  pendingSubscriptions_.insert(id);
  pendingConnections_.insert(from);
  // Durable first: a failed-over master must know this framework.
  master_.registry().addFramework(info, [this, id, info, from, suppressed, now](Status s) {
    pendingSubscriptions_.erase(id);
    pendingConnections_.erase(from);
    if (!s.ok()) return;  // the master steps down
    if (find(id) || isCompleted(id)) return;
    FrameworkRecord& fw = insert(id);
    fw.id = id;
    fw.info = info;
    fw.conn = from;
    fw.state = FrameworkState::kActive;
    fw.registeredTime = now;
    fw.suppressedRoles = suppressed;
    master_.allocator().addFramework(id, fw.info, {}, true, suppressed);
    LOG(INFO) << "Framework " << id << " (" << fw.info.name << ") subscribed";
    send(fw, wire::SubscribedEvent{id, toSeconds(master_.options().heartbeatInterval),
                                   master_.info()});
    scheduleHeartbeat(fw);
    master_.requestAllocation();
  });
}

bool FrameworkManager::send(FrameworkRecord& fw, const wire::Payload& message) {
  // What is queued goes first; a failure there may disconnect this framework.
  master_.transport().flush();
  if (fw.state != FrameworkState::kActive) return false;
  Status s = master_.transport().send(fw.conn, message);
  if (s.ok()) return true;
  disconnect(fw, s.message());
  return false;
}

bool FrameworkManager::sendSoon(FrameworkRecord& fw, const wire::Payload& message) {
  if (fw.state != FrameworkState::kActive) return false;
  master_.transport().sendSoon(fw.conn, message);
  return true;
}

void FrameworkManager::onSendFailed(const ConnectionId& conn, const Status& why) {
  // Rare (a peer gone between a handler and the end of its round): a scan
  // of the frameworks is cheaper than an index kept up to date for it.
  for (auto& [id, fw] : frameworks_) {
    if (fw.state == FrameworkState::kActive && fw.conn == conn) {
      disconnect(fw, why.message());
      return;
    }
  }
}

void FrameworkManager::scheduleHeartbeat(FrameworkRecord& fw) {
  if (fw.heartbeatTimer) master_.loop().cancel(fw.heartbeatTimer);
  FrameworkID id = fw.id;
  fw.heartbeatTimer =
      master_.loop().after(master_.options().heartbeatInterval, "master.heartbeat", [this, id] {
        FrameworkRecord* f = find(id);
        if (!f || f->state != FrameworkState::kActive) return;
        f->heartbeatTimer = 0;
        if (send(*f, wire::HeartbeatEvent{})) scheduleHeartbeat(*f);
      });
}

void FrameworkManager::disconnect(FrameworkRecord& fw, const std::string& why) {
  if (fw.state != FrameworkState::kActive) return;
  LOG(INFO) << "Framework " << fw.id << " (" << fw.info.name << ") disconnected: " << why;
  fw.view.reset();
  fw.state = FrameworkState::kDisconnected;
  if (fw.heartbeatTimer) master_.loop().cancel(fw.heartbeatTimer);
  fw.heartbeatTimer = 0;
  master_.allocator().deactivateFramework(fw.id);
  master_.offers().removeOffersOfFramework(fw.id, /*rescind=*/false);
  startFailoverTimer(fw, fromSeconds(fw.info.failoverTimeoutSecs));
}

void FrameworkManager::startFailoverTimer(FrameworkRecord& fw, Duration timeout) {
  if (fw.failoverTimer) master_.loop().cancel(fw.failoverTimer);
  FrameworkID id = fw.id;
  fw.failoverTimer = master_.loop().after(timeout, "master.framework_failover", [this, id] {
    FrameworkRecord* f = find(id);
    if (!f || f->state != FrameworkState::kDisconnected) return;
    f->failoverTimer = 0;
    teardown(id, "failover timeout elapsed");
  });
}

void FrameworkManager::restore(const std::map<FrameworkID, FrameworkInfo>& frameworks) {
  for (const auto& [_, info] : frameworks) recoverFramework(info);
}

void FrameworkManager::recoverFramework(const FrameworkInfo& info) {
  if (!info.id || find(*info.id) || isCompleted(*info.id)) return;
  if (!validate(info).ok()) return;
  FrameworkRecord& fw = insert(*info.id);
  fw.id = *info.id;
  fw.info = info;
  fw.state = FrameworkState::kDisconnected;
  fw.registeredTime = master_.loop().clock().wallSeconds();
  master_.allocator().addFramework(fw.id, info, {}, false, {});
  if (!master_.registry().state().frameworks.count(fw.id)) {
    master_.registry().addFramework(info, nullptr);
  }
  LOG(INFO) << "Recovered framework " << fw.id << " (" << info.name
            << "); waiting for it to re-subscribe";
  startFailoverTimer(fw, std::max(fromSeconds(info.failoverTimeoutSecs),
                                  master_.options().agentReregisterTimeout));
}

void FrameworkManager::broadcastAgentLost(const AgentID& agent) {
  for (auto& [_, fw] : frameworks_) {
    if (fw.state == FrameworkState::kActive) send(fw, wire::FailureEvent{agent, ExecutorID(), {}});
  }
}

void FrameworkManager::teardown(const FrameworkID& id, const std::string& why) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) return;
  FrameworkRecord& fw = it->second;
  fw.view.reset();
  LOG(INFO) << "Tearing down framework " << id << " (" << fw.info.name << "): " << why;
  if (fw.heartbeatTimer) master_.loop().cancel(fw.heartbeatTimer);
  if (fw.failoverTimer) master_.loop().cancel(fw.failoverTimer);
  fw.heartbeatTimer = fw.failoverTimer = 0;
  master_.offers().removeOffersOfFramework(id, /*rescind=*/false);
  master_.tasks().frameworkRemoved(fw);
  master_.allocator().removeFramework(id);
  fw.state = FrameworkState::kCompleted;
  fw.unregisteredTime = master_.loop().clock().wallSeconds();
  master_.registry().removeFramework(id, nullptr);
  completedIds_.insert(id);
  byId_.erase(it->first);
  completed_.push_back(std::move(fw));
  frameworks_.erase(it);
  while (completed_.size() > master_.options().maxCompletedFrameworks) {
    completedIds_.erase(completed_.front().id);
    completed_.pop_front();
  }
  master_.requestAllocation();
}

Status FrameworkManager::teardownByOperator(const FrameworkID& id) {
  FrameworkRecord* fw = find(id);
  if (!fw) {
    return Status::InvalidArgument(
        isCompleted(id) ? "Framework " + id.value + " has already been torn down"
                        : "No framework found with ID " + id.value);
  }
  if (fw->state == FrameworkState::kActive) {
    send(*fw, wire::ErrorEvent{"Framework " + id.value + " has been removed by an operator"});
  }
  teardown(id, "an operator asked for it (/master/teardown)");
  return Status::OK();
}

void FrameworkManager::onTeardown(const ConnectionId& from, const wire::TeardownCall& m) {
  if (!authorize(from, m.frameworkId, "TEARDOWN")) return;
  teardown(m.frameworkId, "the framework asked for it");
}

void FrameworkManager::onRevive(const ConnectionId& from, const wire::ReviveCall& m) {
  FrameworkRecord* fw = authorize(from, m.frameworkId, "REVIVE");
  if (!fw) return;
  std::set<std::string> roles(m.roles.begin(), m.roles.end());
  if (roles.empty()) {
    fw->suppressedRoles.clear();
  } else {
    for (const auto& r : roles) fw->suppressedRoles.erase(r);
  }
  master_.allocator().reviveOffers(fw->id, roles);
  master_.requestAllocation();
}

void FrameworkManager::onSuppress(const ConnectionId& from, const wire::SuppressCall& m) {
  FrameworkRecord* fw = authorize(from, m.frameworkId, "SUPPRESS");
  if (!fw) return;
  std::set<std::string> roles(m.roles.begin(), m.roles.end());
  if (roles.empty()) {
    for (const auto& r : fw->info.effectiveRoles()) fw->suppressedRoles.insert(r);
  } else {
    fw->suppressedRoles.insert(roles.begin(), roles.end());
  }
  master_.allocator().suppressOffers(fw->id, roles);
}

}  // namespace tutti::master
