// --registry=zk: the registry in ZooKeeper under <path>/registry, one znode
// per agent (agents/<id>), per framework (frameworks/<id>) and per role
// (roles/<role, '/' escaped as %2F>), and one for the maintenance schedule
// and machine modes (maintenance; absent when there is none). Each batch of
// changes is written with multi-op transactions of at most 500 operations.
#include <glog/logging.h>

#include <memory>

#include "common/files.hpp"
#include "common/zookeeper.hpp"
#include "master/registry/registry.hpp"
#include "master/registry/zk_registry.hpp"

namespace tutti::master {

namespace {
constexpr size_t kOpsPerMulti = 500;


class ZkRegistry final : public Registry {
 public:
  ZkRegistry(Loop& loop, ZooKeeper& zk, std::string root)
      : Registry(loop), zk_(zk), root_(std::move(root)) {}
  const char* name() const override { return "zk"; }

 protected:
  void load(std::function<void(Result<RegistryState>)> done) override {
    // The three directories are made (if new) and read side by side; the
    // maintenance node last. Every callback runs on the loop thread.
    struct Join {
      std::shared_ptr<RegistryState> state = std::make_shared<RegistryState>();
      size_t left = 3;
      bool failed = false;
      std::function<void(Result<RegistryState>)> done;
    };
    auto join = std::make_shared<Join>();
    join->done = std::move(done);
    auto fail = [join](const Status& s) {
      if (join->failed) return;
      join->failed = true;
      join->done(Result<RegistryState>(s));
    };
    for (const char* kind : {"agents", "frameworks", "roles"}) {
      zk_.createPath(root_ + "/" + kind, [this, kind, join, fail](Status s) {
        if (join->failed) return;
        if (!s.ok()) return fail(s);
        loadChildren(kind, join->state, [this, join, fail](Status s) {
          if (join->failed) return;
          if (!s.ok()) return fail(s);
          if (--join->left > 0) return;
          loadMaintenance(join->state, [join, fail](Status s) {
            if (!s.ok()) return fail(s);
            join->done(Result<RegistryState>(std::move(*join->state)));
          });
        });
      });
    }
  }

  void store(const RegistryState& state, const Dirty& dirty, Done done) override {
    std::vector<ZooKeeper::Op> ops;
    auto put = [&](const std::string& path, std::string data) {
      ZooKeeper::Op op;
      op.path = path;
      op.data = std::move(data);
      if (existing_.count(path)) {
        op.type = ZooKeeper::Op::Type::kSet;
      } else {
        op.type = ZooKeeper::Op::Type::kCreate;
        existing_.insert(path);
      }
      ops.push_back(std::move(op));
    };
    auto drop = [&](const std::string& path) {
      if (!existing_.erase(path)) return;
      ZooKeeper::Op op;
      op.type = ZooKeeper::Op::Type::kDelete;
      op.path = path;
      ops.push_back(std::move(op));
    };
    for (const auto& id : dirty.agents) {
      std::string path = root_ + "/agents/" + id.value;
      auto it = state.agents.find(id);
      if (it == state.agents.end()) {
        drop(path);
      } else {
        put(path, encodeRegistryAgent(it->second));
      }
    }
    for (const auto& id : dirty.frameworks) {
      std::string path = root_ + "/frameworks/" + id.value;
      auto it = state.frameworks.find(id);
      if (it == state.frameworks.end()) {
        drop(path);
      } else {
        put(path, encodeRegistryFramework(it->second));
      }
    }
    for (const auto& role : dirty.roles) {
      std::string path = root_ + "/roles/" + escapeRoleForPath(role);
      auto w = state.weights.find(role);
      auto q = state.quotas.find(role);
      if (w == state.weights.end() && q == state.quotas.end()) {
        drop(path);
      } else {
        put(path, encodeRegistryRole(
                      role, w == state.weights.end() ? std::nullopt : std::optional<double>(w->second),
                      q == state.quotas.end() ? std::nullopt : std::optional<Quota>(q->second)));
      }
    }
    if (dirty.maintenance) {
      std::string path = root_ + "/maintenance";
      if (state.maintenance.empty()) {
        drop(path);
      } else {
        put(path, encodeRegistryMaintenance(state.maintenance));
      }
    }
    writeBatches(std::make_shared<std::vector<ZooKeeper::Op>>(std::move(ops)), 0,
                 std::move(done));
  }

