#include "agent/containerizer/proc_usage.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "common/files.hpp"

namespace tutti::agent {

bool parseProcStat(std::string_view text, ProcStat* out) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice threads itreal start vsize rss
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return false;
  std::istringstream in{std::string(text.substr(close + 1))};
  std::string f[22];
  for (auto& x : f) {
    if (!(in >> x)) return false;
  }
  // f[0] is the state (field 3); field n is f[n - 3].
  try {
    out->session = static_cast<pid_t>(std::stol(f[6 - 3]));
    out->utimeTicks = std::stoull(f[14 - 3]);
    out->stimeTicks = std::stoull(f[15 - 3]);
    out->rssPages = std::stoull(f[24 - 3]);
  } catch (...) {
    return false;
  }
  return true;
}

std::map<pid_t, ProcUsage> sessionUsage(const std::set<pid_t>& sessions) {
  std::map<pid_t, ProcUsage> out;
  if (sessions.empty()) return out;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    auto text = readFile(std::string("/proc/") + e->d_name + "/stat");
    ProcStat st;
    if (!text.ok() || !parseProcStat(*text, &st) || !sessions.count(st.session)) continue;
    ProcUsage& u = out[st.session];
    u.userSecs += st.utimeTicks / hz;
    u.systemSecs += st.stimeTicks / hz;
    u.rssBytes += st.rssPages * page;
    u.processes += 1;
  }
  ::closedir(d);
  return out;
}

}  // namespace tutti::agent
