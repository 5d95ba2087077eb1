// Agent: advertises this machine's resources to the master, runs each task
// under an executor, and reports every change of a task's state (DESIGN §8).
//
// Two transports: a DEALER to the master and a ROUTER that executors
// connect to. Everything runs on the agent's loop thread; AgentDaemon
// (agent_daemon.hpp) adds the thread, sockets and HTTP.
//
// Executor lifecycle: kRegistering (started, waiting for SUBSCRIBE, its
// tasks queued) → kRunning (subscribed, tasks sent) → kTerminating
// (SHUTDOWN sent or killed) → kTerminated (its process ended; kept in the
// framework's completed executors for /state and /files).
//
// Checkpoint and recovery (DESIGN §8, checkpoint/checkpoint.hpp): the agent
// writes its id and resources, and every executor of a framework with
// checkpoint=true (pid, tasks, pending status updates) whenever they change,
// updates before they are sent. On start, with --recover=reconnect, it
// reads them back, watches the executors that are still alive (pid and
// start time must match), waits up to --executor_reregistration_timeout for
// them to re-subscribe (killing those that do not), and only then
// re-registers with the master under its old id with all of them; pending
// updates are re-sent once registered. Executors found dead end their tasks
// TASK_FAILED. A changed --resources or a reboot (boot id) is not guessed
// at: the first refuses to start, the second starts as a new agent.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/checkpoint/checkpoint.hpp"
#include "agent/containerizer/isolator.hpp"
#include "agent/containerizer/launcher.hpp"
#include "agent/containerizer/oci/oci_containerizer.hpp"
#include "agent/fetcher/fetcher_cache.hpp"
#include "agent/gc/garbage_collector.hpp"
#include "agent/options.hpp"
#include "agent/volumes.hpp"
#include "agent/status_updates/status_update_manager.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/process.hpp"
#include "common/user.hpp"
#include "common/transport.hpp"

namespace tutti {
class MasterDetector;
}

namespace tutti::agent {

enum class AgentState {
  kRegistering,  // no master has accepted us (yet, or since it went silent)
  kRegistered,
  kTerminating,
};
const char* toString(AgentState s);

enum class ExecutorState { kRegistering, kRunning, kTerminating, kTerminated };
const char* toString(ExecutorState s);

struct ExecutorRecord {
  ExecutorID id;
  FrameworkID frameworkId;
  ExecutorInfo info;
  ContainerID containerId;
  std::string directory;
  bool commandExecutor = true;
  // --switch_user: the uid its tasks run as (unset: the agent's). A default
  // executor's tasks must all run as this one.
  std::optional<uid_t> taskUid;
  bool image = false;  // its task runs in an image: a bundle to remove at the end
  // In an image: the persistent volumes mounted when its container was made
  // (a later task can use only these).
  std::vector<VolumeLink> mountedVolumes;
  // Its image is being pulled or its URIs fetched: nothing started yet.
  bool preparing = false;
  std::vector<CommandURI> uris;  // fetched into the sandbox before it starts
  pid_t fetcherPid = -1;         // tutti-fetcher, while it runs
  Loop::TimerId fetchTimer = 0;  // fetching must end within --executor_registration_timeout
  std::optional<Credentials> fetchAs;  // the fetcher's user (unset: the agent's)
  ExecutorState state = ExecutorState::kRegistering;
  pid_t pid = -1;  // -1 while the launcher thread is still starting it
  uint64_t pidStartTicks = 0;  // /proc/<pid>/stat start time, for recovery
  bool recovered = false;      // found in the checkpoint after a restart
  ConnectionId conn;
  double startTime = 0;
  std::map<TaskID, TaskInfo> queued;  // waiting for the executor to subscribe
  std::vector<std::vector<TaskID>> queuedGroups;  // LAUNCH_GROUPs among `queued`
  std::map<TaskID, Task> launched;    // sent to the executor
  std::deque<Task> completed;         // terminal and acknowledged
  std::map<TaskID, TaskInfo> infos;   // TaskInfo of launched tasks
  bool shutdownRequested = false;     // killed on purpose: tasks end TASK_KILLED
  bool killWhenLaunched = false;      // its kill came due before its pid was known
  bool sweeping = false;              // ended; its session is being killed (then reported)
  Loop::TimerId registrationTimer = 0;
  Loop::TimerId killTimer = 0;
  std::optional<int> exitStatus;
  // Set when its container hit a limit (e.g. "Memory limit exceeded: limit
  // 64 MB"): its unfinished tasks end TASK_FAILED with `limitationReason`.
  std::optional<std::string> limitation;
  Reason limitationReason = Reason::REASON_CONTAINER_LIMITATION_MEMORY;

