#include "master/master_daemon.hpp"

#include <glog/logging.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "common/version.hpp"
#include "master/allocator/simple_allocator.hpp"
#include "master/http/master_http.hpp"

namespace tutti::master {

MasterDaemon::MasterDaemon(MasterOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock ? clock : &RealClock::instance()) {}

MasterDaemon::~MasterDaemon() { stop(); }

std::string MasterDaemon::messageAddress() const {
  return options_.ip + ":" + std::to_string(messagePort_);
}

Status MasterDaemon::start(std::map<std::string, std::string> flags) {
  Loop::Options loopOptions;
  loopOptions.name = "master";
  loop_ = std::make_unique<Loop>(*clock_, loopOptions);
  TransportOptions transportOptions;
  transportOptions.metricPrefix = "master";
  transportOptions.limits = options_.decodeLimits;
  transport_ = std::make_unique<ZmqRouterTransport>(*loop_, metrics_, transportOptions);
  auto bound = transport_->bind("tcp://" + options_.ip + ":" + std::to_string(options_.messagePort));
  if (!bound.ok()) return bound.status();
  messagePort_ = std::stoi(bound->substr(bound->rfind(':') + 1));

  HttpServer::Options httpOptions;
  httpOptions.threads = options_.httpThreads;
  http_ = std::make_unique<HttpServer>(httpOptions);
  auto port = http_->bind(options_.ip, options_.port);
  if (!port.ok()) {
    transport_->close();
    return port.status();
  }
  httpPort_ = *port;

  info_.id = MasterID(newUuid());
  info_.ip = options_.ip;
  info_.port = static_cast<uint32_t>(httpPort_);
  info_.hostname = options_.hostname.empty() ? options_.ip : options_.hostname;
  info_.version = tuttiVersion();
  info_.messageAddress = "tcp://" + options_.ip + ":" + std::to_string(messagePort_);

  master_ = std::make_unique<Master>(options_, info_, *loop_, *transport_, metrics_,
                                     std::make_unique<SimpleAllocator>());
  installMasterRoutes(*http_, *master_, *loop_, metrics_, flags,
                      [this]() -> std::optional<std::string> {
                        if (leading_.load()) return std::nullopt;
                        std::lock_guard<std::mutex> lock(mu_);
                        return leaderUrl_;
                      });
  http_->serve();
  if (options_.zk.empty()) {
    master_->start();
    leading_ = true;
  } else {
    auto url = ZooKeeper::parseUrl(options_.zk);
    if (!url.ok()) {
      http_->stop();
      transport_->close();
      return url.status();
    }
    LeaderElection::Callbacks callbacks;
    callbacks.onElected = [this] {
      master_->start();
      leading_ = true;
    };
    callbacks.onLeader = [this](const std::optional<MasterInfo>& leader) {
      std::lock_guard<std::mutex> lock(mu_);
      leaderUrl_ = leader ? "http://" + leader->ip + ":" + std::to_string(leader->port) : "";
    };
    callbacks.onLost = [this](const std::string& why) {
      std::lock_guard<std::mutex> lock(mu_);
      fatal_ = "stepping down: " + why;
    };
    election_ = std::make_unique<LeaderElection>(
        *loop_, ZooKeeper::Options{url->first, options_.zkSessionTimeout}, url->second, info_,
        callbacks);
    loop_->adoptCurrentThread();
    Status s = election_->start();
    if (!s.ok()) {
      http_->stop();
      transport_->close();
      return s;
    }
  }
  running_ = true;
  thread_ = std::thread([this] { loop_->run(); });
  return Status::OK();
}

std::optional<std::string> MasterDaemon::fatalError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

void MasterDaemon::stop() {
  if (!running_) return;
  running_ = false;
  http_->stop();
  loop_->stop();
  if (thread_.joinable()) thread_.join();
  loop_->adoptCurrentThread();
  election_.reset();  // closes the session: our election node goes at once
  leading_ = false;
  master_.reset();
  transport_->close();
}

}  // namespace tutti::master
