// Reservations (RESERVE/UNRESERVE offer operations and operator
// reservations), weights and quota at the master, with the fake transport
// and a manual clock.
#include <gtest/gtest.h>

#include <cmath>

#include "common/loop.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "master/master.hpp"
#include "tests/fixtures/fake_transport.hpp"

namespace tutti::master {
namespace {

using testing::FakeTransport;

Resources res(const std::string& text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? *r : Resources();
}

// `text` with a dynamic reservation for `role` by `principal` on top.
Resources reserved(const std::string& text, const std::string& role,
                   const std::string& principal) {
  return res(text).pushReservation({ReservationInfo::Type::DYNAMIC, role, principal, {}});
}

class ReservationTest : public ::testing::Test {
 protected:
  ReservationTest() : loop_(clock_), transport_(loop_, metrics_) {}

  void SetUp() override {
    MasterInfo info;
    info.id = MasterID("m1");
    info.messageAddress = "tcp://127.0.0.1:6050";
    master_ = std::make_unique<Master>(MasterOptions{}, info, loop_, transport_, metrics_,
                                       std::make_unique<HierarchicalAllocator>());
    master_->start();
    loop_.settle();  // the registry is recovered before messages are handled
    wire::RegisterAgentMessage reg;
    reg.agentInfo.hostname = "host1";
    reg.agentInfo.port = 5051;
    reg.agentInfo.resources = res(agentResources_);
    transport_.inject("agent", reg);
    loop_.settle();
    auto registered = transport_.take<wire::AgentRegisteredMessage>("agent");
    ASSERT_EQ(registered.size(), 1u);
    agent_ = registered[0].agentId;
  }

  FrameworkID subscribe(const ConnectionId& conn, const std::string& role,
                        const std::string& principal = "") {
    wire::SubscribeCall call;
    call.frameworkInfo.name = conn;
    call.frameworkInfo.user = "u";
    call.frameworkInfo.roles = {role};
    call.frameworkInfo.principal = principal;
    transport_.inject(conn, call);
    loop_.settle();
    auto subscribed = transport_.take<wire::SubscribedEvent>(conn);
    EXPECT_EQ(subscribed.size(), 1u);
    return subscribed.empty() ? FrameworkID() : subscribed[0].frameworkId;
  }

  std::vector<Offer> offers(const ConnectionId& conn) {
    std::vector<Offer> out;
    for (auto& e : transport_.take<wire::OffersEvent>(conn)) {
      out.insert(out.end(), e.offers.begin(), e.offers.end());
    }
    return out;
  }

  Resources agentTotal() { return master_->agents().find(agent_)->total; }
  std::string agentResources_ = "cpus:4;mem:4096";

  ManualClock clock_;
  Metrics metrics_;
  Loop loop_;
  FakeTransport transport_;
  std::unique_ptr<Master> master_;
  AgentID agent_;
};

TEST_F(ReservationTest, ReserveInAnAcceptReservesForTheRoleAndUnreserveGivesItBack) {
  FrameworkID eng = subscribe("eng", "eng", "alice");
  auto o = offers("eng");
  ASSERT_EQ(o.size(), 1u);
  Offer::Operation reserve;
  reserve.type = Offer::Operation::Type::RESERVE;
  reserve.resources = reserved("cpus:1;mem:512", "eng", "alice");
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id}, {reserve}, Filters{0}});
  loop_.settle();

  EXPECT_EQ(agentTotal(), res("cpus:3;mem:3584") + reserved("cpus:1;mem:512", "eng", "alice"));
  auto checkpoints = transport_.take<wire::CheckpointResourcesMessage>("agent");
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].resources, agentTotal());
  EXPECT_EQ(metrics_.snapshot()["master/operations_reserve"], 1);

  // A framework of another role never sees the reserved resources.
  FrameworkID other = subscribe("other", "other");
  clock_.advance(2s);
  loop_.settle();
  for (const auto& offer : offers("other")) {
    EXPECT_TRUE(offer.resources.reserved().empty()) << offer.resources;
  }
  (void)other;

  // The eng framework gets them (with whatever else is free) and gives them up.
  transport_.inject("other", wire::TeardownCall{other});
  loop_.settle();
  clock_.advance(2s);
  loop_.settle();
  auto again = offers("eng");
  ASSERT_FALSE(again.empty());
  Resources offered;
  for (const auto& x : again) offered += x.resources;
  ASSERT_TRUE(offered.unallocate().contains(reserved("cpus:1;mem:512", "eng", "alice")))
      << offered;
  Offer::Operation unreserve;
  unreserve.type = Offer::Operation::Type::UNRESERVE;
  unreserve.resources = reserved("cpus:1;mem:512", "eng", "alice");
  transport_.inject("eng", wire::AcceptCall{eng, {again[0].id}, {unreserve}, Filters{0}});
  loop_.settle();
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096"));
  EXPECT_EQ(metrics_.snapshot()["master/operations_unreserve"], 1);
}

