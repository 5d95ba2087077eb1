// tutti-bench: benchmarks that print their figures. Run by hand; the test
// suite runs each at a tiny size so that it keeps working.
//
//   tutti-bench launch --tasks=1000
//   tutti-bench register --agents=50000
//   tutti-bench offers --agents=50000 --frameworks=100
//   tutti-bench c1m --agents=50000 --frameworks=100 --tasks=1000000
//   tutti-bench state --agents=10000 --tasks=100000 --pollers=10
//   tutti-bench failover --agents=10000 --tasks=100000
//   tutti-bench services --tasks=100 --runs=3
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstring>
#include <iostream>

#include "common/duration.hpp"
#include "common/flags.hpp"
#include "tests/bench/bench.hpp"

DEFINE_int64(tasks, 1000,
             "launch, c1m, state: number of tasks; failover: tasks in all (emulated agents)");
DEFINE_int32(agents, 1000, "number of agents (failover default: 10)");
DEFINE_int32(connections, 8, "emulated agents: the connections they share");
DEFINE_string(out, "", "also write the figures as JSON to this file");
DEFINE_string(zk_session_timeout, "2secs",
              "failover: the masters' and agents' ZooKeeper session timeout (e.g. 2secs)");
DEFINE_int32(frameworks, 10, "allocator, offers, c1m, state, failover: number of frameworks");
DEFINE_bool(emulated, false,
            "failover: emulated agents and frameworks (implied by --tasks) instead of "
            "tutti-agent processes");
DEFINE_double(declines_per_second, 1000, "offers: offers declined (and re-offered) per second");
DEFINE_int32(seconds, 10, "offers, state: length of the measured window");
DEFINE_int32(pollers, 10, "state: threads requesting /master/state back to back");
DEFINE_int32(max_in_flight, 5,
             "c1m: tasks a framework has launched and not yet seen TASK_RUNNING, at most "
             "(the rate against latency: docs/operations.md)");
DEFINE_int32(task_run_ms, 1000, "c1m: how long each task runs before TASK_FINISHED");
DEFINE_int32(driver_loops, 2,
             "c1m: loops (one thread each) the emulated frameworks' scheduler drivers share; "
             "0: every driver on a thread of its own");
DEFINE_string(min_allocatable_resources, "",
              "c1m: the master's --min_allocatable_resources (empty: the master's default)");
DEFINE_validator(min_allocatable_resources, &tutti::validateResourceAlternativesFlag);
DEFINE_bool(trace_hops, false,
            "c1m: also report p50/p99 of each hop of a task's path (accept -> agent -> "
            "STARTING -> its acknowledgement -> RUNNING)");
DEFINE_string(trace_hops_out, "",
              "c1m: write every task's stamps (steady ns) to this file (implies --trace_hops)");
DEFINE_string(master_log, "", "c1m: copy the master's log to this file at the end");
DEFINE_int32(timeout_seconds, 1800, "c1m: give up after this long in each phase");
DEFINE_int32(group_size, 0,
             "launch: > 0 launches the tasks in LAUNCH_GROUPs of this many, each group under "
             "one default executor (0: a command executor per task)");
DEFINE_bool(checkpoint, false, "launch: the framework asks agents to checkpoint its tasks");
DEFINE_string(containerizer, "process", "launch: containerizer (process)");
DEFINE_string(oci_runtime, "tutti-runtime",
              "launch --image: the agent's OCI runtime (tutti-runtime, runc)");
DEFINE_string(image, "",
              "launch: run the tasks in this Docker image (e.g. 127.0.0.1:5000/busybox:latest; "
              "'builtin' builds a busybox image and serves it from a local docker-registry)");
DEFINE_bool(hold, false,
            "launch: tasks run until killed; once all are running the framework kills them, "
            "timing launch and destroy apart (kill_seconds)");
DEFINE_int32(runs, 3, "services: runs (the median is reported)");
DEFINE_string(health, "http",
              "services: http (python3 -m http.server, HTTP health checks) or none (sleep)");
DEFINE_string(work_dir, "",
              "launch: parent directory for the agent's work_dir (default: $TMPDIR or /tmp); "
              "sandbox creation cost depends on its filesystem");

