#include "agent/containerizer/isolator.hpp"

#include <fcntl.h>
#include <glog/logging.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace tutti::agent {

std::set<std::string> IsolationConfig::controllers() const {
  std::set<std::string> out;
  if (cgroupsCpu) out.insert({"cpu", "cpuacct"});
  if (cgroupsMem) out.insert("memory");
  if (cgroupsPids) out.insert("pids");
  return out;
}

Result<IsolationConfig> parseIsolation(const std::string& text) {
  IsolationConfig c;
  std::istringstream in(text);
  for (std::string name; std::getline(in, name, ',');) {
    while (!name.empty() && name.back() == ' ') name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    if (name.empty() || name == "posix/cpu" || name == "posix/mem") continue;
    if (name == "cgroups/cpu") {
      c.cgroupsCpu = true;
    } else if (name == "cgroups/mem") {
      c.cgroupsMem = true;
    } else if (name == "cgroups/pids") {
      c.cgroupsPids = true;
    } else if (name == "posix/rlimits") {
      c.posixRlimits = true;
    } else if (name == "namespaces/pid") {
      c.namespacesPid = true;
    } else {
      return Status::InvalidArgument(
          "unknown isolator '" + name +
          "' in --isolation (known: posix/cpu, posix/mem, cgroups/cpu, cgroups/mem, "
          "cgroups/pids, posix/rlimits, namespaces/pid)");
    }
  }
  return c;
}

const char* toString(ContainerState s) {
  switch (s) {
    case ContainerState::kPreparing: return "PREPARING";
    case ContainerState::kRunning: return "RUNNING";
    case ContainerState::kLimited: return "LIMITED";
  }
  return "UNKNOWN";
}

bool validTransition(ContainerState from, ContainerState to) {
  switch (from) {
    case ContainerState::kPreparing: return to == ContainerState::kRunning;
    case ContainerState::kRunning: return to == ContainerState::kLimited;
    case ContainerState::kLimited: return false;
  }
  return false;
}

void CgroupsIsolator::setState(const ContainerID& id, Container& c, ContainerState to) {
  if (c.state == to) return;
  if (!validTransition(c.state, to)) {
    LOG(ERROR) << "Container " << id << ": invalid transition " << toString(c.state) << " -> "
               << toString(to);
    return;
  }
  c.state = to;
}

std::unique_ptr<CgroupsIsolator> CgroupsIsolator::create(Loop& loop, const AgentOptions& options,
                                                         const IsolationConfig& config) {
  if (!config.cgroups()) return nullptr;
  auto wanted = config.controllers();
  auto layout = detectHostCgroups(wanted, options.cgroupsRoot);
  if (!layout.ok()) {
    LOG(WARNING) << "No usable cgroup hierarchy (" << layout.error()
                 << "): running with posix isolation only; containers get no cpu, memory or "
                    "pids limits";
    return nullptr;
  }
  for (const auto& c : wanted) {
    if (!layout->has(c)) {
      LOG(WARNING) << "cgroup controller '" << c << "' is not available; its limits are off";
    }
  }
  LOG(INFO) << "Isolation with " << layout->describe();
  return std::make_unique<CgroupsIsolator>(loop, std::move(*layout), options);
}

CgroupsIsolator::CgroupsIsolator(Loop& loop, CgroupLayout layout, const AgentOptions& options)
    : loop_(loop),
      layout_(std::move(layout)),
      defaultPids_(options.cgroupsPidsLimit),
      cfs_(options.cgroupsEnableCfs) {}

CgroupsIsolator::~CgroupsIsolator() {
  *alive_ = false;
  for (auto& [_, c] : containers_) unwatchOom(c);
}

ContainerLimits CgroupsIsolator::limitsFor(const Resources& resources) const {
  return computeLimits(resources, defaultPids_, cfs_);
}

CgroupsIsolator::Hooks CgroupsIsolator::prepare(const ContainerID& id,
                                                const ContainerLimits& limits) {
  Container& c = containers_[id];
  c.state = ContainerState::kPreparing;
  c.limits = limits;
  Hooks h;
  h.prepare = [layout = layout_, id = id.value, limits] {
    return createContainerCgroups(layout, id, limits);
  };
  h.isolate = [layout = layout_, id = id.value](pid_t pid) { return addProcess(layout, id, pid); };
  return h;
}

