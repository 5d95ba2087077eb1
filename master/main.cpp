// tutti-master: the master daemon (standalone; ZooKeeper election comes with
// the high-availability work). Flags keep Mesos's names.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>

#include <atomic>
#include <optional>
#include <csignal>
#include <iostream>
#include <thread>

#include "common/process.hpp"
#include "common/codec/envelope_codec.hpp"
#include "common/duration.hpp"
#include "common/flags.hpp"
#include "common/zookeeper.hpp"
#include "master/master_daemon.hpp"

// jemalloc's defaults for the master (MALLOC_CONF in the environment still
// wins): a background thread returns freed pages after a second instead of
// ten, so the RSS operators watch tracks what the master holds (c1m at
// 10,000 agents: 405 against 423 MB at the end, throughput unchanged).
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

DEFINE_string(ip, "127.0.0.1", "IP address to listen on (HTTP and messages)");
DEFINE_int32(port, 5050, "HTTP port (operator API, state, metrics); 0 picks a free port");
DEFINE_int32(message_port, 6050,
             "ZeroMQ port that agents and schedulers connect to; 0 picks a free port");
DEFINE_string(hostname, "", "Hostname to advertise (default: --ip)");
DEFINE_string(work_dir, "", "Directory for the master's files");
DEFINE_string(agent_ping_timeout, "15secs",
              "How long the master waits for an agent's answer to a ping");
DEFINE_int32(max_agent_ping_timeouts, 5,
             "Unanswered pings in a row after which an agent is unreachable");
DEFINE_string(agent_reregister_timeout, "10mins",
              "How long frameworks recovered from re-registering agents wait for their "
              "scheduler");
DEFINE_string(allocation_interval, "1secs", "Time between full allocation runs");
DEFINE_string(offer_timeout, "", "Rescind offers held longer than this (default: never)");
DEFINE_string(min_allocatable_resources, "cpus:0.01|mem:32",
              "Offer an agent's free resources only if they hold one of these "
              "('|'-separated alternatives)");
DEFINE_string(fair_sharing_excluded_resource_names, "gpus",
              "Comma-separated resource names left out of fair-sharing (dominant share) "
              "computations");
DEFINE_int32(max_completed_frameworks, 50, "Completed frameworks kept for /master/state");
DEFINE_int32(max_completed_tasks_per_framework, 1000,
             "Completed tasks kept per framework for /master/state");
DEFINE_string(zk, "",
              "ZooKeeper URL for leader election, zk://host1:2181,host2:2181/tutti (default: "
              "standalone)");
DEFINE_string(zk_session_timeout, "10secs", "ZooKeeper session timeout of the election");
DEFINE_bool(root_submissions, true,
            "Whether frameworks (and tasks) may run as root; false refuses them");
DEFINE_int32(quorum, 1,
             "With --zk: number of masters that must have joined the election before one "
             "leads (a leader keeps leading if the group later shrinks)");
DEFINE_string(registry, "",
              "Where the master keeps what must survive a failover: in_memory, local (a file "
              "in --work_dir) or zk (under --zk); default: zk with --zk, else local with "
              "--work_dir, else in_memory");
DEFINE_string(agent_removal_rate_limit, "",
              "After a failover, mark agents that did not re-register unreachable at most this "
              "fast, e.g. '100/1mins' (default: all at once)");
DEFINE_int32(max_message_bytes, 16 << 20,
             "Largest frame accepted from a peer, in bytes (at least 65536: peers pack "
             "several messages into frames of up to 64 KiB)");
DEFINE_int32(http_threads, 16,
             "Threads serving HTTP requests (a request for the state waits for a snapshot "
             "without holding the master's loop, but holds its thread)");

DEFINE_validator(port, &tutti::validatePortFlag);
DEFINE_validator(message_port, &tutti::validatePortFlag);
DEFINE_validator(agent_ping_timeout, &tutti::validateDurationFlag);
DEFINE_validator(agent_reregister_timeout, &tutti::validateDurationFlag);
DEFINE_validator(allocation_interval, &tutti::validateDurationFlag);
DEFINE_validator(zk_session_timeout, &tutti::validateDurationFlag);

namespace {
bool validatePositive(const char* flag, int32_t value) {
  if (value <= 0) {
    std::cerr << "Invalid value for --" << flag << ": " << value << " (must be > 0)\n";
    return false;
  }
  return true;
}
// Peers pack several envelopes into frames of up to
// DecodeLimits::kMaxPackedFrameBytes: a smaller limit would drop them.
bool validateMessageBytes(const char* flag, int32_t value) {
  if (static_cast<size_t>(value) < tutti::codec::DecodeLimits::kMaxPackedFrameBytes) {
    std::cerr << "Invalid value for --" << flag << ": " << value
              << " (must be at least 65536: peers pack messages into frames of up to 64 KiB)\n";
    return false;
  }
  return true;
}
bool validateOptionalDuration(const char* flag, const std::string& value) {
  return value.empty() || tutti::validateDurationFlag(flag, value);
}
}  // namespace

DEFINE_validator(max_agent_ping_timeouts, &validatePositive);
DEFINE_validator(max_completed_frameworks, &validatePositive);
DEFINE_validator(max_completed_tasks_per_framework, &validatePositive);
DEFINE_validator(max_message_bytes, &validateMessageBytes);
DEFINE_validator(http_threads, &validatePositive);
DEFINE_validator(quorum, &validatePositive);

