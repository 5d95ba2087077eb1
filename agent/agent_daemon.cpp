#include "agent/agent_daemon.hpp"

#include "agent/http/monitor.hpp"

#include <glog/logging.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <future>

#include "agent/checkpoint/checkpoint.hpp"
#include "agent/http/agent_http.hpp"
#include "agent/resources_detect.hpp"

namespace tutti::agent {

std::string selfDirectory() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

AgentDaemon::AgentDaemon(AgentOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock ? clock : &RealClock::instance()) {}

AgentDaemon::~AgentDaemon() { stop(); }

std::optional<std::string> AgentDaemon::fatalError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

Status AgentDaemon::start(std::map<std::string, std::string> flags) {
  if (options_.workDir.empty()) return Status::InvalidArgument("--work_dir is required");
  Status s = makeDirectories(options_.workDir);
  if (!s.ok()) return s;
  char real[PATH_MAX];
  if (::realpath(options_.workDir.c_str(), real)) options_.workDir = real;
  if (options_.launcherDir.empty()) options_.launcherDir = selfDirectory();
  if (::access((options_.launcherDir + "/tutti-executor").c_str(), X_OK) != 0) {
    return Status::NotFound("tutti-executor not found in --launcher_dir=" + options_.launcherDir);
  }

  auto isolation = parseIsolation(options_.isolation);
  if (!isolation.ok()) return isolation.status();
  if (options_.cgroupsRoot.empty() || options_.cgroupsRoot.find('/') != std::string::npos ||
      options_.cgroupsRoot == "." || options_.cgroupsRoot == "..") {
    return Status::InvalidArgument("--cgroups_root must be one directory name, not '" +
                                   options_.cgroupsRoot + "'");
  }

  auto resources = agentResources(options_.resources, options_.workDir);
  if (!resources.ok()) return resources.status();
  auto attributes = parseAttributes(options_.attributes);
  if (!attributes.ok()) return attributes.status();

  Loop::Options loopOptions;
  loopOptions.name = "agent";
  loop_ = std::make_unique<Loop>(*clock_, loopOptions);
  TransportOptions masterOptions;
  masterOptions.metricPrefix = "slave";
  masterOptions.limits = options_.decodeLimits;
  masterTransport_ = std::make_unique<ZmqDealerTransport>(*loop_, metrics_, masterOptions);
  TransportOptions executorOptions;
  executorOptions.metricPrefix = "slave/executors";
  executorOptions.limits = options_.decodeLimits;
  executorTransport_ = std::make_unique<ZmqRouterTransport>(*loop_, metrics_, executorOptions);
  // Executors of the previous run reconnect to the endpoint they were
  // given: with --message_port=0, bind the checkpointed one again.
  int executorPort = options_.messagePort;
  if (options_.recover == "reconnect") {
    auto checkpoint = Checkpointer(options_.workDir).readAgent();
    if (checkpoint.ok() && *checkpoint) {
      const std::string& old = (*checkpoint)->executorEndpoint;
      int oldPort = std::atoi(old.substr(old.rfind(':') + 1).c_str());
      if (executorPort == 0) {
        executorPort = oldPort;
      } else if (oldPort != executorPort) {
        LOG(WARNING) << "Executors of the previous run connect to " << old
                     << "; with --message_port=" << executorPort << " they cannot reconnect";
      }
    }
  }
  auto bound =
      executorTransport_->bind("tcp://" + options_.ip + ":" + std::to_string(executorPort));
  if (!bound.ok()) return bound.status();
  messagePort_ = std::stoi(bound->substr(bound->rfind(':') + 1));

  HttpServer::Options httpOptions;
  httpOptions.threads = options_.httpThreads;
  http_ = std::make_unique<HttpServer>(httpOptions);
  auto port = http_->bind(options_.ip, options_.port);
  if (!port.ok()) {
    executorTransport_->close();
    return port.status();
  }
  httpPort_ = *port;

  AgentInfo info;
  info.hostname = options_.hostname.empty() ? options_.ip : options_.hostname;
  info.port = static_cast<uint32_t>(httpPort_);
  info.resources = *resources;
  info.attributes = *attributes;
  // For maintenance: the master matches machines by hostname and IP. A
  // wildcard address names no machine.
  if (options_.ip != "0.0.0.0" && options_.ip != "::") info.ip = options_.ip;
  agent_ = std::make_unique<Agent>(options_, info, *bound, *loop_, *masterTransport_,
                                   *executorTransport_, metrics_, [this](const std::string& why) {
                                     std::lock_guard<std::mutex> lock(mu_);
                                     fatal_ = why;
                                   });
  installAgentRoutes(*http_, *agent_, *loop_, metrics_, flags);
  installMonitorRoutes(*http_, *agent_, *loop_);
  http_->serve();
  running_ = true;
  thread_ = std::thread([this] {
    agent_->start();
    loop_->run();
  });
  LOG(INFO) << "Agent serving HTTP on " << options_.ip << ":" << httpPort_ << ", executors on "
            << *bound << ", resources " << info.resources;
  return Status::OK();
}

void AgentDaemon::stop(bool killExecutors) {
  if (!running_) return;
  running_ = false;
  if (killExecutors) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    loop_->post("agent.shutdown", [this, done] { agent_->shutdown([done] { done->set_value(); }); });
    // Executors get their grace period, then SIGKILL; allow a little more.
    auto wait = options_.executorShutdownGracePeriod + 3s;
    if (future.wait_for(wait) != std::future_status::ready) {
      LOG(WARNING) << "Some executors did not exit in time";
    }
  }
  http_->stop();
  loop_->stop();
  if (thread_.joinable()) thread_.join();
  loop_->adoptCurrentThread();
  agent_.reset();
  masterTransport_->close();
  executorTransport_->close();
}

}  // namespace tutti::agent
