#include "tests/bench/report.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <algorithm>

#include "tests/fixtures/cluster.hpp"

namespace tutti::bench {

void Report::add(const std::string& key, long long value) {
  values_.emplace_back(key, std::to_string(value));
}

void Report::add(const std::string& key, double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  values_.emplace_back(key, buf);
}

bool Report::emit(const std::string& out) const {
  std::string line = scenario_;
  std::string json = "{\"scenario\":\"" + scenario_ + "\"";
  for (const auto& [k, v] : values_) {
    line += " " + k + "=" + v;
    json += ",\"" + k + "\":" + v;
  }
  json += "}\n";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (out.empty()) return true;
  std::ofstream f(out);
  f << json;
  return static_cast<bool>(f);
}

double rssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

namespace {
// utime + stime of a /proc/.../stat file, in seconds (-1 when unreadable).
double statCpuSeconds(const std::string& statPath) {
  std::ifstream in(statPath);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}
}  // namespace

double cpuSeconds(pid_t pid) { return statCpuSeconds("/proc/" + std::to_string(pid) + "/stat"); }

double threadCpuSeconds(pid_t pid, const std::string& threadName) {
  std::error_code ec;
  std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  double total = -1;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != threadName) continue;
    double s = statCpuSeconds((entry.path() / "stat").string());
    if (s >= 0) total = (total < 0 ? 0 : total) + s;
  }
  return total;
}

void logLoopProfile(const std::string& scenario, int httpPort, size_t top) {
  auto m = testing::getJson(httpPort, "/metrics/snapshot");
  if (!m.is_object()) return;
  struct Row {
    std::string name;
    double totalMs, count, maxMs;
  };
  std::vector<Row> rows;
  const std::string suffix = "/total_ms";
  for (const auto& [key, value] : m.items()) {
    bool loop = key.rfind("master/loop/", 0) == 0, handler = key.rfind("master/handlers/", 0) == 0;
    if ((!loop && !handler) || key.size() < suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string base = key.substr(0, key.size() - suffix.size());
    rows.push_back({base, value.get<double>(), m.value(base + "/count", 0.0),
                    m.value(base + "/max_ms", 0.0)});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.totalMs > b.totalMs; });
  std::fprintf(stderr, "%s: master loop profile (total ms, count, mean us, max ms):\n",
               scenario.c_str());
  for (size_t i = 0; i < rows.size() && i < top; ++i) {
    const Row& r = rows[i];
    std::fprintf(stderr, "  %-50s %10.1f %10.0f %8.1f %8.1f\n", r.name.c_str(), r.totalMs, r.count,
                 r.count > 0 ? 1000 * r.totalMs / r.count : 0, r.maxMs);
  }
}

}  // namespace tutti::bench
