// tutti-execute: run one command (or N copies) on the cluster and exit with
// its status, like mesos-execute. Uses only the public framework API.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/duration.hpp"
#include "common/flags.hpp"
#include "common/host.hpp"
#include "common/transport.hpp"
#include "frameworks/execute/execute_scheduler.hpp"
#include "tutti/scheduler.hpp"
#include "common/json.hpp"

DEFINE_string(master, "",
              "The master: HOST:PORT of its message port, or zk://host:port,.../path (required)");
DEFINE_string(name, "tutti-execute", "Task name; with --instances=N, task ids are NAME-0..N-1");
DEFINE_string(command, "",
              "Shell command to run (required unless --docker_image is given: then the "
              "image's Entrypoint/Cmd runs)");
DEFINE_string(docker_image, "",
              "Run the task in this Docker image, e.g. 127.0.0.1:5000/busybox:latest");
DEFINE_string(resources, "cpus:0.1;mem:32", "Resources for each task");
DEFINE_int32(instances, 1, "How many copies of the task to run");
DEFINE_string(env, "", "Environment for the task as a JSON object, e.g. '{\"FOO\":\"bar\"}'");
DEFINE_string(role, "*", "Role to subscribe with");
DEFINE_string(user, "", "User the framework runs as (default: the current user)");
DEFINE_string(framework_name, "tutti-execute", "Framework name");
DEFINE_string(kill_after, "", "Kill the task(s) after this long, e.g. 10secs");
DEFINE_string(grace_period, "", "Kill grace period between SIGTERM and SIGKILL (default 3secs)");
DEFINE_bool(group, false,
            "Launch the --instances as one task group (Mesos's LAUNCH_GROUP) under a default "
            "executor on one agent: they start together, and when one fails or is killed "
            "the others are killed");
DEFINE_bool(partition_aware, false, "Subscribe with the PARTITION_AWARE capability");
DEFINE_bool(checkpoint, false,
            "Ask agents to checkpoint the tasks, so that they survive an agent restart");

DEFINE_validator(master, &tutti::validateHostPortFlag);
DEFINE_validator(resources, &tutti::validateResourcesFlag);

namespace {
bool validateOptionalDuration(const char* flag, const std::string& v) {
  return v.empty() || tutti::validateDurationFlag(flag, v);
}
bool validateInstances(const char* flag, int32_t v) {
  if (v < 1 || v > 1000000) {
    std::cerr << "Invalid value for --" << flag << ": " << v << " (1 to 1000000)\n";
    return false;
  }
  return true;
}
bool validateRole(const char* flag, const std::string& v) {
  auto s = tutti::validateRoleName(v);
  if (!s.ok()) std::cerr << "Invalid value for --" << flag << ": " << s.message() << "\n";
  return s.ok();
}
}  // namespace
DEFINE_validator(kill_after, &validateOptionalDuration);
DEFINE_validator(grace_period, &validateOptionalDuration);
DEFINE_validator(instances, &validateInstances);
DEFINE_validator(role, &validateRole);

int main(int argc, char** argv) {
  tutti::parseFlags(&argc, &argv,
                    "tutti-execute: run a command (or N copies) on a tutti cluster and exit with "
                    "its status.");
  FLAGS_logtostderr = true;
  if (FLAGS_minloglevel == 0) FLAGS_minloglevel = 1;  // quiet unless asked
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_master.empty() || (FLAGS_command.empty() && FLAGS_docker_image.empty())) {
    std::cerr << "--master and --command (or --docker_image) are required (see --help)\n";
    return 1;
  }

  tutti::execute::ExecuteOptions options;
  options.name = FLAGS_name;
  options.command = FLAGS_command;
  options.image = FLAGS_docker_image;
  // Quantities: taken from what is reserved for --role, then unreserved
  // (as mesos-execute does).
  options.resources = *tutti::Resources::parse(FLAGS_resources);
  if (options.resources.empty()) {
    std::cerr << "--resources must not be empty\n";
    return 1;
  }
  options.instances = FLAGS_instances;
  options.group = FLAGS_group;
  if (FLAGS_group && !FLAGS_docker_image.empty()) {
    std::cerr << "--group runs the tasks on the host: it does not go with --docker_image\n";
    return 1;
  }
  if (!FLAGS_grace_period.empty()) {
    options.killGracePeriod = *tutti::parseDuration(FLAGS_grace_period);
  }
  if (!FLAGS_env.empty()) {
    auto j = tutti::json::parse(FLAGS_env);
    if (j.is_discarded() || !j.is_object()) {
      std::cerr << "Invalid value for --env: expected a JSON object of strings\n";
      return 1;
    }
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) {
        std::cerr << "Invalid value for --env: the value of '" << k << "' is not a string\n";
        return 1;
      }
      options.env.push_back({k, v.get<std::string>()});
    }
  }

  tutti::FrameworkInfo info;
  info.name = FLAGS_framework_name;
  info.user = FLAGS_user.empty() ? tutti::currentUserName() : FLAGS_user;
  info.hostname = tutti::localHostname();
  info.roles = {FLAGS_role};
  info.capabilities = {tutti::FrameworkCapability::TASK_KILLING_STATE};
  info.checkpoint = FLAGS_checkpoint;
  if (FLAGS_partition_aware) {
    info.capabilities.push_back(tutti::FrameworkCapability::PARTITION_AWARE);
  }

  // Signals are taken by a dedicated thread: Ctrl-C kills the tasks first.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  int code = 1;
  {
    tutti::execute::ExecuteScheduler scheduler(options, std::cout);
    tutti::TuttiSchedulerDriver driver(&scheduler, info, FLAGS_master);
    if (driver.start() != tutti::DriverStatus::DRIVER_RUNNING) {
      std::cerr << "Cannot start the scheduler driver (is --master right?)\n";
      return 1;
    }
    std::atomic<bool> finished{false};
    std::thread signals([&] {
      while (!finished.load()) {
        timespec timeout{0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, nullptr, &timeout);
        if (sig > 0) {
          std::cout << "Received signal " << sig << "; killing the task(s)" << std::endl;
          scheduler.killAll(&driver);
        }
      }
    });
    std::thread killer;
    if (!FLAGS_kill_after.empty()) {
      auto after = *tutti::parseDuration(FLAGS_kill_after);
      killer = std::thread([&, after] {
        auto deadline = std::chrono::steady_clock::now() + after;
        while (!finished.load() && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (!finished.load()) {
          std::cout << "Killing the task(s) after " << FLAGS_kill_after << std::endl;
          scheduler.killAll(&driver);
        }
      });
    }
    scheduler.waitUntilDone();
    finished.store(true);
    signals.join();
    if (killer.joinable()) killer.join();
    code = scheduler.exitCode();
    driver.stop();
    driver.join();
  }
  // Flush the TEARDOWN the driver queued before the process ends.
  tutti::terminateZmqContext();
  return code;
}