int main(int argc, char** argv) {
  const std::string usage =
      "tutti-bench SCENARIO [flags]\n\nScenarios:\n"
      "  launch   master + one agent in this process; launch --tasks=N `true` tasks through\n"
      "           the scheduler driver as fast as offers allow; compare with the machine's\n"
      "           plain posix_spawn+waitpid rate of /bin/true; with --image=NAME the tasks\n"
      "           run in that image through runc (pulled once first: pull_seconds); with\n"
      "           --hold they run until killed, and the kills are timed apart\n"
      "  failover ZooKeeper, three masters, --agents=N agents and a framework with a task\n"
      "           per agent; kill -9 the leader and time the recovery\n"
      "  allocator  the allocator alone: --agents=A --frameworks=F; full and event-triggered\n"
      "           allocation cycles\n"
      "  register --agents=N emulated agents (over --connections) register with a\n"
      "           tutti-master process; time and the master's RSS\n"
      "  offers   --agents=N emulated agents, --frameworks=F emulated frameworks holding\n"
      "           every offer and declining --declines_per_second; offer latency,\n"
      "           allocation time and master CPU over --seconds\n"
      "  c1m      --frameworks=F launch --tasks=T tasks (each runs --task_run_ms) on\n"
      "           --agents=N emulated agents; launches/s, accept->RUNNING latency, RSS\n"
      "  state    --agents=N emulated agents run --tasks=T tasks; --pollers=P threads\n"
      "           request /master/state for --seconds; latency, size, master loop lag\n"
      "  failover with --tasks=T (or --emulated): emulated agents and frameworks instead\n"
      "           of tutti-agent processes\n"
      "  services tutti-services with a master and one agent: POST an app of --tasks=N\n"
      "           instances, time until all are healthy (--health=http) or running\n"
      "           (--health=none); median of --runs";
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
    if (FLAGS_group_size < 0 || (FLAGS_group_size > 0 && !FLAGS_image.empty())) {
      std::cerr << "launch: --group_size must be >= 0, and groups run on the host (no --image)\n";
      return 1;
    }
    return tutti::bench::runLaunch(
        {static_cast<int>(FLAGS_tasks), FLAGS_containerizer, FLAGS_work_dir, FLAGS_checkpoint,
         FLAGS_image, FLAGS_hold, FLAGS_oci_runtime, FLAGS_group_size});
  }
  auto given = [](const char* flag) { return !gflags::GetCommandLineFlagInfoOrDie(flag).is_default; };
  if (scenario == "failover") {
    tutti::bench::FailoverOptions o;
    o.agents = given("agents") ? FLAGS_agents : 10;
    auto timeout = tutti::parseDuration(FLAGS_zk_session_timeout);
    if (!timeout.ok()) {
      std::fprintf(stderr, "Invalid value for --zk_session_timeout: '%s' (e.g. 2secs)\n",
                   FLAGS_zk_session_timeout.c_str());
      return 1;
    }
    o.zkSessionTimeout = *timeout;
    o.emulated = FLAGS_emulated || given("tasks");
    o.tasks = given("tasks") ? FLAGS_tasks : 10LL * o.agents;
    o.frameworks = FLAGS_frameworks;
    o.connections = FLAGS_connections;
    o.out = FLAGS_out;
    return tutti::bench::runFailover(o);
  }
  if (scenario == "register") {
    return tutti::bench::runRegister({FLAGS_agents, FLAGS_connections, 300, FLAGS_out});
  }
  if (scenario == "offers") {
    tutti::bench::OffersOptions o;
    o.agents = FLAGS_agents;
    o.frameworks = FLAGS_frameworks;
    o.connections = FLAGS_connections;
    o.declinesPerSecond = FLAGS_declines_per_second;
    o.seconds = FLAGS_seconds;
    o.out = FLAGS_out;
    return tutti::bench::runOffers(o);
  }
  if (scenario == "c1m") {
    if (FLAGS_driver_loops < 0) {
      std::fprintf(stderr, "Invalid value for --driver_loops: %d (0 or more)\n",
                   FLAGS_driver_loops);
      return 1;
    }
    tutti::bench::C1mOptions o;
    o.agents = FLAGS_agents;
    o.frameworks = FLAGS_frameworks;
    o.tasks = FLAGS_tasks;
    o.connections = FLAGS_connections;
    o.maxInFlight = FLAGS_max_in_flight;
    o.taskRunMs = FLAGS_task_run_ms;
    o.driverLoops = FLAGS_driver_loops;
    o.timeoutSeconds = FLAGS_timeout_seconds;
    o.minAllocatableResources = FLAGS_min_allocatable_resources;
    o.traceHops = FLAGS_trace_hops || !FLAGS_trace_hops_out.empty();
    o.traceHopsOut = FLAGS_trace_hops_out;
    o.masterLog = FLAGS_master_log;
    o.out = FLAGS_out;
    return tutti::bench::runC1m(o);
  }
  if (scenario == "state") {
    tutti::bench::StateOptions o;
    o.agents = FLAGS_agents;
    o.tasks = FLAGS_tasks;
    o.pollers = FLAGS_pollers;
    o.frameworks = FLAGS_frameworks;
    o.connections = FLAGS_connections;
    o.seconds = FLAGS_seconds;
    o.out = FLAGS_out;
    return tutti::bench::runState(o);
  }
  if (scenario == "services") {
    tutti::bench::ServicesOptions o;
    o.instances = given("tasks") ? static_cast<int>(FLAGS_tasks) : 100;
    o.runs = FLAGS_runs;
    o.http = FLAGS_health == "http";
    o.out = FLAGS_out;
    return tutti::bench::runServices(o);
  }
  if (scenario == "allocator") {
    return tutti::bench::runAllocator({FLAGS_agents, FLAGS_frameworks});
  }
  std::cerr << "Unknown scenario '" << scenario << "'\n" << usage << "\n";
  return 1;
}
