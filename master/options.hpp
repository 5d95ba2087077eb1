// MasterOptions: everything the master's components need to know, filled
// from flags in main.cpp (or directly by tests and tutti-local).
#pragma once

#include <optional>
#include <set>
#include <string>

#include "common/clock.hpp"
#include "common/codec/envelope_codec.hpp"

namespace tutti::master {

struct MasterOptions {
  std::string ip = "127.0.0.1";    // address to listen on (HTTP and messages)
  int port = 5050;                 // HTTP port (0: pick a free one)
  int messagePort = 6050;          // ZeroMQ ROUTER port (0: pick a free one)
  std::string hostname;            // advertised hostname; empty: ip
  std::string workDir;             // where the master keeps its files
  Duration agentPingTimeout = 15s;  // a ping unanswered this long is missed
  int maxAgentPingTimeouts = 5;    // missed pings before an agent is unreachable
  Duration agentReregisterTimeout = 10min;  // grace for frameworks recovered from agents
  Duration allocationInterval = 1s;  // full allocation runs this often
  // Agents one allocation run may offer; the rest go on a later turn of the
  // loop, so messages are handled in between (AllocatorOptions).
  size_t allocationMaxAgentsPerRun = 2000;
  Duration heartbeatInterval = 15s;  // HEARTBEAT events to schedulers
  std::optional<Duration> offerTimeout;  // rescind offers held longer than this
  std::string minAllocatableResources = "cpus:0.01|mem:32";  // '|'-separated alternatives
  // Resource names left out of dominant-share computations.
  std::set<std::string> fairSharingExcludedResourceNames = {"gpus"};
  size_t maxCompletedFrameworks = 50;
  size_t maxCompletedTasksPerFramework = 1000;
  size_t maxUnreachableTasksPerFramework = 1000;
  codec::DecodeLimits decodeLimits;  // for every inbound frame
  int httpThreads = 16;            // HTTP worker threads (--http_threads)
  std::string zk;                     // zk://host:port,.../path; empty: standalone
  std::string registry;               // in_memory | local | zk; empty: zk with --zk, else
                                      // local with --work_dir, else in_memory
  // Recovered agents that do not come back are marked unreachable at most
  // this fast ("N/duration", e.g. "100/1mins"); empty: all at once.
  int agentRemovalRateLimit = 0;      // agents per period (0: no limit)
  Duration agentRemovalRatePeriod = 1min;
  Duration zkSessionTimeout = 10s;    // for the election session
  // --quorum: masters that must be in the election group before one leads.
  size_t quorum = 1;
  // --root_submissions: false refuses frameworks whose user is root and
  // tasks whose command or executor names root as their user.
  bool rootSubmissions = true;
};

}  // namespace tutti::master
