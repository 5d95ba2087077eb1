#include "common/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/rlimits.hpp"

namespace tutti {

namespace {
std::vector<char*> cstrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int openAs(int target, const char* path, int flags) {
  int fd = ::open(path, flags, 0644);
  if (fd < 0) return -1;
  if (fd != target) {
    if (::dup2(fd, target) < 0) return -1;
    ::close(fd);
  }
  return 0;
}

struct SpawnFailure {
  int error;
  int resource;  // the RLIMIT_* a failed setrlimit was for, else -1
  char step[28];
};

// spawnProcess() with credentials, limits or a pid namespace: a fork()
// child (its own copy of our memory, so nothing of ours runs as the user,
// and our dumpable flag stays) — for a pid namespace a clone() into new pid
// and mount namespaces, so that it is pid 1 there and still our child —
// that sets up stdio and its directory with our rights, mounts its /proc,
// sets its limits, drops to the ids with raw system calls (only this thread
// changes), and execs the program with its environment: no program ever
// runs with our ids and the child's environment (LD_PRELOAD and the like).
// Async-signal-safe calls only. A failing step is written to a
// close-on-exec pipe; its EOF means the exec happened (waited for at most
// 5 s: a child its user stopped cannot hang us).
Result<pid_t> spawnForked(const SpawnOptions& o) {
  auto argv = cstrings(o.argv);
  auto envp = cstrings(o.env);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return Status::IoError(std::string("spawn: pipe: ") + std::strerror(errno));
  }
  // The child's end above stdio (were 0-2 closed here, dup2 would replace it).
  if (report[1] < 3) {
    int moved = ::fcntl(report[1], F_DUPFD_CLOEXEC, 3);
    ::close(report[1]);
    report[1] = moved;
    if (moved < 0) {
      ::close(report[0]);
      return Status::IoError(std::string("spawn: pipe: ") + std::strerror(errno));
    }
  }
  long maxFd = ::sysconf(_SC_OPEN_MAX);
  if (maxFd < 0 || maxFd > 65536) maxFd = 65536;
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  // (A raw clone: the child runs no fork handlers, and needs none.)
  pid_t pid = o.pidNamespace ? static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | SIGCHLD,
                                                            nullptr, nullptr, nullptr, 0))
                             : ::fork();
  if (pid == 0) {
    ::close(report[0]);
    int failedLimit = -1;
    auto fail = [&](const char* step) {
      SpawnFailure f{errno, failedLimit, {}};
      std::strncpy(f.step, step, sizeof f.step - 1);
      ::signal(SIGPIPE, SIG_IGN);  // a parent that stopped listening: exit 127 all the same
      (void)!::write(report[1], &f, sizeof f);
      ::_exit(127);
    };
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      ::sigaction(sig, &sa, nullptr);
    }
    if (o.newSession ? ::setsid() < 0 : (o.newProcessGroup && ::setpgid(0, 0) < 0)) {
      fail("setsid/setpgid");
    }
    if (!o.stdinPath.empty() && openAs(0, o.stdinPath.c_str(), O_RDONLY) < 0) fail("stdin");
    if (o.stdoutFd >= 0 ? ::dup2(o.stdoutFd, 1) < 0
                        : (!o.stdoutPath.empty() &&
                           openAs(1, o.stdoutPath.c_str(), O_WRONLY | O_CREAT | O_APPEND) < 0)) {
      fail("stdout");
    }
    if (o.stderrFd >= 0 ? ::dup2(o.stderrFd, 2) < 0
                        : (!o.stderrPath.empty() &&
                           openAs(2, o.stderrPath.c_str(), O_WRONLY | O_CREAT | O_APPEND) < 0)) {
      fail("stderr");
    }
    if (o.workingDirFd >= 0 ? ::fchdir(o.workingDirFd) != 0
                            : (!o.workingDir.empty() && ::chdir(o.workingDir.c_str()) != 0)) {
      fail("chdir");
    }
    // Every descriptor of ours above stderr goes (but the report pipe,
    // close-on-exec) before the ids change: nothing of ours is left to a
    // child its user may stop.
    for (int fd = 3; fd < report[1]; ++fd) ::close(fd);
    if (::syscall(SYS_close_range, static_cast<unsigned>(report[1]) + 1, ~0u, 0) != 0) {
      for (long fd = report[1] + 1; fd < maxFd; ++fd) ::close(static_cast<int>(fd));
    }
    if (o.pidNamespace) {
      // Our mounts as slaves: the host's later mounts and unmounts (an
      // automounted home, another container's rootfs going) reach us; ours,
      // this /proc first, never reach the host.
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) fail("mount --make-rslave /");
      if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
        fail("mount /proc");
      }
    }
    for (const ResourceLimit& l : o.limits) {
      struct rlimit r = {l.soft, l.hard};
      failedLimit = l.resource;
      if (::setrlimit(l.resource, &r) != 0) fail("setrlimit");
    }
    failedLimit = -1;
    if (o.credentials) {
      const Credentials& ids = *o.credentials;
      if (::syscall(SYS_setgroups, ids.groups.size(), ids.groups.data()) != 0) fail("setgroups");
      if (::syscall(SYS_setresgid, ids.gid, ids.gid, ids.gid) != 0) fail("setresgid");
      if (::syscall(SYS_setresuid, ids.uid, ids.uid, ids.uid) != 0) fail("setresuid");
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    fail("exec");
  }
  int forkErrno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    return Status::IoError(std::string("spawn: fork: ") + std::strerror(forkErrno));
  }
  SpawnFailure f{};
  size_t got = 0;
  struct pollfd p = {report[0], POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got < sizeof f) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(report[0], reinterpret_cast<char*>(&f) + got, sizeof f - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(report[0]);
  if (got == sizeof f) {
    // It exits; SIGKILL all the same, so that one its user stopped cannot
    // hold this thread in waitpid.
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    f.step[sizeof f.step - 1] = '\0';
    std::string step = f.step;
    if (step == "chdir") step += " " + o.workingDir;
    if (step == "setrlimit") step += " " + rlimitName(f.resource);
    if (step == "mount /proc" || step.rfind("mount --", 0) == 0) step += " (a new pid namespace)";
    std::string as = o.credentials ? " as uid " + std::to_string(o.credentials->uid) : "";
    return Status::IoError("cannot start '" + o.argv[0] + "'" + as + ": " + step + ": " +
                           std::strerror(f.error));
  }
  return pid;
}

}  // namespace