TEST_F(ReservationTest, InvalidReservationsChangeNothing) {
  FrameworkID eng = subscribe("eng", "eng", "alice");
  auto o = offers("eng");
  ASSERT_EQ(o.size(), 1u);
  std::vector<Offer::Operation> bad;
  auto op = [](Offer::Operation::Type t, Resources r) {
    Offer::Operation x;
    x.type = t;
    x.resources = std::move(r);
    return x;
  };
  bad.push_back(op(Offer::Operation::Type::RESERVE, reserved("cpus:1", "ops", "alice")));
  bad.push_back(op(Offer::Operation::Type::RESERVE, reserved("cpus:1", "eng", "mallory")));
  bad.push_back(op(Offer::Operation::Type::RESERVE, reserved("cpus:9", "eng", "alice")));
  bad.push_back(op(Offer::Operation::Type::RESERVE, res("cpus:1")));
  bad.push_back(op(Offer::Operation::Type::UNRESERVE, reserved("cpus:1", "eng", "alice")));
  bad.push_back(op(Offer::Operation::Type::DESTROY, res("disk:10")));
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id}, bad, Filters{0}});
  loop_.settle();
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096"));
  EXPECT_EQ(metrics_.snapshot()["master/invalid_operations"], 6);
  EXPECT_TRUE(transport_.take<wire::CheckpointResourcesMessage>("agent").empty());
  // The resources came back and are offered again.
  clock_.advance(2s);
  loop_.settle();
  EXPECT_FALSE(offers("eng").empty());
}

