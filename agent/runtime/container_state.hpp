// tutti-runtime's record of a container: <root>/<id>/state.json (see
// save()), written atomically (temp file, rename) — the id, the init's pid and its start
// time (so that a recycled pid is never taken for the container's), the
// bundle and the devices cgroup the runtime made. The directory exists
// from the moment `run` claims the id (mkdir: two runs of one id cannot
// both win) until `delete`.
//
// Also the host facts the runtime needs: a process's start time and the
// cgroups v1 devices hierarchy of the caller.
//
// Errors are std::runtime_error saying what and where.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {

struct ContainerState {
  std::string id;
  bool started = false;     // its program runs (execve done)
  pid_t pid = 0;            // 0: not cloned yet (a run that died half way)
  uint64_t startTime = 0;   // /proc/<pid>/stat field 22
  std::string bundle;
  std::string devicesCgroup;  // empty: none
  int64_t createdUnixMs = 0;
};

class StateDir {
 public:
  explicit StateDir(std::string root) : root_(std::move(root)) {}
  std::string dir(const std::string& id) const { return root_ + "/" + id; }
  const std::string& root() const { return root_; }
  // Creates the root (0700) and claims `id`; false when it exists.
  bool claim(const std::string& id) const;
  // Two records, each written once under a new name (ext4 flushes a file
  // renamed over another: a disk wait per container), the latest read:
  // starting.json once the init exists (its pid, and the devices cgroup
  // made next: delete kills it and removes that, even when the run died
  // half way), state.json once it runs.
  void save(const ContainerState& state) const;
  // nullopt when there is no such container; a state with pid 0 when its
  // directory exists without a readable record.
  std::optional<ContainerState> load(const std::string& id) const;
  void remove(const std::string& id) const;
  std::vector<std::string> list() const;

 private:
  std::string root_;
};

// An id of letters, digits, '-', '_' and '.', not starting with '.'.
bool validContainerId(const std::string& id);

// Field 22 of /proc/<pid>/stat; 0 when the process is gone.
uint64_t processStartTime(pid_t pid);

// A pidfd for the container's init when it is still the same process
// (pid and start time match); -1 otherwise.
int openInit(const ContainerState& state);

// The caller's directory in the cgroups v1 devices hierarchy
// ("/sys/fs/cgroup/devices/<its path>"); empty when the host has no v1
// devices controller (a pure v2 host).
std::string ownDevicesCgroup();

// Makes `dir` and writes the config's rules then the devices every
// container gets (null, zero, full, random, urandom, tty, ptmx, pts, and
// mknod of any node, as runc). Removes it again on failure.
void makeDevicesCgroup(const std::string& dir, const std::vector<DeviceRule>& rules);
// rmdir, waiting up to `patienceMs` while the cgroup's last processes exit.
bool removeDevicesCgroup(const std::string& dir, int patienceMs);

}  // namespace tutti::runtime