Result<pid_t> spawnProcess(const SpawnOptions& o) {
  if (o.argv.empty()) return Status::InvalidArgument("spawn: empty argv");
  if (o.credentials || !o.limits.empty() || o.pidNamespace) return spawnForked(o);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);

  if (!o.stdinPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 0, o.stdinPath.c_str(), O_RDONLY, 0);
  }
  if (o.stdoutFd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, o.stdoutFd, 1);
  } else if (!o.stdoutPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, o.stdoutPath.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (o.stderrFd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, o.stderrFd, 2);
  } else if (!o.stderrPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 2, o.stderrPath.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (o.workingDirFd >= 0) {
    posix_spawn_file_actions_addfchdir_np(&fa, o.workingDirFd);
  } else if (!o.workingDir.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, o.workingDir.c_str());
  }
  // No descriptor of ours (listening sockets, log files) leaks into the child.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);

  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  if (o.newSession) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (o.newProcessGroup) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawnattr_setflags(&attr, flags);

  auto argv = cstrings(o.argv);
  auto envp = cstrings(o.env);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, o.argv[0].c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status::IoError("cannot start '" + o.argv[0] + "': " + std::strerror(rc));
  }
  return pid;
}

std::string describeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

Status killProcessGroup(pid_t pgid, int signal) {
  if (pgid <= 1) return Status::InvalidArgument("refusing to signal process group " +
                                                std::to_string(pgid));
  if (::kill(-pgid, signal) != 0 && errno != ESRCH) {
    return Status::IoError("kill(-" + std::to_string(pgid) + "): " + std::strerror(errno));
  }
  return Status::OK();
}

size_t killSession(pid_t sid, int signal) { return killSessions({sid}, signal); }

size_t killSessions(const std::set<pid_t>& requested, int signal) {
  std::set<pid_t> sids;
  for (pid_t s : requested) {
    if (s > 1) sids.insert(s);
  }
  if (sids.empty()) return 0;
  size_t n = 0;
  DIR* dir = ::opendir("/proc");
  if (!dir) return 0;
  while (struct dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 1) continue;
    char path[64];
    std::snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) continue;
    char buf[512];
    size_t len = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    buf[len] = '\0';
    // Fields after the command name (which may contain spaces): state ppid pgrp session.
    const char* close = std::strrchr(buf, ')');
    if (!close) continue;
    char state;
    long ppid, pgrp, session;
    if (std::sscanf(close + 1, " %c %ld %ld %ld", &state, &ppid, &pgrp, &session) != 4) continue;
    if (!sids.count(static_cast<pid_t>(session)) || state == 'Z') continue;
    if (::kill(static_cast<pid_t>(pid), signal) == 0) ++n;
  }
  ::closedir(dir);
  return n;
}

bool processExists(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie still "exists" for kill(); check /proc for state Z.
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return false;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* close = std::strrchr(buf, ')');
  if (close && close[1] == ' ' && close[2] == 'Z') return false;
  return true;
}

ProcessWatcher::~ProcessWatcher() {
  for (auto& [pid, e] : watched_) {
    loop_.unwatchFd(e.pidfd);
    ::close(e.pidfd);
  }
}

Status ProcessWatcher::watch(pid_t pid, OnExit onExit) {
  int fd = pidfdOpen(pid);
  if (fd < 0) {
    if (errno == ESRCH) return Status::NotFound("process " + std::to_string(pid) + " is gone");
    return Status::IoError("pidfd_open(" + std::to_string(pid) + "): " + std::strerror(errno));
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  unwatch(pid);
  watched_[pid] = Entry{fd, std::move(onExit)};
  loop_.watchFd(fd, "process.exit", [this, pid] { onReadable(pid); });
  return Status::OK();
}

void ProcessWatcher::unwatch(pid_t pid) {
  auto it = watched_.find(pid);
  if (it == watched_.end()) return;
  loop_.unwatchFd(it->second.pidfd);
  ::close(it->second.pidfd);
  watched_.erase(it);
}

void ProcessWatcher::onReadable(pid_t pid) {
  auto it = watched_.find(pid);
  if (it == watched_.end()) return;
  std::optional<int> status;
  int st = 0;
  pid_t r = ::waitpid(pid, &st, WNOHANG);
  if (r == pid) {
    status = st;
  } else if (r == 0) {
    return;  // spurious: still running
  }
  // r < 0 (ECHILD): not our child; it ended but its status is not ours to read.
  OnExit fn = std::move(it->second.onExit);
  unwatch(pid);
  fn(pid, status);
}

int waitForSignalOrFatal(const sigset_t& set,
                         const std::function<std::optional<std::string>()>& fatal,
                         std::string* why) {
  while (true) {
    timespec timeout{0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig > 0) return sig;
    if (auto reason = fatal()) {
      *why = std::move(*reason);
      return 0;
    }
  }
}

}  // namespace tutti
