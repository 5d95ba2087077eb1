// The registry: codec round trips, the in-memory and local file backends,
// batching, maintenance state, and a master recovering from it (agents that
// do not come back become unreachable, at the configured rate).
#include <gtest/gtest.h>

#include <fstream>

#include "common/loop.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "master/master.hpp"
#include "master/registry/registry.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/fake_transport.hpp"

namespace tutti::master {
namespace {

using testing::FakeTransport;
using testing::TempDir;

Resources res(const std::string& text) { return *Resources::parse(text); }

MaintenanceState sampleMaintenance() {
  MaintenanceState m;
  MaintenanceWindow w1;
  w1.machineIds = {MachineID{"host0", ""}, MachineID{"host1", "10.0.0.1"}};
  w1.unavailability.start = std::chrono::nanoseconds(1700000000123456789);
  w1.unavailability.duration = std::chrono::hours(2);
  MaintenanceWindow w2;
  w2.machineIds = {MachineID{"", "fe80::1"}};
  w2.unavailability.start = std::chrono::nanoseconds(-1);  // open-ended, from before 1970
  m.schedule.windows = {w1, w2};
  m.modes = {{MachineID{"host0", ""}, MachineMode::kDown},
             {MachineID{"host1", "10.0.0.1"}, MachineMode::kDraining},
             {MachineID{"", "fe80::1"}, MachineMode::kDraining}};
  return m;
}

RegistryState sampleState() {
  RegistryState s;
  for (int i = 0; i < 3; ++i) {
    RegistryState::Agent a;
    a.info.id = AgentID("a" + std::to_string(i));
    a.info.hostname = "host" + std::to_string(i);
    a.info.port = 5051;
    a.info.resources = res("cpus:4;mem:1024;ports:[31000-31010]");
    a.info.attributes = {{"rack", "r1"}};
    a.state = i == 2 ? RegistryState::Agent::State::kUnreachable
                     : RegistryState::Agent::State::kAdmitted;
    a.unreachableTime = i == 2 ? 1700000000.5 : 0;
    s.agents[*a.info.id] = a;
  }
  FrameworkInfo f;
  f.id = FrameworkID("f1");
  f.name = "fw";
  f.user = "u";
  f.failoverTimeoutSecs = 60;
  f.roles = {"eng"};
  s.frameworks[*f.id] = f;
  s.weights["eng"] = 2.5;
  s.quotas["eng/web"] = Quota{res("cpus:1"), res("cpus:2")};
  s.maintenance = sampleMaintenance();
  return s;
}

class RegistryTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` is set (the local backend completes through
  // posted closures).
  template <typename T>
  T await(std::optional<T>& slot) {
    for (int i = 0; i < 1000 && !slot; ++i) loop_.settle();
    EXPECT_TRUE(slot.has_value());
    return *slot;
  }

  ManualClock clock_;
  Loop loop_{clock_};
  TempDir dir_;
};

TEST_F(RegistryTest, CodecRoundTrips) {
  RegistryState s = sampleState();
  auto back = decodeRegistry(encodeRegistry(s));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, s);
  auto agent = decodeRegistryAgent(encodeRegistryAgent(s.agents.begin()->second));
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ(*agent, s.agents.begin()->second);
  RegistryState roles;
  ASSERT_TRUE(decodeRegistryRole(encodeRegistryRole("eng/web", 3.0, s.quotas["eng/web"]), roles)
                  .ok());
  EXPECT_EQ(roles.weights["eng/web"], 3.0);
  EXPECT_EQ(roles.quotas["eng/web"], s.quotas["eng/web"]);
  for (std::string bad : {std::string(), std::string("garbage!"), std::string(16, '\xff')}) {
    EXPECT_FALSE(decodeRegistry(bad).ok());
    EXPECT_FALSE(decodeRegistryAgent(bad).ok());
  }
}

TEST_F(RegistryTest, LocalBackendPersistsAndBatches) {
  {
    auto r = makeLocalRegistry(loop_, dir_.path());
    std::optional<Result<RegistryState>> loaded;
    r->recover([&](Result<RegistryState> s) { loaded = s; });
    ASSERT_TRUE(await(loaded).ok());
    EXPECT_TRUE(loaded->value().agents.empty());
    RegistryState s = sampleState();
    int acked = 0;
    for (const auto& [_, a] : s.agents) {
      r->admitAgent(a.info, [&](Status st) { acked += st.ok(); });
    }
    r->markUnreachable(AgentID("a2"), 1700000000.5, nullptr);
    r->addFramework(s.frameworks.begin()->second, nullptr);
    r->setWeights(s.weights, nullptr);
    r->setQuota("eng/web", s.quotas["eng/web"], nullptr);
    r->setMaintenance(s.maintenance, nullptr);
    for (int i = 0; i < 100 && acked < 3; ++i) loop_.settle();
    EXPECT_EQ(acked, 3);
    EXPECT_EQ(r->writes(), 1u) << "mutations of one loop turn go out in one write";
  }
  auto again = makeLocalRegistry(loop_, dir_.path());
  std::optional<Result<RegistryState>> loaded;
  again->recover([&](Result<RegistryState> s) { loaded = s; });
  ASSERT_TRUE(await(loaded).ok()) << loaded->error();
  EXPECT_EQ(loaded->value(), sampleState());
}

// A backend that records what each store names as changed and completes
// a store only when the test says so.
class RecordingRegistry final : public Registry {
 public:
  using Registry::Registry;
  const char* name() const override { return "recording"; }
  std::vector<std::set<AgentID>> storedAgents;
  std::vector<Done> pending;

 protected:
  void load(std::function<void(Result<RegistryState>)> done) override {
    done(RegistryState{});
  }
  void store(const RegistryState&, const Dirty& dirty, Done done) override {
    storedAgents.push_back(dirty.agents);
    pending.push_back(std::move(done));
  }
};

TEST_F(RegistryTest, AgentReadmittedUnchangedIsNotWrittenAgainButWaitsForTheWriteUnderWay) {
  RecordingRegistry r(loop_);
  r.recover([](Result<RegistryState>) {});
  AgentInfo info = sampleState().agents.begin()->second.info;
  bool first = false, second = false, third = false;
  r.admitAgent(info, [&](Status s) { first = s.ok(); });
  loop_.settle();
  ASSERT_EQ(r.storedAgents.size(), 1u);
  EXPECT_EQ(r.storedAgents[0], std::set<AgentID>{*info.id});

  // Re-admitted exactly as recorded while that write is under way: no new
  // record, and no answer before the first write is durable.
  r.admitAgent(info, [&](Status s) { second = s.ok(); });
  loop_.settle();
  EXPECT_FALSE(second);
  auto done = std::move(r.pending.at(0));
  done(Status::OK());
  loop_.settle();
  EXPECT_TRUE(first);
  ASSERT_EQ(r.storedAgents.size(), 2u);
  EXPECT_TRUE(r.storedAgents[1].empty()) << "an unchanged agent is not written again";
  EXPECT_FALSE(second);
  done = std::move(r.pending.at(1));
  done(Status::OK());
  loop_.settle();
  EXPECT_TRUE(second);

  // Changed (new resources), or coming back from unreachable: written.
  r.markUnreachable(*info.id, 1700000000.5, nullptr);
  loop_.settle();
  ASSERT_EQ(r.storedAgents.size(), 3u);
  done = std::move(r.pending.at(2));
  done(Status::OK());
  r.admitAgent(info, [&](Status s) { third = s.ok(); });
  loop_.settle();
  ASSERT_EQ(r.storedAgents.size(), 4u);
  EXPECT_EQ(r.storedAgents[3], std::set<AgentID>{*info.id});
  done = std::move(r.pending.at(3));
  done(Status::OK());
  loop_.settle();
  EXPECT_TRUE(third);
  info.resources = res("cpus:8;mem:2048");
  r.admitAgent(info, nullptr);
  loop_.settle();
  ASSERT_EQ(r.storedAgents.size(), 5u);
  EXPECT_EQ(r.storedAgents[4], std::set<AgentID>{*info.id});
  EXPECT_EQ(r.state().agents.at(*info.id).info.resources, info.resources);
}

TEST_F(RegistryTest, MaintenanceRoundTripsInEveryBackend) {
  // The codec: the whole registry, and the maintenance record alone.
  MaintenanceState m = sampleMaintenance();
  auto record = decodeRegistryMaintenance(encodeRegistryMaintenance(m));
  ASSERT_TRUE(record.ok()) << record.error();
  EXPECT_EQ(*record, m);
  RegistryState empty;
  auto back = decodeRegistry(encodeRegistry(empty));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->maintenance.empty());
  for (std::string bad : {std::string(), std::string("garbage!"), std::string(16, '\xff')}) {
    EXPECT_FALSE(decodeRegistryMaintenance(bad).ok());
  }

  // in_memory: the state is kept and the write acknowledged.
  {
    auto r = makeInMemoryRegistry(loop_);
    std::optional<Result<RegistryState>> loaded;
    r->recover([&](Result<RegistryState> s) { loaded = s; });
    ASSERT_TRUE(await(loaded).ok());
    std::optional<Status> stored;
    r->setMaintenance(m, [&](Status s) { stored = s; });
    ASSERT_TRUE(await(stored).ok());
    EXPECT_EQ(r->state().maintenance, m);
  }

  // local: a restarted registry reads back the schedule and the modes; a
  // later change (the machine up, out of the schedule) replaces them.
  for (const MaintenanceState& want : {m, MaintenanceState{}}) {
    {
      auto r = makeLocalRegistry(loop_, dir_.path());
      std::optional<Result<RegistryState>> loaded;
      r->recover([&](Result<RegistryState> s) { loaded = s; });
      ASSERT_TRUE(await(loaded).ok());
      std::optional<Status> stored;
      r->setMaintenance(want, [&](Status s) { stored = s; });
      ASSERT_TRUE(await(stored).ok());
    }
    auto again = makeLocalRegistry(loop_, dir_.path());
    std::optional<Result<RegistryState>> loaded;
    again->recover([&](Result<RegistryState> s) { loaded = s; });
    ASSERT_TRUE(await(loaded).ok()) << loaded->error();
    EXPECT_EQ(loaded->value().maintenance, want);
  }
}

TEST_F(RegistryTest, CorruptFileIsAClearErrorAndStaysInPlace) {
  {
    std::ofstream(dir_.path() + "/registry") << "this is not a registry";
  }
  auto r = makeLocalRegistry(loop_, dir_.path());
  std::optional<Result<RegistryState>> loaded;
  r->recover([&](Result<RegistryState> s) { loaded = s; });
  ASSERT_FALSE(await(loaded).ok());
  EXPECT_NE(loaded->error().find("corrupt"), std::string::npos) << loaded->error();
  std::ifstream in(dir_.path() + "/registry");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "this is not a registry");
}

TEST_F(RegistryTest, RecoveredMasterWaitsForAgentsThenMarksTheRestUnreachableAtTheRate) {
  // What a previous leader stored: four admitted agents, one framework.
  RegistryState stored;
  for (int i = 0; i < 4; ++i) {
    RegistryState::Agent a;
    a.info.id = AgentID("old-S" + std::to_string(i));
    a.info.hostname = "h" + std::to_string(i);
    a.info.port = 5051;
    a.info.resources = res("cpus:2;mem:512");
    stored.agents[*a.info.id] = a;
  }
  FrameworkInfo f;
  f.id = FrameworkID("old-0000");
  f.name = "fw";
  f.user = "u";
  stored.frameworks[*f.id] = f;
  {
    std::ofstream out(dir_.path() + "/registry", std::ios::binary);
    out << encodeRegistry(stored);
  }

  Metrics metrics;
  FakeTransport transport(loop_, metrics);
  MasterOptions options;
  options.agentReregisterTimeout = std::chrono::seconds(30);
  options.agentRemovalRateLimit = 2;
  options.agentRemovalRatePeriod = std::chrono::seconds(10);
  MasterInfo info;
  info.id = MasterID("new");
  Master master(options, info, loop_, transport, metrics, std::make_unique<HierarchicalAllocator>(),
                makeLocalRegistry(loop_, dir_.path()));
  master.start();
  for (int i = 0; i < 100 && !master.serving(); ++i) loop_.settle();
  ASSERT_TRUE(master.serving());
  EXPECT_EQ(master.agents().find(AgentID("old-S0"))->state, AgentState::kRecovered);
  ASSERT_NE(master.frameworks().find(FrameworkID("old-0000")), nullptr);

  // One agent comes back in time, with its id.
  wire::ReregisterAgentMessage back;
  back.agentInfo = stored.agents.begin()->second.info;
  back.version = "test";
  transport.inject("agent0", back);
  loop_.settle();
  loop_.settle();
  ASSERT_EQ(transport.take<wire::AgentReregisteredMessage>("agent0").size(), 1u);
  EXPECT_EQ(master.agents().find(AgentID("old-S0"))->state, AgentState::kRegistered);

  // The other three: two at the timeout, one a period later.
  auto unreachable = [&] {
    int n = 0;
    for (int i = 1; i < 4; ++i) {
      n += master.agents().find(AgentID("old-S" + std::to_string(i)))->state ==
           AgentState::kUnreachable;
    }
    return n;
  };
  clock_.advance(std::chrono::seconds(29));
  loop_.settle();
  EXPECT_EQ(unreachable(), 0);
  clock_.advance(std::chrono::seconds(1));
  loop_.settle();
  EXPECT_EQ(unreachable(), 2);
  clock_.advance(std::chrono::seconds(10));
  loop_.settle();
  EXPECT_EQ(unreachable(), 3);
  for (int i = 0; i < 10; ++i) loop_.settle();
  EXPECT_EQ(master.registry().state().agents.at(AgentID("old-S3")).state,
            RegistryState::Agent::State::kUnreachable);
}

// MARK_AGENT_GONE is durable: the agent is recorded as gone, and a master
// recovering from the same registry refuses its re-registration.
TEST_F(RegistryTest, AgentMarkedGoneIsRefusedByTheNextMaster) {
  Metrics metrics;
  MasterInfo info;
  info.id = MasterID("first");
  AgentInfo agentInfo;
  agentInfo.hostname = "h0";
  agentInfo.port = 5051;
  agentInfo.resources = res("cpus:2;mem:512");
  AgentID agentId;
  {
    FakeTransport transport(loop_, metrics);
    Master master(MasterOptions{}, info, loop_, transport, metrics,
                  std::make_unique<HierarchicalAllocator>(), makeLocalRegistry(loop_, dir_.path()));
    master.start();
    for (int i = 0; i < 100 && !master.serving(); ++i) loop_.settle();
    ASSERT_TRUE(master.serving());
    transport.inject("agent0", wire::RegisterAgentMessage{agentInfo, "test"});
    loop_.settle();
    loop_.settle();
    auto registered = transport.take<wire::AgentRegisteredMessage>("agent0");
    ASSERT_EQ(registered.size(), 1u);
    agentId = registered[0].agentId;

    EXPECT_EQ(master.agents().markGone(AgentID("nope"), [](Status) {}).code(),
              Status::Code::kNotFound);
    std::optional<Status> stored;
    ASSERT_TRUE(master.agents().markGone(agentId, [&](Status s) { stored = s; }).ok());
    for (int i = 0; i < 10 && !stored; ++i) loop_.settle();
    ASSERT_TRUE(stored.has_value());
    EXPECT_TRUE(stored->ok()) << *stored;
    // The agent was told to shut down; marking it again is fine.
    EXPECT_EQ(transport.take<wire::ShutdownAgentMessage>("agent0").size(), 1u);
    std::optional<Status> again;
    EXPECT_TRUE(master.agents().markGone(agentId, [&](Status s) { again = s; }).ok());
    ASSERT_TRUE(again.has_value());
    EXPECT_TRUE(again->ok());
  }

  FakeTransport transport(loop_, metrics);
  info.id = MasterID("second");
  Master master(MasterOptions{}, info, loop_, transport, metrics,
                std::make_unique<HierarchicalAllocator>(), makeLocalRegistry(loop_, dir_.path()));
  master.start();
  for (int i = 0; i < 100 && !master.serving(); ++i) loop_.settle();
  ASSERT_TRUE(master.serving());
  EXPECT_EQ(master.agents().find(agentId), nullptr);
  EXPECT_EQ(master.registry().state().agents.at(agentId).state,
            RegistryState::Agent::State::kGone);
  wire::ReregisterAgentMessage back;
  back.agentInfo = agentInfo;
  back.agentInfo.id = agentId;
  back.version = "test";
  transport.inject("agent0", back);
  loop_.settle();
  loop_.settle();
  EXPECT_TRUE(transport.take<wire::AgentReregisteredMessage>("agent0").empty());
  EXPECT_EQ(transport.take<wire::ShutdownAgentMessage>("agent0").size(), 1u);
}

}  // namespace
}  // namespace tutti::master
