// StateSnapshot: an immutable copy of what the master's state endpoints show
// (/master/state, /master/state-summary, /master/frameworks, /master/slaves,
// /master/tasks), taken on the loop and serialized off it (DESIGN §7).
//
// Taking one is cheap: tasks and offers are shared, not copied (the master
// keeps them copy-on-write, state.hpp), agents are copied only when they
// changed since the last snapshot (AgentRecord::view), and so are
// frameworks (FrameworkRecord::view) with their lists of tasks: an idle
// cluster costs the loop a pointer per agent and framework. Serializing, the expensive part,
// happens on whatever thread holds the snapshot.
//
// Threads: takeStateSnapshot() on the master's loop; a snapshot, once taken,
// may be read from any number of threads at once. Errors: none; the JSON
// writers produce what the endpoints have always answered.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/json_writer.hpp"
#include "master/state.hpp"

namespace tutti::master {

class Master;

struct StateSnapshot {
  struct Executor {
    ExecutorID id;
    std::string name;
    AgentID agentId;
    Resources resources;
  };

  MasterInfo info;
  double startTime = 0;
  size_t registeredAgents = 0;
  size_t unreachableAgents = 0;
  std::vector<std::shared_ptr<const AgentView>> agents;  // every state, by id
  std::vector<std::shared_ptr<const FrameworkView>> frameworks;
  std::vector<std::shared_ptr<const FrameworkView>> completedFrameworks;
  std::map<FrameworkID, std::vector<Executor>> executors;  // by framework
};

// Loop thread.
std::shared_ptr<const StateSnapshot> takeStateSnapshot(const Master& master);

// Serialized tasks kept from one snapshot to the next: a task is immutable
// once shared, so one serialized before is copied, not serialized again, and
// a large, mostly idle cluster costs a memcpy per task. Holds the tasks it
// has seen until sweep(). Not thread-safe: one serializing thread.
class TaskJsonCache {
 public:
  // The JSON of `task` as listed under a framework with `info` (immutable:
  // a changed task gets a new string, so documents may keep this one).
  const std::shared_ptr<const std::string>& get(const std::shared_ptr<const Task>& task,
                                                const FrameworkInfo& info);
  // Forgets the tasks not asked for since the previous sweep.
  void sweep();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const Task> task;  // keeps the address from being reused
    std::string role;
    std::shared_ptr<const std::string> json;
    bool used = true;
    // The role came from the task's own resources (it cannot change while
    // the task does not, so a hit needs no look at the framework's roles).
    bool roleFromTask = false;
  };
  std::unordered_map<const Task*, Entry> entries_;
};

// Any thread. What the endpoints list of a completed task: the JSON of
// `task` under a framework with `info`, kept instead of the task.
std::shared_ptr<const CompletedTask> completedTask(const Task& task, const FrameworkInfo& info);

// Any thread. The JSON bodies of the endpoints (without the final newline),
// written by `w` (on a string, or on a JsonRope that references the cached
// and completed tasks' JSON instead of copying it): /master/state (summary:
// /master/state-summary, without tasks, offers and executors; `flags` are
// shown in the full form), /master/frameworks, /master/slaves and
// /master/tasks. `cache` may be null.
void writeStateJson(json::JsonWriter& w, const StateSnapshot& s,
                    const std::map<std::string, std::string>& flags, bool summary,
                    TaskJsonCache* cache = nullptr);
void writeFrameworksJson(json::JsonWriter& w, const StateSnapshot& s, TaskJsonCache* cache);
void writeSlavesJson(json::JsonWriter& w, const StateSnapshot& s);
void writeTasksJson(json::JsonWriter& w, const StateSnapshot& s, TaskJsonCache* cache);
// writeStateJson() into a string.
std::string stateJson(const StateSnapshot& s, const std::map<std::string, std::string>& flags,
                      bool summary, TaskJsonCache* cache = nullptr);

}  // namespace tutti::master
