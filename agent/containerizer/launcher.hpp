// ProcessLauncher: starts an executor in its sandbox on the host filesystem
// (the `process` launcher of DESIGN §8) and destroys what it started.
//
// The executor runs in a new session, so it survives the agent and can be
// killed as a whole (every process of the session, also task processes
// that left their process group). Isolation (cgroups) and the OCI launcher
// come with the agent containerization work. Loop thread only.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tutti/types.hpp"

namespace tutti::agent {

struct LaunchSpec {
  std::vector<std::string> argv;  // argv[0] is the program
  std::vector<std::string> env;   // NAME=value, complete
  std::string directory;          // the sandbox: cwd, stdout, stderr
};

class ProcessLauncher {
 public:
  // Creates the sandbox directory (and parents) and starts the executor.
  Result<pid_t> launch(const LaunchSpec& spec);
  // SIGKILLs every process of the executor's session.
  void destroy(pid_t executorPid);
};

// <work_dir>/slaves/<agent>/frameworks/<fw>/executors/<ex>/runs/<container>
std::string sandboxPath(const std::string& workDir, const AgentID& agent,
                        const FrameworkID& framework, const ExecutorID& executor,
                        const ContainerID& container);

// mkdir -p with mode 0755.
Status makeDirectories(const std::string& path);

}  // namespace tutti::agent