TEST_F(ReservationTest, OperatorReservationsUseFreeResourcesOnly) {
  RoleManager& roles = master_->roles();
  EXPECT_EQ(roles.reserve(AgentID("nope"), reserved("cpus:1", "eng", "ops")).code(),
            Status::Code::kNotFound);
  EXPECT_EQ(roles.reserve(agent_, reserved("cpus:5", "eng", "ops")).code(),
            Status::Code::kFailedPrecondition);
  EXPECT_EQ(roles.reserve(agent_, res("cpus:1")).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(roles.reserve(agent_, reserved("cpus:1", "*", "ops")).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096"));

  // Offers outstanding on the agent are rescinded to make room.
  FrameworkID fw = subscribe("fw", "*");
  ASSERT_EQ(offers("fw").size(), 1u);
  ASSERT_TRUE(roles.reserve(agent_, reserved("cpus:2", "eng", "ops")).ok());
  loop_.settle();
  EXPECT_EQ(transport_.take<wire::RescindEvent>("fw").size(), 1u);
  EXPECT_EQ(agentTotal(), res("cpus:2;mem:4096") + reserved("cpus:2", "eng", "ops"));
  EXPECT_EQ(roles.unreserve(agent_, reserved("cpus:3", "eng", "ops")).code(),
            Status::Code::kFailedPrecondition);
  ASSERT_TRUE(roles.unreserve(agent_, reserved("cpus:2", "eng", "ops")).ok());
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096"));
  (void)fw;
}

TEST_F(ReservationTest, WeightsAndQuotaAreValidated) {
  RoleManager& roles = master_->roles();
  EXPECT_FALSE(roles.updateWeights({{"eng", -1}}).ok());
  EXPECT_FALSE(roles.updateWeights({{"eng", std::nan("")}}).ok());
  EXPECT_FALSE(roles.updateWeights({{"*", 2}}).ok());
  EXPECT_FALSE(roles.updateWeights({{"bad role", 2}}).ok());
  EXPECT_TRUE(roles.weights().empty());
  ASSERT_TRUE(roles.updateWeights({{"eng", 3}, {"ops", 1}}).ok());
  EXPECT_EQ(roles.weights().at("eng"), 3);

  EXPECT_FALSE(roles.setQuota("eng", Quota{res("cpus:4"), res("cpus:2")}).ok());
  EXPECT_FALSE(roles.setQuota("eng", Quota{res("ports:[1-2]"), {}}).ok());
  EXPECT_FALSE(roles.setQuota("eng", Quota{res("cpus(eng):1"), {}}).ok());
  EXPECT_FALSE(roles.setQuota("*", Quota{res("cpus:1"), {}}).ok());
  EXPECT_FALSE(roles.setQuota("eng", Quota{}).ok());
  EXPECT_TRUE(roles.quotas().empty());
  ASSERT_TRUE(roles.setQuota("eng", Quota{res("cpus:2"), res("cpus:4")}).ok());
  EXPECT_EQ(roles.quotas().at("eng").limit, res("cpus:4"));
  EXPECT_EQ(roles.removeQuota("ops").code(), Status::Code::kNotFound);
  EXPECT_TRUE(roles.removeQuota("eng").ok());
  EXPECT_TRUE(roles.quotas().empty());
}

// /master/weights and /master/quota answer once the registry holds the
// change: the callback runs after the store, never before.
TEST_F(ReservationTest, WeightAndQuotaChangesReportWhenStored) {
  RoleManager& roles = master_->roles();
  std::vector<std::string> seen;
  auto record = [&](const char* what) {
    return [&seen, what, this](Status s) {
      EXPECT_TRUE(s.ok()) << s.message();
      seen.push_back(what);
      // Stored by now: the registry's state holds the change.
      const RegistryState& stored = master_->registry().state();
      std::string w = what;
      if (w == "weights") {
        EXPECT_EQ(stored.weights.at("eng"), 3);
      } else if (w == "quota") {
        EXPECT_EQ(stored.quotas.at("eng").guarantee, res("cpus:1"));
      } else if (w == "unquota") {
        EXPECT_FALSE(stored.quotas.count("eng"));
      }
    };
  };
  uint64_t writes = master_->registry().writes();
  ASSERT_TRUE(roles.updateWeights({{"eng", 3}}, record("weights")).ok());
  ASSERT_TRUE(roles.setQuota("eng", Quota{res("cpus:1"), {}}, record("quota")).ok());
  EXPECT_TRUE(seen.empty());  // nothing is durable within the handler
  loop_.settle();
  EXPECT_EQ(seen, (std::vector<std::string>{"weights", "quota"}));
  EXPECT_GT(master_->registry().writes(), writes);
  ASSERT_TRUE(roles.removeQuota("eng", record("unquota")).ok());
  loop_.settle();
  EXPECT_EQ(seen.size(), 3u);
  // A validation error is returned; the callback never runs.
  EXPECT_FALSE(roles.updateWeights({{"eng", -1}}, record("never")).ok());
  loop_.settle();
  EXPECT_EQ(seen.size(), 3u);
}

// ---- persistent volumes ----

class VolumeTest : public ReservationTest {
 protected:
  VolumeTest() { agentResources_ = "cpus:4;mem:4096;disk:1000"; }

  // A volume `id` at `path` of `mb` out of disk reserved for eng by alice.
  static Resource volume(const std::string& id, double mb = 64, const std::string& path = "data",
                         const std::string& principal = "alice") {
    return persistentVolume(mb, {{ReservationInfo::Type::DYNAMIC, "eng", "alice", {}}}, id, path,
                            principal);
  }
  static Resources only(const Resource& r) { return Resources{r}; }
  // A `true` task on the agent using cpus:1;mem:128 and `volumes`.
  TaskInfo taskUsing(const std::string& id, const Resources& volumes) const {
    TaskInfo task;
    task.taskId = TaskID(id);
    task.name = id;
    task.agentId = agent_;
    task.command = CommandInfo{};
    task.command->value = "true";
    task.resources = res("cpus:1;mem:128") + volumes;
    return task;
  }

  // Subscribes eng (principal alice) and reserves disk:100 and makes volume
  // `db` of 64 out of it in one accept.
  FrameworkID createDb() {
    FrameworkID eng = subscribe("eng", "eng", "alice");
    auto o = offers("eng");
    EXPECT_EQ(o.size(), 1u);
    if (o.empty()) return eng;
    transport_.inject("eng", wire::AcceptCall{eng,
                                              {o[0].id},
                                              {Offer::Operation::reserve(reserved("disk:100", "eng", "alice")),
                                               Offer::Operation::create(only(volume("db")))},
                                              Filters{0}});
    loop_.settle();
    return eng;
  }

  // The offers `conn` gets at the next allocation run.
  std::vector<Offer> nextOffers(const ConnectionId& conn) {
    clock_.advance(2s);
    loop_.settle();
    return offers(conn);
  }
  static Resources sum(const std::vector<Offer>& offers) {
    Resources all;
    for (const auto& o : offers) all += o.resources;
    return all.unallocate();
  }
};

TEST_F(VolumeTest, CreateMakesAVolumeThatIsOfferedToItsRoleAndDestroyGivesTheDiskBack) {
  FrameworkID eng = createDb();
  Resources expected = res("cpus:4;mem:4096;disk:900") + reserved("disk:36", "eng", "alice") +
                       only(volume("db"));
  EXPECT_EQ(agentTotal(), expected);
  auto checkpoints = transport_.take<wire::CheckpointResourcesMessage>("agent");
  ASSERT_EQ(checkpoints.size(), 2u);  // the reservation, then the volume
  EXPECT_EQ(checkpoints[1].resources, expected);
  EXPECT_EQ(metrics_.snapshot()["master/operations_create"], 1);

  // Offered to its role, as itself: a framework asking for plain disk does
  // not get a part of it.
  auto o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  EXPECT_TRUE(sum(o).contains(only(volume("db")))) << sum(o);
  EXPECT_EQ(sum(o).find(res("disk:950")), std::nullopt);

  // A task that uses it; the volume is then not offered (nor free to destroy).
  TaskInfo task = taskUsing("uses-db", only(volume("db")));
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id}, {Offer::Operation::launch({task})},
                                            Filters{0}});
  loop_.settle();
  auto runs = transport_.take<wire::RunTaskMessage>("agent");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].task.resources.volumes().unallocate(), only(volume("db")));
  o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  EXPECT_FALSE(sum(o).contains(only(volume("db")))) << sum(o);
  Status busy = master_->roles().destroyVolumes(agent_, only(volume("db")));
  EXPECT_EQ(busy.code(), Status::Code::kFailedPrecondition) << busy;

  // Once the task is over, DESTROY in an accept turns it back into disk.
  wire::StatusUpdateMessage done;
  done.frameworkId = eng;
  done.agentId = agent_;
  done.status.taskId = TaskID("uses-db");
  done.status.agentId = agent_;
  done.status.state = TaskState::TASK_FINISHED;
  done.status.uuid = std::string(16, 'u');
  transport_.inject("agent", done);
  loop_.settle();
  o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  ASSERT_TRUE(sum(o).contains(only(volume("db")))) << sum(o);
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id},
                                            {Offer::Operation::destroy(only(volume("db")))},
                                            Filters{0}});
  loop_.settle();
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096;disk:900") + reserved("disk:100", "eng", "alice"));
  EXPECT_EQ(metrics_.snapshot()["master/operations_destroy"], 1);
}

