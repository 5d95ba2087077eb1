// MasterDaemon: a Master with its loop thread, ZeroMQ ROUTER and HTTP
// server — what tutti-master, tutti-local and in-process tests run.
//
// start() binds both ports (0 picks free ones) and returns once the master
// serves; stop() (and the destructor) stops it and joins the thread.
// Thread-safe: start/stop from one controlling thread.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.hpp"
#include "common/http.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "master/election.hpp"
#include "master/http/state_publisher.hpp"
#include "master/master.hpp"
#include "master/options.hpp"

namespace tutti::master {

class MasterDaemon {
 public:
  // `clock` defaults to the real clock; tests may pass a ManualClock.
  explicit MasterDaemon(MasterOptions options, Clock* clock = nullptr);
  ~MasterDaemon();

  // `flags` are shown at /master/flags.
  // Standalone (no --zk): leads at once. With --zk: contends in ZooKeeper
  // and leads once elected; serves redirects meanwhile.
  Status start(std::map<std::string, std::string> flags = {});
  void stop();

  // Set when this master must step down (its ZooKeeper session ended);
  // the process should exit non-zero so that its supervisor restarts it.
  std::optional<std::string> fatalError() const;
  bool leading() const { return leading_.load(); }

  int httpPort() const { return httpPort_; }
  int messagePort() const { return messagePort_; }
  // "127.0.0.1:6050": what agents and schedulers pass as --master.
  std::string messageAddress() const;
  const MasterInfo& info() const { return info_; }

  Loop& loop() { return *loop_; }
  Master& master() { return *master_; }
  Metrics& metrics() { return metrics_; }
  ZmqRouterTransport& transport() { return *transport_; }

 private:
  void setFatal(const std::string& why);

  MasterOptions options_;
  Clock* clock_;
  Metrics metrics_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<ZmqRouterTransport> transport_;
  std::unique_ptr<Master> master_;
  std::unique_ptr<StatePublisher> statePublisher_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  MasterInfo info_;
  int httpPort_ = 0;
  int messagePort_ = 0;
  bool running_ = false;
  std::unique_ptr<LeaderElection> election_;
  std::atomic<bool> leading_{false};
  mutable std::mutex mu_;
  std::string leaderUrl_;                 // guarded by mu_
  std::optional<std::string> fatal_;      // guarded by mu_
};

}  // namespace tutti::master
