#include "frameworks/services/leader_election.hpp"

#include <glog/logging.h>

#include <algorithm>

namespace tutti::services {

namespace {
constexpr const char* kPrefix = "member_";
}  // namespace

LeaderElection::LeaderElection(Loop& loop, ZooKeeper& zk, std::string path, std::string self,
                               Callbacks callbacks)
    : loop_(loop), zk_(zk), path_(std::move(path)), self_(std::move(self)),
      callbacks_(std::move(callbacks)) {}

void LeaderElection::onSession(ZooKeeper::SessionState s) {
  if (s == ZooKeeper::SessionState::kConnected && !contending_) contend();
  if (s == ZooKeeper::SessionState::kExpired) lost("the ZooKeeper session expired");
  if (s == ZooKeeper::SessionState::kAuthFailed) lost("ZooKeeper authentication failed");
}

void LeaderElection::contend() {
  contending_ = true;
  zk_.createPath(path_, [this](Status s) {
    if (!s.ok()) return lost("cannot create " + path_ + ": " + s.message());
    zk_.create(path_ + "/" + kPrefix, self_, ZooKeeper::kEphemeral | ZooKeeper::kSequential,
               [this](Result<std::string> node) {
                 if (!node.ok()) return lost("cannot create the election node: " + node.error());
                 node_ = *node;
                 LOG(INFO) << "Contending for leadership as " << node_;
                 watch();
               });
  });
}

void LeaderElection::watch() {
  if (lost_) return;
  zk_.getChildren(
      path_,
      [this](Result<std::vector<std::string>> children) {
        if (lost_) return;
        if (!children.ok()) {
          LOG(WARNING) << "Election: " << children.error();
          loop_.after(1s, "services_election.retry", [this] { watch(); });
          return;
        }
        choose(*children);
      },
      [this] { watch(); });
}

void LeaderElection::choose(const std::vector<std::string>& children) {
  std::vector<std::string> members;
  for (const auto& c : children) {
    if (c.rfind(kPrefix, 0) == 0) members.push_back(c);
  }
  std::sort(members.begin(), members.end());  // fixed-width sequence numbers
  std::string ours = node_.substr(node_.rfind('/') + 1);
  if (std::find(members.begin(), members.end(), ours) == members.end()) {
    return lost("our election node " + node_ + " disappeared");
  }
  if (members.front() == ours) {
    if (leader_ != self_) {
      leader_ = self_;
      if (callbacks_.onLeader) callbacks_.onLeader(leader_);
    }
    if (!elected_) {
      elected_ = true;
      LOG(INFO) << "Elected as the leading tutti-services (" << node_ << ")";
      if (callbacks_.onElected) callbacks_.onElected();
    }
    return;
  }
  std::string node = path_ + "/" + members.front();
  if (node == leaderNode_) return;
  zk_.get(node, [this, node](Result<std::string> data) {
    if (lost_ || !data.ok()) return;  // gone meanwhile: the watch fires again
    leaderNode_ = node;
    leader_ = *data;
    LOG(INFO) << "The leading tutti-services is at " << *data;
    if (callbacks_.onLeader) callbacks_.onLeader(leader_);
  });
}

void LeaderElection::lost(const std::string& why) {
  if (lost_) return;
  lost_ = true;
  LOG(ERROR) << "Leaving the election: " << why;
  if (callbacks_.onLost) callbacks_.onLost(why);
}

}  // namespace tutti::services
