// tutti-bench: benchmarks that print their figures. Run by hand; the test
// suite runs each at a tiny size so that it keeps working.
//
//   tutti-bench launch --tasks=1000
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstring>
#include <iostream>

#include "common/flags.hpp"
#include "tests/bench/bench.hpp"

DEFINE_int32(tasks, 1000, "launch: number of tasks");
DEFINE_int32(agents, 1000,
             "allocator, failover, register: number of agents (failover default: 10)");
DEFINE_int32(connections, 8, "register: connections the emulated agents share");
DEFINE_string(out, "", "register: also write the figures as JSON to this file");
DEFINE_int32(zk_session_timeout_ms, 2000, "failover: the masters' ZooKeeper session timeout");
DEFINE_int32(frameworks, 10, "allocator: number of frameworks");
DEFINE_bool(checkpoint, false, "launch: the framework asks agents to checkpoint its tasks");
DEFINE_string(containerizer, "process", "launch: containerizer (process)");
DEFINE_string(image, "",
              "launch: run the tasks in this Docker image (e.g. 127.0.0.1:5000/busybox:latest; "
              "'builtin' builds a busybox image and serves it from a local docker-registry)");
DEFINE_string(work_dir, "",
              "launch: parent directory for the agent's work_dir (default: $TMPDIR or /tmp); "
              "sandbox creation cost depends on its filesystem");

int main(int argc, char** argv) {
  const std::string usage =
      "tutti-bench SCENARIO [flags]\n\nScenarios:\n"
      "  launch   master + one agent in this process; launch --tasks=N `true` tasks through\n"
      "           the scheduler driver as fast as offers allow; compare with the machine's\n"
      "           plain posix_spawn+waitpid rate of /bin/true; with --image=NAME the tasks\n"
      "           run in that image through runc (pulled once first: pull_seconds)\n"
      "  failover ZooKeeper, three masters, --agents=N agents and a framework with a task\n"
      "           per agent; kill -9 the leader and time the recovery\n"
      "  allocator  the allocator alone: --agents=A --frameworks=F; full and event-triggered\n"
      "           allocation cycles\n"
      "  register --agents=N emulated agents (over --connections) register with a\n"
      "           tutti-master process; time and the master's RSS";
  if (argc < 2 || argv[1][0] == '-') {
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
      std::cout << usage << "\n";
      return 0;
    }
    std::cerr << usage << "\n";
    return 1;
  }
  std::string scenario = argv[1];
  // Drop the scenario so that gflags sees only flags.
  for (int i = 1; i + 1 < argc; ++i) argv[i] = argv[i + 1];
  --argc;
  tutti::parseFlags(&argc, &argv, usage);
  FLAGS_logtostderr = true;
  if (FLAGS_minloglevel == 0) FLAGS_minloglevel = 1;
  google::InitGoogleLogging(argv[0]);

  if (scenario == "launch") {
    if (FLAGS_containerizer != "process") {
      std::cerr << "launch: only --containerizer=process exists so far\n";
      return 1;
    }
    return tutti::bench::runLaunch(
        {FLAGS_tasks, FLAGS_containerizer, FLAGS_work_dir, FLAGS_checkpoint, FLAGS_image});
  }
  if (scenario == "failover") {
    int agents = gflags::GetCommandLineFlagInfoOrDie("agents").is_default ? 10 : FLAGS_agents;
    return tutti::bench::runFailover({agents, FLAGS_zk_session_timeout_ms});
  }
  if (scenario == "register") {
    return tutti::bench::runRegister({FLAGS_agents, FLAGS_connections, 300, FLAGS_out});
  }
  if (scenario == "allocator") {
    return tutti::bench::runAllocator({FLAGS_agents, FLAGS_frameworks});
  }
  std::cerr << "Unknown scenario '" << scenario << "'\n" << usage << "\n";
  return 1;
}