TEST_F(VolumeTest, InvalidVolumeOperationsChangeNothing) {
  FrameworkID eng = createDb();
  Resources before = agentTotal();
  transport_.take<wire::CheckpointResourcesMessage>("agent");
  auto o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  Resource unreservedVolume = volume("u");
  unreservedVolume.reservations.clear();
  std::vector<Offer::Operation> bad = {
      Offer::Operation::create(reserved("disk:10", "eng", "alice")),  // no DiskInfo
      Offer::Operation::create(only(volume("x", 10, "x", "mallory"))),  // not alice's
      Offer::Operation::create(only(volume("big", 500))),              // more than reserved
      Offer::Operation::create(only(volume("db", 10, "other"))),       // id in use
      Offer::Operation::destroy(only(volume("nope"))),                 // no such volume
      Offer::Operation::create(only(volume("np", 10, "np", ""))),      // no principal
      Offer::Operation::unreserve(only(volume("db"))),                 // a volume: destroy it
  };
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id}, bad, Filters{0}});
  loop_.settle();
  EXPECT_EQ(agentTotal(), before);
  EXPECT_EQ(metrics_.snapshot()["master/invalid_operations"], static_cast<double>(bad.size()));
  EXPECT_TRUE(transport_.take<wire::CheckpointResourcesMessage>("agent").empty());

  // A volume that is not reserved is not even a valid resource: the whole
  // message is dropped as malformed.
  o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id},
                                            {Offer::Operation::create(only(unreservedVolume))},
                                            Filters{0}});
  loop_.settle();
  EXPECT_EQ(agentTotal(), before);
  EXPECT_EQ(metrics_.snapshot()["master/invalid_operations"], static_cast<double>(bad.size()));
}