void CgroupsIsolator::running(const ContainerID& id, OnLimitation onLimitation) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  setState(id, it->second, ContainerState::kRunning);
  it->second.onLimitation = std::move(onLimitation);
  watchOom(id, it->second);
}

void CgroupsIsolator::recover(const ContainerID& id, const Resources& resources,
                              OnLimitation onLimitation) {
  Container& c = containers_[id];
  c.limits = limitsFor(resources);
  c.state = ContainerState::kRunning;
  c.onLimitation = std::move(onLimitation);
  // Limits are re-applied: the cgroups were made by the previous run with
  // the same resources, so this only repairs a partial write.
  Status s = updateContainerLimits(layout_, id.value, c.limits);
  if (!s.ok()) LOG(WARNING) << "Cannot re-apply the limits of container " << id << ": " << s;
  watchOom(id, c);
  if (oomKillCount(layout_, id.value) > 0) {
    c.limitation = memoryMessage(c);
    setState(id, c, ContainerState::kLimited);
  }
}

Status CgroupsIsolator::update(const ContainerID& id, const Resources& resources) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return Status::NotFound("unknown container " + id.value);
  it->second.limits = limitsFor(resources);
  return updateContainerLimits(layout_, id.value, it->second.limits);
}

void CgroupsIsolator::kill(const ContainerID& id) {
  for (pid_t p : containerProcesses(layout_, id.value)) ::kill(p, SIGKILL);
}

std::optional<std::string> CgroupsIsolator::limitation(const ContainerID& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) {
    // Not watched (e.g. its executor died while the agent was away): the
    // counter still tells, and the limit is in the cgroup.
    if (oomKillCount(layout_, id.value) == 0) return std::nullopt;
    Container c;
    c.limits = computeLimits(Resources(), 0, false);
    auto usage = readContainerUsage(layout_, id.value);
    if (usage.memLimitBytes) c.limits.memBytes = *usage.memLimitBytes;
    return memoryMessage(c);
  }
  Container& c = it->second;
  // The OOM event may still be unread on the loop when the executor's end
  // is handled first: read it here too.
  const bool v1Event = layout_.version != CgroupVersion::kV2 && drainOomEvents(c);
  if (!c.limitation && (v1Event || oomKillCount(layout_, id.value) > 0)) {
    c.limitation = memoryMessage(c);
    setState(id, c, ContainerState::kLimited);
  }
  return c.limitation;
}

void CgroupsIsolator::destroy(const ContainerID& id) {
  auto it = containers_.find(id);
  if (it != containers_.end()) {
    unwatchOom(it->second);
    containers_.erase(it);
  }
  removeCgroups(id.value, 0);
}

void CgroupsIsolator::removeCgroups(const std::string& id, int attempt) {
  // Never sleeps on the loop: killed processes leave their cgroups only
  // once they have exited, so a busy cgroup is tried again a little later.
  Status s = tryDestroyContainerCgroups(layout_, id);
  if (s.ok()) return;
  if (s.code() == Status::Code::kUnavailable && attempt < kRemoveAttempts) {
    loop_.after(attempt < 10 ? 5ms : 50ms, "agent.container_cgroup_remove",
                [this, alive = alive_, id, attempt] {
                  if (*alive) removeCgroups(id, attempt + 1);
                });
    return;
  }
  LOG(WARNING) << "Cannot destroy container " << id << ": " << s;
}

void CgroupsIsolator::cleanupOrphans(const std::set<std::string>& known) {
  for (const auto& name : listContainerCgroups(layout_)) {
    if (known.count(name) || containers_.count(ContainerID(name))) continue;
    LOG(INFO) << "Removing orphan container cgroup " << name;
    Status s = destroyContainerCgroups(layout_, name);
    if (!s.ok()) LOG(WARNING) << "Cannot remove orphan cgroup " << name << ": " << s;
  }
}

std::optional<ContainerLimits> CgroupsIsolator::limits(const ContainerID& id) const {
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  return it->second.limits;
}

ContainerUsage CgroupsIsolator::usage(const ContainerID& id) const {
  return readContainerUsage(layout_, id.value);
}

std::string CgroupsIsolator::memoryMessage(const Container& c) const {
  std::string m = "Memory limit exceeded: limit " + std::to_string(c.limits.memBytes >> 20) + " MB";
  return m;
}

