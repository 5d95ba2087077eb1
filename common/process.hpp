// Starting and watching processes.
//
// spawnProcess() uses posix_spawn (vfork semantics: no copy of a large
// daemon's address space), closes every inherited descriptor above stderr,
// resets the signal mask and dispositions, and can start a new session or
// process group. With credentials, resource limits or a pid namespace it
// forks (or clones) instead (posix_spawn can do none of them): the child
// sets them up with our rights and drops to the credentials right before
// its exec, so no program runs with our ids and the child's environment
// (no wrapper such as unshare or prlimit). ProcessWatcher reports exits
// through the owning loop using pidfds, so it works for children and,
// without a wait status, for processes that are not our children (e.g.
// executors re-attached after a restart).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/loop.hpp"
#include "tutti/status.hpp"

namespace tutti {

// The ids a child runs with: supplementary groups, gid and uid (real,
// effective and saved), set after stdio is opened and the working directory
// entered with ours. Needs CAP_SETUID and CAP_SETGID.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // empty: none
};

// A limit the child sets on itself (setrlimit) before dropping its ids.
struct ResourceLimit {
  int resource = 0;  // RLIMIT_*
  rlim_t soft = RLIM_INFINITY;
  rlim_t hard = RLIM_INFINITY;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program path
  // The complete environment ("NAME=value"); the parent's is not inherited.
  std::vector<std::string> env;
  std::string workingDir;  // empty: the parent's
  // >= 0: the working directory as an open descriptor (instead of
  // workingDir; fchdir, so no path is resolved again); still ours.
  int workingDirFd = -1;
  std::string stdinPath = "/dev/null";
  std::string stdoutPath;  // empty: inherit; otherwise opened O_APPEND|O_CREAT
  std::string stderrPath;
  int stdoutFd = -1;  // >= 0: the child's stdout (instead of stdoutPath); still ours
  int stderrFd = -1;
  bool newSession = false;       // setsid(): survives its parent's group
  bool newProcessGroup = false;  // setpgid(0, 0): killable as a group
  std::optional<Credentials> credentials;  // unset: ours
  std::vector<ResourceLimit> limits;       // set in the child; never on us
  // The program runs as pid 1 of a new pid namespace (still our child), in
  // a mount namespace of its own (the host's mounts as slaves) with a /proc
  // that shows only that namespace: what util-linux's `unshare --pid --fork
  // --mount-proc` gives, without the extra process. As any pid 1, it gets
  // from us only the signals it handles, and SIGKILL. Needs CAP_SYS_ADMIN.
  bool pidNamespace = false;
};

Result<pid_t> spawnProcess(const SpawnOptions& options);

// Text for a waitpid status: "exited with status 3", "killed by signal 9
// (Killed)".
std::string describeWaitStatus(int status);

// Sends `signal` to the process group `pgid`; ESRCH (already gone) is OK.
Status killProcessGroup(pid_t pgid, int signal);
// Sends `signal` to every process of session `sid` (found through /proc):
// reaches a task's children even when they left its process group. Returns
// the number of processes signalled.
size_t killSession(pid_t sid, int signal);
// The same for several sessions with one pass over /proc (a pass reads the
// stat file of every process on the host: milliseconds with a few thousand).
size_t killSessions(const std::set<pid_t>& sids, int signal);
// Whether a process with this pid exists (and is not a zombie we own).
bool processExists(pid_t pid);

// Loop thread only.
class ProcessWatcher {
 public:
  // `status` is the waitpid status when the process was our child.
  using OnExit = std::function<void(pid_t pid, std::optional<int> status)>;

  explicit ProcessWatcher(Loop& loop) : loop_(loop) {}
  ~ProcessWatcher();
  ProcessWatcher(const ProcessWatcher&) = delete;
  ProcessWatcher& operator=(const ProcessWatcher&) = delete;

  // Calls `onExit` once, on the loop, when `pid` ends. NotFound if the
  // process is already gone (and not a zombie child).
  Status watch(pid_t pid, OnExit onExit);
  void unwatch(pid_t pid);
  size_t size() const { return watched_.size(); }

 private:
  void onReadable(pid_t pid);
  struct Entry {
    int pidfd;
    OnExit onExit;
  };
  Loop& loop_;
  std::unordered_map<pid_t, Entry> watched_;
};

// A daemon's main thread: waits for a signal of `set` (blocked in every
// thread) and calls `fatal` every 100 ms meanwhile. Returns the signal, or
// 0 once `fatal` gives a reason the process cannot go on (put in `*why`).
int waitForSignalOrFatal(const sigset_t& set,
                         const std::function<std::optional<std::string>()>& fatal,
                         std::string* why);

}  // namespace tutti
