#include "common/zookeeper.hpp"

#include <glog/logging.h>
#include <zookeeper/zookeeper.h>

#include <mutex>
#include <set>

namespace tutti {

const char* toString(ZooKeeper::SessionState s) {
  switch (s) {
    case ZooKeeper::SessionState::kConnecting: return "CONNECTING";
    case ZooKeeper::SessionState::kConnected: return "CONNECTED";
    case ZooKeeper::SessionState::kExpired: return "EXPIRED";
    case ZooKeeper::SessionState::kAuthFailed: return "AUTH_FAILED";
  }
  return "UNKNOWN";
}

// What completions and watches share with the ZooKeeper object: they post to
// the loop only while it is alive, and check again on the loop.
struct ZooKeeper::Shared {
  std::mutex mu;
  bool alive = true;
  Loop* loop = nullptr;
  ZooKeeper* owner = nullptr;
  std::set<void*> watches;  // live watch contexts, freed at close
  std::weak_ptr<Shared> self;

};

namespace {
// How long a connected client goes without resolving the server names again.
constexpr int kServerResolutionDelayMs = 30'000;

struct WatchContext {
  std::shared_ptr<ZooKeeper::Shared> shared;
  ZooKeeper::Watch fn;
};

template <typename Done>
struct Completion {
  std::shared_ptr<ZooKeeper::Shared> shared;
  Done done;
};

void watchFired(zhandle_t*, int type, int state, const char*, void* ctx) {
  auto* w = static_cast<WatchContext*>(ctx);
  // Session events reach per-node watches too; only the end of the session
  // ends them. Node events end them once.
  if (type == ZOO_SESSION_EVENT && state != ZOO_EXPIRED_SESSION_STATE) return;
  auto shared = w->shared;
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->watches.erase(w);
    if (shared->alive) {
      shared->loop->post("zk.watch", [shared, fn = std::move(w->fn)] {
        if (shared->alive && fn) fn();
      });
    }
  }
  delete w;
}

WatchContext* makeWatch(const std::shared_ptr<ZooKeeper::Shared>& shared, ZooKeeper::Watch fn) {
  if (!fn) return nullptr;
  auto* w = new WatchContext{shared, std::move(fn)};
  std::lock_guard<std::mutex> lock(shared->mu);
  shared->watches.insert(w);
  return w;
}

// Delivers `value` to `done` on the loop if the client is still alive.
template <typename T>
void deliver(const std::shared_ptr<ZooKeeper::Shared>& shared,
             std::function<void(T)> done, T value) {
  std::lock_guard<std::mutex> lock(shared->mu);
  if (!shared->alive) return;
  shared->loop->post("zk.completion", [shared, done = std::move(done),
                                       value = std::move(value)]() mutable {
    if (shared->alive && done) done(std::move(value));
  });
}
}  // namespace

Status ZooKeeper::toStatus(int rc, const std::string& what) {
  switch (rc) {
    case ZOK: return Status::OK();
    case ZNONODE: return Status::NotFound(what + ": no such node");
    case ZNODEEXISTS: return Status::AlreadyExists(what + ": node exists");
    case ZBADVERSION: return Status::FailedPrecondition(what + ": version mismatch");
    case ZNOTEMPTY: return Status::FailedPrecondition(what + ": node has children");
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZCLOSING:
    case ZINVALIDSTATE:
      return Status::Unavailable(what + ": " + zerror(rc));
    default:
      return Status::IoError(what + ": " + zerror(rc));
  }
}

ZooKeeper::ZooKeeper(Loop& loop, Options options, SessionCallback onSession)
    : loop_(loop),
      options_(std::move(options)),
      onSession_(std::move(onSession)),
      shared_(std::make_shared<Shared>()) {
  shared_->loop = &loop_;
  shared_->owner = this;
  shared_->self = shared_;
  static std::once_flag quiet;
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
}

ZooKeeper::~ZooKeeper() { close(); }

void ZooKeeper::onSessionEvent(zhandle_t*, int type, int state, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* shared = static_cast<Shared*>(ctx);
  SessionState s = SessionState::kConnecting;
  if (state == ZOO_CONNECTED_STATE) {
    s = SessionState::kConnected;
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    s = SessionState::kExpired;
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    s = SessionState::kAuthFailed;
  }
  std::lock_guard<std::mutex> lock(shared->mu);
  if (!shared->alive) return;
  ZooKeeper* owner = shared->owner;
  std::shared_ptr<Shared> raw = shared->self.lock();
  if (!raw) return;
  shared->loop->post("zk.session", [owner, raw, s] {
    // `alive` is cleared on this (the loop) thread before the owner goes,
    // so reading it here needs no lock.
    if (!raw->alive) return;
    owner->state_ = s;
    if (owner->onSession_) owner->onSession_(s);
  });
}

