#include "agent/containerizer/launcher.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/process.hpp"

namespace tutti::agent {

std::string sandboxPath(const std::string& workDir, const AgentID& agent,
                        const FrameworkID& framework, const ExecutorID& executor,
                        const ContainerID& container) {
  return workDir + "/slaves/" + agent.value + "/frameworks/" + framework.value + "/executors/" +
         executor.value + "/runs/" + container.value;
}

Status makeDirectories(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError("mkdir " + partial + ": " + std::strerror(errno));
    }
  }
  return Status::OK();
}

Result<pid_t> ProcessLauncher::launch(const LaunchSpec& spec) {
  Status s = makeDirectories(spec.directory);
  if (!s.ok()) return s;
  SpawnOptions o;
  o.argv = spec.argv;
  o.env = spec.env;
  o.workingDir = spec.directory;
  o.stdoutPath = spec.directory + "/stdout";
  o.stderrPath = spec.directory + "/stderr";
  o.newSession = true;
  return spawnProcess(o);
}

void ProcessLauncher::destroy(pid_t executorPid) {
  if (executorPid <= 1) return;
  killSession(executorPid, SIGKILL);
}

}  // namespace tutti::agent
