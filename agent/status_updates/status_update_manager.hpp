// StatusUpdateManager: delivers every task status update to the master at
// least once, in order per task (DESIGN §8).
//
// Each task has a stream of updates; only its head is in flight. The head is
// re-sent with exponential backoff (retryMin doubling to retryMax) until the
// master forwards the scheduler's acknowledgement; then the next update
// goes. Duplicate updates (same uuid) are ignored. Updates are kept in
// memory; writing them to disk before sending comes with agent recovery.
// Loop thread only.
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

  StatusUpdateManager(Loop& loop, Options options, Forward forward);
  ~StatusUpdateManager();

  void setAgentId(const AgentID& id) { agentId_ = id; }

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
  AgentID agentId_;
  std::map<Key, Stream> streams_;
};

}  // namespace tutti::agent
