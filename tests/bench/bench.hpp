// tutti-bench scenarios. Each prints one line: the scenario's name followed
// by key=value pairs (and writes the same as JSON to `out` when set), and
// returns the process exit code.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/clock.hpp"

namespace tutti::bench {

struct LaunchOptions {
  int tasks = 1000;
  std::string containerizer = "process";
  std::string workDir;  // the agent's work_dir; empty: a fresh directory under $TMPDIR
  bool checkpoint = false;  // the framework asks for checkpointing (agent recovery)
  // Tasks run in this image (pulled once before the timed run); "builtin":
  // a busybox image built and served from a local docker-registry here.
  std::string image;
  // Tasks run until killed (`sleep`): once every one is TASK_RUNNING the
  // framework kills them all, so launching and destroying are timed apart
  // (as Mesos measured its containerizer) instead of overlapping.
  bool hold = false;
  // The agent's --oci_runtime for tasks in images (tutti-runtime, runc).
  std::string ociRuntime = "tutti-runtime";
  // > 0: tasks go in LAUNCH_GROUPs of this many, each under a default
  // executor of its own (Mesos's pods) instead of a command executor each.
  int groupSize = 0;
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
  Duration zkSessionTimeout = std::chrono::seconds(2);  // --zk_session_timeout
  // Emulated agents (AgentEmulator) with `tasks` tasks in all, launched by
  // `frameworks` emulated frameworks; otherwise real tutti-agent processes
  // and one task per agent.
  bool emulated = false;
  int64_t tasks = 0;
  int frameworks = 10;
  int connections = 8;
  std::string out;
};
// `failover agents= tasks= zk_session_ms= elected_ms= agents_back_ms=`
// (plus framework_back_ms= with real agents), measured from kill -9 of the
// leading master.
int runFailover(const FailoverOptions& options);

struct OffersOptions {
  int agents = 1000;
  int frameworks = 10;
  int connections = 8;
  double declinesPerSecond = 1000;  // resources given back (and re-offered) per second
  int seconds = 10;                 // measured window
  std::string out;
};
// `offers agents= frameworks= p50_ms= p99_ms= allocation_ms= master_cpu_pct=`:
// frameworks hold every offer and decline some at a steady rate; latency from
// a decline to the next offer of that agent, the allocator's run time (p99
// over the window) and the master's CPU use meanwhile.
int runOffers(const OffersOptions& options);

struct C1mOptions {
  int agents = 1000;
  int frameworks = 10;
  int64_t tasks = 10000;
  int connections = 8;
  int maxInFlight = 5;      // per framework (--max_in_flight)
  int taskRunMs = 1000;     // each task runs this long, then TASK_FINISHED
  int driverLoops = 2;      // FrameworkEmulatorOptions::driverLoops
  int timeoutSeconds = 1800;
  std::string minAllocatableResources;  // the master's flag; empty: its default
  bool traceHops = false;  // also p50/p99 of each hop of a task's path (HopTrace)
  std::string traceHopsOut;  // every task's stamps, to this file (needs traceHops)
  std::string masterLog;     // copy the master's log here at the end
  std::string out;
};
// `c1m agents= frameworks= tasks= seconds= launches_per_s= p50_ms= p99_ms=
// master_rss_mb=`: launches from the first accept to the last TASK_RUNNING at
// the schedulers; latency accept -> TASK_RUNNING; master RSS once every task
// finished.
int runC1m(const C1mOptions& options);

struct StateOptions {
  int agents = 1000;
  int64_t tasks = 10000;
  int pollers = 10;
  int frameworks = 10;
  int connections = 8;
  int seconds = 10;  // how long the pollers poll
  std::string out;
};
// `state agents= tasks= pollers= p50_ms= p99_ms= loop_lag_p99_ms= bytes=`:
// /master/state latency while `pollers` threads request it back to back, and
// the master loop's lag meanwhile.
int runState(const StateOptions& options);

struct ServicesOptions {
  int instances = 100;
  int runs = 3;
  bool http = true;  // python3 -m http.server with HTTP health checks; else `sleep`
  int timeoutSeconds = 300;
  std::string out;
};
// `services_scale instances= seconds= min_seconds= max_seconds= runs=`: the
// median time from POST /v2/apps of an app with N instances (cpus 0.01,
// mem 8) to all healthy, through tutti-services, tutti-master and one
// tutti-agent process.
int runServices(const ServicesOptions& options);

}  // namespace tutti::bench
