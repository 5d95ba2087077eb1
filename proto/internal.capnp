# The internal master <-> agent message set.
# An agent is known by the AgentID in each message, not by its connection.
@0x92e2d7d53fa96e6b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using T = import "types.capnp";

struct RegisterAgentMessage {
  agentInfo @0 :T.AgentInfo;
  version @1 :Text;
}

struct AgentRegisteredMessage {
  agentId @0 :Text;
  pingTimeoutNanos @1 :Int64;
}

struct ReregisterAgentMessage {
  agentInfo @0 :T.AgentInfo;
  version @1 :Text;
  tasks @2 :List(T.Task);
  executors @3 :List(T.ExecutorInfo);
  frameworks @4 :List(T.FrameworkInfo);
}

struct AgentReregisteredMessage {
  agentId @0 :Text;
  pingTimeoutNanos @1 :Int64;
}

struct PingMessage {
  agentId @0 :Text;
  connected @1 :Bool;
}

struct PongMessage {
  agentId @0 :Text;
}

struct RunTaskMessage {
  frameworkInfo @0 :T.FrameworkInfo;
  task @1 :T.TaskInfo;
  agentId @2 :Text;
}

# Mesos's RunTaskGroupMessage: the tasks of one LAUNCH_GROUP, launched
# together under the framework's default executor `executor`.
struct RunTaskGroupMessage {
  frameworkInfo @0 :T.FrameworkInfo;
  executor @1 :T.ExecutorInfo;
  tasks @2 :List(T.TaskInfo);
  agentId @3 :Text;
}

struct KillTaskMessage {
  frameworkId @0 :Text;
  taskId @1 :Text;
  agentId @2 :Text;
  hasKillPolicy @3 :Bool;
  killPolicy @4 :T.KillPolicy;
}

struct StatusUpdateMessage {
  frameworkId @0 :Text;
  agentId @1 :Text;
  status @2 :T.TaskStatus;
  # The latest state the agent knows for the task (it may be ahead of
  # `status` while older updates wait for acknowledgement).
  hasLatestState @3 :Bool;
  latestState @4 :T.TaskState;
}

struct StatusUpdateAckMessage {
  agentId @0 :Text;
  frameworkId @1 :Text;
  taskId @2 :Text;
  uuid @3 :Data;
}

struct ShutdownFrameworkMessage {
  agentId @0 :Text;
  frameworkId @1 :Text;
}

struct ShutdownAgentMessage {
  agentId @0 :Text;
  message @1 :Text;
}

struct FrameworkToExecutorMessage {
  agentId @0 :Text;
  frameworkId @1 :Text;
  executorId @2 :Text;
  data @3 :Data;
}

struct ExecutorToFrameworkMessage {
  agentId @0 :Text;
  frameworkId @1 :Text;
  executorId @2 :Text;
  data @3 :Data;
}

struct UnregisterAgentMessage {
  agentId @0 :Text;
}

# A framework's custom executor ended on the agent (Mesos's
# ExitedExecutorMessage): the master forgets it and tells the framework
# (executorLost). Command executors are the agent's business and not sent.
struct ExitedExecutorMessage {
  agentId @0 :Text;
  frameworkId @1 :Text;
  executorId @2 :Text;
  hasStatus @3 :Bool;
  status @4 :Int32;  # waitpid status, when the agent saw the exit
}

# The agent's total resources changed at the master (dynamic reservations):
# the agent keeps them and reports them when it re-registers.
struct CheckpointResourcesMessage {
  agentId @0 :Text;
  resources @1 :List(T.Resource);
}
