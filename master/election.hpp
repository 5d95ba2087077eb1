// LeaderElection: masters elect a leader through ZooKeeper (DESIGN §7).
//
// Each master creates an ephemeral sequential node <path>/json.info_NNNNNNNNNN
// holding its MasterInfo as JSON; the master whose node has the lowest
// sequence number among nodes that parse leads (corrupt nodes are skipped,
// logged and left for the operator). Every master watches the children and
// reports the current leader (for redirects). A master whose session ends
// (expired, or closed by a partition longer than the session timeout) has
// lost its node: onLost is called and the process steps down, as Mesos's
// masters do, to be restarted by its supervisor.
//
// Threads: the master's loop; all callbacks run there.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/zookeeper.hpp"
#include "tutti/types.hpp"

namespace tutti::master {

class LeaderElection {
 public:
  struct Callbacks {
    std::function<void()> onElected;                                    // once
    std::function<void(const std::optional<MasterInfo>&)> onLeader;   // every change
    std::function<void(const std::string& why)> onLost;                // once
  };

  LeaderElection(Loop& loop, ZooKeeper::Options zk, std::string path, MasterInfo self,
                 Callbacks callbacks, size_t quorum = 1);

  Status start();
  bool elected() const { return elected_; }
  const std::string& node() const { return node_; }
  ZooKeeper& zookeeper() { return *zk_; }

 private:
  void onSession(ZooKeeper::SessionState s);
  void contend();
  void watch();
  void choose(std::vector<std::string> children);
  void tryCandidate(std::vector<std::string> ordered, size_t i, uint64_t generation);
  void lost(const std::string& why);
  void reportLeader(const std::optional<MasterInfo>& leader);

  Loop& loop_;
  std::unique_ptr<ZooKeeper> zk_;
  std::string path_;
  MasterInfo self_;
  Callbacks callbacks_;
  size_t quorum_;
  bool waitingForQuorum_ = false;
  std::string node_;  // our json.info_ node, once created
  bool elected_ = false;
  bool lost_ = false;
  bool contending_ = false;
  uint64_t generation_ = 0;
  std::optional<MasterInfo> leader_;
  std::string leaderNode_;  // leader_'s election node
  bool reported_ = false;
  std::set<std::string> corrupt_;
};

}  // namespace tutti::master
