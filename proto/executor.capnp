# The executor Call/Event set, shaped after Mesos v1 (executor.proto).
# Executors talk to their agent only.
@0x841e78eed146c0e3;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using T = import "types.capnp";

# ---- Calls (executor -> agent) ----

struct ExecutorSubscribeCall {
  frameworkId @0 :Text;
  executorId @1 :Text;
  # Tasks and updates the executor holds without an acknowledgement; used
  # when it re-subscribes to a restarted agent.
  unacknowledgedTasks @2 :List(T.TaskInfo);
  unacknowledgedUpdates @3 :List(T.TaskStatus);
}

struct ExecutorUpdateCall {
  frameworkId @0 :Text;
  executorId @1 :Text;
  status @2 :T.TaskStatus;
}

struct ExecutorMessageCall {
  frameworkId @0 :Text;
  executorId @1 :Text;
  data @2 :Data;
}

# ---- Events (agent -> executor) ----

struct ExecutorSubscribedEvent {
  executorInfo @0 :T.ExecutorInfo;
  frameworkInfo @1 :T.FrameworkInfo;
  agentInfo @2 :T.AgentInfo;
  containerId @3 :Text;
}

struct LaunchEvent {
  task @0 :T.TaskInfo;
}

# Mesos's LAUNCH_GROUP: tasks that start together and, under the default
# executor, end together when one of them fails or is killed.
struct LaunchGroupEvent {
  tasks @0 :List(T.TaskInfo);
}

struct KillEvent {
  taskId @0 :Text;
  hasKillPolicy @1 :Bool;
  killPolicy @2 :T.KillPolicy;
}

struct AcknowledgedEvent {
  taskId @0 :Text;
  uuid @1 :Data;
}

struct ExecutorMessageEvent {
  data @0 :Data;
}

struct ShutdownEvent {
  gracePeriodNanos @0 :Int64;
}

struct ExecutorErrorEvent {
  message @0 :Text;
}

struct ExecutorHeartbeatEvent {
}
