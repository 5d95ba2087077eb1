# The scheduler Call/Event set, shaped after Mesos v1 (scheduler.proto).
# Every call names its framework; the master checks that the connection that
# sent it is the one subscribed for that framework.
@0xe7d71a9dd6b50a80;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using T = import "types.capnp";

# ---- Calls (scheduler -> master) ----

struct SubscribeCall {
  frameworkInfo @0 :T.FrameworkInfo;
  # Roles whose offers the framework does not want on subscription.
  suppressedRoles @1 :List(Text);
}

struct AcceptCall {
  frameworkId @0 :Text;
  offerIds @1 :List(Text);
  operations @2 :List(T.Operation);
  filters @3 :T.Filters;
}

struct DeclineCall {
  frameworkId @0 :Text;
  offerIds @1 :List(Text);
  filters @2 :T.Filters;
}

struct ReviveCall {
  frameworkId @0 :Text;
  # Empty means all of the framework's roles.
  roles @1 :List(Text);
}

struct SuppressCall {
  frameworkId @0 :Text;
  roles @1 :List(Text);
}

struct KillCall {
  frameworkId @0 :Text;
  taskId @1 :Text;
  agentId @2 :Text;
  hasKillPolicy @3 :Bool;
  killPolicy @4 :T.KillPolicy;
}

struct AcknowledgeCall {
  frameworkId @0 :Text;
  agentId @1 :Text;
  taskId @2 :Text;
  uuid @3 :Data;
}

struct ReconcileCall {
  frameworkId @0 :Text;
  tasks @1 :List(ReconcileTask);

  struct ReconcileTask {
    taskId @0 :Text;
    agentId @1 :Text;
  }
}

struct MessageCall {
  frameworkId @0 :Text;
  agentId @1 :Text;
  executorId @2 :Text;
  data @3 :Data;
}

struct TeardownCall {
  frameworkId @0 :Text;
}

# ---- Events (master -> scheduler) ----

struct SubscribedEvent {
  frameworkId @0 :Text;
  heartbeatIntervalSeconds @1 :Float64;
  masterInfo @2 :T.MasterInfo;
}

struct OffersEvent {
  offers @0 :List(T.Offer);
}

struct RescindEvent {
  offerId @0 :Text;
}

struct UpdateEvent {
  status @0 :T.TaskStatus;
}

struct MessageEvent {
  agentId @0 :Text;
  executorId @1 :Text;
  data @2 :Data;
}

struct FailureEvent {
  agentId @0 :Text;
  executorId @1 :Text;
  hasStatus @2 :Bool;
  status @3 :Int32;
}

struct ErrorEvent {
  message @0 :Text;
}

struct HeartbeatEvent {
}
