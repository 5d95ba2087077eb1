#include "tests/bench/hop_trace.hpp"

#include <cstdio>

#include "tests/bench/framework_emulator.hpp"

namespace tutti::bench {

HopTrace::HopTrace(int frameworks, int64_t tasksPerFramework)
    : frameworks_(frameworks),
      perFramework_(tasksPerFramework),
      tasks_(static_cast<int64_t>(frameworks) * tasksPerFramework),
      stamps_(new std::atomic<int64_t>[static_cast<size_t>(kPoints * tasks_)]()) {}

int64_t HopTrace::slot(int framework, int64_t n) const {
  if (framework < 0 || framework >= frameworks_ || n < 0 || n >= perFramework_) return -1;
  return static_cast<int64_t>(framework) * perFramework_ + n;
}

void HopTrace::mark(Point point, int framework, int64_t n, int64_t nowNs) {
  int64_t s = slot(framework, n);
  if (s < 0) return;
  int64_t zero = 0;
  // The first time only (a resent update changes nothing).
  stamps_[static_cast<size_t>(point * tasks_ + s)].compare_exchange_strong(
      zero, nowNs, std::memory_order_relaxed);
}

void HopTrace::mark(Point point, const TaskID& task, int64_t nowNs) {
  auto name = parseBenchTaskId(task.value);
  if (name && name->attempt == 0) mark(point, name->framework, name->n, nowNs);
}

std::vector<HopTrace::Hop> HopTrace::summarize() const {
  static const char* kNames[] = {"accept_to_launch", "launch_to_starting",
                                 "starting_to_ack", "ack_to_running"};
  std::vector<Hop> hops;
  for (int p = 0; p + 1 < kPoints; ++p) {
    std::vector<double> ms;
    for (int64_t s = 0; s < tasks_; ++s) {
      int64_t a = stamps_[static_cast<size_t>(p * tasks_ + s)].load(std::memory_order_relaxed);
      int64_t b = stamps_[static_cast<size_t>((p + 1) * tasks_ + s)].load(std::memory_order_relaxed);
      if (a != 0 && b >= a) ms.push_back(static_cast<double>(b - a) / 1e6);
    }
    Hop h;
    h.name = kNames[p];
    h.p50Ms = percentile(ms, 0.50);
    h.p99Ms = percentile(ms, 0.99);
    hops.push_back(std::move(h));
  }
  return hops;
}

Status HopTrace::write(const std::string& path) const {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return Status::IoError("cannot write " + path);
  std::fprintf(f, "task accepted launched starting starting_acked running\n");
  for (int64_t s = 0; s < tasks_; ++s) {
    std::fprintf(f, "%s",
                 benchTaskId({static_cast<int>(s / perFramework_), s % perFramework_, 0}).c_str());
    for (int p = 0; p < kPoints; ++p) {
      std::fprintf(f, " %lld",
                   static_cast<long long>(
                       stamps_[static_cast<size_t>(p * tasks_ + s)].load(std::memory_order_relaxed)));
    }
    std::fprintf(f, "\n");
  }
  return std::fclose(f) == 0 ? Status::OK() : Status::IoError("cannot write " + path);
}

}  // namespace tutti::bench
