// StatusUpdateManager: delivers every task status update to the master at
// least once, in order per task (DESIGN §8).
//
// Each task has a stream of updates; only its head is in flight. The head is
// re-sent with exponential backoff (retryMin doubling to retryMax) until the
// master forwards the scheduler's acknowledgement; then the next update
// goes. Duplicate updates (same uuid) are ignored. The Persist hook runs
// whenever a stream changes, before anything is sent: the agent writes the
// task's executor checkpoint there (frameworks with checkpoint=true), so an
// update is on disk before the master sees it. Loop thread only.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "common/loop.hpp"
#include "common/wire.hpp"

namespace tutti::agent {

class StatusUpdateManager {
 public:
  struct Options {
    Duration retryMin = 10s;
    Duration retryMax = 10min;
  };
  // Sends one update to the master; false if it could not be sent now.
  using Forward = std::function<bool(const wire::StatusUpdateMessage&)>;
  // The task's stream changed (an update queued, one acknowledged); the
  // executor is the update's executorId (empty for updates of tasks the
  // agent never gave to an executor).
  using Persist = std::function<void(const FrameworkID&, const ExecutorID&)>;

  StatusUpdateManager(Loop& loop, Options options, Forward forward);
  ~StatusUpdateManager();

  void setAgentId(const AgentID& id) { agentId_ = id; }
  void setPersist(Persist persist) { persist_ = std::move(persist); }

  // Puts back a checkpointed stream (after an agent restart) without
  // sending anything: resendAll() does once the agent is registered.
  void restore(const FrameworkID& framework, const TaskID& task,
               const std::vector<TaskStatus>& updates, const std::vector<std::string>& acked);
  // The task's pending updates (oldest first) and acknowledged uuids, for
  // the checkpoint.
  // Every pending update of the executor's tasks (oldest first per task),
  // and the uuids already acknowledged in their streams. O(streams).
  void pendingForExecutor(const FrameworkID& framework, const ExecutorID& executor,
                          std::vector<TaskStatus>* updates,
                          std::vector<std::string>* acked) const;

  // Queues `status` (which must carry a uuid). Sends it now if its stream
  // was empty. Returns false for a duplicate.
  bool update(const FrameworkID& framework, const TaskStatus& status);

  // The master acknowledged `uuid` for the task. Returns the acknowledged
  // update when it was the stream's head (and sends the next one);
  // nullopt for an unknown or stale acknowledgement.
  std::optional<TaskStatus> acknowledge(const FrameworkID& framework, const TaskID& task,
                                        const std::string& uuid);

  // Sends every stream's head now (after registering with a master).
  void resendAll();

  // Forgets every stream of the framework (it was removed at the master).
  void removeFramework(const FrameworkID& framework);

  size_t pendingUpdates() const;
  size_t streams() const { return streams_.size(); }
  // Whether the task still has updates waiting for acknowledgement.
  bool hasPending(const FrameworkID& framework, const TaskID& task) const;
  // All pending updates, oldest first per task (for /state and tests).
  std::vector<std::pair<FrameworkID, TaskStatus>> pending() const;

 private:
  struct Stream {
    FrameworkID framework;
    TaskID task;
    std::deque<TaskStatus> updates;
    std::set<std::string> acked;  // uuids already acknowledged
    Duration backoff{0};
    Loop::TimerId timer = 0;
  };
  using Key = std::pair<FrameworkID, TaskID>;

  void sendHead(Stream& s);
  void onRetry(const Key& key);

  Loop& loop_;
  Options options_;
  Forward forward_;
  Persist persist_;
  AgentID agentId_;
  std::map<Key, Stream> streams_;
};

}  // namespace tutti::agent
