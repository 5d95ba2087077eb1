// HealthChecker: runs a task's HealthCheck (Mesos semantics, see
// tutti/types.hpp) next to it and says when its health changes.
//
// COMMAND checks run `/bin/sh -c` (or argv) in the task's sandbox with the
// task's environment, in their own process group, killed at the timeout;
// exit status 0 is healthy. HTTP checks GET http://127.0.0.1:<port><path>
// (healthy: a status in httpStatuses, or 200-399); TCP checks connect to
// 127.0.0.1:<port>. HTTP and TCP attempts block on a socket with the
// timeout, so they run on a helper thread (one at a time) that posts the
// result back. One attempt at a time; the next starts intervalSeconds after
// the previous one ended.
//
// Events (on the loop): healthy=true on the first success and whenever a
// failure streak ends; healthy=false on the first failure counted (failures
// within gracePeriodSeconds of start() are not counted until the task was
// healthy once); killTask=true when consecutiveFailures failures in a row
// were counted (0: never). Owned by the CommandExecutor; loop thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/loop.hpp"
#include "common/process.hpp"
#include "tutti/types.hpp"

namespace tutti::executor {

class HealthChecker {
 public:
  struct Event {
    bool healthy = false;
    bool killTask = false;
    std::string message;
  };
  using OnEvent = std::function<void(const Event&)>;

  HealthChecker(Loop& loop, HealthCheck check, std::vector<std::string> env,
                std::string workingDir, OnEvent onEvent);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts checking (the first attempt after delaySeconds).
  void start();
  // COMMAND checks of a task in a container run inside it: `prefix`
  // (e.g. {"runc", "exec", "<id>"}) goes before the command's argv.
  void setCommandPrefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // COMMAND checks of a task run as another user run as that user too.
  void setCredentials(std::optional<Credentials> ids) { credentials_ = std::move(ids); }
  // COMMAND checks start in this directory (an open descriptor, which the
  // checker dups and owns) instead of resolving the working directory's
  // path again.
  void setWorkingDirFd(int fd);
  // Stops: no more attempts or events; a running command check is killed.
  void stop();
  // Attempts finished so far (tests wait on it).
  size_t attempts() const { return finishedAttempts_; }

  // One HTTP or TCP attempt, blocking up to `timeout` per socket operation:
  // OK when healthy, else an error saying why. Any thread.
  static Status probeTcp(uint32_t port, Duration timeout);
  static Status probeHttp(uint32_t port, const std::string& path,
                          const std::vector<uint32_t>& statuses, Duration timeout);

 private:
  std::vector<std::string> prefix_;
  std::optional<Credentials> credentials_;
  void attempt();
  void attemptCommand();
  void finished(uint64_t id, bool ok, const std::string& detail);
  void scheduleNext();

  Loop& loop_;
  HealthCheck check_;
  std::vector<std::string> env_;
  std::string workingDir_;
  int workingDirFd_ = -1;
  OnEvent onEvent_;
  ProcessWatcher watcher_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::thread worker_;
  bool stopped_ = true;
  uint64_t attemptId_ = 0;
  bool inFlight_ = false;
  size_t finishedAttempts_ = 0;
  pid_t commandPid_ = -1;
  Loop::TimerId timer_ = 0;         // next attempt
  Loop::TimerId timeoutTimer_ = 0;  // the running command's timeout
  TimePoint startedAt_{0};
  bool everHealthy_ = false;
  int consecutiveFailures_ = 0;
  int reported_ = -1;  // -1 nothing yet, 0 unhealthy, 1 healthy
};

}  // namespace tutti::executor