TEST_F(VolumeTest, ATaskUsesAVolumeWhole) {
  FrameworkID eng = createDb();
  auto o = nextOffers("eng");
  ASSERT_EQ(o.size(), 1u);
  TaskInfo task = taskUsing("part", only(volume("db", 10)));
  transport_.inject("eng", wire::AcceptCall{eng, {o[0].id}, {Offer::Operation::launch({task})},
                                            Filters{0}});
  loop_.settle();
  EXPECT_TRUE(transport_.take<wire::RunTaskMessage>("agent").empty());
  auto updates = transport_.take<wire::UpdateEvent>("eng");
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_ERROR);
  EXPECT_NE(updates[0].status.message.find("used whole"), std::string::npos)
      << updates[0].status.message;
  // Nor destroyed in part.
  EXPECT_EQ(master_->roles().destroyVolumes(agent_, only(volume("db", 10))).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(agentTotal().contains(only(volume("db"))));
}

TEST_F(VolumeTest, AnAgentThatMissedAVolumeIsToldAgainWhenItReconnects) {
  createDb();
  ASSERT_EQ(transport_.take<wire::CheckpointResourcesMessage>("agent").size(), 2u);
  // It reconnects still reporting what it had before (the messages were
  // lost while it was away): it is sent the master's view again.
  wire::ReregisterAgentMessage m;
  m.agentInfo.hostname = "host1";
  m.agentInfo.port = 5051;
  m.agentInfo.id = agent_;
  m.agentInfo.resources = res(agentResources_);
  transport_.inject("agent", m);
  loop_.settle();
  auto again = transport_.take<wire::CheckpointResourcesMessage>("agent");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].resources, agentTotal());
  EXPECT_TRUE(again[0].resources.contains(only(volume("db"))));
  // Up to date: nothing to send.
  m.agentInfo.resources = agentTotal();
  transport_.inject("agent", m);
  loop_.settle();
  EXPECT_TRUE(transport_.take<wire::CheckpointResourcesMessage>("agent").empty());
}

TEST_F(VolumeTest, OperatorVolumesComeFromFreeReservedDisk) {
  RoleManager& roles = master_->roles();
  Resource opsVolume = persistentVolume(50, {{ReservationInfo::Type::DYNAMIC, "eng", "ops", {}}},
                                        "logs", "logs");
  EXPECT_EQ(roles.createVolumes(AgentID("nope"), only(opsVolume)).code(), Status::Code::kNotFound);
  // No reserved disk yet.
  EXPECT_EQ(roles.createVolumes(agent_, only(opsVolume)).code(),
            Status::Code::kFailedPrecondition);
  ASSERT_TRUE(roles.reserve(agent_, reserved("disk:50", "eng", "ops")).ok());
  Status s = roles.createVolumes(agent_, only(opsVolume));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(agentTotal().contains(only(opsVolume)));
  EXPECT_EQ(roles.createVolumes(agent_, only(opsVolume)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(roles.unreserve(agent_, only(opsVolume)).code(), Status::Code::kInvalidArgument);
  s = roles.destroyVolumes(agent_, only(opsVolume));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(agentTotal(), res("cpus:4;mem:4096;disk:950") + reserved("disk:50", "eng", "ops"));
  EXPECT_EQ(roles.destroyVolumes(agent_, only(opsVolume)).code(),
            Status::Code::kFailedPrecondition);
}

}  // namespace
}  // namespace tutti::master
