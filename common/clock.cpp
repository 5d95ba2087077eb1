#include "common/clock.hpp"

#include <vector>

namespace tutti {

TimePoint RealClock::now() const {
  return std::chrono::duration_cast<TimePoint>(
      std::chrono::steady_clock::now().time_since_epoch());
}

double RealClock::wallSeconds() const {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RealClock& RealClock::instance() {
  static RealClock clock;
  return clock;
}

ManualClock::ManualClock() : wallStart_(1767225600.0) {}

double ManualClock::wallSeconds() const {
  return wallStart_ + static_cast<double>(nanos_.load()) / 1e9;
}

void ManualClock::advance(Duration d) {
  nanos_.fetch_add(d.count());
  std::vector<std::function<void()>> toCall;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [_, fn] : listeners_) toCall.push_back(fn);
  }
  for (auto& fn : toCall) fn();
}

uint64_t ManualClock::addListener(std::function<void()> onAdvance) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t h = nextHandle_++;
  listeners_[h] = std::move(onAdvance);
  return h;
}

void ManualClock::removeListener(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(handle);
}

}  // namespace tutti
