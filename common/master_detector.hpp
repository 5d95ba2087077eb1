// MasterDetector: finds the leading master for agents, scheduler and
// executor-side code, and the CLI.
//
// `--master` is either HOST:PORT (a standalone master's message port) or
// zk://host1:2181,host2:2181/path: the leader is the master whose
// <path>/json.info_NNNNNNNNNN node has the lowest sequence number among the
// nodes that parse (a corrupt node is skipped and logged, and left for the
// operator). The detector reports every change of leader, and "no leader"
// while there is none. A ZooKeeper session that expires is replaced.
//
// Threads: create, start and destroy on the loop thread; callbacks run there.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/loop.hpp"
#include "tutti/types.hpp"

namespace tutti {

class MasterDetector {
 public:
  using OnChange = std::function<void(const std::optional<MasterInfo>& leader)>;

  // Validates `master` (InvalidArgument with a message for a bad value).
  static Result<std::unique_ptr<MasterDetector>> create(Loop& loop, const std::string& master,
                                                        OnChange onChange,
                                                        Duration zkSessionTimeout = 10s);
  virtual ~MasterDetector() = default;
  virtual Status start() = 0;
  virtual const std::optional<MasterInfo>& leader() const = 0;
};

// The "ip:port" of a master's message address ("tcp://ip:port").
std::string hostPortOf(const MasterInfo& info);

}  // namespace tutti
