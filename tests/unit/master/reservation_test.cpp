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
    reg.agentInfo.resources = res("cpus:4;mem:4096");
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
  bad.push_back(op(Offer::Operation::Type::CREATE, res("disk:10")));
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

}  // namespace
}  // namespace tutti::master
