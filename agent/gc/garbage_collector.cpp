#include "agent/gc/garbage_collector.hpp"

#include <glog/logging.h>

#include <algorithm>

#include "common/duration.hpp"
#include "common/files.hpp"

namespace tutti::agent {

GarbageCollector::GarbageCollector(Loop& loop, Metrics& metrics, Options options, DiskUsage usage)
    : loop_(loop),
      options_(std::move(options)),
      usage_(std::move(usage)),
      errors_(metrics.counter("slave/gc_errors")),
      removedCounter_(metrics.counter("slave/gc_removed")) {
  if (!usage_) {
    usage_ = [dir = options_.workDir] { return filesystemUsage(dir); };
  }
  worker_ = std::thread([this] { work(); });
}

GarbageCollector::~GarbageCollector() {
  if (timer_) loop_.cancel(timer_);
  if (watchTimer_) loop_.cancel(watchTimer_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void GarbageCollector::start() {
  watchTimer_ = loop_.after(options_.diskWatchInterval, "gc.disk_watch", [this] { onDiskWatch(); });
}

void GarbageCollector::schedule(const std::string& path, TimePoint since) {
  auto [it, inserted] = scheduled_.emplace(path, since);
  if (!inserted) it->second = std::max(it->second, since);
  arm();
}

void GarbageCollector::unschedule(const std::string& path) {
  scheduled_.erase(path);
  {
    // Also when it is already queued for the worker (not when the worker
    // is removing it right now).
    std::lock_guard<std::mutex> lock(mu_);
    queue_.erase(std::remove(queue_.begin(), queue_.end(), path), queue_.end());
  }
  arm();
}

void GarbageCollector::arm() {
  if (timer_) loop_.cancel(timer_);
  timer_ = 0;
  if (scheduled_.empty()) return;
  TimePoint earliest = TimePoint::max();
  for (const auto& [_, since] : scheduled_) earliest = std::min(earliest, since);
  Duration wait = std::max<Duration>(Duration(0), earliest + options_.gcDelay - loop_.now());
  timer_ = loop_.after(wait, "gc.collect", [this] {
    timer_ = 0;
    collect(options_.gcDelay);
    arm();
  });
}

void GarbageCollector::collect(Duration maxAge) {
  TimePoint now = loop_.now();
  std::vector<std::string> due;
  for (auto it = scheduled_.begin(); it != scheduled_.end();) {
    if (now - it->second >= maxAge) {
      due.push_back(it->first);
      it = scheduled_.erase(it);
    } else {
      ++it;
    }
  }
  if (due.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& p : due) queue_.push_back(std::move(p));
  }
  cv_.notify_all();
}

void GarbageCollector::onDiskWatch() {
  watchTimer_ = 0;
  double usage = usage_();
  double keep = std::max(0.0, 1.0 - options_.diskHeadroom - usage);
  auto maxAge = std::chrono::duration_cast<Duration>(options_.gcDelay * keep);
  if (maxAge < options_.gcDelay) {
    LOG(INFO) << "Disk usage " << static_cast<int>(usage * 100)
              << "%: removing sandboxes older than " << formatDuration(maxAge);
    collect(maxAge);
    arm();
  }
  watchTimer_ = loop_.after(options_.diskWatchInterval, "gc.disk_watch", [this] { onDiskWatch(); });
}

void GarbageCollector::work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    Status s = removeTree(path);
    if (!s.ok()) {
      errors_.inc();
      LOG(WARNING) << "Cannot remove " << path << ": " << s;
    } else {
      removedCounter_.inc();
      VLOG(1) << "Removed " << path;
    }
    lock.lock();
    busy_ = false;
    ++removed_;
    cv_.notify_all();
  }
}

size_t GarbageCollector::removed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return removed_;
}

void GarbageCollector::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stopping_ || (queue_.empty() && !busy_); });
}

}  // namespace tutti::agent
