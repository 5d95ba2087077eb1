// AgentEmulator: N emulated agents for tutti-bench, speaking the real
// master<->agent protocol (common/wire.hpp) to a real tutti-master.
//
// The agents are multiplexed over a few ZeroMQ DEALER connections (DESIGN
// §5: a peer is its id, not its socket), split over `threads` shards, each
// with its own loop thread. Each agent registers (or, once it has an id and
// the leader changes, re-registers with its frameworks and tasks), answers
// pings, and answers a RunTaskMessage as an agent and its command executor
// would: TASK_STARTING and TASK_RUNNING at once and, after `taskRunTime`,
// TASK_FINISHED (a kill gives TASK_KILLED). Every update goes through the
// real agent's StatusUpdateManager (agent/status_updates/), one per agent:
// one update in flight per task, re-sent with backoff until the master
// forwards the scheduler's acknowledgement.
//
// With `master` = zk://..., each shard follows the leading master through a
// MasterDetector and re-registers every agent with the new leader.
//
// Threads: start(), stop(), stats() and the accessors from one controlling
// thread (stats() from any); everything else happens on the shards' loops.
// Errors: start() fails for a master address that does not parse; a
// connection that cannot be made shows as agents that never register.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "tutti/status.hpp"

namespace tutti::bench {

class HopTrace;

struct AgentEmulatorOptions {
  int agents = 1000;
  int connections = 8;  // DEALER connections in all (at least one per shard)
  int threads = 1;      // shards, each with its own loop thread
  std::string resources = "cpus:16;mem:65536;disk:1000000;ports:[31000-32000]";
  int racks = 50;  // attribute rack:r<i % racks>
  // How long a task runs before TASK_FINISHED; negative: until it is killed.
  Duration taskRunTime = Duration(-1);
  // The real agent's defaults (--status_update_retry_interval_min/_max).
  Duration statusUpdateRetryMin = 10s;
  Duration statusUpdateRetryMax = 10min;
  // A re-registration unanswered this long is sent again.
  Duration reregisterRetry = 5s;
  size_t registrationWindow = 256;  // (re-)registrations in flight per connection
  std::string hostnamePrefix = "emulated-";
  HopTrace* hops = nullptr;  // stamps RunTask and STARTING's acknowledgement (not owned)
};

// Counters over all agents; monotonic except where noted.
struct AgentEmulatorStats {
  int64_t registered = 0;       // AgentRegisteredMessage received
  int64_t reregistered = 0;     // AgentReregisteredMessage received (all leaders)
  int64_t registeredNow = 0;    // agents registered with the current leader (not monotonic)
  int64_t leaderChanges = 0;    // leaders seen (zk:// only)
  int64_t pongs = 0;
  int64_t tasksLaunched = 0;    // RunTaskMessage received
  int64_t tasksActive = 0;      // launched and not yet terminal (not monotonic)
  int64_t tasksEnded = 0;       // terminal update acknowledged
  int64_t updatesSent = 0;      // StatusUpdateMessage sent, retries included
  int64_t acks = 0;             // StatusUpdateAckMessage received
  int64_t refused = 0;          // ShutdownAgentMessage received
  // steady_clock nanoseconds of the latest (re-)registration answer.
  int64_t lastRegisteredNs = 0;
};

class AgentEmulator {
 public:
  explicit AgentEmulator(AgentEmulatorOptions options);
  ~AgentEmulator();
  AgentEmulator(const AgentEmulator&) = delete;
  AgentEmulator& operator=(const AgentEmulator&) = delete;

  // `master`: "host:port" of the master's message port, or zk://host:port/path.
  Status start(const std::string& master);
  // Stops the shards' threads and closes the connections (idempotent).
  void stop();

  AgentEmulatorStats stats() const;
  const AgentEmulatorOptions& options() const { return options_; }

 private:
  class Shard;
  AgentEmulatorOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// steady_clock now in nanoseconds (the emulators' timestamps).
int64_t steadyNowNs();

}  // namespace tutti::bench
