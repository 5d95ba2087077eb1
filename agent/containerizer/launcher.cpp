#include "agent/containerizer/launcher.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/loop.hpp"
#include "common/process.hpp"

namespace tutti::agent {

std::string sandboxPath(const std::string& workDir, const AgentID& agent,
                        const FrameworkID& framework, const ExecutorID& executor,
                        const ContainerID& container) {
  return workDir + "/slaves/" + agent.value + "/frameworks/" + framework.value + "/executors/" +
         executor.value + "/runs/" + container.value;
}

Result<SandboxStdio> openSandboxStdio(const std::string& directory,
                                      const std::optional<Credentials>& owner) {
  SandboxStdio io;
  auto fail = [&](const std::string& what) -> Status {
    return Status::IoError("sandbox " + directory + ": " + what + ": " + std::strerror(errno));
  };
  int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return fail("cannot open");
  struct stat dirStat;
  if (::fstat(dir, &dirStat) != 0) {
    Status s = fail("cannot stat");
    ::close(dir);
    return s;
  }
  // Opened relative to the directory, never through a symlink, and only
  // if they are plain files of their own (a FIFO, a device or a hard link
  // planted by the sandbox's user is refused): the files are opened with
  // the agent's rights, and the user may own the directory already (a run
  // after its fetcher).
  for (auto [name, fd] : {std::pair{"stdout", &io.out}, std::pair{"stderr", &io.err}}) {
    *fd = ::openat(dir, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                   0644);
    struct stat st;
    if (*fd < 0 || ::fstat(*fd, &st) != 0) {
      Status s = fail(std::string("cannot open ") + name);
      ::close(dir);
      return s;
    }
    // The directory's owner (e.g. the fetcher's user before a container's
    // user gets it) could have put anything there anyway.
    bool ours = st.st_uid == 0 || st.st_uid == ::geteuid() || st.st_uid == dirStat.st_uid ||
                (owner && st.st_uid == owner->uid);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !ours) {
      ::close(dir);
      errno = EPERM;
      return fail(std::string(name) + " is not a plain file of the sandbox");
    }
    ::fcntl(*fd, F_SETFL, O_APPEND);  // the task's stdout blocks as usual
    if (owner && ::fchown(*fd, owner->uid, owner->gid) != 0) {
      Status s = fail(std::string("cannot chown ") + name);
      ::close(dir);
      return s;
    }
  }
  // The directory last: its user can change nothing above before this.
  if (owner && ::fchown(dir, owner->uid, owner->gid) != 0) {
    Status s = fail("cannot chown");
    ::close(dir);
    return s;
  }
  ::close(dir);
  return io;
}

SandboxStdio::~SandboxStdio() {
  if (out >= 0) ::close(out);
  if (err >= 0) ::close(err);
}

SandboxStdio::SandboxStdio(SandboxStdio&& o) noexcept : out(o.out), err(o.err) {
  o.out = o.err = -1;
}

Status giveSandbox(const std::string& directory, uid_t uid, gid_t gid) {
  auto io = openSandboxStdio(directory, Credentials{uid, gid, {}});
  return io.ok() ? Status::OK() : io.status();
}

Result<pid_t> ProcessLauncher::launch(const LaunchSpec& spec) {
  Status s = makeDirectories(spec.directory);
  if (!s.ok()) return s;
  auto stdio = openSandboxStdio(spec.directory, spec.sandboxOwner);
  if (!stdio.ok()) return stdio.status();
  if (spec.prepare) {
    s = spec.prepare();
    if (!s.ok()) return s;
  }
  SpawnOptions o;
  o.argv = spec.argv;
  o.env = spec.env;
  o.workingDir = spec.directory;
  o.stdoutFd = stdio->out;
  o.stderrFd = stdio->err;
  o.newSession = true;
  o.credentials = spec.runAs;
  auto pid = spawnProcess(o);
  if (!pid.ok() || !spec.isolate) return pid;
  s = spec.isolate(*pid);
  if (!s.ok()) {
    killSession(*pid, SIGKILL);
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    return s;
  }
  return pid;
}

void ProcessLauncher::destroy(pid_t executorPid, std::function<void()> done) {
  killer_.kill(executorPid, std::move(done));
}

}  // namespace tutti::agent

namespace tutti::agent {

AsyncLauncher::AsyncLauncher(Loop& loop, size_t workers) : loop_(loop) {
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

AsyncLauncher::~AsyncLauncher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void AsyncLauncher::launch(LaunchSpec spec, std::function<void(Result<pid_t>)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Request{std::move(spec), std::move(done)});
  }
  cv_.notify_one();
}

size_t AsyncLauncher::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void AsyncLauncher::run() {
  ::pthread_setname_np(::pthread_self(), "launcher");  // for top -H and profiles
  while (true) {
    Request r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      r = std::move(queue_.front());
      queue_.pop_front();
    }
    auto pid = launcher_.launch(r.spec);
    loop_.post("agent.executor_launched",
               [done = std::move(r.done), pid]() mutable { done(std::move(pid)); });
  }
}

}  // namespace tutti::agent
