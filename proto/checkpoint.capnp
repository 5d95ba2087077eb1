# The agent's checkpoint (DESIGN §8): what a restarted agent needs to find
# its executors again. <work_dir>/meta/agent holds AgentCheckpoint;
# <work_dir>/meta/executors/<framework>/<executor> one ExecutorCheckpoint per
# executor of a framework with checkpoint=true. Each file is replaced
# atomically (temp file, rename; see agent/checkpoint/checkpoint.hpp on fsync).
@0xe0c5f5d50af03729;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tutti::proto");

using T = import "types.capnp";

struct AgentCheckpoint {
  # The agent as last registered (id, and resources including dynamic
  # reservations the master checkpointed).
  info @0 :T.AgentInfo;
  # The resources --resources gave (or detection found) when it was written:
  # a restart with different ones is refused rather than guessed at.
  flagResources @1 :List(T.Resource);
  # Where executors connect (tcp://ip:port); a restart binds it again.
  executorEndpoint @2 :Text;
  # /proc/sys/kernel/random/boot_id: after a reboot no executor survives.
  bootId @3 :Text;
}

struct ExecutorCheckpoint {
  framework @0 :T.FrameworkInfo;
  executor @1 :T.ExecutorInfo;
  containerId @2 :Text;
  directory @3 :Text;
  commandExecutor @4 :Bool;
  pid @5 :Int32;
  # Field 22 of /proc/<pid>/stat, so that a recycled pid is not mistaken
  # for the executor.
  pidStartTicks @6 :UInt64;
  startTime @7 :Float64;
  # Tasks waiting for the executor to subscribe.
  queued @8 :List(T.TaskInfo);
  # Tasks sent to the executor, with their TaskInfo (same order).
  launched @9 :List(T.Task);
  launchedInfos @10 :List(T.TaskInfo);
  # Status updates not yet acknowledged by the scheduler, oldest first per task.
  pendingUpdates @11 :List(T.TaskStatus);
  # Uuids of updates already acknowledged whose stream is still open.
  ackedUuids @12 :List(Data);
  shutdownRequested @13 :Bool;
  # The executor ended; the file stays while updates of its tasks are pending.
  terminated @14 :Bool;
  # The uid its tasks run as when the agent switched users for them.
  hasTaskUid @15 :Bool;
  taskUid @16 :UInt32;
  # The LAUNCH_GROUPs among `queued`, by task id: each goes to the executor
  # as one group once it subscribes.
  queuedGroups @17 :List(List(Text));
}