namespace {
bool validateZk(const char* flag, const std::string& value) {
  if (value.empty()) return true;
  auto url = tutti::ZooKeeper::parseUrl(value);
  if (!url.ok()) std::cerr << "Invalid value for --" << flag << ": " << url.error() << "\n";
  return url.ok();
}
}  // namespace
DEFINE_validator(zk, &validateZk);

namespace {
bool validateRegistry(const char* flag, const std::string& v) {
  if (v.empty() || v == "in_memory" || v == "local" || v == "zk") return true;
  std::cerr << "Invalid value for --" << flag << ": '" << v << "' (in_memory, local or zk)\n";
  return false;
}
// "N/duration" -> (N, duration).
std::optional<std::pair<int, tutti::Duration>> parseRate(const std::string& v) {
  auto slash = v.find('/');
  if (slash == std::string::npos || slash == 0) return std::nullopt;
  std::string n = v.substr(0, slash);
  if (n.find_first_not_of("0123456789") != std::string::npos || n.size() > 9) return std::nullopt;
  auto d = tutti::parseDuration(v.substr(slash + 1));
  if (!d.ok() || d->count() <= 0 || std::stoi(n) <= 0) return std::nullopt;
  return std::make_pair(std::stoi(n), *d);
}
bool validateRate(const char* flag, const std::string& v) {
  if (v.empty() || parseRate(v)) return true;
  std::cerr << "Invalid value for --" << flag << ": '" << v << "' (expected N/duration, e.g. "
            << "100/1mins)\n";
  return false;
}
}  // namespace
DEFINE_validator(registry, &validateRegistry);
DEFINE_validator(agent_removal_rate_limit, &validateRate);
DEFINE_validator(offer_timeout, &validateOptionalDuration);
DEFINE_validator(min_allocatable_resources, &tutti::validateResourceAlternativesFlag);

int main(int argc, char** argv) {
  tutti::parseFlags(&argc, &argv,
                    "tutti-master: the tutti master. It learns agents' resources and offers "
                    "them to frameworks.");
  tutti::initLogging(argv[0]);

  tutti::master::MasterOptions options;
  options.ip = FLAGS_ip;
  options.port = FLAGS_port;
  options.messagePort = FLAGS_message_port;
  options.hostname = FLAGS_hostname;
  options.workDir = FLAGS_work_dir;
  options.agentPingTimeout = *tutti::parseDuration(FLAGS_agent_ping_timeout);
  options.maxAgentPingTimeouts = FLAGS_max_agent_ping_timeouts;
  options.agentReregisterTimeout = *tutti::parseDuration(FLAGS_agent_reregister_timeout);
  options.allocationInterval = *tutti::parseDuration(FLAGS_allocation_interval);
  if (!FLAGS_offer_timeout.empty()) {
    options.offerTimeout = *tutti::parseDuration(FLAGS_offer_timeout);
  }
  options.minAllocatableResources = FLAGS_min_allocatable_resources;
  options.fairSharingExcludedResourceNames.clear();
  for (size_t start = 0; start <= FLAGS_fair_sharing_excluded_resource_names.size();) {
    size_t end = FLAGS_fair_sharing_excluded_resource_names.find(',', start);
    if (end == std::string::npos) end = FLAGS_fair_sharing_excluded_resource_names.size();
    std::string name = FLAGS_fair_sharing_excluded_resource_names.substr(start, end - start);
    if (!name.empty()) options.fairSharingExcludedResourceNames.insert(name);
    start = end + 1;
  }
  options.maxCompletedFrameworks = static_cast<size_t>(FLAGS_max_completed_frameworks);
  options.maxCompletedTasksPerFramework =
      static_cast<size_t>(FLAGS_max_completed_tasks_per_framework);
  options.decodeLimits.maxBytes = static_cast<size_t>(FLAGS_max_message_bytes);
  options.httpThreads = FLAGS_http_threads;
  options.zk = FLAGS_zk;
  options.registry = FLAGS_registry;
  if (auto rate = parseRate(FLAGS_agent_removal_rate_limit)) {
    options.agentRemovalRateLimit = rate->first;
    options.agentRemovalRatePeriod = rate->second;
  }
  options.zkSessionTimeout = *tutti::parseDuration(FLAGS_zk_session_timeout);
  options.quorum = static_cast<size_t>(FLAGS_quorum);
  options.rootSubmissions = FLAGS_root_submissions;

  std::map<std::string, std::string> flags = tutti::currentFlags();

  // Block the termination signals in every thread; the main thread waits.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  tutti::master::MasterDaemon daemon(options);
  tutti::Status s = daemon.start(flags);
  if (!s.ok()) {
    LOG(ERROR) << "Cannot start the master: " << s;
    return 1;
  }
  LOG(INFO) << "tutti-master listening: HTTP http://" << options.ip << ":" << daemon.httpPort()
            << ", messages " << daemon.messageAddress();

  if (!options.zk.empty()) LOG(INFO) << "Contending for leadership in " << options.zk;
  std::string fatal;
  int sig = tutti::waitForSignalOrFatal(set, [&daemon] { return daemon.fatalError(); }, &fatal);
  if (sig == 0) {
    // As Mesos's masters do: exit so that the supervisor restarts us as a
    // fresh contender.
    LOG(ERROR) << "Exiting: " << fatal;
    daemon.stop();
    return 1;
  }
  LOG(INFO) << "Received signal " << sig << "; shutting down";
  daemon.stop();
  return 0;
}
