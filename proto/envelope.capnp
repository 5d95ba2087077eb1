# An envelope per message; a ZeroMQ frame holds one, or several back to back
# for peers of wire version 2 (docs/wire-protocol.md). The union's tag selects
# the handler.
# Evolution rule: append new members with new ordinals; never renumber.
@0xcc799996330be0b3;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using S = import "scheduler.capnp";
using E = import "executor.capnp";
using I = import "internal.capnp";

const kWireVersion :UInt32 = 2;  # 2: frames may pack several envelopes

struct Envelope {
  version @0 :UInt32;
  union {
    # scheduler -> master
    subscribeCall @1 :S.SubscribeCall;
    acceptCall @2 :S.AcceptCall;
    declineCall @3 :S.DeclineCall;
    reviveCall @4 :S.ReviveCall;
    suppressCall @5 :S.SuppressCall;
    killCall @6 :S.KillCall;
    acknowledgeCall @7 :S.AcknowledgeCall;
    reconcileCall @8 :S.ReconcileCall;
    messageCall @9 :S.MessageCall;
    teardownCall @10 :S.TeardownCall;
    # master -> scheduler
    subscribedEvent @11 :S.SubscribedEvent;
    offersEvent @12 :S.OffersEvent;
    rescindEvent @13 :S.RescindEvent;
    updateEvent @14 :S.UpdateEvent;
    messageEvent @15 :S.MessageEvent;
    failureEvent @16 :S.FailureEvent;
    errorEvent @17 :S.ErrorEvent;
    heartbeatEvent @18 :S.HeartbeatEvent;
    # executor -> agent
    executorSubscribeCall @19 :E.ExecutorSubscribeCall;
    executorUpdateCall @20 :E.ExecutorUpdateCall;
    executorMessageCall @21 :E.ExecutorMessageCall;
    # agent -> executor
    executorSubscribedEvent @22 :E.ExecutorSubscribedEvent;
    launchEvent @23 :E.LaunchEvent;
    killEvent @24 :E.KillEvent;
    acknowledgedEvent @25 :E.AcknowledgedEvent;
    executorMessageEvent @26 :E.ExecutorMessageEvent;
    shutdownEvent @27 :E.ShutdownEvent;
    executorErrorEvent @28 :E.ExecutorErrorEvent;
    executorHeartbeatEvent @29 :E.ExecutorHeartbeatEvent;
    # master <-> agent
    registerAgentMessage @30 :I.RegisterAgentMessage;
    agentRegisteredMessage @31 :I.AgentRegisteredMessage;
    reregisterAgentMessage @32 :I.ReregisterAgentMessage;
    agentReregisteredMessage @33 :I.AgentReregisteredMessage;
    pingMessage @34 :I.PingMessage;
    pongMessage @35 :I.PongMessage;
    runTaskMessage @36 :I.RunTaskMessage;
    killTaskMessage @37 :I.KillTaskMessage;
    statusUpdateMessage @38 :I.StatusUpdateMessage;
    statusUpdateAckMessage @39 :I.StatusUpdateAckMessage;
    shutdownFrameworkMessage @40 :I.ShutdownFrameworkMessage;
    shutdownAgentMessage @41 :I.ShutdownAgentMessage;
    frameworkToExecutorMessage @42 :I.FrameworkToExecutorMessage;
    executorToFrameworkMessage @43 :I.ExecutorToFrameworkMessage;
    unregisterAgentMessage @44 :I.UnregisterAgentMessage;
    checkpointResourcesMessage @45 :I.CheckpointResourcesMessage;
    exitedExecutorMessage @46 :I.ExitedExecutorMessage;
    runTaskGroupMessage @47 :I.RunTaskGroupMessage;
    launchGroupEvent @48 :E.LaunchGroupEvent;
  }
}
