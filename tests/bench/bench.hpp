// tutti-bench scenarios. Each prints one line: the scenario's name followed
// by key=value pairs, and returns the process exit code.
#pragma once

#include <string>

namespace tutti::bench {

struct LaunchOptions {
  int tasks = 1000;
  std::string containerizer = "process";
  std::string workDir;  // the agent's work_dir; empty: a fresh directory under $TMPDIR
  bool checkpoint = false;  // the framework asks for checkpointing (agent recovery)
  // Tasks run in this image (pulled once before the timed run); "builtin":
  // a busybox image built and served from a local docker-registry here.
  std::string image;
};
int runLaunch(const LaunchOptions& options);

struct RegisterOptions {
  int agents = 1000;
  int connections = 8;      // DEALER connections the agents are multiplexed over
  int timeoutSeconds = 300;
  std::string out;          // also write the figures as JSON here
};
// `register agents=N seconds=S master_rss_mb=R`: N emulated agents register
// with a tutti-master process.
int runRegister(const RegisterOptions& options);

struct AllocatorOptions {
  int agents = 1000;
  int frameworks = 10;
};
// `allocator agents=A frameworks=F add_agents_ms=X full_cycle_ms=Y
// event_cycle_ms=Z offers=N` (the allocator alone, no master).
int runAllocator(const AllocatorOptions& options);

struct FailoverOptions {
  int agents = 10;
  int zkSessionTimeoutMs = 2000;
};
// `failover agents= tasks= zk_session_ms= elected_ms= agents_back_ms=
// framework_back_ms=`, measured from kill -9 of the leading master.
int runFailover(const FailoverOptions& options);

}  // namespace tutti::bench
