// Metrics: one registry per daemon, Mesos-style names
// (`master/tasks_running`, `master/messages_dropped`).
//
// Counters are atomic and may be incremented from any thread. Gauges are
// functions evaluated by snapshot(); they read component state, so snapshot()
// must run on the component's loop thread. Histograms keep the last value
// and a sliding window for percentiles (exposed as `name`, `name/count`,
// `name/p50`, `name/p99`, `name/max`).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tutti {

class Counter {
 public:
  void inc(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(size_t window = 1024) : window_(window) {}
  void record(double value);
  struct Summary {
    uint64_t count = 0;
    double last = 0, p50 = 0, p99 = 0, max = 0;
  };
  Summary summary() const;

 private:
  mutable std::mutex mu_;
  size_t window_;
  std::vector<double> values_;
  size_t pos_ = 0;
  uint64_t count_ = 0;
  double last_ = 0;
  double max_ = 0;  // meaningful once count_ > 0
};

class Metrics {
 public:
  // Returns the counter with this name, creating it at zero. The reference
  // stays valid for the registry's lifetime.
  Counter& counter(const std::string& name);
  Histogram& histogram(const std::string& name);
  // Registers (or replaces) a gauge.
  void gauge(const std::string& name, std::function<double()> fn);
  void removeGauge(const std::string& name);

  // All values by name. Calls the gauges: run on the owning loop's thread.
  std::map<std::string, double> snapshot() const;
  // Prometheus text exposition of snapshot(): `/` and other characters
  // outside [a-zA-Z0-9_:] become `_`.
  static std::string toPrometheus(const std::map<std::string, double>& snapshot);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Histogram>> histograms_;
  std::map<std::string, std::function<double()>> gauges_;
};

}  // namespace tutti