  Resources resources() const;
};

struct FrameworkEntry {
  FrameworkInfo info;
  std::map<ExecutorID, ExecutorRecord> executors;
  std::deque<ExecutorRecord> completedExecutors;
};

class Agent {
 public:
  // `info` carries hostname, HTTP port, resources and attributes.
  // `executorEndpoint` is what executors connect to (tcp://ip:port).
  // `onFatal` is called (on the loop) when the master refuses this agent.
  Agent(AgentOptions options, AgentInfo info, std::string executorEndpoint, Loop& loop,
        ClientTransport& master, Transport& executors, Metrics& metrics,
        std::function<void(const std::string&)> onFatal);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Connects to the master and starts registering.
  void start();
  // Shuts every executor down (SHUTDOWN, then SIGKILL after the grace
  // period) and tells the master this agent is leaving. `done` runs on the
  // loop once no executor is left.
  void shutdown(std::function<void()> done);

  AgentState state() const { return state_; }
  const std::optional<AgentID>& id() const { return info_.id; }
  const AgentInfo& info() const { return info_; }
  const AgentOptions& options() const { return options_; }
  double startTime() const { return startTime_; }
  const std::map<FrameworkID, FrameworkEntry>& frameworks() const { return frameworks_; }
  const std::deque<FrameworkEntry>& completedFrameworks() const { return completedFrameworks_; }
  const StatusUpdateManager& statusUpdates() const { return *statusUpdates_; }
  GarbageCollector& gc() { return *gc_; }
  // The cgroups isolator; null with posix isolation only.
  const CgroupsIsolator* isolator() const { return isolator_.get(); }
  // Every sandbox directory this agent knows (running and completed).
  std::vector<std::string> sandboxes() const;
  // Image GC now (POST /prune_images); `done` on the loop. FailedPrecondition
  // without an image store.
  void pruneImages(oci::OciContainerizer::OnPruned done);

 private:
  // Master messages.
  void onMasterMessage(wire::Payload&& message);
  void handle(const wire::AgentRegisteredMessage& m);
  void handle(const wire::AgentReregisteredMessage& m);
  void handle(const wire::PingMessage& m);
  void handle(const wire::RunTaskMessage& m);
  void handle(const wire::RunTaskGroupMessage& m);
  // A task (group: all of them, under one default executor) to launch.
  void runTasks(const AgentID& agentId, const FrameworkInfo& framework,
                std::vector<TaskInfo> tasks, bool group);
  // What this agent refuses in a task whatever the master said.
  Status checkTask(const TaskInfo& task, const FrameworkID& fwId, bool group) const;
  void handle(const wire::KillTaskMessage& m);
  void handle(const wire::StatusUpdateAckMessage& m);
  void handle(const wire::ShutdownFrameworkMessage& m);
  void handle(const wire::ShutdownAgentMessage& m);
  void handle(const wire::FrameworkToExecutorMessage& m);
  void handle(const wire::CheckpointResourcesMessage& m);
  // Executor messages.
  void onExecutorMessage(const ConnectionId& from, wire::Payload&& message);
  void onExecutorSubscribe(const ConnectionId& from, const wire::ExecutorSubscribeCall& m);
  void onExecutorUpdate(const ConnectionId& from, const wire::ExecutorUpdateCall& m);
  void acceptExecutorUpdate(ExecutorRecord& ex, const ConnectionId& from,
                            const TaskStatus& update);
  void onExecutorMessageCall(const ConnectionId& from, const wire::ExecutorMessageCall& m);

