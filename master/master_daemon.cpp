#include "master/master_daemon.hpp"

#include <glog/logging.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "common/version.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "master/http/master_http.hpp"
#include "master/registry/zk_registry.hpp"

#include <sys/stat.h>

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

  auto fail = [this](Status s) {
    http_->stop();
    transport_->close();
    return s;
  };
  std::string zkPath;
  if (!options_.zk.empty()) {
    auto url = ZooKeeper::parseUrl(options_.zk);
    if (!url.ok()) return fail(url.status());
    zkPath = url->second;
    LeaderElection::Callbacks callbacks;
    callbacks.onElected = [this] {
      leading_ = true;
      master_->start();
    };
    callbacks.onLeader = [this](const std::optional<MasterInfo>& leader) {
      std::lock_guard<std::mutex> lock(mu_);
      leaderUrl_ = leader ? "http://" + leader->ip + ":" + std::to_string(leader->port) : "";
    };
    callbacks.onLost = [this](const std::string& why) { setFatal("stepping down: " + why); };
    election_ = std::make_unique<LeaderElection>(
        *loop_, ZooKeeper::Options{url->first, options_.zkSessionTimeout}, zkPath, info_,
        callbacks, options_.quorum);
  }

  std::string kind = options_.registry;
  if (kind.empty()) kind = !options_.zk.empty() ? "zk" : !options_.workDir.empty() ? "local"
                                                                                    : "in_memory";
  std::unique_ptr<Registry> registry;
  if (kind == "zk") {
    if (!election_) return fail(Status::InvalidArgument("--registry=zk needs --zk"));
    registry = makeZkRegistry(*loop_, election_->zookeeper(), zkPath + "/registry");
  } else if (kind == "local") {
    if (options_.workDir.empty()) {
      return fail(Status::InvalidArgument("--registry=local needs --work_dir"));
    }
    ::mkdir(options_.workDir.c_str(), 0755);
    registry = makeLocalRegistry(*loop_, options_.workDir);
  } else if (kind == "in_memory") {
    registry = makeInMemoryRegistry(*loop_);
  } else {
    return fail(Status::InvalidArgument("unknown --registry '" + kind +
                                        "' (in_memory, local or zk)"));
  }

  master_ = std::make_unique<Master>(options_, info_, *loop_, *transport_, metrics_,
                                     std::make_unique<HierarchicalAllocator>(), std::move(registry));
  master_->onFatal([this](const std::string& why) { setFatal("stepping down: " + why); });
  statePublisher_ = std::make_unique<StatePublisher>(*master_, *loop_, flags);
  installMasterRoutes(*http_, *master_, *loop_, metrics_, *statePublisher_, flags,
                      [this]() -> std::optional<std::string> {
                        if (leading_.load()) return std::nullopt;
                        std::lock_guard<std::mutex> lock(mu_);
                        return leaderUrl_;
                      });
  http_->serve();
  loop_->adoptCurrentThread();
  if (!election_) {
    leading_ = true;
    master_->start();
  } else {
    Status s = election_->start();
    if (!s.ok()) return fail(s);
  }
  running_ = true;
  thread_ = std::thread([this] { loop_->run(); });
  return Status::OK();
}

void MasterDaemon::setFatal(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal_) fatal_ = why;
}

std::optional<std::string> MasterDaemon::fatalError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

void MasterDaemon::stop() {
  if (!running_) return;
  running_ = false;
  statePublisher_->stop();  // waiting state requests answer 503 at once
  http_->stop();
  loop_->stop();
  if (thread_.joinable()) thread_.join();
  loop_->adoptCurrentThread();
  leading_ = false;
  master_.reset();    // its registry may use the election's session
  election_.reset();  // closes the session: our election node goes at once
  transport_->close();
}

}  // namespace tutti::master
