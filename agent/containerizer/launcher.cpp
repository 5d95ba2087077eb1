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

Status giveSandbox(const std::string& directory, uid_t uid, gid_t gid) {
  auto fail = [&](const std::string& what) {
    return Status::IoError("cannot give the sandbox to uid " + std::to_string(uid) + ": " + what +
                           ": " + std::strerror(errno));
  };
  if (::chown(directory.c_str(), uid, gid) != 0) return fail("chown " + directory);
  // Made here, not by the spawn, so that they are the user's too.
  for (const char* name : {"/stdout", "/stderr"}) {
    std::string path = directory + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return fail("open " + path);
    int rc = ::fchown(fd, uid, gid);
    ::close(fd);
    if (rc != 0) return fail("chown " + path);
  }
  return Status::OK();
}

Result<pid_t> ProcessLauncher::launch(const LaunchSpec& spec) {
  Status s = makeDirectories(spec.directory);
  if (!s.ok()) return s;
  if (spec.sandboxOwner) {
    s = giveSandbox(spec.directory, spec.sandboxOwner->uid, spec.sandboxOwner->gid);
    if (!s.ok()) return s;
  }
  if (spec.prepare) {
    s = spec.prepare();
    if (!s.ok()) return s;
  }
  SpawnOptions o;
  o.argv = spec.argv;
  o.env = spec.env;
  o.workingDir = spec.directory;
  o.stdoutPath = spec.directory + "/stdout";
  o.stderrPath = spec.directory + "/stderr";
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
