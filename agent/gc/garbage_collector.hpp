// GarbageCollector: removes sandboxes of ended executors (and other stale
// directories under the work dir) once they are old enough, as Mesos's
// agent does (--gc_delay, --gc_disk_headroom).
//
// A directory scheduled at time T is removed at T + gcDelay, or earlier
// when the disk fills up: every diskWatchInterval the work dir's disk usage
// u (0..1) sets the largest age kept to gcDelay × max(0, 1 − headroom − u),
// and everything scheduled longer ago goes. Removal runs on a worker thread
// (deleting a big sandbox must not stall the agent's loop); schedule and
// unschedule run on the loop thread. Errors are logged and counted
// (`slave/gc_errors`), never fatal.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/loop.hpp"
#include "common/metrics.hpp"

namespace tutti::agent {

class GarbageCollector {
 public:
  struct Options {
    Duration gcDelay = std::chrono::hours(24 * 7);
    double diskHeadroom = 0.1;
    Duration diskWatchInterval = std::chrono::minutes(1);
    std::string workDir;  // whose filesystem is watched
  };
  // Reports the work dir's disk usage in [0, 1]; the default reads statvfs.
  using DiskUsage = std::function<double()>;

  GarbageCollector(Loop& loop, Metrics& metrics, Options options, DiskUsage usage = nullptr);
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  void start();
  // Schedules `path` as of `since` (its owner ended then); rescheduling
  // keeps the later time.
  void schedule(const std::string& path, TimePoint since);
  // Keeps `path` after all (e.g. a recovered executor uses it).
  void unschedule(const std::string& path);
  size_t scheduled() const { return scheduled_.size(); }
  // Paths removed so far (the worker's count; any thread).
  size_t removed() const;
  // Waits until the worker has nothing queued (tests).
  void drain();

 private:
  void arm();
  void collect(Duration maxAge);
  void onDiskWatch();
  void work();

  Loop& loop_;
  Options options_;
  DiskUsage usage_;
  Counter& errors_;
  Counter& removedCounter_;
  std::map<std::string, TimePoint> scheduled_;  // path -> since
  Loop::TimerId timer_ = 0;
  Loop::TimerId watchTimer_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  size_t removed_ = 0;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tutti::agent
