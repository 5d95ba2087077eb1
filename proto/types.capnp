# Shared value types of the tutti wire and disk formats.
#
# Evolution rule: add fields with new ordinals only; never renumber or reuse.
# Optional scalars are carried with an explicit `hasX` flag; optional structs
# and texts use Cap'n Proto's pointer presence (an empty text means "unset").
@0xbdad852f7ab1647b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

struct Label {
  key @0 :Text;
  value @1 :Text;
}

struct Range {
  begin @0 :UInt64;
  end @1 :UInt64;
}

struct ReservationInfo {
  type @0 :Type;
  role @1 :Text;
  principal @2 :Text;
  labels @3 :List(Label);

  enum Type {
    unknown @0;
    static @1;
    dynamic @2;
  }
}

struct Resource {
  name @0 :Text;
  union {
    # Fixed point: thousandths of a unit (cpus:0.5 is 500).
    scalar @1 :Int64;
    ranges @2 :List(Range);
    set @3 :List(Text);
  }
  # Reservation refinement stack, outermost first; empty means unreserved.
  reservations @4 :List(ReservationInfo);
  # The role this resource is allocated to (offers and tasks); empty if none.
  allocationRole @5 :Text;
  # Persistent volumes only (Mesos's DiskInfo: persistence and an RW volume).
  disk @6 :DiskInfo;
}

struct DiskInfo {
  persistenceId @0 :Text;
  principal @1 :Text;
  # Relative to the sandbox.
  containerPath @2 :Text;
}

struct Attribute {
  name @0 :Text;
  value @1 :Text;
}

struct EnvironmentVariable {
  name @0 :Text;
  value @1 :Text;
}

# Mesos's CommandInfo.URI: fetched into the sandbox before the executor starts.
struct CommandUri {
  value @0 :Text;
  executable @1 :Bool;
  extract @2 :Bool = true;
  cache @3 :Bool;
  outputFile @4 :Text;
}

struct CommandInfo {
  shell @0 :Bool = true;
  value @1 :Text;
  arguments @2 :List(Text);
  environment @3 :List(EnvironmentVariable);
  user @4 :Text;
  uris @5 :List(CommandUri);
}

struct KillPolicy {
  gracePeriodNanos @0 :Int64;
}

struct ExecutorInfo {
  executorId @0 :Text;
  frameworkId @1 :Text;
  name @2 :Text;
  command @3 :CommandInfo;
  resources @4 :List(Resource);
  type @5 :Type;

  enum Type {
    unknown @0;
    default @1;
    custom @2;
  }
}

struct TaskInfo {
  name @0 :Text;
  taskId @1 :Text;
  agentId @2 :Text;
  resources @3 :List(Resource);
  command @4 :CommandInfo;
  executor @5 :ExecutorInfo;
  labels @6 :List(Label);
  killPolicy @7 :KillPolicy;
  data @8 :Data;
  healthCheck @9 :HealthCheck;
  container @10 :ContainerInfo;
}

# Mesos's ContainerInfo (type MESOS): the image the task runs from and its
# resource limits (posix/rlimits).
struct ContainerInfo {
  image @0 :Image;
  hasImage @1 :Bool;
  rlimits @2 :List(RLimit);
}

struct Image {
  type @0 :Type;
  name @1 :Text;       # docker: "[registry/]repository[:tag|@digest]"
  cached @2 :Bool;     # use the copy in the store when there is one (Mesos's default: true)

  enum Type {
    docker @0;
  }
}

# Mesos's RLimitInfo.RLimit: both unset means unlimited.
struct RLimit {
  type @0 :Text;       # "RLMT_NOFILE", "RLMT_NPROC", ...
  hasLimits @1 :Bool;
  soft @2 :UInt64;
  hard @3 :UInt64;
}

# Mesos's HealthCheck: run by the executor next to the task; results come
# back as TASK_RUNNING updates with `healthy` set.
struct HealthCheck {
  type @0 :Type;
  delaySeconds @1 :Float64;
  intervalSeconds @2 :Float64;
  timeoutSeconds @3 :Float64;
  consecutiveFailures @4 :UInt32;
  gracePeriodSeconds @5 :Float64;
  command @6 :CommandInfo;      # COMMAND
  httpScheme @7 :Text;          # HTTP ("http")
  httpPath @8 :Text;
  port @9 :UInt32;              # HTTP and TCP
  httpStatuses @10 :List(UInt32);

  enum Type {
    unknown @0;
    command @1;
    http @2;
    tcp @3;
  }
}

# Mesos's numbering, so that numeric values carry over.
enum TaskState {
  starting @0;
  running @1;
  finished @2;
  failed @3;
  killed @4;
  lost @5;
  staging @6;
  error @7;
  killing @8;
  dropped @9;
  unreachable @10;
  gone @11;
  goneByOperator @12;
  unknown @13;
}

