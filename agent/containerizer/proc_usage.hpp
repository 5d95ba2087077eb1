// Usage of process trees read from /proc, for containers without cgroups
// (posix isolation): cpu time and resident memory summed over every process
// of an executor's session (executors run in their own session, and their
// tasks stay in it unless they call setsid themselves).
//
// Plain functions, any thread. Processes that vanish while being read are
// skipped.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string_view>

namespace tutti::agent {

struct ProcUsage {
  double userSecs = 0;
  double systemSecs = 0;
  uint64_t rssBytes = 0;
  uint64_t processes = 0;
};

struct ProcStat {
  pid_t session = 0;
  uint64_t utimeTicks = 0;
  uint64_t stimeTicks = 0;
  uint64_t rssPages = 0;
};
// Parses /proc/<pid>/stat (the command may hold spaces and parentheses).
bool parseProcStat(std::string_view text, ProcStat* out);

// One pass over /proc: the usage of each session in `sessions`.
std::map<pid_t, ProcUsage> sessionUsage(const std::set<pid_t>& sessions);

}  // namespace tutti::agent
