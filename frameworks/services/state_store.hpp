// StateStore: where tutti-services keeps what must survive a restart or a
// failover (the FrameworkID, and one record per app: its definition, its
// instances and its deployment). Keys are short names ([a-z0-9_.-]);
// values are JSON text.
//
// Backends: files in --state_dir (one file per key, each replaced
// atomically), or znodes under <--zk path>/state (one per key).
// Threads: any; calls block until the write is durable. Errors: IoError
// (disk), Unavailable (ZooKeeper unreachable); a failed write changes
// nothing the caller may rely on.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/loop.hpp"
#include "common/zookeeper.hpp"
#include "tutti/status.hpp"

namespace tutti::services {

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Status put(const std::string& key, const std::string& value) = 0;
  // OK when the key does not exist.
  virtual Status remove(const std::string& key) = 0;
  virtual Result<std::map<std::string, std::string>> loadAll() = 0;
};

// Files under `dir` (created when missing).
std::unique_ptr<StateStore> makeFileStore(const std::string& dir);
// Znodes under `path` through `zk`, whose callbacks run on `loop` (a loop
// running on another thread than the callers').
std::unique_ptr<StateStore> makeZkStore(Loop& loop, ZooKeeper& zk, const std::string& path);
// An in-memory store (tests).
std::unique_ptr<StateStore> makeMemoryStore();

}  // namespace tutti::services
