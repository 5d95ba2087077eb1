#include "common/codec/envelope_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "common/codec/types_codec.hpp"
#include "proto/envelope.capnp.h"

namespace tutti::codec {

namespace w = tutti::wire;
namespace p = tutti::proto;

namespace {

capnp::Text::Reader txt(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

template <typename IdT, typename L>
void encodeIds(const std::vector<IdT>& ids, L b) {
  for (size_t i = 0; i < ids.size(); ++i) b.set(i, txt(ids[i].value));
}

template <typename IdT>
std::vector<IdT> decodeIds(capnp::List<capnp::Text>::Reader r) {
  std::vector<IdT> out;
  out.reserve(r.size());
  for (auto t : r) out.push_back(IdT(toStd(t)));
  return out;
}

std::optional<KillPolicy> decodeKillPolicy(bool has, p::KillPolicy::Reader r) {
  if (!has) return std::nullopt;
  return decode(r);
}

// ---- scheduler calls ----
void enc(const w::SubscribeCall& m, p::SubscribeCall::Builder b) {
  encode(m.frameworkInfo, b.initFrameworkInfo());
  if (!m.suppressedRoles.empty()) {
    encodeTexts(m.suppressedRoles, b.initSuppressedRoles(m.suppressedRoles.size()));
  }
}
w::SubscribeCall dec(p::SubscribeCall::Reader r) {
  w::SubscribeCall m;
  if (!r.hasFrameworkInfo()) throw CodecError("SubscribeCall has no frameworkInfo");
  m.frameworkInfo = decode(r.getFrameworkInfo());
  m.suppressedRoles = decodeTexts(r.getSuppressedRoles());
  return m;
}

void enc(const w::AcceptCall& m, p::AcceptCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  encodeIds(m.offerIds, b.initOfferIds(m.offerIds.size()));
  encodeList(m.operations, b.initOperations(m.operations.size()));
  encode(m.filters, b.initFilters());
}
w::AcceptCall dec(p::AcceptCall::Reader r) {
  w::AcceptCall m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.offerIds = decodeIds<OfferID>(r.getOfferIds());
  for (auto o : r.getOperations()) m.operations.push_back(decode(o));
  if (r.hasFilters()) m.filters = decode(r.getFilters());
  return m;
}

void enc(const w::DeclineCall& m, p::DeclineCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  encodeIds(m.offerIds, b.initOfferIds(m.offerIds.size()));
  encode(m.filters, b.initFilters());
}
w::DeclineCall dec(p::DeclineCall::Reader r) {
  w::DeclineCall m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.offerIds = decodeIds<OfferID>(r.getOfferIds());
  if (r.hasFilters()) m.filters = decode(r.getFilters());
  return m;
}

void enc(const w::ReviveCall& m, p::ReviveCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  if (!m.roles.empty()) encodeTexts(m.roles, b.initRoles(m.roles.size()));
}
w::ReviveCall dec(p::ReviveCall::Reader r) {
  return w::ReviveCall{FrameworkID(toStd(r.getFrameworkId())), decodeTexts(r.getRoles())};
}

void enc(const w::SuppressCall& m, p::SuppressCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  if (!m.roles.empty()) encodeTexts(m.roles, b.initRoles(m.roles.size()));
}
w::SuppressCall dec(p::SuppressCall::Reader r) {
  return w::SuppressCall{FrameworkID(toStd(r.getFrameworkId())), decodeTexts(r.getRoles())};
}

void enc(const w::KillCall& m, p::KillCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setTaskId(txt(m.taskId.value));
  b.setAgentId(txt(m.agentId.value));
  if (m.killPolicy) {
    b.setHasKillPolicy(true);
    encode(*m.killPolicy, b.initKillPolicy());
  }
}
w::KillCall dec(p::KillCall::Reader r) {
  w::KillCall m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.taskId = TaskID(toStd(r.getTaskId()));
  m.agentId = AgentID(toStd(r.getAgentId()));
  m.killPolicy = decodeKillPolicy(r.getHasKillPolicy(), r.getKillPolicy());
  return m;
}

void enc(const w::AcknowledgeCall& m, p::AcknowledgeCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setAgentId(txt(m.agentId.value));
  b.setTaskId(txt(m.taskId.value));
  b.setUuid(dataOf(m.uuid));
}
w::AcknowledgeCall dec(p::AcknowledgeCall::Reader r) {
  return w::AcknowledgeCall{FrameworkID(toStd(r.getFrameworkId())),
                            AgentID(toStd(r.getAgentId())), TaskID(toStd(r.getTaskId())),
                            toStd(r.getUuid())};
}

void enc(const w::ReconcileCall& m, p::ReconcileCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  auto l = b.initTasks(m.tasks.size());
  for (size_t i = 0; i < m.tasks.size(); ++i) {
    l[i].setTaskId(txt(m.tasks[i].taskId.value));
    l[i].setAgentId(txt(m.tasks[i].agentId.value));
  }
}
w::ReconcileCall dec(p::ReconcileCall::Reader r) {
  w::ReconcileCall m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  for (auto t : r.getTasks()) {
    m.tasks.push_back({TaskID(toStd(t.getTaskId())), AgentID(toStd(t.getAgentId()))});
  }
  return m;
}

void enc(const w::MessageCall& m, p::MessageCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setAgentId(txt(m.agentId.value));
  b.setExecutorId(txt(m.executorId.value));
  b.setData(dataOf(m.data));
}
w::MessageCall dec(p::MessageCall::Reader r) {
  return w::MessageCall{FrameworkID(toStd(r.getFrameworkId())), AgentID(toStd(r.getAgentId())),
                        ExecutorID(toStd(r.getExecutorId())), toStd(r.getData())};
}

void enc(const w::TeardownCall& m, p::TeardownCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
}
w::TeardownCall dec(p::TeardownCall::Reader r) {
  return w::TeardownCall{FrameworkID(toStd(r.getFrameworkId()))};
}

// ---- scheduler events ----
void enc(const w::SubscribedEvent& m, p::SubscribedEvent::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setHeartbeatIntervalSeconds(m.heartbeatIntervalSeconds);
  encode(m.masterInfo, b.initMasterInfo());
}
w::SubscribedEvent dec(p::SubscribedEvent::Reader r) {
  w::SubscribedEvent m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.heartbeatIntervalSeconds = r.getHeartbeatIntervalSeconds();
  if (!(m.heartbeatIntervalSeconds >= 0 && m.heartbeatIntervalSeconds < 1e9)) {
    throw CodecError("heartbeat interval out of range");
  }
  m.masterInfo = decode(r.getMasterInfo());
  return m;
}

void enc(const w::OffersEvent& m, p::OffersEvent::Builder b) {
  encodeList(m.offers, b.initOffers(m.offers.size()));
}
w::OffersEvent dec(p::OffersEvent::Reader r) {
  w::OffersEvent m;
  for (auto o : r.getOffers()) m.offers.push_back(decode(o));
  return m;
}

void enc(const w::RescindEvent& m, p::RescindEvent::Builder b) {
  b.setOfferId(txt(m.offerId.value));
}
w::RescindEvent dec(p::RescindEvent::Reader r) {
  return w::RescindEvent{OfferID(toStd(r.getOfferId()))};
}

void enc(const w::UpdateEvent& m, p::UpdateEvent::Builder b) {
  encode(m.status, b.initStatus());
}
w::UpdateEvent dec(p::UpdateEvent::Reader r) {
  if (!r.hasStatus()) throw CodecError("UpdateEvent has no status");
  return w::UpdateEvent{decode(r.getStatus())};
}

void enc(const w::MessageEvent& m, p::MessageEvent::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setExecutorId(txt(m.executorId.value));
  b.setData(dataOf(m.data));
}
w::MessageEvent dec(p::MessageEvent::Reader r) {
  return w::MessageEvent{AgentID(toStd(r.getAgentId())), ExecutorID(toStd(r.getExecutorId())),
                         toStd(r.getData())};
}

void enc(const w::FailureEvent& m, p::FailureEvent::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setExecutorId(txt(m.executorId.value));
  if (m.status) {
    b.setHasStatus(true);
    b.setStatus(*m.status);
  }
}
w::FailureEvent dec(p::FailureEvent::Reader r) {
  w::FailureEvent m;
  m.agentId = AgentID(toStd(r.getAgentId()));
  m.executorId = ExecutorID(toStd(r.getExecutorId()));
  if (r.getHasStatus()) m.status = r.getStatus();
  return m;
}

void enc(const w::ErrorEvent& m, p::ErrorEvent::Builder b) { b.setMessage(txt(m.message)); }
w::ErrorEvent dec(p::ErrorEvent::Reader r) { return w::ErrorEvent{toStd(r.getMessage())}; }

void enc(const w::HeartbeatEvent&, p::HeartbeatEvent::Builder) {}
w::HeartbeatEvent dec(p::HeartbeatEvent::Reader) { return {}; }

// ---- executor calls ----
void enc(const w::ExecutorSubscribeCall& m, p::ExecutorSubscribeCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  encodeList(m.unacknowledgedTasks, b.initUnacknowledgedTasks(m.unacknowledgedTasks.size()));
  encodeList(m.unacknowledgedUpdates,
             b.initUnacknowledgedUpdates(m.unacknowledgedUpdates.size()));
}
w::ExecutorSubscribeCall dec(p::ExecutorSubscribeCall::Reader r) {
  w::ExecutorSubscribeCall m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.executorId = ExecutorID(toStd(r.getExecutorId()));
  for (auto t : r.getUnacknowledgedTasks()) m.unacknowledgedTasks.push_back(decode(t));
  for (auto s : r.getUnacknowledgedUpdates()) m.unacknowledgedUpdates.push_back(decode(s));
  return m;
}

void enc(const w::ExecutorUpdateCall& m, p::ExecutorUpdateCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  encode(m.status, b.initStatus());
}
w::ExecutorUpdateCall dec(p::ExecutorUpdateCall::Reader r) {
  if (!r.hasStatus()) throw CodecError("ExecutorUpdateCall has no status");
  return w::ExecutorUpdateCall{FrameworkID(toStd(r.getFrameworkId())),
                               ExecutorID(toStd(r.getExecutorId())), decode(r.getStatus())};
}

void enc(const w::ExecutorMessageCall& m, p::ExecutorMessageCall::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  b.setData(dataOf(m.data));
}
w::ExecutorMessageCall dec(p::ExecutorMessageCall::Reader r) {
  return w::ExecutorMessageCall{FrameworkID(toStd(r.getFrameworkId())),
                                ExecutorID(toStd(r.getExecutorId())), toStd(r.getData())};
}

// ---- executor events ----
void enc(const w::ExecutorSubscribedEvent& m, p::ExecutorSubscribedEvent::Builder b) {
  encode(m.executorInfo, b.initExecutorInfo());
  encode(m.frameworkInfo, b.initFrameworkInfo());
  encode(m.agentInfo, b.initAgentInfo());
  b.setContainerId(txt(m.containerId.value));
}
w::ExecutorSubscribedEvent dec(p::ExecutorSubscribedEvent::Reader r) {
  w::ExecutorSubscribedEvent m;
  m.executorInfo = decode(r.getExecutorInfo());
  m.frameworkInfo = decode(r.getFrameworkInfo());
  m.agentInfo = decode(r.getAgentInfo());
  m.containerId = ContainerID(toStd(r.getContainerId()));
  return m;
}

void enc(const w::LaunchGroupEvent& m, p::LaunchGroupEvent::Builder b) {
  encodeList(m.tasks, b.initTasks(m.tasks.size()));
}
w::LaunchGroupEvent dec(p::LaunchGroupEvent::Reader r) {
  w::LaunchGroupEvent m;
  for (auto t : r.getTasks()) m.tasks.push_back(decode(t));
  return m;
}
void enc(const w::LaunchEvent& m, p::LaunchEvent::Builder b) { encode(m.task, b.initTask()); }
w::LaunchEvent dec(p::LaunchEvent::Reader r) {
  if (!r.hasTask()) throw CodecError("LaunchEvent has no task");
  return w::LaunchEvent{decode(r.getTask())};
}

void enc(const w::KillEvent& m, p::KillEvent::Builder b) {
  b.setTaskId(txt(m.taskId.value));
  if (m.killPolicy) {
    b.setHasKillPolicy(true);
    encode(*m.killPolicy, b.initKillPolicy());
  }
}
w::KillEvent dec(p::KillEvent::Reader r) {
  return w::KillEvent{TaskID(toStd(r.getTaskId())),
                      decodeKillPolicy(r.getHasKillPolicy(), r.getKillPolicy())};
}

void enc(const w::AcknowledgedEvent& m, p::AcknowledgedEvent::Builder b) {
  b.setTaskId(txt(m.taskId.value));
  b.setUuid(dataOf(m.uuid));
}
w::AcknowledgedEvent dec(p::AcknowledgedEvent::Reader r) {
  return w::AcknowledgedEvent{TaskID(toStd(r.getTaskId())), toStd(r.getUuid())};
}

void enc(const w::ExecutorMessageEvent& m, p::ExecutorMessageEvent::Builder b) {
  b.setData(dataOf(m.data));
}
w::ExecutorMessageEvent dec(p::ExecutorMessageEvent::Reader r) {
  return w::ExecutorMessageEvent{toStd(r.getData())};
}

void enc(const w::ShutdownEvent& m, p::ShutdownEvent::Builder b) {
  b.setGracePeriodNanos(m.gracePeriod.count());
}
w::ShutdownEvent dec(p::ShutdownEvent::Reader r) {
  if (r.getGracePeriodNanos() < 0) throw CodecError("shutdown grace period is negative");
  return w::ShutdownEvent{std::chrono::nanoseconds(r.getGracePeriodNanos())};
}

void enc(const w::ExecutorErrorEvent& m, p::ExecutorErrorEvent::Builder b) {
  b.setMessage(txt(m.message));
}
w::ExecutorErrorEvent dec(p::ExecutorErrorEvent::Reader r) {
  return w::ExecutorErrorEvent{toStd(r.getMessage())};
}

void enc(const w::ExecutorHeartbeatEvent&, p::ExecutorHeartbeatEvent::Builder) {}
w::ExecutorHeartbeatEvent dec(p::ExecutorHeartbeatEvent::Reader) { return {}; }

// ---- master <-> agent ----
void enc(const w::RegisterAgentMessage& m, p::RegisterAgentMessage::Builder b) {
  encode(m.agentInfo, b.initAgentInfo());
  b.setVersion(txt(m.version));
}
w::RegisterAgentMessage dec(p::RegisterAgentMessage::Reader r) {
  if (!r.hasAgentInfo()) throw CodecError("RegisterAgentMessage has no agentInfo");
  return w::RegisterAgentMessage{decode(r.getAgentInfo()), toStd(r.getVersion())};
}

void enc(const w::AgentRegisteredMessage& m, p::AgentRegisteredMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setPingTimeoutNanos(m.pingTimeout.count());
}
w::AgentRegisteredMessage dec(p::AgentRegisteredMessage::Reader r) {
  return w::AgentRegisteredMessage{AgentID(toStd(r.getAgentId())),
                                   std::chrono::nanoseconds(r.getPingTimeoutNanos())};
}

void enc(const w::ReregisterAgentMessage& m, p::ReregisterAgentMessage::Builder b) {
  encode(m.agentInfo, b.initAgentInfo());
  b.setVersion(txt(m.version));
  encodeList(m.tasks, b.initTasks(m.tasks.size()));
  encodeList(m.executors, b.initExecutors(m.executors.size()));
  encodeList(m.frameworks, b.initFrameworks(m.frameworks.size()));
}
w::ReregisterAgentMessage dec(p::ReregisterAgentMessage::Reader r) {
  if (!r.hasAgentInfo()) throw CodecError("ReregisterAgentMessage has no agentInfo");
  w::ReregisterAgentMessage m;
  m.agentInfo = decode(r.getAgentInfo());
  m.version = toStd(r.getVersion());
  for (auto t : r.getTasks()) m.tasks.push_back(decode(t));
  for (auto e : r.getExecutors()) m.executors.push_back(decode(e));
  for (auto f : r.getFrameworks()) m.frameworks.push_back(decode(f));
  return m;
}

void enc(const w::AgentReregisteredMessage& m, p::AgentReregisteredMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setPingTimeoutNanos(m.pingTimeout.count());
}
w::AgentReregisteredMessage dec(p::AgentReregisteredMessage::Reader r) {
  return w::AgentReregisteredMessage{AgentID(toStd(r.getAgentId())),
                                     std::chrono::nanoseconds(r.getPingTimeoutNanos())};
}

void enc(const w::PingMessage& m, p::PingMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setConnected(m.connected);
}
w::PingMessage dec(p::PingMessage::Reader r) {
  return w::PingMessage{AgentID(toStd(r.getAgentId())), r.getConnected()};
}

void enc(const w::PongMessage& m, p::PongMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
}
w::PongMessage dec(p::PongMessage::Reader r) { return w::PongMessage{AgentID(toStd(r.getAgentId()))}; }

void enc(const w::RunTaskMessage& m, p::RunTaskMessage::Builder b) {
  encode(m.frameworkInfo, b.initFrameworkInfo());
  encode(m.task, b.initTask());
  b.setAgentId(txt(m.agentId.value));
}
w::RunTaskMessage dec(p::RunTaskMessage::Reader r) {
  if (!r.hasTask() || !r.hasFrameworkInfo()) throw CodecError("RunTaskMessage is incomplete");
  return w::RunTaskMessage{decode(r.getFrameworkInfo()), decode(r.getTask()),
                           AgentID(toStd(r.getAgentId()))};
}

void enc(const w::RunTaskGroupMessage& m, p::RunTaskGroupMessage::Builder b) {
  encode(m.frameworkInfo, b.initFrameworkInfo());
  encode(m.executor, b.initExecutor());
  encodeList(m.tasks, b.initTasks(m.tasks.size()));
  b.setAgentId(txt(m.agentId.value));
}
w::RunTaskGroupMessage dec(p::RunTaskGroupMessage::Reader r) {
  if (!r.hasFrameworkInfo() || !r.hasExecutor() || !r.hasTasks()) {
    throw CodecError("RunTaskGroupMessage is incomplete");
  }
  w::RunTaskGroupMessage m;
  m.frameworkInfo = decode(r.getFrameworkInfo());
  m.executor = decode(r.getExecutor());
  for (auto t : r.getTasks()) m.tasks.push_back(decode(t));
  m.agentId = AgentID(toStd(r.getAgentId()));
  return m;
}

void enc(const w::KillTaskMessage& m, p::KillTaskMessage::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setTaskId(txt(m.taskId.value));
  b.setAgentId(txt(m.agentId.value));
  if (m.killPolicy) {
    b.setHasKillPolicy(true);
    encode(*m.killPolicy, b.initKillPolicy());
  }
}
w::KillTaskMessage dec(p::KillTaskMessage::Reader r) {
  return w::KillTaskMessage{FrameworkID(toStd(r.getFrameworkId())), TaskID(toStd(r.getTaskId())),
                            AgentID(toStd(r.getAgentId())),
                            decodeKillPolicy(r.getHasKillPolicy(), r.getKillPolicy())};
}

void enc(const w::StatusUpdateMessage& m, p::StatusUpdateMessage::Builder b) {
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setAgentId(txt(m.agentId.value));
  encode(m.status, b.initStatus());
  if (m.latestState) {
    b.setHasLatestState(true);
    b.setLatestState(encodeState(*m.latestState));
  }
}
w::StatusUpdateMessage dec(p::StatusUpdateMessage::Reader r) {
  if (!r.hasStatus()) throw CodecError("StatusUpdateMessage has no status");
  w::StatusUpdateMessage m;
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.agentId = AgentID(toStd(r.getAgentId()));
  m.status = decode(r.getStatus());
  if (r.getHasLatestState()) m.latestState = decodeState(r.getLatestState());
  return m;
}

void enc(const w::StatusUpdateAckMessage& m, p::StatusUpdateAckMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setTaskId(txt(m.taskId.value));
  b.setUuid(dataOf(m.uuid));
}
w::StatusUpdateAckMessage dec(p::StatusUpdateAckMessage::Reader r) {
  return w::StatusUpdateAckMessage{AgentID(toStd(r.getAgentId())),
                                   FrameworkID(toStd(r.getFrameworkId())),
                                   TaskID(toStd(r.getTaskId())), toStd(r.getUuid())};
}

void enc(const w::ShutdownFrameworkMessage& m, p::ShutdownFrameworkMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setFrameworkId(txt(m.frameworkId.value));
}
w::ShutdownFrameworkMessage dec(p::ShutdownFrameworkMessage::Reader r) {
  return w::ShutdownFrameworkMessage{AgentID(toStd(r.getAgentId())),
                                     FrameworkID(toStd(r.getFrameworkId()))};
}

void enc(const w::ShutdownAgentMessage& m, p::ShutdownAgentMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setMessage(txt(m.message));
}
w::ShutdownAgentMessage dec(p::ShutdownAgentMessage::Reader r) {
  return w::ShutdownAgentMessage{AgentID(toStd(r.getAgentId())), toStd(r.getMessage())};
}

void enc(const w::FrameworkToExecutorMessage& m, p::FrameworkToExecutorMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  b.setData(dataOf(m.data));
}
w::FrameworkToExecutorMessage dec(p::FrameworkToExecutorMessage::Reader r) {
  return w::FrameworkToExecutorMessage{AgentID(toStd(r.getAgentId())),
                                       FrameworkID(toStd(r.getFrameworkId())),
                                       ExecutorID(toStd(r.getExecutorId())), toStd(r.getData())};
}

void enc(const w::ExecutorToFrameworkMessage& m, p::ExecutorToFrameworkMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  b.setData(dataOf(m.data));
}
w::ExecutorToFrameworkMessage dec(p::ExecutorToFrameworkMessage::Reader r) {
  return w::ExecutorToFrameworkMessage{AgentID(toStd(r.getAgentId())),
                                       FrameworkID(toStd(r.getFrameworkId())),
                                       ExecutorID(toStd(r.getExecutorId())), toStd(r.getData())};
}

void enc(const w::UnregisterAgentMessage& m, p::UnregisterAgentMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
}
w::UnregisterAgentMessage dec(p::UnregisterAgentMessage::Reader r) {
  return w::UnregisterAgentMessage{AgentID(toStd(r.getAgentId()))};
}

void enc(const w::CheckpointResourcesMessage& m, p::CheckpointResourcesMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  encodeResources(m.resources, b.initResources(m.resources.size()));
}
w::CheckpointResourcesMessage dec(p::CheckpointResourcesMessage::Reader r) {
  return w::CheckpointResourcesMessage{AgentID(toStd(r.getAgentId())),
                                       decodeResources(r.getResources())};
}

void enc(const w::ExitedExecutorMessage& m, p::ExitedExecutorMessage::Builder b) {
  b.setAgentId(txt(m.agentId.value));
  b.setFrameworkId(txt(m.frameworkId.value));
  b.setExecutorId(txt(m.executorId.value));
  if (m.status) {
    b.setHasStatus(true);
    b.setStatus(*m.status);
  }
}
w::ExitedExecutorMessage dec(p::ExitedExecutorMessage::Reader r) {
  w::ExitedExecutorMessage m;
  m.agentId = AgentID(toStd(r.getAgentId()));
  m.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  m.executorId = ExecutorID(toStd(r.getExecutorId()));
  if (r.getHasStatus()) m.status = r.getStatus();
  return m;
}

// Every message: its C++ type, its Envelope member (CamelCase, as the
// generated init/get accessors spell it) and the union tag.
#define TUTTI_ENVELOPE_MEMBERS(X)                                       \
  X(SubscribeCall, SUBSCRIBE_CALL)                                      \
  X(AcceptCall, ACCEPT_CALL)                                            \
  X(DeclineCall, DECLINE_CALL)                                          \
  X(ReviveCall, REVIVE_CALL)                                            \
  X(SuppressCall, SUPPRESS_CALL)                                        \
  X(KillCall, KILL_CALL)                                                \
  X(AcknowledgeCall, ACKNOWLEDGE_CALL)                                  \
  X(ReconcileCall, RECONCILE_CALL)                                      \
  X(MessageCall, MESSAGE_CALL)                                          \
  X(TeardownCall, TEARDOWN_CALL)                                        \
  X(SubscribedEvent, SUBSCRIBED_EVENT)                                  \
  X(OffersEvent, OFFERS_EVENT)                                          \
  X(RescindEvent, RESCIND_EVENT)                                        \
  X(UpdateEvent, UPDATE_EVENT)                                          \
  X(MessageEvent, MESSAGE_EVENT)                                        \
  X(FailureEvent, FAILURE_EVENT)                                        \
  X(ErrorEvent, ERROR_EVENT)                                            \
  X(HeartbeatEvent, HEARTBEAT_EVENT)                                    \
  X(ExecutorSubscribeCall, EXECUTOR_SUBSCRIBE_CALL)                     \
  X(ExecutorUpdateCall, EXECUTOR_UPDATE_CALL)                           \
  X(ExecutorMessageCall, EXECUTOR_MESSAGE_CALL)                         \
  X(ExecutorSubscribedEvent, EXECUTOR_SUBSCRIBED_EVENT)                 \
  X(LaunchEvent, LAUNCH_EVENT)                                          \
  X(KillEvent, KILL_EVENT)                                              \
  X(AcknowledgedEvent, ACKNOWLEDGED_EVENT)                              \
  X(ExecutorMessageEvent, EXECUTOR_MESSAGE_EVENT)                       \
  X(ShutdownEvent, SHUTDOWN_EVENT)                                      \
  X(ExecutorErrorEvent, EXECUTOR_ERROR_EVENT)                           \
  X(ExecutorHeartbeatEvent, EXECUTOR_HEARTBEAT_EVENT)                   \
  X(RegisterAgentMessage, REGISTER_AGENT_MESSAGE)                       \
  X(AgentRegisteredMessage, AGENT_REGISTERED_MESSAGE)                   \
  X(ReregisterAgentMessage, REREGISTER_AGENT_MESSAGE)                   \
  X(AgentReregisteredMessage, AGENT_REREGISTERED_MESSAGE)               \
  X(PingMessage, PING_MESSAGE)                                          \
  X(PongMessage, PONG_MESSAGE)                                          \
  X(RunTaskMessage, RUN_TASK_MESSAGE)                                   \
  X(KillTaskMessage, KILL_TASK_MESSAGE)                                 \
  X(StatusUpdateMessage, STATUS_UPDATE_MESSAGE)                         \
  X(StatusUpdateAckMessage, STATUS_UPDATE_ACK_MESSAGE)                  \
  X(ShutdownFrameworkMessage, SHUTDOWN_FRAMEWORK_MESSAGE)               \
  X(ShutdownAgentMessage, SHUTDOWN_AGENT_MESSAGE)                       \
  X(FrameworkToExecutorMessage, FRAMEWORK_TO_EXECUTOR_MESSAGE)          \
  X(ExecutorToFrameworkMessage, EXECUTOR_TO_FRAMEWORK_MESSAGE)          \
  X(UnregisterAgentMessage, UNREGISTER_AGENT_MESSAGE)                   \
  X(CheckpointResourcesMessage, CHECKPOINT_RESOURCES_MESSAGE)           \
  X(ExitedExecutorMessage, EXITED_EXECUTOR_MESSAGE)                     \
  X(RunTaskGroupMessage, RUN_TASK_GROUP_MESSAGE)                        \
  X(LaunchGroupEvent, LAUNCH_GROUP_EVENT)

}  // namespace

std::string encodeEnvelope(const w::Payload& payload) {
  capnp::MallocMessageBuilder message;
  auto env = message.initRoot<p::Envelope>();
  env.setVersion(p::K_WIRE_VERSION);
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
#define TUTTI_ENCODE_CASE(Type, Tag) \
  if constexpr (std::is_same_v<M, w::Type>) enc(m, env.init##Type());
        TUTTI_ENVELOPE_MEMBERS(TUTTI_ENCODE_CASE)
#undef TUTTI_ENCODE_CASE
      },
      payload);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

namespace {
// Decodes the one envelope in `words` (exactly one message's words,
// aligned). `version` gets its version.
Result<w::Payload> decodeMessage(kj::ArrayPtr<const capnp::word> words,
                                 const DecodeLimits& limits, uint32_t* version) {
  capnp::ReaderOptions options;
  // Cap'n Proto charges one word per element of a list of empty structs, and
  // the codec builds a C++ object for each: a few bytes could otherwise turn
  // into millions of objects. Reading more than a few times the message's
  // own size is never needed for a genuine message.
  options.traversalLimitInWords =
      std::min<uint64_t>(limits.traversalLimitWords, words.size() * 4 + 1024);
  options.nestingLimit = limits.nestingLimit;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    auto env = reader.getRoot<p::Envelope>();
    if (env.getVersion() == 0) return Status::InvalidArgument("envelope has no version");
    if (version) *version = env.getVersion();
    switch (env.which()) {
#define TUTTI_DECODE_CASE(Type, Tag) \
  case p::Envelope::Tag:             \
    return w::Payload(dec(env.get##Type()));
      TUTTI_ENVELOPE_MEMBERS(TUTTI_DECODE_CASE)
#undef TUTTI_DECODE_CASE
      default:
        return Status::InvalidArgument("unknown message type (union tag " +
                                       std::to_string(static_cast<int>(env.which())) + ")");
    }
  } catch (const CodecError& e) {
    return Status::InvalidArgument(std::string("invalid message: ") + e.what());
  } catch (const kj::Exception& e) {
    return Status::InvalidArgument("malformed message: " +
                                   std::string(e.getDescription().cStr()));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed message: ") + e.what());
  }
}

// The frame's checks before any message is read; on success `words` points
// at its (aligned, possibly copied into `copy`) words.
Status checkFrame(const void* data, size_t size, const DecodeLimits& limits,
                  kj::Array<capnp::word>* copy, kj::ArrayPtr<const capnp::word>* words) {
  if (size == 0) return Status::InvalidArgument("empty frame");
  if (size > limits.maxBytes) {
    return Status::InvalidArgument("frame of " + std::to_string(size) + " bytes exceeds the " +
                                   std::to_string(limits.maxBytes) + "-byte limit");
  }
  if (size % sizeof(capnp::word) != 0) {
    return Status::InvalidArgument("frame of " + std::to_string(size) +
                                   " bytes is not a whole number of words");
  }
  // Cap'n Proto reads words in place; copy when the frame is not aligned.
  const capnp::word* begin = reinterpret_cast<const capnp::word*>(data);
  if (reinterpret_cast<uintptr_t>(data) % alignof(capnp::word) != 0) {
    *copy = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
    std::memcpy(copy->begin(), data, size);
    begin = copy->begin();
  }
  *words = kj::ArrayPtr<const capnp::word>(begin, size / sizeof(capnp::word));
  return Status::OK();
}

// The words of the message at the start of `rest` (its segment table says
// how many), or an error when the table is cut off or claims more than
// `rest` holds.
Result<size_t> messageWords(kj::ArrayPtr<const capnp::word> rest) {
  size_t need = 0;
  try {
    need = capnp::expectedSizeInWordsFromPrefix(rest);
  } catch (const kj::Exception& e) {
    return Status::InvalidArgument("malformed message: " +
                                   std::string(e.getDescription().cStr()));
  }
  if (need == 0 || need > rest.size()) {
    return Status::InvalidArgument("message of " + std::to_string(need * sizeof(capnp::word)) +
                                   " bytes runs past the end of its frame (" +
                                   std::to_string(rest.size() * sizeof(capnp::word)) +
                                   " bytes left)");
  }
  return need;
}
}  // namespace

Result<w::Payload> decodeEnvelope(const void* data, size_t size, const DecodeLimits& limits) {
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> words;
  if (Status s = checkFrame(data, size, limits, &copy, &words); !s.ok()) return s;
  return decodeMessage(words, limits, nullptr);
}

Status decodeEnvelopes(const void* data, size_t size, const DecodeLimits& limits,
                       const std::function<void(w::Payload&&)>& deliver, uint32_t* version) {
  kj::Array<capnp::word> copy;
  kj::ArrayPtr<const capnp::word> words;
  if (Status s = checkFrame(data, size, limits, &copy, &words); !s.ok()) return s;
  size_t count = 0;
  // An error past the first envelope says how far the frame was read.
  auto at = [&count](const Status& s) {
    return count == 0 ? s
                      : Status::InvalidArgument(s.message() + " (after " +
                                                std::to_string(count) + " messages)");
  };
  while (words.size() > 0) {
    if (count == DecodeLimits::kMaxEnvelopesPerFrame) {
      return Status::InvalidArgument("frame holds more than " + std::to_string(count) +
                                     " envelopes; the rest was dropped");
    }
    auto n = messageWords(words);
    if (!n.ok()) return at(n.status());
    uint32_t v = 0;
    auto payload = decodeMessage(words.slice(0, *n), limits, &v);
    if (!payload.ok()) return at(payload.status());
    if (version) *version = std::max(*version, v);
    deliver(std::move(payload).value());
    ++count;
    words = words.slice(*n, words.size());
  }
  return Status::OK();
}

}  // namespace tutti::codec

namespace tutti::wire {

const char* payloadName(const Payload& payload) {
  static const char* kNames[] = {
#define TUTTI_NAME_CASE(Type, Tag) #Type,
      TUTTI_ENVELOPE_MEMBERS(TUTTI_NAME_CASE)
#undef TUTTI_NAME_CASE
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == std::variant_size_v<Payload>);
  return kNames[payload.index()];
}

}  // namespace tutti::wire
