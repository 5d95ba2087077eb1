// tutti-executor: the built-in command executor, started by the agent once
// per command task. It takes no flags; the agent passes everything through
// the environment (TUTTI_AGENT_ENDPOINT, TUTTI_FRAMEWORK_ID, …).
#include <glog/logging.h>
#include <malloc.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "agent/executor/command_executor.hpp"
#include "common/transport.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::cout << "Usage: tutti-executor\n\nThe built-in executor. The tutti agent starts it once "
                 "per command task, or as\nthe default executor of task groups "
                 "(TUTTI_EXECUTOR_TYPE=default), and\nconfigures it through the environment "
                 "(TUTTI_AGENT_ENDPOINT,\nTUTTI_FRAMEWORK_ID, TUTTI_EXECUTOR_ID). It takes no "
                 "flags.\n";
    return 0;
  }
  // One malloc arena for all threads (ZeroMQ's included): each further
  // arena is a 64 MiB reservation grown by mprotect, page-table work that a
  // short-lived process per task pays for again and again.
  mallopt(M_ARENA_MAX, 1);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // A task's SIGPIPE or a terminal's SIGINT must not take the executor down.
  signal(SIGPIPE, SIG_IGN);

  tutti::Loop loop(tutti::RealClock::instance(), tutti::Loop::Options{"executor", std::chrono::milliseconds(100)});
  // The agent says which kind: the default executor of task groups, or the
  // command executor of one task.
  const char* type = std::getenv("TUTTI_EXECUTOR_TYPE");
  auto kind = type && std::strcmp(type, "default") == 0
                  ? tutti::executor::CommandExecutor::Kind::kDefault
                  : tutti::executor::CommandExecutor::Kind::kCommand;
  tutti::executor::CommandExecutor executor(loop, [&loop] { loop.stop(); }, kind);
  // One thread runs both: the driver's callbacks arrive on the executor's
  // loop (a process per task pays for every thread it starts).
  tutti::TuttiExecutorDriver driver(&executor, loop);
  executor.setDriver(&driver);
  if (driver.start() != tutti::DriverStatus::DRIVER_RUNNING) {
    std::cerr << "tutti-executor: cannot start (is it run by a tutti agent?)\n";
    return 1;
  }
  loop.run();
  driver.stop();
  driver.join();
  return 0;
}