Status ZooKeeper::start() {
  if (zh_) return Status::OK();
  int timeoutMs = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       options_.sessionTimeout)
                                       .count());
  zh_ = zookeeper_init(options_.servers.c_str(), &ZooKeeper::onSessionEvent, timeoutMs, nullptr,
                       shared_.get(), 0);
  if (!zh_) {
    return Status::InvalidArgument("cannot start a ZooKeeper client for '" + options_.servers +
                                   "'");
  }
  // By default the client resolves the server names again (getaddrinfo,
  // which opens and closes a netlink socket) on every turn of its I/O
  // thread: with thousands of requests in flight, as when a new leader
  // reads and rewrites the registry, that was most of the thread's time.
  // Names are still resolved on every reconnection.
  (void)zoo_set_servers_resolution_delay(zh_, kServerResolutionDelayMs);
  return Status::OK();
}

void ZooKeeper::close() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->alive = false;
  }
  if (zh_) {
    zookeeper_close(zh_);  // joins the client's threads
    zh_ = nullptr;
  }
  std::set<void*> left;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    left.swap(shared_->watches);
  }
  for (void* w : left) delete static_cast<WatchContext*>(w);
}

int64_t ZooKeeper::sessionId() const {
  if (!zh_) return 0;
  const clientid_t* id = zoo_client_id(zh_);
  return id ? id->client_id : 0;
}

Duration ZooKeeper::negotiatedTimeout() const {
  return zh_ ? std::chrono::milliseconds(zoo_recv_timeout(zh_)) : Duration(0);
}

void ZooKeeper::create(const std::string& path, const std::string& data, int flags,
                       std::function<void(Result<std::string>)> done) {
  using Ctx = Completion<std::function<void(Result<std::string>)>>;
  auto* ctx = new Ctx{shared_, std::move(done)};
  int mode = ((flags & kEphemeral) ? ZOO_EPHEMERAL : 0) | ((flags & kSequential) ? ZOO_SEQUENCE : 0);
  int rc = zh_ ? zoo_acreate(
                     zh_, path.c_str(), data.data(), static_cast<int>(data.size()),
                     &ZOO_OPEN_ACL_UNSAFE, mode,
                     [](int rc, const char* value, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       Result<std::string> r = rc == ZOK ? Result<std::string>(std::string(value))
                                                         : Result<std::string>(toStatus(rc, "create"));
                       deliver(ctx->shared, std::move(ctx->done), std::move(r));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), Result<std::string>(toStatus(rc, "create " + path)));
    delete ctx;
  }
}

void ZooKeeper::createPath(const std::string& path, std::function<void(Status)> done) {
  // One create per prefix, all sent at once: a session's requests are
  // applied in order, so each parent exists before its child is created,
  // and the whole path costs one round trip. "Exists" is fine.
  std::vector<std::string> prefixes;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') prefixes.push_back(path.substr(0, i));
  }
  if (prefixes.empty()) {
    done(Status::InvalidArgument("cannot create the empty path"));
    return;
  }
  struct Join {
    size_t left;
    Status first;  // the first error, if any
    std::function<void(Status)> done;
  };
  auto join = std::make_shared<Join>(Join{prefixes.size(), Status::OK(), std::move(done)});
  for (const auto& prefix : prefixes) {
    create(prefix, "", kPersistent, [join](Result<std::string> r) {
      if (!r.ok() && r.status().code() != Status::Code::kAlreadyExists && join->first.ok()) {
        join->first = r.status();
      }
      if (--join->left == 0) join->done(join->first);
    });
  }
}

void ZooKeeper::get(const std::string& path, std::function<void(Result<std::string>)> done,
                    Watch watch) {
  using Ctx = Completion<std::function<void(Result<std::string>)>>;
  auto* ctx = new Ctx{shared_, std::move(done)};
  WatchContext* w = makeWatch(shared_, std::move(watch));
  int rc = zh_ ? zoo_awget(
                     zh_, path.c_str(), w ? &watchFired : nullptr, w,
                     [](int rc, const char* value, int len, const Stat*, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       Result<std::string> r =
                           rc == ZOK ? Result<std::string>(value ? std::string(value, len)
                                                                 : std::string())
                                     : Result<std::string>(toStatus(rc, "get"));
                       deliver(ctx->shared, std::move(ctx->done), std::move(r));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), Result<std::string>(toStatus(rc, "get " + path)));
    delete ctx;
  }
}

void ZooKeeper::getChildren(const std::string& path,
                            std::function<void(Result<std::vector<std::string>>)> done,
                            Watch watch) {
  using R = Result<std::vector<std::string>>;
  using Ctx = Completion<std::function<void(R)>>;
  auto* ctx = new Ctx{shared_, std::move(done)};
  WatchContext* w = makeWatch(shared_, std::move(watch));
  int rc = zh_ ? zoo_awget_children2(
                     zh_, path.c_str(), w ? &watchFired : nullptr, w,
                     [](int rc, const String_vector* strings, const Stat*, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       R r = toStatus(rc, "get children").ok() ? R(std::vector<std::string>())
                                                               : R(toStatus(rc, "get children"));
                       if (r.ok() && strings) {
                         for (int i = 0; i < strings->count; ++i) r->push_back(strings->data[i]);
                       }
                       deliver(ctx->shared, std::move(ctx->done), std::move(r));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), R(toStatus(rc, "get children " + path)));
    delete ctx;
  }
}

