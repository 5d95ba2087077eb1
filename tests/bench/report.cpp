#include "tests/bench/report.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

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

double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
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

}  // namespace tutti::bench
