// tutti-bench scenarios. Each prints one line: the scenario's name followed
// by key=value pairs, and returns the process exit code.
#pragma once

#include <string>

namespace tutti::bench {

struct LaunchOptions {
  int tasks = 1000;
  std::string containerizer = "process";
  std::string workDir;  // the agent's work_dir; empty: a fresh directory under $TMPDIR
};
int runLaunch(const LaunchOptions& options);

}  // namespace tutti::bench
