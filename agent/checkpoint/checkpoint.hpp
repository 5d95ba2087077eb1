// Checkpointer: the agent's on-disk state under <work_dir>/meta (DESIGN §8,
// proto/checkpoint.capnp), so that a restarted agent finds its executors
// and tasks again and delivers the status updates that were pending.
//
//   meta/agent                          AgentCheckpoint (id, resources, endpoint)
//   meta/executors/<framework>/<exec>   ExecutorCheckpoint, one per executor
//                                       of a framework with checkpoint=true
//
// Every file is replaced atomically (temp file, rename). Executor files are
// not fsynced: they protect against the agent's crash (the page cache
// outlives the process), and are worthless after a power loss or reboot
// anyway, since no executor survives one (the boot id check then starts a
// new agent). An fsync per write cost 3.6x in launch throughput
// (tutti-bench launch --checkpoint: 62 vs 225 tasks/s) for no gain. The
// agent file, written rarely, is fsynced so that a power loss never leaves
// it torn (which would stop the agent from starting). Plain values
// in, plain values out; no loop, no threads: callers run it on their own
// thread (the agent's loop). Errors: IoError from the file system,
// InvalidArgument for a file that does not decode (the caller decides; the
// agent refuses to start on a corrupt agent file and skips a corrupt
// executor file, saying so).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti::agent {

struct AgentCheckpointState {
  AgentInfo info;              // as last registered (resources incl. dynamic reservations)
  Resources flagResources;     // what --resources (or detection) gave
  std::string executorEndpoint;
  std::string bootId;
};

struct ExecutorCheckpointState {
  FrameworkInfo framework;
  ExecutorInfo executor;
  ContainerID containerId;
  std::string directory;
  bool commandExecutor = true;
  std::optional<uint32_t> taskUid;  // --switch_user: the uid its tasks run as
  pid_t pid = -1;
  uint64_t pidStartTicks = 0;
  double startTime = 0;
  std::vector<TaskInfo> queued;
  std::vector<std::vector<TaskID>> queuedGroups;  // task groups among `queued`
  std::vector<Task> launched;
  std::vector<TaskInfo> launchedInfos;
  std::vector<TaskStatus> pendingUpdates;
  std::vector<std::string> ackedUuids;
  bool shutdownRequested = false;
  bool terminated = false;
};

class Checkpointer {
 public:
  explicit Checkpointer(std::string workDir);

  const std::string& metaDir() const { return meta_; }

  Status writeAgent(const AgentCheckpointState& state);
  // nullopt when there is no checkpoint (a fresh work dir).
  Result<std::optional<AgentCheckpointState>> readAgent() const;

  Status writeExecutor(const ExecutorCheckpointState& state);
  Status removeExecutor(const FrameworkID& framework, const ExecutorID& executor);

  struct Executors {
    std::vector<ExecutorCheckpointState> executors;
    std::vector<std::string> errors;  // files that could not be read (skipped)
  };
  Executors readExecutors() const;

  // Removes the whole checkpoint (--recover=cleanup).
  Status removeAll();

  // Encoded forms, for tests and fuzzing.
  static std::string encodeAgent(const AgentCheckpointState& state);
  static Result<AgentCheckpointState> decodeAgent(const std::string& bytes);
  static std::string encodeExecutor(const ExecutorCheckpointState& state);
  static Result<ExecutorCheckpointState> decodeExecutor(const std::string& bytes);

 private:
  std::string executorPath(const FrameworkID& framework, const ExecutorID& executor) const;

  std::string meta_;
};

// /proc/sys/kernel/random/boot_id ("" when unreadable).
std::string currentBootId();
// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot);
// nullopt when the process does not exist or has ended (a zombie).
std::optional<uint64_t> processStartTicks(pid_t pid);

}  // namespace tutti::agent
