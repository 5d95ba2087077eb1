#include "master/election.hpp"

#include <glog/logging.h>

#include <map>

#include "common/json.hpp"

namespace tutti::master {

LeaderElection::LeaderElection(Loop& loop, ZooKeeper::Options zk, std::string path,
                               MasterInfo self, Callbacks callbacks, size_t quorum)
    : loop_(loop),
      zk_(std::make_unique<ZooKeeper>(loop, std::move(zk),
                                      [this](ZooKeeper::SessionState s) { onSession(s); })),
      path_(std::move(path)),
      self_(std::move(self)),
      callbacks_(std::move(callbacks)),
      quorum_(std::max<size_t>(quorum, 1)) {}

Status LeaderElection::start() { return zk_->start(); }

void LeaderElection::onSession(ZooKeeper::SessionState s) {
  switch (s) {
    case ZooKeeper::SessionState::kConnected:
      if (!contending_) contend();
      break;
    case ZooKeeper::SessionState::kExpired:
      lost("the ZooKeeper session expired");
      break;
    case ZooKeeper::SessionState::kAuthFailed:
      lost("ZooKeeper authentication failed");
      break;
    case ZooKeeper::SessionState::kConnecting:
      // The session may survive a short disconnection; ZooKeeper tells us
      // if it does not.
      if (elected_) LOG(WARNING) << "Lost the connection to ZooKeeper; the session may survive";
      break;
  }
}

void LeaderElection::contend() {
  contending_ = true;
  zk_->createPath(path_, [this](Status s) {
    if (!s.ok()) {
      lost("cannot create " + path_ + " in ZooKeeper: " + s.message());
      return;
    }
    std::string data = json::dump(json::masterInfo(self_));
    zk_->create(path_ + "/json.info_", data, ZooKeeper::kEphemeral | ZooKeeper::kSequential,
                [this](Result<std::string> node) {
                  if (!node.ok()) {
                    lost("cannot create the election node: " + node.error());
                    return;
                  }
                  node_ = *node;
                  LOG(INFO) << "Contending for leadership as " << node_;
                  watch();
                });
  });
}

void LeaderElection::watch() {
  if (lost_) return;
  uint64_t generation = ++generation_;
  zk_->getChildren(
      path_,
      [this, generation](Result<std::vector<std::string>> children) {
        if (generation != generation_ || lost_) return;
        if (!children.ok()) {
          LOG(WARNING) << "Election: " << children.error();
          loop_.after(1s, "election.retry", [this] { watch(); });
          return;
        }
        choose(*children);
      },
      [this] { watch(); });
}

void LeaderElection::choose(std::vector<std::string> children) {
  std::map<std::string, std::string> bySequence;
  bool ours = false;
  for (const auto& c : children) {
    if (c.rfind("json.info_", 0) != 0) continue;
    bySequence[c.substr(10)] = c;
    if (path_ + "/" + c == node_) ours = true;
  }
  if (!ours && !node_.empty()) {
    // Our ephemeral node is gone while the session lives: someone removed
    // it. We can no longer be trusted to lead.
    lost("our election node " + node_ + " disappeared");
    return;
  }
  std::vector<std::string> ordered;
  for (auto& [_, name] : bySequence) ordered.push_back(name);
  size_t members = 0;
  std::string lowest;  // the lowest node not known to be corrupt
  for (const auto& name : ordered) {
    if (corrupt_.count(path_ + "/" + name)) continue;
    if (members++ == 0) lowest = path_ + "/" + name;
  }
  // Below quorum nobody new may lead; a leader elected with a quorum (its
  // node is still the lowest) keeps leading, and every master says so.
  bool leaderStays = leader_ && !leaderNode_.empty() && lowest == leaderNode_;
  if (!elected_ && !leaderStays && members < quorum_) {
    if (!waitingForQuorum_) {
      LOG(WARNING) << "Election: " << members << " of the " << quorum_
                   << " masters of a quorum (--quorum) are present; nobody leads until "
                      "enough join";
    }
    waitingForQuorum_ = true;
    leaderNode_.clear();
    reportLeader(std::nullopt);
    return;
  }
  if (waitingForQuorum_) {
    LOG(INFO) << "Election: a quorum of " << quorum_ << " masters is present";
    waitingForQuorum_ = false;
  }
  if (leaderStays && members < quorum_) {
    LOG_EVERY_N(WARNING, 10) << "Election: the group shrank to " << members
                             << " masters, below --quorum=" << quorum_
                             << "; the leader keeps leading (the registry is ZooKeeper's)";
  }
  tryCandidate(std::move(ordered), 0, generation_);
}

void LeaderElection::tryCandidate(std::vector<std::string> ordered, size_t i,
                                  uint64_t generation) {
  if (generation != generation_ || lost_) return;
  if (i == ordered.size()) return;  // cannot happen: our own node parses
  std::string node = path_ + "/" + ordered[i];
  if (node == node_) {
    leaderNode_ = node;
    reportLeader(self_);
    if (!elected_) {
      elected_ = true;
      LOG(INFO) << "Elected as the leading master (" << node_ << ")";
      if (callbacks_.onElected) callbacks_.onElected();
    }
    return;
  }
  zk_->get(node, [this, ordered = std::move(ordered), i, generation, node](
                     Result<std::string> data) mutable {
    if (generation != generation_ || lost_) return;
    if (data.ok()) {
      auto info = json::parseMasterInfo(*data);
      if (info.ok()) {
        if (elected_) {
          // A lower node appeared or remained: should not happen while we
          // lead (sequence numbers only grow); follow ZooKeeper, step down.
          lost("another master (" + info->id.value + ") holds a lower election node");
          return;
        }
        if (!leader_ || leader_->id != info->id) {
          LOG(INFO) << "Leading master is " << info->id << " at " << info->messageAddress;
        }
        leaderNode_ = node;
        reportLeader(*info);
        return;
      }
      if (corrupt_.insert(node).second) {
        LOG(ERROR) << "Election: ignoring corrupt ZooKeeper node " << node << ": "
                   << info.error() << " (left in place for the operator)";
      }
    }
    tryCandidate(std::move(ordered), i + 1, generation);
  });
}

void LeaderElection::reportLeader(const std::optional<MasterInfo>& leader) {
  bool same = reported_ && leader_.has_value() == leader.has_value() &&
              (!leader || leader_->id == leader->id);
  if (same) return;
  reported_ = true;
  leader_ = leader;
  if (callbacks_.onLeader) callbacks_.onLeader(leader_);
}

void LeaderElection::lost(const std::string& why) {
  if (lost_) return;
  lost_ = true;
  LOG(ERROR) << "Leaving the election: " << why;
  if (callbacks_.onLost) callbacks_.onLost(why);
}

}  // namespace tutti::master
