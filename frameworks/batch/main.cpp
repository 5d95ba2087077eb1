// tutti-batch: run a batch job (a DAG of stages of tasks) on a tutti cluster
// to completion; exits 0 only if every task succeeded. Uses only the public
// framework API (and an HTTP server for --port). See docs/batch.md.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "common/flags.hpp"
#include "common/host.hpp"
#include "common/http.hpp"
#include "common/transport.hpp"
#include "frameworks/batch/batch_scheduler.hpp"
#include "frameworks/batch/progress.hpp"
#include "tutti/scheduler.hpp"

DEFINE_string(master, "",
              "The master: HOST:PORT of its message port, or zk://host:port,.../path (required)");
DEFINE_bool(json, false, "Print progress as JSON lines (type progress, then one summary)");
DEFINE_string(state_dir, "",
              "Checkpoint progress here; a run restarted with the same directory resumes the "
              "job with its FrameworkID and does not rerun tasks that succeeded");
DEFINE_int32(port, -1, "Serve progress as JSON on http://127.0.0.1:PORT/status (0: any port)");
DEFINE_string(role, "*", "Role to subscribe with");
DEFINE_string(user, "", "User the framework runs as (default: the current user)");
DEFINE_double(failover_timeout, 7 * 24 * 3600.0,
              "With --state_dir: seconds the master keeps the framework's tasks while "
              "tutti-batch is away");
DEFINE_bool(checkpoint, false, "Ask agents to checkpoint the tasks (survive agent restarts)");

DEFINE_validator(master, &tutti::validateHostPortFlag);

namespace {

constexpr const char* kUsage =
    "tutti-batch: run a batch job on a tutti cluster.\n"
    "  tutti-batch run JOB.json --master=HOST:PORT [--json] [--state_dir=DIR] [--port=N]\n"
    "  tutti-batch validate JOB.json";

tutti::FrameworkInfo frameworkInfo(const tutti::batch::Job& job, const std::string& id) {
  tutti::FrameworkInfo info;
  info.name = "tutti-batch " + job.name;
  info.user = FLAGS_user.empty() ? tutti::currentUserName() : FLAGS_user;
  info.hostname = tutti::localHostname();
  info.roles = {FLAGS_role};
  info.checkpoint = FLAGS_checkpoint;
  info.capabilities = {tutti::FrameworkCapability::TASK_KILLING_STATE};
  if (!FLAGS_state_dir.empty()) {
    info.failoverTimeoutSecs = FLAGS_failover_timeout;
    if (!id.empty()) info.id = tutti::FrameworkID(id);
  }
  return info;
}

int run(const tutti::batch::Job& job) {
  using tutti::batch::Checkpoint;
  Checkpoint checkpoint;
  if (!FLAGS_state_dir.empty()) {
    auto loaded = Checkpoint::load(FLAGS_state_dir);
    if (!loaded.ok()) {
      std::cerr << "Cannot read --state_dir: " << loaded.error() << "\n";
      return 1;
    }
    checkpoint = *loaded;
    if (!checkpoint.job.empty() && checkpoint.job != job.name) {
      std::cerr << "--state_dir=" << FLAGS_state_dir << " holds job '" << checkpoint.job
                << "', not '" << job.name << "'\n";
      return 1;
    }
    if (!checkpoint.frameworkId.empty()) {
      std::cerr << "Resuming framework " << checkpoint.frameworkId << ": "
                << checkpoint.succeeded.size() << " task(s) already succeeded\n";
    }
  }

  // Signals go to a dedicated thread: Ctrl-C ends the job (its tasks killed).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  tutti::batch::BatchOptions options;
  options.stateDir = FLAGS_state_dir;
  tutti::batch::BatchScheduler scheduler(job, options, checkpoint);

  tutti::HttpServer server;
  if (FLAGS_port >= 0) {
    server.route("GET", "/status", [&](const tutti::HttpRequest&) {
      return tutti::HttpResponse::json(tutti::batch::toJson(scheduler.progress()).dump());
    });
    auto port = server.start("127.0.0.1", FLAGS_port);
    if (!port.ok()) {
      std::cerr << "Cannot serve --port=" << FLAGS_port << ": " << port.error() << "\n";
      return 1;
    }
    std::cerr << "Progress at http://127.0.0.1:" << *port << "/status\n";
  }

  using Mode = tutti::batch::ProgressPrinter::Mode;
  Mode mode = FLAGS_json ? Mode::kJson : isatty(STDOUT_FILENO) ? Mode::kTerminal : Mode::kPlain;
  tutti::batch::ProgressPrinter printer(std::cout, mode);

  tutti::TuttiSchedulerDriver driver(&scheduler, frameworkInfo(job, checkpoint.frameworkId),
                                     FLAGS_master);
  if (driver.start() != tutti::DriverStatus::DRIVER_RUNNING) {
    std::cerr << "Cannot start the scheduler driver (is --master right?)\n";
    return 1;
  }
  std::atomic<bool> finished{false};
  std::thread signals([&] {
    while (!finished.load()) {
      timespec timeout{0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &timeout);
      if (sig > 0) scheduler.cancel("interrupted by signal " + std::to_string(sig));
    }
  });
  auto lastDraw = std::chrono::steady_clock::now();
  while (!scheduler.waitDone(std::chrono::milliseconds(100))) {
    scheduler.tick(&driver);
    auto now = std::chrono::steady_clock::now();
    // A terminal redraws each second for the clock; other modes on change.
    if (mode != Mode::kTerminal || now - lastDraw >= std::chrono::seconds(1)) {
      printer.update(scheduler.progress());
      lastDraw = now;
    }
  }
  finished.store(true);
  signals.join();
  int code = scheduler.exitCode();
  printer.finish(scheduler.progress());
  // Success or failure, the job is over: tear the framework down (kills what
  // still runs). A checkpoint stays only for an interrupted run.
  driver.stop();
  driver.join();
  server.stop();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // The command and the job file are positional; parseFlags() takes only
  // flags (--name=value), so they are set aside first.
  std::vector<std::string> positional;
  std::vector<char*> flagArgs = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') {
      flagArgs.push_back(argv[i]);
    } else {
      positional.push_back(argv[i]);
    }
  }
  int flagArgc = static_cast<int>(flagArgs.size());
  char** flagArgv = flagArgs.data();
  tutti::parseFlags(&flagArgc, &flagArgv, kUsage);
  FLAGS_logtostderr = true;
  if (FLAGS_minloglevel == 0) FLAGS_minloglevel = 1;  // quiet unless asked
  google::InitGoogleLogging(argv[0]);
  if (positional.size() != 2 || (positional[0] != "run" && positional[0] != "validate")) {
    std::cerr << kUsage << "\n";
    return 1;
  }
  auto job = tutti::batch::loadJobFile(positional[1]);
  if (!job.ok()) {
    std::cerr << "Invalid job: " << job.error() << "\n";
    return 1;
  }
  if (positional[0] == "validate") {
    std::cout << "Job " << job->name << " is valid: " << job->stages.size() << " stage(s), "
              << job->totalTasks() << " task(s)\n";
    return 0;
  }
  if (FLAGS_master.empty()) {
    std::cerr << "--master is required (see --help)\n";
    return 1;
  }
  int code = run(*job);
  // The driver is gone: flush the TEARDOWN it queued before the process ends.
  tutti::terminateZmqContext();
  return code;
}