void ZooKeeper::set(const std::string& path, const std::string& data, int version,
                    std::function<void(Status)> done) {
  using Ctx = Completion<std::function<void(Status)>>;
  auto* ctx = new Ctx{shared_, std::move(done)};
  int rc = zh_ ? zoo_aset(
                     zh_, path.c_str(), data.data(), static_cast<int>(data.size()), version,
                     [](int rc, const Stat*, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       deliver(ctx->shared, std::move(ctx->done), toStatus(rc, "set"));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), toStatus(rc, "set " + path));
    delete ctx;
  }
}

void ZooKeeper::remove(const std::string& path, int version, std::function<void(Status)> done) {
  using Ctx = Completion<std::function<void(Status)>>;
  auto* ctx = new Ctx{shared_, std::move(done)};
  int rc = zh_ ? zoo_adelete(
                     zh_, path.c_str(), version,
                     [](int rc, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       deliver(ctx->shared, std::move(ctx->done), toStatus(rc, "delete"));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), toStatus(rc, "delete " + path));
    delete ctx;
  }
}

void ZooKeeper::multi(std::vector<Op> ops, std::function<void(Status)> done) {
  struct Ctx {
    std::shared_ptr<Shared> shared;
    std::function<void(Status)> done;
    std::vector<Op> ops;
    std::vector<zoo_op_t> zops;
    std::vector<zoo_op_result_t> results;
    std::vector<std::string> pathBuffers;
  };
  auto* ctx = new Ctx{shared_, std::move(done), std::move(ops), {}, {}, {}};
  ctx->zops.resize(ctx->ops.size());
  ctx->results.resize(ctx->ops.size());
  ctx->pathBuffers.resize(ctx->ops.size(), std::string(1024, '\0'));
  for (size_t i = 0; i < ctx->ops.size(); ++i) {
    const Op& op = ctx->ops[i];
    switch (op.type) {
      case Op::Type::kCreate: {
        int mode = ((op.flags & kEphemeral) ? ZOO_EPHEMERAL : 0) |
                   ((op.flags & kSequential) ? ZOO_SEQUENCE : 0);
        zoo_create_op_init(&ctx->zops[i], op.path.c_str(), op.data.data(),
                           static_cast<int>(op.data.size()), &ZOO_OPEN_ACL_UNSAFE, mode,
                           ctx->pathBuffers[i].data(),
                           static_cast<int>(ctx->pathBuffers[i].size()));
        break;
      }
      case Op::Type::kDelete:
        zoo_delete_op_init(&ctx->zops[i], op.path.c_str(), op.version);
        break;
      case Op::Type::kSet:
        zoo_set_op_init(&ctx->zops[i], op.path.c_str(), op.data.data(),
                        static_cast<int>(op.data.size()), op.version, nullptr);
        break;
      case Op::Type::kCheck:
        zoo_check_op_init(&ctx->zops[i], op.path.c_str(), op.version);
        break;
    }
  }
  int rc = zh_ ? zoo_amulti(
                     zh_, static_cast<int>(ctx->zops.size()), ctx->zops.data(),
                     ctx->results.data(),
                     [](int rc, const void* c) {
                       auto* ctx = static_cast<Ctx*>(const_cast<void*>(c));
                       deliver(ctx->shared, std::move(ctx->done), toStatus(rc, "multi"));
                       delete ctx;
                     },
                     ctx)
               : ZINVALIDSTATE;
  if (rc != ZOK) {
    deliver(shared_, std::move(ctx->done), toStatus(rc, "multi"));
    delete ctx;
  }
}

Result<std::pair<std::string, std::string>> ZooKeeper::parseUrl(const std::string& url) {
  const std::string prefix = "zk://";
  if (url.rfind(prefix, 0) != 0) {
    return Status::InvalidArgument("'" + url + "' is not a zk:// URL");
  }
  std::string rest = url.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0) {
    return Status::InvalidArgument("'" + url + "' needs servers and a path: zk://host:port/path");
  }
  std::string servers = rest.substr(0, slash);
  std::string path = rest.substr(slash);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.size() < 2 || path.find("//") != std::string::npos) {
    return Status::InvalidArgument("'" + url + "' has an invalid path");
  }
  size_t start = 0;
  while (start <= servers.size()) {
    size_t end = servers.find(',', start);
    if (end == std::string::npos) end = servers.size();
    std::string hp = servers.substr(start, end - start);
    auto colon = hp.rfind(':');
    if (hp.empty() || colon == std::string::npos || colon == 0 || colon + 1 == hp.size() ||
        hp.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
      return Status::InvalidArgument("'" + url + "': '" + hp + "' is not HOST:PORT");
    }
    start = end + 1;
  }
  return std::make_pair(servers, path);
}

}  // namespace tutti
