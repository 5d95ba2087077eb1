// ProcessLauncher: starts an executor in its sandbox on the host filesystem
// (the `process` launcher of DESIGN §8) and destroys what it started.
//
// The executor runs in a new session, so it survives the agent and can be
// killed as a whole (every process of the session, also task processes
// that left their process group). Isolation (cgroups) and the OCI launcher
// are applied through LaunchSpec's hooks (containerizer/isolator.hpp). Loop
// thread only.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/containerizer/session_killer.hpp"
#include "common/files.hpp"  // makeDirectories
#include "common/process.hpp"  // Credentials
#include "tutti/types.hpp"

namespace tutti {
class Loop;
}

namespace tutti::agent {

struct LaunchSpec {
  std::vector<std::string> argv;  // argv[0] is the program
  std::vector<std::string> env;   // NAME=value, complete
  std::string directory;          // the sandbox: cwd, stdout, stderr
  // --switch_user: the sandbox (and its stdout and stderr) belongs to the
  // task's user, and, with `runAs`, the executor itself runs as that user
  // (custom executors; the command executor stays the agent's user and
  // drops to the task's user for the task alone).
  std::optional<Credentials> sandboxOwner;  // uid and gid used; groups ignored
  std::optional<Credentials> runAs;
  // Isolation (may be empty), run on the launcher's thread: `prepare`
  // before the spawn (e.g. create cgroups), `isolate` with the new pid right
  // after it, before the result goes back to the agent (e.g. move it into
  // its cgroups). Their errors fail the launch (the process is killed).
  std::function<Status()> prepare;
  std::function<Status(pid_t)> isolate;
};

class ProcessLauncher {
 public:
  // Creates the sandbox directory (and parents) and starts the executor.
  Result<pid_t> launch(const LaunchSpec& spec);
  // SIGKILLs every process of the executor's session, off the calling
  // thread (see SessionKiller): returns at once, the session dies within a
  // pass over /proc, after which `done` (if given) runs on the killer's
  // thread. The executor's exit is seen as usual (its pidfd).
  void destroy(pid_t executorPid, std::function<void()> done = nullptr);
  const SessionKiller& sessionKiller() const { return killer_; }

 private:
  SessionKiller killer_;
};

// Runs ProcessLauncher::launch() on worker threads so that creating
// sandboxes and spawning executors never stalls the agent's loop (a launch
// costs milliseconds; a batch of a thousand would stop the loop for
// seconds). Requests start in order; with several workers they may finish
// out of order (each `done` names its own executor). Two workers by default:
// posix_spawn holds its thread until the child has exec'd, so one worker
// leaves a core idle while a burst of launches waits (2026-12-06: a single
// worker capped `tutti-bench launch` near 300 executors/s).
// launch() is called on the loop thread; `done` runs on it.
class AsyncLauncher {
 public:
  static constexpr size_t kDefaultWorkers = 2;
  explicit AsyncLauncher(Loop& loop, size_t workers = kDefaultWorkers);
  ~AsyncLauncher();
  AsyncLauncher(const AsyncLauncher&) = delete;
  AsyncLauncher& operator=(const AsyncLauncher&) = delete;

  void launch(LaunchSpec spec, std::function<void(Result<pid_t>)> done);
  size_t pending() const;

 private:
  struct Request {
    LaunchSpec spec;
    std::function<void(Result<pid_t>)> done;
  };
  void run();

  Loop& loop_;
  ProcessLauncher launcher_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// A sandbox's stdout and stderr, open for appending (closed on destruction).
struct SandboxStdio {
  int out = -1;
  int err = -1;
  SandboxStdio() = default;
  SandboxStdio(SandboxStdio&& other) noexcept;
  SandboxStdio(const SandboxStdio&) = delete;
  ~SandboxStdio();
};

// Opens (creating them if missing) the stdout and stderr files of sandbox
// `directory` safely although its user may own it: relative to the
// directory, without following symlinks, refusing anything but a plain,
// singly linked file of the agent or `owner`. With `owner`, the files and
// then the directory are given to it. IoError naming the step that failed.
Result<SandboxStdio> openSandboxStdio(const std::string& directory,
                                      const std::optional<Credentials>& owner);

// openSandboxStdio() for its ownership change alone.
Status giveSandbox(const std::string& directory, uid_t uid, gid_t gid);

// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
std::string sandboxPath(const std::string& workDir, const AgentID& agent,
                        const FrameworkID& framework, const ExecutorID& executor,
                        const ContainerID& container);

}  // namespace tutti::agent