  // Recovery (see the header comment).
  Status recover();
  void recoverExecutor(const ExecutorCheckpointState& st);
  void finishRecovery();
  // Schedules for removal every sandbox under the work dir that no live
  // executor uses (left by ended executors, earlier runs, older agent ids).
  void scheduleStaleSandboxes();
  // Image GC every imageGcInterval when the store's disk is short of headroom.
  void scheduleImageGc();
  void startDetection();
  void checkpointAgent();
  // Marks the executor's checkpoint for writing at the end of this loop
  // turn (flushCheckpoints); a no-op for frameworks without checkpoint=true.
  void checkpointExecutor(const FrameworkID& fw, const ExecutorID& ex);
  void flushCheckpoints();
  // Writes (or, once it ended with nothing pending, removes) the checkpoint.
  void writeExecutorCheckpoint(const FrameworkID& fw, const ExecutorID& ex);

  void onLeader(const std::optional<MasterInfo>& leader);
  void doRegister();
  void registered(const AgentID& id, Duration pingTimeout, bool reregistered);
  void onMasterWatchdog();
  void sendToMaster(const wire::Payload& message);

  ExecutorRecord* findExecutor(const FrameworkID& fw, const ExecutorID& ex);
  // Creates the executor's record; starts it now, or (a task in an image)
  // once the image is there: onContainerPrepared → startExecutor.
  // `user`: who the task runs as when that is not the agent's user
  // (task_user.hpp).
  ExecutorRecord* launchExecutor(FrameworkEntry& fw, const TaskInfo& task,
                                 const std::optional<UserAccount>& user);
  void onContainerPrepared(const FrameworkID& fw, const ExecutorID& ex, const ContainerID& c,
                           LaunchSpec spec, Status status, const Resources& taskResources = {});
  // Runs tutti-fetcher for the executor's URIs (as the task's user, in the
  // sandbox) and starts the executor once it succeeded (onFetched); without
  // URIs starts it at once.
  void fetchThenStart(ExecutorRecord& rec, LaunchSpec spec, const Resources& taskResources);
  void onFetched(const FrameworkID& fw, const ExecutorID& ex, const ContainerID& c,
                 LaunchSpec spec, const Resources& taskResources, std::optional<int> status,
                 const std::string& launchError);
  // Its image or its URIs could not be had: its queued tasks fail with
  // `message`, and it ends without having started.
  void failPreparation(ExecutorRecord& ex, const std::string& message);
  // Hands the spawn to the launcher thread (cgroups and bundle first).
  void startExecutor(ExecutorRecord& rec, LaunchSpec spec, const Resources& taskResources);
  void sendLaunch(ExecutorRecord& ex, const TaskInfo& task);
  void sendLaunchGroup(ExecutorRecord& ex, const std::vector<TaskInfo>& tasks);
  // Tasks now known to be launched on `ex` (before they are sent).
  void recordLaunch(ExecutorRecord& ex, const TaskInfo& task);
  // Gives the task its persistent volumes before it goes to the executor:
  // a link in the executor's sandbox (process tasks of the command or a
  // custom executor; the default executor links its tasks' own sandboxes),
  // the volume's directory given to the task's user. Tasks in an image can
  // use only the volumes mounted with their container. An error fails the
  // task (agent/agent_volumes.cpp).
  Status prepareVolumes(ExecutorRecord& ex, const TaskInfo& task);
  // Removes the links prepareVolumes() made for a task that has ended.
  void unlinkVolumes(const ExecutorRecord& ex, const Resources& taskResources);
  // A task that cannot go to its executor: TASK_FAILED with `why`; a command
  // executor left with no task is shut down.
  void failLaunch(ExecutorRecord& ex, const TaskInfo& task, const std::string& why);
  // What waited for the executor: groups as groups, then single tasks.
  void sendQueued(ExecutorRecord& ex);
  void addCompleted(ExecutorRecord& ex, const Task& task);
  void onExecutorLaunched(const FrameworkID& fw, const ExecutorID& ex, const ContainerID& c,
                          Result<pid_t> pid);
  void onExecutorExited(const FrameworkID& fw, const ExecutorID& ex, std::optional<int> status);
  // The rest of onExecutorExited once what it left behind is killed: its
  // tasks' updates, the master, the completed executor.
  void finishExecutorExit(const FrameworkID& fw, const ExecutorID& ex,
                          std::optional<int> status);
  // The executor's container hit a limit: kill it; onExecutorExited reports.
  void onContainerLimitation(const FrameworkID& fw, const ExecutorID& ex,
                             const ContainerID& container, const std::string& message);
  // With a limitation recorded (or found) for the executor's container.
  bool checkLimitation(ExecutorRecord& ex);
  void onExecutorRegistrationTimeout(const FrameworkID& fw, const ExecutorID& ex);
  void shutdownExecutor(ExecutorRecord& ex);
  void sendExecutorHeartbeats();
  // Heartbeats to conns[from..from+128), then the rest on later turns.
  void sendHeartbeatSlice(std::shared_ptr<const std::vector<ConnectionId>> conns, size_t from);
  // An update the agent itself generates (uuid, source AGENT).
  void agentUpdate(const FrameworkID& fw, const TaskID& task, const ExecutorID& ex,
                   TaskState state, Reason reason, const std::string& message);
  void taskUpdated(const FrameworkID& fw, const TaskStatus& status);
  void maybeCompleteFramework(const FrameworkID& fw);
  std::vector<Task> reportedTasks() const;

