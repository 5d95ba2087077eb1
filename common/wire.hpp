// The C++ form of every message on the wire (proto/*.capnp), one struct per
// Cap'n Proto struct with the same name, and `Payload`: the variant that an
// Envelope carries. Handlers receive these values, already decoded and
// checked for shape by the codec (common/codec/envelope_codec.hpp).
//
// Value types only; no ownership or threads involved.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tutti/types.hpp"

namespace tutti::wire {

// ---- scheduler -> master ----
struct SubscribeCall {
  FrameworkInfo frameworkInfo;
  std::vector<std::string> suppressedRoles;
  bool operator==(const SubscribeCall&) const = default;
};
struct AcceptCall {
  FrameworkID frameworkId;
  std::vector<OfferID> offerIds;
  std::vector<Offer::Operation> operations;
  Filters filters;
  bool operator==(const AcceptCall&) const = default;
};
struct DeclineCall {
  FrameworkID frameworkId;
  std::vector<OfferID> offerIds;
  Filters filters;
  bool operator==(const DeclineCall&) const = default;
};
struct ReviveCall {
  FrameworkID frameworkId;
  std::vector<std::string> roles;
  bool operator==(const ReviveCall&) const = default;
};
struct SuppressCall {
  FrameworkID frameworkId;
  std::vector<std::string> roles;
  bool operator==(const SuppressCall&) const = default;
};
struct KillCall {
  FrameworkID frameworkId;
  TaskID taskId;
  AgentID agentId;
  std::optional<KillPolicy> killPolicy;
  bool operator==(const KillCall&) const = default;
};
struct AcknowledgeCall {
  FrameworkID frameworkId;
  AgentID agentId;
  TaskID taskId;
  std::string uuid;
  bool operator==(const AcknowledgeCall&) const = default;
};
struct ReconcileCall {
  struct ReconcileTask {
    TaskID taskId;
    AgentID agentId;
    bool operator==(const ReconcileTask&) const = default;
  };
  FrameworkID frameworkId;
  std::vector<ReconcileTask> tasks;
  bool operator==(const ReconcileCall&) const = default;
};
struct MessageCall {
  FrameworkID frameworkId;
  AgentID agentId;
  ExecutorID executorId;
  std::string data;
  bool operator==(const MessageCall&) const = default;
};
struct TeardownCall {
  FrameworkID frameworkId;
  bool operator==(const TeardownCall&) const = default;
};

// ---- master -> scheduler ----
struct SubscribedEvent {
  FrameworkID frameworkId;
  double heartbeatIntervalSeconds = 15;
  MasterInfo masterInfo;
  bool operator==(const SubscribedEvent&) const = default;
};
struct OffersEvent {
  std::vector<Offer> offers;
  bool operator==(const OffersEvent&) const = default;
};
struct RescindEvent {
  OfferID offerId;
  bool operator==(const RescindEvent&) const = default;
};
struct UpdateEvent {
  TaskStatus status;
  bool operator==(const UpdateEvent&) const = default;
};
struct MessageEvent {
  AgentID agentId;
  ExecutorID executorId;
  std::string data;
  bool operator==(const MessageEvent&) const = default;
};
struct FailureEvent {
  AgentID agentId;
  ExecutorID executorId;  // empty: the agent is lost
  std::optional<int> status;
  bool operator==(const FailureEvent&) const = default;
};
struct ErrorEvent {
  std::string message;
  bool operator==(const ErrorEvent&) const = default;
};
struct HeartbeatEvent {
  bool operator==(const HeartbeatEvent&) const = default;
};

// ---- executor -> agent ----
struct ExecutorSubscribeCall {
  FrameworkID frameworkId;
  ExecutorID executorId;
  std::vector<TaskInfo> unacknowledgedTasks;
  std::vector<TaskStatus> unacknowledgedUpdates;
  bool operator==(const ExecutorSubscribeCall&) const = default;
};
struct ExecutorUpdateCall {
  FrameworkID frameworkId;
  ExecutorID executorId;
  TaskStatus status;
  bool operator==(const ExecutorUpdateCall&) const = default;
};
struct ExecutorMessageCall {
  FrameworkID frameworkId;
  ExecutorID executorId;
  std::string data;
  bool operator==(const ExecutorMessageCall&) const = default;
};

// ---- agent -> executor ----
struct ExecutorSubscribedEvent {
  ExecutorInfo executorInfo;
  FrameworkInfo frameworkInfo;
  AgentInfo agentInfo;
  ContainerID containerId;
  bool operator==(const ExecutorSubscribedEvent&) const = default;
};
struct LaunchEvent {
  TaskInfo task;
  bool operator==(const LaunchEvent&) const = default;
};
struct LaunchGroupEvent {
  std::vector<TaskInfo> tasks;
  bool operator==(const LaunchGroupEvent&) const = default;
};
struct KillEvent {
  TaskID taskId;
  std::optional<KillPolicy> killPolicy;
  bool operator==(const KillEvent&) const = default;
};
struct AcknowledgedEvent {
  TaskID taskId;
  std::string uuid;
  bool operator==(const AcknowledgedEvent&) const = default;
};
struct ExecutorMessageEvent {
  std::string data;
  bool operator==(const ExecutorMessageEvent&) const = default;
};
struct ShutdownEvent {
  std::chrono::nanoseconds gracePeriod{0};
  bool operator==(const ShutdownEvent&) const = default;
};
struct ExecutorErrorEvent {
  std::string message;
  bool operator==(const ExecutorErrorEvent&) const = default;
};
struct ExecutorHeartbeatEvent {
  bool operator==(const ExecutorHeartbeatEvent&) const = default;
};

// ---- master <-> agent ----
struct RegisterAgentMessage {
  AgentInfo agentInfo;
  std::string version;
  bool operator==(const RegisterAgentMessage&) const = default;
};
struct AgentRegisteredMessage {
  AgentID agentId;
  std::chrono::nanoseconds pingTimeout{0};
  bool operator==(const AgentRegisteredMessage&) const = default;
};
struct ReregisterAgentMessage {
  AgentInfo agentInfo;
  std::string version;
  std::vector<Task> tasks;
  std::vector<ExecutorInfo> executors;
  std::vector<FrameworkInfo> frameworks;
  bool operator==(const ReregisterAgentMessage&) const = default;
};
struct AgentReregisteredMessage {
  AgentID agentId;
  std::chrono::nanoseconds pingTimeout{0};
  bool operator==(const AgentReregisteredMessage&) const = default;
};
struct PingMessage {
  AgentID agentId;
  bool connected = true;
  bool operator==(const PingMessage&) const = default;
};
struct PongMessage {
  AgentID agentId;
  bool operator==(const PongMessage&) const = default;
};
struct RunTaskMessage {
  FrameworkInfo frameworkInfo;
  TaskInfo task;
  AgentID agentId;
  bool operator==(const RunTaskMessage&) const = default;
};
struct RunTaskGroupMessage {
  FrameworkInfo frameworkInfo;
  ExecutorInfo executor;
  std::vector<TaskInfo> tasks;
  AgentID agentId;
  bool operator==(const RunTaskGroupMessage&) const = default;
};
struct KillTaskMessage {
  FrameworkID frameworkId;
  TaskID taskId;
  AgentID agentId;
  std::optional<KillPolicy> killPolicy;
  bool operator==(const KillTaskMessage&) const = default;
};
struct StatusUpdateMessage {
  FrameworkID frameworkId;
  AgentID agentId;
  TaskStatus status;
  std::optional<TaskState> latestState;
  bool operator==(const StatusUpdateMessage&) const = default;
};
struct StatusUpdateAckMessage {
  AgentID agentId;
  FrameworkID frameworkId;
  TaskID taskId;
  std::string uuid;
  bool operator==(const StatusUpdateAckMessage&) const = default;
};
struct ShutdownFrameworkMessage {
  AgentID agentId;
  FrameworkID frameworkId;
  bool operator==(const ShutdownFrameworkMessage&) const = default;
};
struct ShutdownAgentMessage {
  AgentID agentId;
  std::string message;
  bool operator==(const ShutdownAgentMessage&) const = default;
};
struct FrameworkToExecutorMessage {
  AgentID agentId;
  FrameworkID frameworkId;
  ExecutorID executorId;
  std::string data;
  bool operator==(const FrameworkToExecutorMessage&) const = default;
};
struct ExecutorToFrameworkMessage {
  AgentID agentId;
  FrameworkID frameworkId;
  ExecutorID executorId;
  std::string data;
  bool operator==(const ExecutorToFrameworkMessage&) const = default;
};
struct UnregisterAgentMessage {
  AgentID agentId;
  bool operator==(const UnregisterAgentMessage&) const = default;
};

struct CheckpointResourcesMessage {
  AgentID agentId;
  Resources resources;
  bool operator==(const CheckpointResourcesMessage&) const = default;
};
struct ExitedExecutorMessage {
  AgentID agentId;
  FrameworkID frameworkId;
  ExecutorID executorId;
  std::optional<int> status;
  bool operator==(const ExitedExecutorMessage&) const = default;
};

// The order matches the Envelope union's ordinals (index + 1).
using Payload = std::variant<
    SubscribeCall, AcceptCall, DeclineCall, ReviveCall, SuppressCall, KillCall, AcknowledgeCall,
    ReconcileCall, MessageCall, TeardownCall, SubscribedEvent, OffersEvent, RescindEvent,
    UpdateEvent, MessageEvent, FailureEvent, ErrorEvent, HeartbeatEvent, ExecutorSubscribeCall,
    ExecutorUpdateCall, ExecutorMessageCall, ExecutorSubscribedEvent, LaunchEvent, KillEvent,
    AcknowledgedEvent, ExecutorMessageEvent, ShutdownEvent, ExecutorErrorEvent,
    ExecutorHeartbeatEvent, RegisterAgentMessage, AgentRegisteredMessage, ReregisterAgentMessage,
    AgentReregisteredMessage, PingMessage, PongMessage, RunTaskMessage, KillTaskMessage,
    StatusUpdateMessage, StatusUpdateAckMessage, ShutdownFrameworkMessage, ShutdownAgentMessage,
    FrameworkToExecutorMessage, ExecutorToFrameworkMessage, UnregisterAgentMessage,
    CheckpointResourcesMessage, ExitedExecutorMessage, RunTaskGroupMessage, LaunchGroupEvent>;

// The message's name, e.g. "SubscribeCall" (for logs and metrics).
const char* payloadName(const Payload& payload);

}  // namespace tutti::wire
