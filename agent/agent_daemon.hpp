// AgentDaemon: an Agent with its loop thread, ZeroMQ sockets and HTTP
// server — what tutti-agent, tutti-local and in-process tests run.
//
// start() resolves resources, binds both ports (0 picks free ones), and
// starts registering with the master. stop() shuts executors down (SHUTDOWN,
// then SIGKILL after the grace period), unregisters, and joins the thread.
// Start and stop from one controlling thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/agent.hpp"
#include "agent/options.hpp"
#include "common/http.hpp"

namespace tutti::agent {

class AgentDaemon {
 public:
  explicit AgentDaemon(AgentOptions options, Clock* clock = nullptr);
  ~AgentDaemon();

  Status start(std::map<std::string, std::string> flags = {});
  // With `killExecutors` false the executors are left running (they give up
  // by themselves after --recovery_timeout).
  void stop(bool killExecutors = true);

  // Set when the master refused this agent (ShutdownAgentMessage).
  std::optional<std::string> fatalError() const;

  int httpPort() const { return httpPort_; }
  int messagePort() const { return messagePort_; }
  const AgentOptions& options() const { return options_; }
  Loop& loop() { return *loop_; }
  Agent& agent() { return *agent_; }
  Metrics& metrics() { return metrics_; }
  ZmqDealerTransport& masterTransport() { return *masterTransport_; }

 private:
  AgentOptions options_;
  Clock* clock_;
  Metrics metrics_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<ZmqDealerTransport> masterTransport_;
  std::unique_ptr<ZmqRouterTransport> executorTransport_;
  std::unique_ptr<Agent> agent_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  int httpPort_ = 0;
  int messagePort_ = 0;
  bool running_ = false;
  mutable std::mutex mu_;
  std::optional<std::string> fatal_;
};

// The directory of the running binary (where tutti-executor is installed).
std::string selfDirectory();

}  // namespace tutti::agent
