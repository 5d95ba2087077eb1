// Control groups: finding the hierarchies (v1 and v2), and the file
// operations on one container's cgroups (create with limits, add a process,
// read usage and OOM kills, kill everything and remove).
//
// Layout. cgroups v1 (one hierarchy per controller): containers live in
// <mount>/<agent's own cgroup>/<root>/<container> for each controller, so
// they stay inside whatever limits the agent itself runs under. cgroups v2
// (one unified hierarchy): the "no processes in inner nodes" rule forbids
// enabling controllers below the agent's own (populated) cgroup, so
// containers live in <mount>/<root>/<container>, as in Mesos, with the
// controllers enabled in <mount>/cgroup.subtree_control and
// <mount>/<root>/cgroup.subtree_control.
//
// Everything here is a plain function over values: no state, callable from
// any thread (the launcher's worker thread creates a container's cgroups and
// adds the executor; the agent's loop reads, updates and destroys them).
// Errors are IoError/PermissionDenied with the path in the message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tutti/resources.hpp"
#include "tutti/status.hpp"

namespace tutti::agent {

enum class CgroupVersion { kNone, kV1, kV2 };
const char* toString(CgroupVersion v);

// One line of /proc/self/mountinfo.
struct MountEntry {
  std::string root;        // the mount's root inside its filesystem ("/")
  std::string mountPoint;  // "/sys/fs/cgroup/memory"
  std::string fsType;      // "cgroup", "cgroup2"
  std::vector<std::string> superOptions;  // "rw", "memory", ...
};
std::vector<MountEntry> parseMountInfo(std::string_view text);

// /proc/<pid>/cgroup: controller → path. The v2 line ("0::/path") has the
// key "". Named hierarchies (name=systemd) are kept under their full name.
std::map<std::string, std::string> parseProcCgroup(std::string_view text);

// Where each controller's containers live.
struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kNone;
  // controller ("cpu", "cpuacct", "memory", "pids") → directory holding the
  // container cgroups (on v2 every controller maps to the same directory).
  std::map<std::string, std::string> roots;
  bool memsw = false;  // v1 memory.memsw.* exists (swap accounting)

  bool has(const std::string& controller) const { return roots.count(controller) != 0; }
  // The container's directory under `controller`.
  std::string dir(const std::string& controller, const std::string& containerId) const;
  // Every distinct directory of the container (one on v2).
  std::vector<std::string> dirs(const std::string& containerId) const;
  std::string describe() const;
};

// The controllers an isolator needs: cgroups/cpu → cpu (+ cpuacct on v1),
// cgroups/mem → memory, cgroups/pids → pids.
// `readFile` reads e.g. <v2 mount>/cgroup.controllers (injected for tests).
// Picks v1 when any wanted controller has a v1 hierarchy, else v2 when the
// unified mount offers them. NotFound when neither has any wanted one;
// wanted controllers that are missing are left out of the layout (the
// caller warns).
Result<CgroupLayout> detectCgroups(std::string_view mountinfo, std::string_view procCgroup,
                                   const std::set<std::string>& wanted, const std::string& root,
                                   const std::function<Result<std::string>(const std::string&)>&
                                       readFile);
// The same over this process's /proc/self files; also creates the root
// directories (and on v2 enables the controllers), so that a hierarchy we
// cannot write to is reported here, at start.
Result<CgroupLayout> detectHostCgroups(const std::set<std::string>& wanted,
                                       const std::string& root);

// Limits of one container.
struct ContainerLimits {
  double cpus = 0;         // 0: no cpu limits
  uint64_t memBytes = 0;   // 0: no memory limit
  uint64_t pids = 0;       // 0: no pids limit
  bool cfs = false;        // also a hard cpu limit
};
constexpr uint64_t kCpuSharesPerCpu = 1024;       // Mesos's CPU_SHARES_PER_CPU
constexpr uint64_t kMinCpuShares = 2;
constexpr uint64_t kCfsPeriodUs = 100000;         // 100ms
constexpr uint64_t kMinCfsQuotaUs = 1000;
constexpr double kMinCpus = 0.01;                 // as Mesos's MIN_CPUS
constexpr uint64_t kMinMemoryBytes = 32ull << 20;  // as Mesos's MIN_MEMORY
// From an executor's resources (executor + its tasks): cpus, mem (MB) and the
// scalar `pids` if present, else `defaultPids`.
ContainerLimits computeLimits(const Resources& resources, uint64_t defaultPids, bool cfs);

struct CgroupWrite {
  std::string controller;
  std::string file;
  std::string value;
};
// The control files to write for `limits`, in order.
std::vector<CgroupWrite> limitWrites(const CgroupLayout& layout, const ContainerLimits& limits);

// mkdir under every controller, then the limits.
Status createContainerCgroups(const CgroupLayout& layout, const std::string& containerId,
                              const ContainerLimits& limits);
Status updateContainerLimits(const CgroupLayout& layout, const std::string& containerId,
                             const ContainerLimits& limits);
// Moves `pid` into every cgroup of the container (its future children follow).
Status addProcess(const CgroupLayout& layout, const std::string& containerId, pid_t pid);
// Pids in the container's cgroups.
std::vector<pid_t> containerProcesses(const CgroupLayout& layout, const std::string& containerId);
// SIGKILLs every process in the container's cgroups until none is left
// (bounded), then removes the directories. Missing directories are fine.
Status destroyContainerCgroups(const CgroupLayout& layout, const std::string& containerId);
// One non-blocking round of the same: SIGKILL what is listed, try each
// rmdir once. Unavailable while processes are still leaving (retry later).
Status tryDestroyContainerCgroups(const CgroupLayout& layout, const std::string& containerId);
// Container ids (directory names) found under the roots.
std::set<std::string> listContainerCgroups(const CgroupLayout& layout);

// How many times the OOM killer acted in the container (v1 memory.oom_control
// `oom_kill`, v2 memory.events `oom_kill`); 0 without a memory cgroup.
uint64_t oomKillCount(const CgroupLayout& layout, const std::string& containerId);

struct ContainerUsage {
  std::optional<double> cpusUserSecs;
  std::optional<double> cpusSystemSecs;
  std::optional<uint64_t> memUsageBytes;  // usage incl. page cache
  std::optional<uint64_t> memRssBytes;
  std::optional<uint64_t> memMaxUsageBytes;
  std::optional<uint64_t> memLimitBytes;
  std::optional<uint64_t> processes;
  std::optional<uint64_t> oomKills;
};
ContainerUsage readContainerUsage(const CgroupLayout& layout, const std::string& containerId);

// Parses "key value" lines (cpuacct.stat, memory.stat, memory.events, cpu.stat).
std::map<std::string, uint64_t> parseKeyValues(std::string_view text);

}  // namespace tutti::agent