# Mesos's numbering (v1 names: SLAVE is AGENT).
enum Reason {
  commandExecutorFailed @0;
  executorTerminated @1;
  executorUnregistered @2;
  frameworkRemoved @3;
  gcError @4;
  invalidFrameworkid @5;
  invalidOffers @6;
  masterDisconnected @7;
  containerLimitationMemory @8;
  reconciliation @9;
  agentDisconnected @10;
  agentRemoved @11;
  agentRestarted @12;
  agentUnknown @13;
  taskInvalid @14;
  taskUnauthorized @15;
  taskUnknown @16;
  containerPreempted @17;
  resourcesUnknown @18;
  containerLimitation @19;
  containerLimitationDisk @20;
  containerLaunchFailed @21;
  containerUpdateFailed @22;
  executorRegistrationTimeout @23;
  executorReregistrationTimeout @24;
  taskGroupInvalid @25;
  taskGroupUnauthorized @26;
  ioSwitchboardExited @27;
  taskCheckStatusUpdated @28;
  taskHealthCheckStatusUpdated @29;
  taskKilledDuringLaunch @30;
  agentRemovedByOperator @31;
  agentReregistered @32;
  maxCompletionTimeReached @33;
}

enum Source {
  master @0;
  agent @1;
  executor @2;
}

struct TaskStatus {
  taskId @0 :Text;
  state @1 :TaskState;
  message @2 :Text;
  source @3 :Source;
  hasReason @4 :Bool;
  reason @5 :Reason;
  data @6 :Data;
  agentId @7 :Text;
  executorId @8 :Text;
  # Seconds since the epoch.
  timestamp @9 :Float64;
  # 16 bytes for updates that need an acknowledgement; empty otherwise.
  uuid @10 :Data;
  hasHealthy @11 :Bool;
  healthy @12 :Bool;
  labels @13 :List(Label);
  # The command's wait status (waitpid), when the task's process ended.
  hasExitStatus @14 :Bool;
  exitStatus @15 :Int32;
}

enum FrameworkCapability {
  unknown @0;
  revocableResources @1;
  taskKillingState @2;
  gpuResources @3;
  sharedResources @4;
  partitionAware @5;
  multiRole @6;
  reservationRefinement @7;
  regionAware @8;
}

struct FrameworkInfo {
  user @0 :Text;
  name @1 :Text;
  id @2 :Text;
  failoverTimeoutSecs @3 :Float64;
  checkpoint @4 :Bool;
  roles @5 :List(Text);
  hostname @6 :Text;
  principal @7 :Text;
  webuiUrl @8 :Text;
  capabilities @9 :List(FrameworkCapability);
  labels @10 :List(Label);
}

struct AgentInfo {
  hostname @0 :Text;
  # The agent's HTTP port.
  port @1 :UInt32;
  id @2 :Text;
  resources @3 :List(Resource);
  attributes @4 :List(Attribute);
  # The agent's IP address (its --ip); empty when unknown (e.g. it listens
  # on 0.0.0.0). Maintenance matches machines by hostname and IP.
  ip @5 :Text;
}

struct MasterInfo {
  id @0 :Text;
  ip @1 :Text;
  # HTTP port.
  port @2 :UInt32;
  hostname @3 :Text;
  version @4 :Text;
  # ZeroMQ endpoint that agents and schedulers connect to: tcp://ip:port.
  messageAddress @5 :Text;
}

# Mesos's Unavailability: when a machine is scheduled to be down for
# maintenance (TimeInfo and DurationInfo are nanoseconds).
struct Unavailability {
  # Nanoseconds since the epoch.
  startNanos @0 :Int64;
  # Absent: unavailable from `start` on, for an unknown time.
  hasDuration @1 :Bool;
  durationNanos @2 :Int64;
}

struct Filters {
  refuseSeconds @0 :Float64 = 5.0;
}

struct Offer {
  id @0 :Text;
  frameworkId @1 :Text;
  agentId @2 :Text;
  hostname @3 :Text;
  resources @4 :List(Resource);
  attributes @5 :List(Attribute);
  executorIds @6 :List(Text);
  allocationRole @7 :Text;
  # The agent's HTTP endpoint, http://host:port.
  url @8 :Text;
  # Set when the agent's machine is scheduled for maintenance (DRAINING).
  unavailability @9 :Unavailability;
}

struct Operation {
  union {
    unknown @0 :Void;
    launch @1 :List(TaskInfo);
    reserve @2 :List(Resource);
    unreserve @3 :List(Resource);
    create @4 :List(Resource);
    destroy @5 :List(Resource);
    launchGroup @6 :LaunchGroup;
  }
}

# Mesos's Offer.Operation.LaunchGroup: tasks run together under one
# executor of type DEFAULT (the built-in default executor).
struct LaunchGroup {
  executor @0 :ExecutorInfo;
  tasks @1 :List(TaskInfo);
}

# A task as an agent reports it when it re-registers, and as the master
# keeps it.
struct Task {
  taskId @0 :Text;
  name @1 :Text;
  frameworkId @2 :Text;
  executorId @3 :Text;
  agentId @4 :Text;
  state @5 :TaskState;
  resources @6 :List(Resource);
  statuses @7 :List(TaskStatus);
  labels @8 :List(Label);
  # The state of the latest update not yet acknowledged, if any.
  hasStatusUpdateState @9 :Bool;
  statusUpdateState @10 :TaskState;
  statusUpdateUuid @11 :Data;
}