 private:
  void writeBatches(std::shared_ptr<std::vector<ZooKeeper::Op>> ops, size_t from, Done done) {
    if (from >= ops->size()) {
      loop_.post("registry.stored", [done = std::move(done)] { done(Status::OK()); });
      return;
    }
    size_t to = std::min(ops->size(), from + kOpsPerMulti);
    std::vector<ZooKeeper::Op> batch(ops->begin() + static_cast<long>(from),
                                     ops->begin() + static_cast<long>(to));
    zk_.multi(std::move(batch), [this, ops, to, done = std::move(done)](Status s) mutable {
      if (!s.ok()) {
        // What exists is unknown now: re-read the node list before the next
        // write by forgetting it (the master steps down on a failed write).
        done(s);
        return;
      }
      writeBatches(ops, to, std::move(done));
    });
  }

  void loadMaintenance(std::shared_ptr<RegistryState> state, std::function<void(Status)> done) {
    std::string path = root_ + "/maintenance";
    zk_.get(path, [this, path, state, done](Result<std::string> data) {
      if (!data.ok()) {
        if (data.status().code() == Status::Code::kNotFound) return done(Status::OK());
        return done(data.status());
      }
      existing_.insert(path);
      auto m = decodeRegistryMaintenance(*data);
      if (!m.ok()) {
        return done(Status::InvalidArgument("corrupt registry node " + path + " (" + m.error() +
                                            "); it is left in place for the operator"));
      }
      state->maintenance = *m;
      done(Status::OK());
    });
  }

  void loadChildren(const std::string& kind, std::shared_ptr<RegistryState> state,
                    std::function<void(Status)> done) {
    std::string dir = root_ + "/" + kind;
    zk_.getChildren(dir, [this, kind, dir, state, done](Result<std::vector<std::string>> names) {
      if (!names.ok()) return done(names.status());
      auto remaining = std::make_shared<size_t>(names->size());
      auto failed = std::make_shared<bool>(false);
      if (names->empty()) return done(Status::OK());
      for (const auto& name : *names) {
        std::string path = dir + "/" + name;
        existing_.insert(path);
        zk_.get(path, [kind, path, state, done, remaining, failed](Result<std::string> data) {
          if (*failed) return;
          Status s = data.status();
          if (s.ok()) {
            if (kind == "agents") {
              auto a = decodeRegistryAgent(*data);
              if (a.ok()) {
                AgentID id = *a->info.id;
                state->agents[id] = std::move(*a);
              } else {
                s = a.status();
              }
            } else if (kind == "frameworks") {
              auto f = decodeRegistryFramework(*data);
              if (f.ok()) {
                FrameworkID id = *f->id;
                state->frameworks[id] = std::move(*f);
              } else {
                s = f.status();
              }
            } else {
              s = decodeRegistryRole(*data, *state);
            }
            if (!s.ok()) {
              s = Status::InvalidArgument("corrupt registry node " + path + " (" + s.message() +
                                          "); it is left in place for the operator");
            }
          }
          if (!s.ok()) {
            *failed = true;
            done(s);
            return;
          }
          if (--*remaining == 0) done(Status::OK());
        });
      }
    });
  }

  ZooKeeper& zk_;
  std::string root_;
  std::set<std::string> existing_;  // nodes known to exist
};
}  // namespace

std::unique_ptr<Registry> makeZkRegistry(Loop& loop, ZooKeeper& zk, const std::string& root) {
  return std::make_unique<ZkRegistry>(loop, zk, root);
}

}  // namespace tutti::master
