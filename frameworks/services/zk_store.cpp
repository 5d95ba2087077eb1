// The ZooKeeper backend of StateStore: one persistent znode per key under
// the store's path. Each call posts the ZooKeeper operation to the session's
// loop and waits for its completion (bounded, so that a lost ZooKeeper gives
// Unavailable instead of a hang).
#include <chrono>
#include <future>

#include "frameworks/services/state_store.hpp"

namespace tutti::services {
namespace {

constexpr auto kTimeout = std::chrono::seconds(15);

class ZkStore final : public StateStore {
 public:
  ZkStore(Loop& loop, ZooKeeper& zk, std::string path)
      : loop_(loop), zk_(zk), path_(std::move(path)) {}

  Status put(const std::string& key, const std::string& value) override {
    std::string node = path_ + "/" + key;
    return wait<Status>([this, node, value](std::function<void(Status)> done) {
      zk_.set(node, value, -1, [this, node, value, done](Status s) {
        if (s.code() != Status::Code::kNotFound) return done(s);
        zk_.createPath(path_, [this, node, value, done](Status made) {
          if (!made.ok()) return done(made);
          zk_.create(node, value, ZooKeeper::kPersistent,
                     [done](Result<std::string> r) { done(r.status()); });
        });
      });
    });
  }

  Status remove(const std::string& key) override {
    std::string node = path_ + "/" + key;
    return wait<Status>([this, node](std::function<void(Status)> done) {
      zk_.remove(node, -1, [done](Status s) {
        done(s.code() == Status::Code::kNotFound ? Status::OK() : s);
      });
    });
  }

  Result<std::map<std::string, std::string>> loadAll() override {
    using All = std::map<std::string, std::string>;
    auto children = wait<Result<std::vector<std::string>>>(
        [this](std::function<void(Result<std::vector<std::string>>)> done) {
          zk_.getChildren(path_, done);
        });
    All all;
    if (!children.ok()) {
      if (children.status().code() == Status::Code::kNotFound) return all;
      return children.status();
    }
    for (const auto& name : *children) {
      auto data = wait<Result<std::string>>(
          [this, name](std::function<void(Result<std::string>)> done) {
            zk_.get(path_ + "/" + name, done);
          });
      if (!data.ok()) return data.status();
      all[name] = *data;
    }
    return all;
  }

 private:
  // Runs `start` on the loop and waits for the value it hands to `done`.
  template <typename T>
  T wait(std::function<void(std::function<void(T)>)> start) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    loop_.post("zk_store.op", [start, promise] {
      start([promise](T value) { promise->set_value(std::move(value)); });
    });
    if (future.wait_for(kTimeout) != std::future_status::ready) {
      return Status::Unavailable("ZooKeeper did not answer within 15 s");
    }
    return future.get();
  }

  Loop& loop_;
  ZooKeeper& zk_;
  std::string path_;
};

}  // namespace

std::unique_ptr<StateStore> makeZkStore(Loop& loop, ZooKeeper& zk, const std::string& path) {
  return std::make_unique<ZkStore>(loop, zk, path);
}

}  // namespace tutti::services
