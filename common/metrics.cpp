#include "common/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace tutti {

void Histogram::record(double value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (values_.size() < window_) {
    values_.push_back(value);
  } else {
    values_[pos_++ % window_] = value;
  }
  ++count_;
  last_ = value;
  max_ = count_ == 1 ? value : std::max(max_, value);
}

Histogram::Summary Histogram::summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  Summary s;
  s.count = count_;
  s.last = last_;
  s.max = max_;
  if (!values_.empty()) {
    std::vector<double> sorted = values_;
    std::sort(sorted.begin(), sorted.end());
    s.p50 = sorted[(sorted.size() - 1) / 2];
    s.p99 = sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)];
  }
  return s;
}

Counter& Metrics::counter(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Metrics::histogram(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = histograms_[name];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

void Metrics::gauge(const std::string& name, std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name] = std::move(fn);
}

void Metrics::removeGauge(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.erase(name);
}

std::map<std::string, double> Metrics::snapshot() const {
  std::map<std::string, double> out;
  std::map<std::string, std::function<double()>> gauges;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, c] : counters_) out[name] = static_cast<double>(c->value());
    for (const auto& [name, h] : histograms_) {
      auto s = h->summary();
      out[name] = s.last;
      out[name + "/count"] = static_cast<double>(s.count);
      out[name + "/p50"] = s.p50;
      out[name + "/p99"] = s.p99;
      out[name + "/max"] = s.max;
    }
    gauges = gauges_;
  }
  for (const auto& [name, fn] : gauges) out[name] = fn();
  return out;
}

std::string Metrics::toPrometheus(const std::map<std::string, double>& snapshot) {
  std::ostringstream os;
  for (const auto& [name, value] : snapshot) {
    std::string n;
    n.reserve(name.size());
    for (char c : name) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == ':';
      n.push_back(ok ? c : '_');
    }
    if (!n.empty() && n[0] >= '0' && n[0] <= '9') n.insert(n.begin(), '_');
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", value);
    os << n << ' ' << buf << '\n';
  }
  return os.str();
}

}  // namespace tutti
