// LeaderElection: tutti-services instances sharing a --zk path elect one
// leader. Each creates an ephemeral sequential znode <path>/member_NNNNNNNNNN
// holding its API address ("host:port"); the lowest leads, and every
// instance learns the leader's address (for redirects). An instance whose
// session ends has lost its node: onLost fires and the process exits, to be
// restarted by its supervisor (as tutti-master does).
//
// Threads: construct, start and destroy on the ZooKeeper's loop; callbacks
// run there.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/zookeeper.hpp"

namespace tutti::services {

class LeaderElection {
 public:
  struct Callbacks {
    std::function<void()> onElected;                                    // once
    std::function<void(const std::optional<std::string>&)> onLeader;   // every change
    std::function<void(const std::string& why)> onLost;                // once
  };

  // `zk` must be started; the election begins when its session connects
  // (call onSession from the ZooKeeper's session callback).
  LeaderElection(Loop& loop, ZooKeeper& zk, std::string path, std::string self,
                 Callbacks callbacks);
  void onSession(ZooKeeper::SessionState s);

 private:
  void contend();
  void watch();
  void choose(const std::vector<std::string>& children);
  void lost(const std::string& why);

  Loop& loop_;
  ZooKeeper& zk_;
  std::string path_;
  std::string self_;
  Callbacks callbacks_;
  std::string node_;  // our member_ node, once created
  bool contending_ = false;
  bool elected_ = false;
  bool lost_ = false;
  std::optional<std::string> leader_;
  std::string leaderNode_;
};

}  // namespace tutti::services
