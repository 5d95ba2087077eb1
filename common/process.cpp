#include "common/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <signal.h>
#include <spawn.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

// The child of spawnAs(): it shares our memory (CLONE_VM) while we wait
// for its exec, so it only makes system calls, and the id changes are raw
// ones (glibc's setuid() & co. would signal every thread of *our* process
// to change theirs too). A failure is left in `error`/`step` for the parent.
struct SpawnAsChild {
  const SpawnOptions* options;
  char* const* argv;
  char* const* envp;
  int error = 0;
  const char* step = nullptr;
};

int openAs(int target, const char* path, int flags) {
  int fd = ::open(path, flags, 0644);
  if (fd < 0) return -1;
  if (fd != target) {
    if (::dup2(fd, target) < 0) return -1;
    ::close(fd);
  }
  return 0;
}

int spawnAsChild(void* arg) {
  auto* c = static_cast<SpawnAsChild*>(arg);
  const SpawnOptions& o = *c->options;
  auto fail = [c](const char* step) {
    c->error = errno;
    c->step = step;
    ::_exit(127);
  };
  // Dispositions are our own copy (no CLONE_SIGHAND); the parent blocked
  // every signal around the clone, so no handler of its runs here.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    ::sigaction(sig, &sa, nullptr);
  }
  if (o.newSession) {
    if (::setsid() < 0) fail("setsid");
  } else if (o.newProcessGroup) {
    if (::setpgid(0, 0) < 0) fail("setpgid");
  }
  if (!o.stdinPath.empty() && openAs(0, o.stdinPath.c_str(), O_RDONLY) < 0) fail("open stdin");
  if (!o.stdoutPath.empty() &&
      openAs(1, o.stdoutPath.c_str(), O_WRONLY | O_CREAT | O_APPEND) < 0) {
    fail("open stdout");
  }
  if (!o.stderrPath.empty() &&
      openAs(2, o.stderrPath.c_str(), O_WRONLY | O_CREAT | O_APPEND) < 0) {
    fail("open stderr");
  }
  const Credentials& cr = *o.credentials;
  if (::syscall(SYS_setgroups, cr.groups.size(), cr.groups.data()) != 0) fail("setgroups");
  if (::syscall(SYS_setresgid, cr.gid, cr.gid, cr.gid) != 0) fail("setresgid");
  if (::syscall(SYS_setresuid, cr.uid, cr.uid, cr.uid) != 0) fail("setresuid");
  if (!o.workingDir.empty() && ::chdir(o.workingDir.c_str()) != 0) fail("chdir");
  if (::syscall(SYS_close_range, 3u, ~0u, 0) != 0) fail("close_range");
  uint64_t none = 0;  // the kernel's sigset_t
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
  ::execve(c->argv[0], c->argv, c->envp);
  fail("exec");
  return 127;
}

Result<pid_t> spawnAs(const SpawnOptions& o, char* const* argv, char* const* envp) {
  constexpr size_t kStack = 64 * 1024;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Status::IoError(std::string("spawn: mmap: ") + std::strerror(errno));
  SpawnAsChild child{&o, argv, envp};
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  // CLONE_VFORK: back here once the child has exec'd or exited.
  pid_t pid = ::clone(spawnAsChild, static_cast<char*>(stack) + kStack,
                      CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  int cloneErrno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::munmap(stack, kStack);
  if (pid < 0) return Status::IoError(std::string("spawn: clone: ") + std::strerror(cloneErrno));
  if (child.step) {
    int st;
    ::waitpid(pid, &st, 0);
    std::string step = child.step;
    if (step == "chdir") step += " " + o.workingDir;
    return Status::IoError("cannot start '" + o.argv[0] + "' as uid " +
                           std::to_string(o.credentials->uid) + ": " + step + ": " +
                           std::strerror(child.error));
  }
  return pid;
}
}  // namespace

Result<pid_t> spawnProcess(const SpawnOptions& o) {
  if (o.argv.empty()) return Status::InvalidArgument("spawn: empty argv");
  if (o.credentials) {
    auto argv = cstrings(o.argv);
    auto envp = cstrings(o.env);
    return spawnAs(o, argv.data(), envp.data());
  }

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);

  if (!o.stdinPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 0, o.stdinPath.c_str(), O_RDONLY, 0);
  }
  if (!o.stdoutPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, o.stdoutPath.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (!o.stderrPath.empty()) {
    posix_spawn_file_actions_addopen(&fa, 2, o.stderrPath.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (!o.workingDir.empty()) posix_spawn_file_actions_addchdir_np(&fa, o.workingDir.c_str());
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

}  // namespace tutti
