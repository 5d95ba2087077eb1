// Integration: the ZooKeeper client wrapper against a real ZooKeeper server.
#include <gtest/gtest.h>

#include <thread>

#include "common/zookeeper.hpp"
#include "master/registry/zk_registry.hpp"
#include "tests/fixtures/tcp_proxy.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

namespace tutti::testing {
namespace {

class ZooKeeperTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  std::unique_ptr<ZooKeeper> connect(Duration timeout = std::chrono::seconds(4),
                                     std::string servers = "") {
    if (servers.empty()) servers = server_.servers();
    auto zk = std::make_unique<ZooKeeper>(
        loop_, ZooKeeper::Options{servers, timeout},
        [this](ZooKeeper::SessionState s) { events_.push_back(s); });
    EXPECT_TRUE(zk->start().ok());
    EXPECT_TRUE(runUntil([&] { return zk->state() == ZooKeeper::SessionState::kConnected; }));
    return zk;
  }

  // Drives the loop (from this thread) until `condition` holds.
  bool runUntil(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      loop_.runOnce(std::chrono::milliseconds(10));
    }
    return condition();
  }

  ZooKeeperServer server_;
  Loop loop_{RealClock::instance()};
  std::vector<ZooKeeper::SessionState> events_;
};

TEST_F(ZooKeeperTest, CreatesReadsWatchesAndDeletes) {
  auto zk = connect();
  std::optional<Status> made;
  zk->createPath("/tutti/test", [&](Status s) { made = s; });
  ASSERT_TRUE(runUntil([&] { return made.has_value(); }));
  ASSERT_TRUE(made->ok()) << *made;

  std::vector<std::string> created;
  for (int i = 0; i < 3; ++i) {
    zk->create("/tutti/test/n_", "v" + std::to_string(i),
               ZooKeeper::kEphemeral | ZooKeeper::kSequential,
               [&](Result<std::string> r) {
                 ASSERT_TRUE(r.ok()) << r.error();
                 created.push_back(*r);
               });
  }
  ASSERT_TRUE(runUntil([&] { return created.size() == 3; }));
  EXPECT_EQ(created[0], "/tutti/test/n_0000000000");

  std::optional<Result<std::string>> data;
  zk->get(created[1], [&](Result<std::string> r) { data = r; });
  ASSERT_TRUE(runUntil([&] { return data.has_value(); }));
  EXPECT_EQ(data->value(), "v1");

  bool childrenChanged = false;
  std::optional<Result<std::vector<std::string>>> children;
  zk->getChildren("/tutti/test", [&](auto r) { children = r; },
                  [&] { childrenChanged = true; });
  ASSERT_TRUE(runUntil([&] { return children.has_value(); }));
  EXPECT_EQ(children->value().size(), 3u);

  std::optional<Status> removed;
  zk->remove(created[0], -1, [&](Status s) { removed = s; });
  ASSERT_TRUE(runUntil([&] { return removed.has_value() && childrenChanged; }));
  EXPECT_TRUE(removed->ok());

  std::optional<Result<std::string>> missing;
  zk->get("/tutti/nope", [&](Result<std::string> r) { missing = r; });
  ASSERT_TRUE(runUntil([&] { return missing.has_value(); }));
  EXPECT_EQ(missing->status().code(), Status::Code::kNotFound);

  // Multi is all or nothing: the second op fails, so the first is undone.
  std::optional<Status> multi;
  zk->multi({{ZooKeeper::Op::Type::kCreate, "/tutti/test/a", "x", -1, ZooKeeper::kPersistent},
             {ZooKeeper::Op::Type::kDelete, "/tutti/test/none", "", -1, 0}},
            [&](Status s) { multi = s; });
  ASSERT_TRUE(runUntil([&] { return multi.has_value(); }));
  EXPECT_FALSE(multi->ok());
  std::optional<Result<std::string>> a;
  zk->get("/tutti/test/a", [&](Result<std::string> r) { a = r; });
  ASSERT_TRUE(runUntil([&] { return a.has_value(); }));
  EXPECT_EQ(a->status().code(), Status::Code::kNotFound);
}