void CgroupsIsolator::watchOom(const ContainerID& id, Container& c) {
  if (!layout_.has("memory") || c.notifyFd >= 0) return;
  const std::string dir = layout_.dir("memory", id.value);
  if (layout_.version == CgroupVersion::kV2) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return;
    if (::inotify_add_watch(fd, (dir + "/memory.events").c_str(), IN_MODIFY) < 0) {
      LOG(WARNING) << "Cannot watch " << dir << "/memory.events: " << std::strerror(errno);
      ::close(fd);
      return;
    }
    c.notifyFd = fd;
  } else {
    int control = ::open((dir + "/memory.oom_control").c_str(), O_RDONLY | O_CLOEXEC);
    if (control < 0) {
      LOG(WARNING) << "Cannot open " << dir << "/memory.oom_control: " << std::strerror(errno);
      return;
    }
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    std::string reg = std::to_string(efd) + " " + std::to_string(control);
    int ec = ::open((dir + "/cgroup.event_control").c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = efd >= 0 && ec >= 0 &&
              ::write(ec, reg.data(), reg.size()) == static_cast<ssize_t>(reg.size());
    if (ec >= 0) ::close(ec);
    if (!ok) {
      LOG(WARNING) << "Cannot register for OOM events of " << dir << ": " << std::strerror(errno)
                   << " (OOM kills are still found when the executor ends)";
      if (efd >= 0) ::close(efd);
      ::close(control);
      return;
    }
    c.notifyFd = efd;
    c.controlFd = control;
  }
  loop_.watchFd(c.notifyFd, "agent.container_oom", [this, id] { onOomNotification(id); });
}

void CgroupsIsolator::unwatchOom(Container& c) {
  if (c.notifyFd >= 0) {
    loop_.unwatchFd(c.notifyFd);
    ::close(c.notifyFd);
  }
  if (c.controlFd >= 0) ::close(c.controlFd);
  c.notifyFd = c.controlFd = -1;
}

bool CgroupsIsolator::drainOomEvents(Container& c) {
  if (c.notifyFd < 0) return false;
  if (layout_.version == CgroupVersion::kV2) {
    char buf[4096];
    bool any = false;
    while (::read(c.notifyFd, buf, sizeof(buf)) > 0) any = true;
    return any;
  }
  uint64_t count = 0;
  bool any = false;
  while (::read(c.notifyFd, &count, sizeof(count)) == static_cast<ssize_t>(sizeof(count))) {
    any = any || count > 0;
  }
  return any;
}

void CgroupsIsolator::recheckOom(const ContainerID& id) {
  auto it = containers_.find(id);
  if (it == containers_.end() || it->second.limitation) return;
  Container& c = it->second;
  if (oomKillCount(layout_, id.value) == 0) {
    if (c.rechecks++ < 10) {
      loop_.after(20ms, "agent.container_oom_recheck", [this, alive = alive_, id] {
        if (*alive) recheckOom(id);
      });
    }
    return;
  }
  limited(id, c);
}

void CgroupsIsolator::limited(const ContainerID& id, Container& c) {
  c.limitation = memoryMessage(c);
  setState(id, c, ContainerState::kLimited);
  LOG(INFO) << "Container " << id << " hit its memory limit: " << *c.limitation;
  if (c.onLimitation) c.onLimitation(*c.limitation);
}

void CgroupsIsolator::onOomNotification(const ContainerID& id) {
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  Container& c = it->second;
  bool oom = drainOomEvents(c);
  if (c.limitation) return;
  // v1: the eventfd fires when the container's cgroup, which holds the
  // limit, goes under OOM (or goes away, which happens only after destroy()
  // stopped watching): that is the limitation, as in Mesos. Its kill is
  // counted in the victim's own cgroup, which an OCI runtime removes as soon
  // as its process is gone, so the counter cannot be relied on here.
  if (layout_.version != CgroupVersion::kV2 && oom) {
    limited(id, c);
    return;
  }
  // v2 signals on any change of memory.events: only an actual OOM kill
  // (counted over the whole subtree) is a limitation.
  if (oomKillCount(layout_, id.value) == 0) {
    if (c.rechecks++ < 10) {
      loop_.after(20ms, "agent.container_oom_recheck", [this, alive = alive_, id] {
        if (*alive) recheckOom(id);
      });
    }
    return;
  }
  limited(id, c);
}

}  // namespace tutti::agent
