#include "agent/executor/health_checker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/task_env.hpp"

namespace tutti::executor {

namespace {

Duration seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

// A blocking loopback socket with send/receive timeouts; -1 and `error` set
// when it cannot connect.
int connectLoopback(uint32_t port, Duration timeout, std::string* error) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  // Never zero: a zero timeval would mean "block forever".
  auto micros = std::max<int64_t>(
      1000, std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
  timeval tv{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
             (errno == EINPROGRESS || errno == EAGAIN ? "timed out" : std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Status HealthChecker::probeTcp(uint32_t port, Duration timeout) {
  std::string error;
  int fd = connectLoopback(port, timeout, &error);
  if (fd < 0) return Status::Unavailable(error);
  ::close(fd);
  return Status::OK();
}

Status HealthChecker::probeHttp(uint32_t port, const std::string& path,
                                const std::vector<uint32_t>& statuses, Duration timeout) {
  std::string error;
  int fd = connectLoopback(port, timeout, &error);
  if (fd < 0) return Status::Unavailable(error);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nUser-Agent: tutti-health-check\r\nConnection: close\r\n\r\n";
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::Unavailable(std::string("sending the request: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  // Only the status line matters.
  std::string head;
  char buf[512];
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  // "HTTP/1.1 200 OK"
  if (head.rfind("HTTP/", 0) != 0 || head.find(' ') == std::string::npos) {
    return Status::Unavailable(head.empty() ? "no response (timed out or closed)"
                                            : "not an HTTP response");
  }
  int code = std::atoi(head.c_str() + head.find(' ') + 1);
  bool ok = statuses.empty() ? (code >= 200 && code < 400)
                             : std::find(statuses.begin(), statuses.end(),
                                         static_cast<uint32_t>(code)) != statuses.end();
  if (!ok) return Status::Unavailable("HTTP status " + std::to_string(code));
  return Status::OK();
}

HealthChecker::HealthChecker(Loop& loop, HealthCheck check, std::vector<std::string> env,
                             std::string workingDir, OnEvent onEvent)
    : loop_(loop),
      check_(std::move(check)),
      env_(std::move(env)),
      workingDir_(std::move(workingDir)),
      onEvent_(std::move(onEvent)),
      watcher_(loop) {}

void HealthChecker::setWorkingDirFd(int fd) {
  if (workingDirFd_ >= 0) ::close(workingDirFd_);
  workingDirFd_ = fd >= 0 ? ::fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
}

HealthChecker::~HealthChecker() {
  stop();
  *alive_ = false;
  if (worker_.joinable()) worker_.join();
  if (workingDirFd_ >= 0) ::close(workingDirFd_);
}

void HealthChecker::start() {
  stopped_ = false;
  startedAt_ = loop_.now();
  timer_ = loop_.after(seconds(check_.delaySeconds), "health.attempt", [this] {
    timer_ = 0;
    attempt();
  });
}

void HealthChecker::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (timer_) loop_.cancel(timer_);
  if (timeoutTimer_) loop_.cancel(timeoutTimer_);
  timer_ = timeoutTimer_ = 0;
  if (commandPid_ > 0) {
    watcher_.unwatch(commandPid_);
    killProcessGroup(commandPid_, SIGKILL);
    ::waitpid(commandPid_, nullptr, 0);
    commandPid_ = -1;
  }
}

void HealthChecker::attempt() {
  if (stopped_ || inFlight_) return;
  inFlight_ = true;
  uint64_t id = ++attemptId_;
  if (check_.type == HealthCheck::Type::COMMAND) {
    attemptCommand();
    return;
  }
  if (worker_.joinable()) worker_.join();  // the previous attempt's thread is done
  Duration timeout = seconds(check_.timeoutSeconds);
  HealthCheck check = check_;
  worker_ = std::thread([this, id, check, timeout, alive = alive_, &loop = loop_] {
    Status s = check.type == HealthCheck::Type::TCP
                   ? probeTcp(check.port, timeout)
                   : probeHttp(check.port, check.httpPath, check.httpStatuses, timeout);
    loop.post("health.result", [this, id, s, alive] {
      if (*alive) finished(id, s.ok(), s.ok() ? "" : s.message());
    });
  });
}

void HealthChecker::attemptCommand() {
  if (!check_.command || check_.command->value.empty()) {
    finished(attemptId_, false, "the check has no command");
    return;
  }
  const CommandInfo& cmd = *check_.command;
  SpawnOptions o;
  o.argv = commandArgv(cmd);
  o.argv.insert(o.argv.begin(), prefix_.begin(), prefix_.end());
  o.env = env_;
  for (const auto& v : cmd.environment) o.env.push_back(v.name + "=" + v.value);
  o.workingDir = workingDir_;
  o.workingDirFd = workingDirFd_;
  o.stdoutPath = "/dev/null";
  o.stderrPath = "/dev/null";
  o.newProcessGroup = true;
  o.credentials = credentials_;
  uint64_t id = attemptId_;
  auto pid = spawnProcess(o);
  if (!pid.ok()) {
    finished(id, false, "cannot run the check: " + pid.error());
    return;
  }
  commandPid_ = *pid;
  Status w = watcher_.watch(commandPid_, [this, id](pid_t p, std::optional<int> status) {
    killProcessGroup(p, SIGKILL);  // whatever it left behind
    commandPid_ = -1;
    if (timeoutTimer_) loop_.cancel(timeoutTimer_);
    timeoutTimer_ = 0;
    bool ok = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    finished(id, ok, ok ? "" : "the check " + (status ? describeWaitStatus(*status) : "ended"));
  });
  if (!w.ok()) {
    int st = 0;
    bool reaped = ::waitpid(commandPid_, &st, 0) == commandPid_;
    commandPid_ = -1;
    finished(id, reaped && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the check ended");
    return;
  }
  timeoutTimer_ = loop_.after(seconds(check_.timeoutSeconds), "health.timeout", [this, id] {
    timeoutTimer_ = 0;
    if (commandPid_ <= 0) return;
    pid_t p = commandPid_;
    watcher_.unwatch(p);
    killProcessGroup(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
    commandPid_ = -1;
    finished(id, false, "the check timed out after " + std::to_string(check_.timeoutSeconds) + "s");
  });
}

void HealthChecker::finished(uint64_t id, bool ok, const std::string& detail) {
  if (id != attemptId_ || !inFlight_) return;
  inFlight_ = false;
  ++finishedAttempts_;
  if (stopped_) return;
  if (ok) {
    everHealthy_ = true;
    consecutiveFailures_ = 0;
    if (reported_ != 1) {
      reported_ = 1;
      onEvent_(Event{true, false, "Health check passed"});
    }
  } else {
    bool inGrace = !everHealthy_ &&
                   loop_.now() - startedAt_ < seconds(check_.gracePeriodSeconds);
    if (inGrace) {
      VLOG(1) << "Health check failed within the grace period: " << detail;
    } else {
      ++consecutiveFailures_;
      if (reported_ != 0) {
        reported_ = 0;
        onEvent_(Event{false, false, "Health check failed: " + detail});
        if (stopped_) return;
      }
      if (check_.consecutiveFailures > 0 &&
          consecutiveFailures_ >= static_cast<int>(check_.consecutiveFailures)) {
        onEvent_(Event{false, true,
                       "Killed after " + std::to_string(consecutiveFailures_) +
                           " consecutive failed health checks (last: " + detail + ")"});
        return;
      }
    }
  }
  scheduleNext();
}

void HealthChecker::scheduleNext() {
  if (stopped_) return;
  timer_ = loop_.after(seconds(check_.intervalSeconds), "health.attempt", [this] {
    timer_ = 0;
    attempt();
  });
}

}  // namespace tutti::executor
