#include "common/master_detector.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/json.hpp"
#include "common/transport.hpp"
#include "common/zookeeper.hpp"

namespace tutti {

std::string hostPortOf(const MasterInfo& info) {
  const std::string& a = info.messageAddress;
  return a.rfind("tcp://", 0) == 0 ? a.substr(6) : a;
}

namespace {

class StandaloneDetector final : public MasterDetector {
 public:
  StandaloneDetector(Loop& loop, std::string endpoint, OnChange onChange)
      : loop_(loop), onChange_(std::move(onChange)) {
    MasterInfo info;
    info.messageAddress = std::move(endpoint);
    info.id = MasterID(info.messageAddress);
    leader_ = info;
  }
  // Its owner's loop may run on after it is gone (a shared driver loop).
  ~StandaloneDetector() override { *alive_ = false; }
  Status start() override {
    loop_.post("detector.standalone", [this, alive = alive_] {
      if (*alive) onChange_(leader_);
    });
    return Status::OK();
  }
  const std::optional<MasterInfo>& leader() const override { return leader_; }

 private:
  Loop& loop_;
  OnChange onChange_;
  std::optional<MasterInfo> leader_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // loop thread only
};

class ZooKeeperDetector final : public MasterDetector {
 public:
  ZooKeeperDetector(Loop& loop, std::string servers, std::string path, OnChange onChange,
                    Duration timeout)
      : loop_(loop),
        servers_(std::move(servers)),
        path_(std::move(path)),
        timeout_(timeout),
        onChange_(std::move(onChange)) {}

  // Its owner's loop may run on after it is gone (a shared driver loop);
  // the ZooKeeper client drops its own callbacks when it goes.
  ~ZooKeeperDetector() override { *alive_ = false; }
  Status start() override { return connect(); }
  const std::optional<MasterInfo>& leader() const override { return leader_; }

 private:
  Status connect() {
    zk_ = std::make_unique<ZooKeeper>(loop_, ZooKeeper::Options{servers_, timeout_},
                                      [this](ZooKeeper::SessionState s) { onSession(s); });
    return zk_->start();
  }

  void onSession(ZooKeeper::SessionState s) {
    if (s == ZooKeeper::SessionState::kConnected) {
      watch();
    } else if (s == ZooKeeper::SessionState::kExpired) {
      LOG(WARNING) << "Master detector: ZooKeeper session expired; starting a new one";
      // Replace the client outside of its own callback.
      loop_.post("detector.reconnect", [this, alive = alive_] {
        if (!*alive) return;
        zk_.reset();
        (void)connect();
      });
    }
  }

  void watch() {
    uint64_t generation = ++generation_;
    zk_->getChildren(
        path_,
        [this, generation](Result<std::vector<std::string>> children) {
          if (generation != generation_) return;
          if (!children.ok()) {
            if (children.status().code() == Status::Code::kNotFound) {
              // No master has ever run here yet: wait for the path.
              zk_->createPath(path_, [this](Status) { watch(); });
              return;
            }
            LOG(WARNING) << "Master detector: " << children.error();
            report(std::nullopt);
            loop_.after(1s, "detector.retry", [this, alive = alive_] {
              if (*alive) watch();
            });
            return;
          }
          choose(*children);
        },
        [this] { watch(); });
  }

  // Reads the candidates from the lowest sequence up; the first that parses
  // leads.
  void choose(std::vector<std::string> children) {
    std::map<std::string, std::string> bySequence;
    for (const auto& c : children) {
      if (c.rfind("json.info_", 0) == 0) bySequence[c.substr(10)] = c;
    }
    std::vector<std::string> ordered;
    for (auto& [_, name] : bySequence) ordered.push_back(name);
    tryCandidate(std::move(ordered), 0, generation_);
  }

  void tryCandidate(std::vector<std::string> ordered, size_t i, uint64_t generation) {
    if (generation != generation_) return;
    if (i == ordered.size()) {
      report(std::nullopt);
      return;
    }
    std::string node = path_ + "/" + ordered[i];
    zk_->get(node, [this, ordered = std::move(ordered), i, generation, node](
                       Result<std::string> data) mutable {
      if (generation != generation_) return;
      if (data.ok()) {
        auto info = json::parseMasterInfo(*data);
        if (info.ok()) {
          report(*info);
          return;
        }
        if (corrupt_.insert(node).second) {
          LOG(ERROR) << "Master detector: ignoring corrupt ZooKeeper node " << node << ": "
                     << info.error() << " (left in place for the operator)";
        }
      }
      tryCandidate(std::move(ordered), i + 1, generation);
    });
  }

  void report(const std::optional<MasterInfo>& leader) {
    bool same = leader_.has_value() == leader.has_value() &&
                (!leader || (leader_->id == leader->id &&
                             leader_->messageAddress == leader->messageAddress));
    if (same && reported_) return;
    reported_ = true;
    leader_ = leader;
    if (leader) {
      LOG(INFO) << "Leading master: " << leader->id << " at " << leader->messageAddress;
    } else {
      LOG(INFO) << "No leading master in ZooKeeper at " << path_;
    }
    onChange_(leader_);
  }

  Loop& loop_;
  std::string servers_;
  std::string path_;
  Duration timeout_;
  OnChange onChange_;
  std::unique_ptr<ZooKeeper> zk_;
  std::optional<MasterInfo> leader_;
  bool reported_ = false;
  uint64_t generation_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // loop thread only
  std::set<std::string> corrupt_;
};

}  // namespace

Result<std::unique_ptr<MasterDetector>> MasterDetector::create(Loop& loop,
                                                               const std::string& master,
                                                               OnChange onChange,
                                                               Duration zkSessionTimeout) {
  if (master.rfind("zk://", 0) == 0) {
    auto url = ZooKeeper::parseUrl(master);
    if (!url.ok()) return url.status();
    return std::unique_ptr<MasterDetector>(std::make_unique<ZooKeeperDetector>(
        loop, url->first, url->second, std::move(onChange), zkSessionTimeout));
  }
  auto endpoint = toZmqEndpoint(master);
  if (!endpoint.ok()) {
    return Status::InvalidArgument("--master must be HOST:PORT or zk://HOST:PORT,.../PATH: " +
                                   endpoint.error());
  }
  return std::unique_ptr<MasterDetector>(
      std::make_unique<StandaloneDetector>(loop, *endpoint, std::move(onChange)));
}

}  // namespace tutti
