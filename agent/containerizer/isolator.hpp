// Isolation of containers (one per executor): --isolation parsing and the
// cgroups isolator (DESIGN §8).
//
// CgroupsIsolator keeps, per container, its limits, its state and its OOM
// watch. The launcher's worker thread runs the hooks it hands out (create the
// cgroups with their limits before the spawn, move the executor in right
// after it: the agent sends no task before the launch result is back on the
// loop, so every task process starts inside the cgroups); everything else
// runs on the agent's loop thread.
//
// Memory limit: an OOM kill in the container (v1: eventfd on
// memory.oom_control through cgroup.event_control; v2: inotify on
// memory.events) records a limitation ("Memory limit exceeded: limit 64 MB")
// and calls the agent back, which kills the container and reports its
// unfinished tasks TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY.
//
// Container lifecycle: kPreparing (cgroups being created by the launcher) →
// kRunning (executor inside, watched) → kLimited (hit a limit, being killed)
// → removed by destroy().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "agent/containerizer/cgroups.hpp"
#include "agent/options.hpp"
#include "common/loop.hpp"
#include "tutti/types.hpp"

namespace tutti::agent {

struct IsolationConfig {
  bool cgroupsCpu = false;
  bool cgroupsMem = false;
  bool cgroupsPids = false;
  bool posixRlimits = false;   // tasks' ContainerInfo.rlimits apply (else they are refused)
  bool namespacesPid = false;  // plain tasks run as pid 1 of their own pid namespace
  bool cgroups() const { return cgroupsCpu || cgroupsMem || cgroupsPids; }
  // The cgroup controllers these isolators need.
  std::set<std::string> controllers() const;
};
// InvalidArgument naming the unknown isolator and listing the known ones.
Result<IsolationConfig> parseIsolation(const std::string& text);

enum class ContainerState { kPreparing, kRunning, kLimited };
const char* toString(ContainerState s);
// kPreparing → kRunning → kLimited; a recovered container starts kRunning.
bool validTransition(ContainerState from, ContainerState to);

class CgroupsIsolator {
 public:
  using OnLimitation = std::function<void(const std::string& message)>;

  // Null when `config` asks for no cgroups, or (with a warning logged: the
  // agent then runs with posix isolation only) when no usable hierarchy is
  // found.
  static std::unique_ptr<CgroupsIsolator> create(Loop& loop, const AgentOptions& options,
                                                 const IsolationConfig& config);
  CgroupsIsolator(Loop& loop, CgroupLayout layout, const AgentOptions& options);
  ~CgroupsIsolator();
  CgroupsIsolator(const CgroupsIsolator&) = delete;
  CgroupsIsolator& operator=(const CgroupsIsolator&) = delete;

  const CgroupLayout& layout() const { return layout_; }
  ContainerLimits limitsFor(const Resources& resources) const;

  // Registers the container (kPreparing) and returns the launcher's hooks:
  // `prepare` creates its cgroups with `limits`, `isolate` moves a pid in.
  // Both are safe on any thread (they capture values only).
  struct Hooks {
    std::function<Status()> prepare;
    std::function<Status(pid_t)> isolate;
  };
  Hooks prepare(const ContainerID& id, const ContainerLimits& limits);
  // The executor runs inside (or was recovered): watch for OOM kills.
  void running(const ContainerID& id, OnLimitation onLimitation);
  // Re-attaches to a container found after an agent restart.
  void recover(const ContainerID& id, const Resources& resources, OnLimitation onLimitation);
  Status update(const ContainerID& id, const Resources& resources);
  // SIGKILLs every process in the container (it stays known).
  void kill(const ContainerID& id);
  // The limitation the container hit, if any (also found from the OOM
  // counter when the event has not been handled yet).
  std::optional<std::string> limitation(const ContainerID& id);
  // Kills what is left and removes the cgroups (retried on the loop while
  // processes are still exiting); forgets the container.
  void destroy(const ContainerID& id);
  // Removes every container cgroup under the root not in `known`.
  void cleanupOrphans(const std::set<std::string>& known);
  std::optional<ContainerLimits> limits(const ContainerID& id) const;
  ContainerUsage usage(const ContainerID& id) const;

 private:
  struct Container {
    ContainerState state = ContainerState::kPreparing;
    ContainerLimits limits;
    int notifyFd = -1;   // eventfd (v1) or inotify (v2), watched on the loop
    int controlFd = -1;  // v1 memory.oom_control, kept open for the eventfd
    OnLimitation onLimitation;
    std::optional<std::string> limitation;
    int rechecks = 0;
  };
  void watchOom(const ContainerID& id, Container& c);
  void unwatchOom(Container& c);
  void onOomNotification(const ContainerID& id);
  void recheckOom(const ContainerID& id);
  // Reads every pending event of the OOM watch; true when there was one
  // (v1: the cgroup went under OOM; v2: memory.events changed).
  bool drainOomEvents(Container& c);
  void limited(const ContainerID& id, Container& c);
  static constexpr int kRemoveAttempts = 200;  // ~10 s
  void removeCgroups(const std::string& id, int attempt);
  // Checked transition (an invalid one is logged and ignored).
  void setState(const ContainerID& id, Container& c, ContainerState to);
  std::string memoryMessage(const Container& c) const;

  Loop& loop_;
  CgroupLayout layout_;
  uint64_t defaultPids_;
  bool cfs_;
  std::map<ContainerID, Container> containers_;
  // Timers that outlive the isolator check this.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tutti::agent