// The zk registry backend keeps the maintenance schedule and machine modes
// in one node, <root>/maintenance, and removes it when there is none.
TEST_F(ZooKeeperTest, RegistryKeepsMaintenanceInOneNode) {
  auto zk = connect();
  const std::string root = "/tutti/registry";
  master::MaintenanceState m;
  master::MaintenanceWindow w;
  w.machineIds = {master::MachineID{"host1", ""}, master::MachineID{"", "10.0.0.2"}};
  w.unavailability.start = std::chrono::seconds(1800000000);
  w.unavailability.duration = std::chrono::minutes(30);
  m.schedule.windows = {w};
  m.modes = {{master::MachineID{"host1", ""}, master::MachineMode::kDown},
             {master::MachineID{"", "10.0.0.2"}, master::MachineMode::kDraining}};

  // Recovers a fresh registry and stores `state`; returns what the next
  // registry on the same path recovers.
  auto storeThenRecover = [&](const master::MaintenanceState& state) {
    auto r = master::makeZkRegistry(loop_, *zk, root);
    std::optional<Result<master::RegistryState>> loaded;
    r->recover([&](Result<master::RegistryState> s) { loaded = s; });
    EXPECT_TRUE(runUntil([&] { return loaded.has_value(); }));
    EXPECT_TRUE(loaded->ok()) << loaded->error();
    std::optional<Status> stored;
    r->setMaintenance(state, [&](Status s) { stored = s; });
    EXPECT_TRUE(runUntil([&] { return stored.has_value(); }));
    EXPECT_TRUE(stored->ok()) << *stored;
    auto again = master::makeZkRegistry(loop_, *zk, root);
    std::optional<Result<master::RegistryState>> reloaded;
    again->recover([&](Result<master::RegistryState> s) { reloaded = s; });
    EXPECT_TRUE(runUntil([&] { return reloaded.has_value(); }));
    EXPECT_TRUE(reloaded->ok()) << reloaded->error();
    return reloaded->ok() ? reloaded->value().maintenance : master::MaintenanceState{};
  };

  EXPECT_EQ(storeThenRecover(m), m);
  std::optional<Result<std::string>> node;
  zk->get(root + "/maintenance", [&](Result<std::string> r) { node = r; });
  ASSERT_TRUE(runUntil([&] { return node.has_value(); }));
  ASSERT_TRUE(node->ok()) << node->error();
  auto decoded = master::decodeRegistryMaintenance(node->value());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, m);

  EXPECT_TRUE(storeThenRecover(master::MaintenanceState{}).empty());
  node.reset();
  zk->get(root + "/maintenance", [&](Result<std::string> r) { node = r; });
  ASSERT_TRUE(runUntil([&] { return node.has_value(); }));
  EXPECT_EQ(node->status().code(), Status::Code::kNotFound);
}

TEST_F(ZooKeeperTest, EphemeralNodesGoWithTheSessionAndOutagesExpireIt) {
  auto owner = connect(std::chrono::seconds(1));
  auto watcher = connect(std::chrono::seconds(30));
  std::optional<Status> made;
  owner->create("/leader", "me", ZooKeeper::kEphemeral, [&](Result<std::string> r) {
    made = r.status();
  });
  ASSERT_TRUE(runUntil([&] { return made.has_value(); }));
  ASSERT_TRUE(made->ok());

  // Closing ends the session at once.
  bool gone = false;
  bool seen = false;
  watcher->get("/leader", [&](Result<std::string> r) { seen = r.ok(); }, [&] { gone = true; });
  ASSERT_TRUE(runUntil([&] { return seen; }));
  owner->close();
  ASSERT_TRUE(runUntil([&] { return gone; }));

  // A partition longer than the session timeout expires the session (the
  // server, still up, forgets it; the client learns when it is back).
  TcpProxy proxy(server_.port());
  auto partitioned = connect(std::chrono::seconds(1), "127.0.0.1:" + std::to_string(proxy.port()));
  events_.clear();
  proxy.block();
  ASSERT_TRUE(runUntil([&] {
    return std::find(events_.begin(), events_.end(), ZooKeeper::SessionState::kConnecting) !=
           events_.end();
  }));
  auto cut = std::chrono::steady_clock::now();
  runUntil([&] { return std::chrono::steady_clock::now() - cut > std::chrono::milliseconds(2500); });
  proxy.unblock();
  EXPECT_TRUE(runUntil([&] { return partitioned->state() == ZooKeeper::SessionState::kExpired; }))
      << toString(partitioned->state());
}

TEST(ZooKeeperUrlTest, ParsesAndRejects) {
  auto ok = ZooKeeper::parseUrl("zk://h1:2181,h2:2182/tutti/");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "h1:2181,h2:2182");
  EXPECT_EQ(ok->second, "/tutti");
  for (const char* bad : {"h1:2181/tutti", "zk://h1:2181", "zk:///tutti", "zk://h1/tutti",
                          "zk://h1:x/tutti", "zk://h1:2181//", "zk://:2181/t"}) {
    EXPECT_FALSE(ZooKeeper::parseUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tutti::testing