  AgentOptions options_;
  AgentInfo info_;
  std::string executorEndpoint_;
  Loop& loop_;
  ClientTransport& master_;
  Transport& executors_;
  Metrics& metrics_;
  std::function<void(const std::string&)> onFatal_;
  std::unique_ptr<StatusUpdateManager> statusUpdates_;
  std::unique_ptr<GarbageCollector> gc_;
  Checkpointer checkpointer_{options_.workDir};
  Resources flagResources_;        // --resources as given, for the compatibility check
  bool recovering_ = false;        // waiting for recovered executors to re-subscribe
  Loop::TimerId recoveryTimer_ = 0;
  std::set<std::pair<FrameworkID, ExecutorID>> dirtyExecutors_;
  bool flushScheduled_ = false;
  // Acknowledgements to executors held until their updates are on disk.
  std::vector<std::pair<ConnectionId, wire::AcknowledgedEvent>> acksAfterFlush_;
  // Status updates to the master held until they are on disk.
  std::vector<wire::StatusUpdateMessage> updatesAfterFlush_;
  std::unique_ptr<MasterDetector> detector_;
  ProcessWatcher watcher_;
  ProcessLauncher launcher_;
  AsyncLauncher asyncLauncher_;
  IsolationConfig isolation_;  // --isolation, parsed
  std::unique_ptr<CgroupsIsolator> isolator_;
  // Tasks in images; null when the agent cannot run them (imagesError_ says why).
  std::unique_ptr<oci::OciContainerizer> oci_;
  std::unique_ptr<fetcher::FetcherCache> fetcherCache_;  // URIs with cache: true
  std::string imagesError_;

  // Closures that may outlive the agent (launcher results) check this.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  AgentState state_ = AgentState::kRegistering;
  std::map<FrameworkID, FrameworkEntry> frameworks_;
  std::deque<FrameworkEntry> completedFrameworks_;
  double startTime_ = 0;
  int registrationAttempt_ = 0;
  int connectPolls_ = 0;
  Loop::TimerId registrationTimer_ = 0;
  Loop::TimerId watchdogTimer_ = 0;
  Loop::TimerId heartbeatTimer_ = 0;
  Duration masterPingTimeout_{0};
  TimePoint lastPing_{0};
  std::function<void()> shutdownDone_;

  Counter& launchedTasks_;
  Counter& failedLaunches_;
  Counter& invalidExecutorCalls_;
  Counter& checkpointErrors_;
  Counter& recoveredExecutors_;
};

}  // namespace tutti::agent
