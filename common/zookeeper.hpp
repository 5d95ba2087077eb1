// ZooKeeper: an asynchronous ZooKeeper client (the C client, zookeeper_mt)
// whose callbacks all run on a Loop.
//
// The C client calls back on its own threads; every completion and watch is
// posted to the owning loop, so users need no locks. Callbacks are dropped
// once the ZooKeeper object is destroyed. Errors come back as Status:
// NotFound (no node), AlreadyExists (node exists), FailedPrecondition (bad
// version), Unavailable (connection loss, session expired or closing),
// IoError (anything else, with ZooKeeper's message).
//
// Threads: construct, call and destroy on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/loop.hpp"
#include "tutti/status.hpp"

typedef struct _zhandle zhandle_t;

namespace tutti {

class ZooKeeper {
 public:
  enum class SessionState {
    kConnecting,  // no session yet, or the connection dropped (the session may survive)
    kConnected,
    kExpired,     // the session is gone: ephemeral nodes and watches with it
    kAuthFailed,
  };
  struct Options {
    std::string servers;            // "host1:2181,host2:2181" (no path)
    Duration sessionTimeout = 10s;  // negotiated with the server
  };
  using SessionCallback = std::function<void(SessionState)>;
  // Fires once, on the loop, when the watched node (or its children) changes
  // or the session ends.
  using Watch = std::function<void()>;

  enum CreateFlags { kPersistent = 0, kEphemeral = 1, kSequential = 2 };

  struct Op {
    enum class Type { kCreate, kDelete, kSet, kCheck };
    Type type = Type::kCreate;
    std::string path;
    std::string data;
    int version = -1;  // -1: any
    int flags = kPersistent;
  };

  ZooKeeper(Loop& loop, Options options, SessionCallback onSession);
  ~ZooKeeper();
  ZooKeeper(const ZooKeeper&) = delete;
  ZooKeeper& operator=(const ZooKeeper&) = delete;

  // Starts connecting; the session callback reports progress.
  Status start();
  // Closes the session (ephemeral nodes go at once). Idempotent.
  void close();

  SessionState state() const { return state_; }
  int64_t sessionId() const;
  Duration negotiatedTimeout() const;

  // The created path (with its sequence number, for kSequential).
  void create(const std::string& path, const std::string& data, int flags,
              std::function<void(Result<std::string>)> done);
  // Creates every missing persistent node of `path` (like mkdir -p).
  void createPath(const std::string& path, std::function<void(Status)> done);
  void get(const std::string& path, std::function<void(Result<std::string>)> done,
           Watch watch = nullptr);
  void getChildren(const std::string& path,
                   std::function<void(Result<std::vector<std::string>>)> done,
                   Watch watch = nullptr);
  void set(const std::string& path, const std::string& data, int version,
           std::function<void(Status)> done);
  void remove(const std::string& path, int version, std::function<void(Status)> done);
  // All or nothing.
  void multi(std::vector<Op> ops, std::function<void(Status)> done);

  // "zk://host1:2181,host2:2181/tutti" to servers and path; rejects anything
  // else with a message.
  static Result<std::pair<std::string, std::string>> parseUrl(const std::string& url);
  static Status toStatus(int rc, const std::string& what);

  // Implementation detail shared with the C client's threads.
  struct Shared;

 private:
  static void onSessionEvent(zhandle_t* zh, int type, int state, const char* path, void* ctx);

  Loop& loop_;
  Options options_;
  SessionCallback onSession_;
  std::shared_ptr<Shared> shared_;
  zhandle_t* zh_ = nullptr;
  SessionState state_ = SessionState::kConnecting;
};

const char* toString(ZooKeeper::SessionState s);

}  // namespace tutti
