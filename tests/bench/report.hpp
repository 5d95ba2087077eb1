// Helpers shared by tutti-bench scenarios: the one-line report (the
// scenario's name, then key=value pairs) that is also written as JSON to
// --out, and what /proc says about the master process.
//
// Thread: the scenario's controlling thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace tutti::bench {

class Report {
 public:
  explicit Report(std::string scenario) : scenario_(std::move(scenario)) {}
  void add(const std::string& key, long long value);
  void add(const std::string& key, double value, int decimals);
  // Prints the line to stdout and, when `out` is not empty, writes
  // {"scenario": ..., key: value, ...} there. False if the file cannot be written.
  bool emit(const std::string& out) const;

 private:
  std::string scenario_;
  std::vector<std::pair<std::string, std::string>> values_;  // in order, already formatted
};

// Milliseconds from `start` until now.
inline double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}
// Resident set size of the process, in MiB (-1 when unknown).
double rssMb(pid_t pid);
// CPU time (user + system) the process used so far, in seconds (-1 when unknown).
double cpuSeconds(pid_t pid);
// CPU time of the process's threads named `threadName` (a Loop names its
// thread after itself: "master" is the master's event loop), in seconds
// (-1 when no such thread).
double threadCpuSeconds(pid_t pid, const std::string& threadName);
// Prints to stderr where the master's loop spent its time: the `top`
// handlers and message types by total time, from its /metrics/snapshot.
void logLoopProfile(const std::string& scenario, int httpPort, size_t top = 12);

}  // namespace tutti::bench
