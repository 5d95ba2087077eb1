// SessionKiller: SIGKILLs whole sessions (an executor and everything it
// started, also processes that left their process group) on a thread of its
// own, so that the agent's loop never reads /proc.
//
// Finding a session's processes means reading the stat file of every
// process on the host. Done on the loop for each executor that ended, it
// cost the agent 10-50 ms per executor with a thousand tasks running (and
// seconds once the machine was loaded). Here requests that arrive while a
// pass runs are served together by the next pass: one pass per burst, not
// per executor.
//
// kill() may be called from any thread and returns at once; the session is
// killed within one pass. The destructor finishes the passes still due.
// Without cgroups this is the only way to reach a task's stray children;
// with them the cgroups isolator kills the container as well.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace tutti::agent {

class SessionKiller {
 public:
  SessionKiller() = default;
  ~SessionKiller();
  SessionKiller(const SessionKiller&) = delete;
  SessionKiller& operator=(const SessionKiller&) = delete;

  // Queues `sid` (a session leader's pid; values <= 1 are ignored). The
  // thread starts with the first request. `done`, when given, runs on the
  // killer's thread once the pass that signalled the session is over (also
  // for an ignored sid); it must only hand work over (e.g. Loop::post).
  //
  // A session id outlives its leader while any process of the session
  // lives, so it cannot be handed to a new process before the pass kills
  // them; one left with no process could be reused only after the pid
  // space wrapped around within the pass's delay.
  void kill(pid_t sid, std::function<void()> done = nullptr);

  // Passes over /proc so far, and processes signalled by them (tests and
  // metrics; any thread).
  uint64_t passes() const;
  uint64_t signalled() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<pid_t> pending_;
  std::vector<std::function<void()>> done_;  // of the requests in pending_
  bool stopping_ = false;
  uint64_t passes_ = 0;
  uint64_t signalled_ = 0;
  std::thread thread_;
};

}  // namespace tutti::agent
