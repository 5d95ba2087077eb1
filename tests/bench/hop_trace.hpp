// HopTrace: where a c1m task's accept -> TASK_RUNNING time goes. The
// emulated frameworks and agents run in one process, so one steady clock
// stamps every point of a task's path and the hops between them can be told
// apart:
//
//   accepted -> launched (at the agent)        scheduler -> master -> agent
//   launched -> starting (at the scheduler)    agent -> master -> scheduler
//   starting -> starting acked (at the agent)  scheduler -> master -> agent
//   starting acked -> running (at scheduler)   agent -> master -> scheduler
//
// The agent sends TASK_RUNNING only once TASK_STARTING is acknowledged (as
// Mesos's status update manager keeps a task's updates in order), so the
// path crosses the master four times.
//
// Only first attempts of tasks named "f<framework>-<n>" are traced. mark()
// is safe from any thread (relaxed atomics: a stamp is read only after the
// run); summarize() once the tasks ran.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti::bench {

class HopTrace {
 public:
  enum Point : int {
    kAccepted = 0,
    kLaunchedAtAgent,
    kStartingAtScheduler,
    kStartingAckedAtAgent,
    kRunningAtScheduler,
    kPoints
  };

  HopTrace(int frameworks, int64_t tasksPerFramework);

  void mark(Point point, int framework, int64_t n, int64_t nowNs);
  // The task id's framework and number; ignored when it is not a first
  // attempt's "f<framework>-<n>".
  void mark(Point point, const TaskID& task, int64_t nowNs);

  struct Hop {
    std::string name;  // "accept_to_launch", …
    double p50Ms = 0;
    double p99Ms = 0;
  };
  // Per hop over the tasks that passed both of its points.
  std::vector<Hop> summarize() const;
  // Every traced task's stamps (steady-clock ns, 0: not reached), one line
  // each: "f<framework>-<n> accepted launched starting starting_acked running".
  Status write(const std::string& path) const;

 private:
  int64_t slot(int framework, int64_t n) const;

  int frameworks_;
  int64_t perFramework_;
  int64_t tasks_;  // frameworks_ * perFramework_
  std::unique_ptr<std::atomic<int64_t>[]> stamps_;  // [point][framework][n]; 0: not yet
};

}  // namespace tutti::bench
