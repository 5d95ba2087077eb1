// Clock: the one source of time for loops, timers, timeouts and timestamps.
//
// RealClock reads the system clocks. ManualClock only moves when a test calls
// advance(); loops that use it are woken so that due timers fire. Both are
// thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace tutti {

using Duration = std::chrono::nanoseconds;
// Monotonic time since an arbitrary epoch.
using TimePoint = std::chrono::nanoseconds;

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using std::chrono_literals::operator""min;
using std::chrono_literals::operator""us;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time.
  virtual TimePoint now() const = 0;
  // Seconds since the UNIX epoch, for timestamps shown to people.
  virtual double wallSeconds() const = 0;

  // Registers a callback run (on the advancing thread) when time jumps, so
  // loops can wake up. RealClock never calls it. Returns a handle.
  virtual uint64_t addListener(std::function<void()> onAdvance) { return 0; }
  virtual void removeListener(uint64_t handle) {}
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override;
  double wallSeconds() const override;
  // A process-wide instance.
  static RealClock& instance();
};

class ManualClock final : public Clock {
 public:
  // Starts at a fixed, recognisable wall time (2026-01-01T00:00:00Z).
  ManualClock();
  TimePoint now() const override { return TimePoint(nanos_.load()); }
  double wallSeconds() const override;
  void advance(Duration d);

  uint64_t addListener(std::function<void()> onAdvance) override;
  void removeListener(uint64_t handle) override;

 private:
  std::atomic<int64_t> nanos_{0};
  double wallStart_;
  std::mutex mu_;
  uint64_t nextHandle_ = 1;
  std::map<uint64_t, std::function<void()>> listeners_;
};

// Milliseconds as a double, for logs and metrics.
inline double toMillis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline Duration fromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace tutti
