// Maintenance primitives: machine ids and schedule validation (pure), the
// JSON bodies of the endpoints, and the machine modes driven through a real
// Master on the fake transport and a manual clock (DRAINING offers carry the
// unavailability; DOWN shuts agents down and refuses them; UP lets them
// back; a new leader restores it all from the registry).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "master/http/maintenance_json.hpp"
#include "master/maintenance.hpp"
#include "master/master.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/fake_transport.hpp"

namespace tutti {

[[maybe_unused]] static void PrintTo(TaskState s, std::ostream* os) { *os << toString(s); }

namespace master {
[[maybe_unused]] static void PrintTo(MachineMode m, std::ostream* os) { *os << toString(m); }
[[maybe_unused]] static void PrintTo(const MachineID& id, std::ostream* os) { *os << toString(id); }

namespace {

using json::Json;
using testing::FakeTransport;
using namespace std::chrono_literals;

::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " (\"" << haystack
                                       << "\") does not contain " << needleExpr << " (\""
                                       << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)

MachineID machine(const std::string& hostname, const std::string& ip = "") {
  auto id = makeMachineId(hostname, ip);
  EXPECT_TRUE(id.ok()) << id.error();
  return id.ok() ? *id : MachineID();
}

Unavailability unavailability(int64_t startSecs, std::optional<int64_t> durationSecs = 3600) {
  Unavailability u;
  u.start = std::chrono::seconds(startSecs);
  if (durationSecs) u.duration = std::chrono::seconds(*durationSecs);
  return u;
}

MaintenanceSchedule scheduleOf(std::vector<MaintenanceWindow> windows) {
  return MaintenanceSchedule{std::move(windows)};
}

// ---- machine ids and validation ---------------------------------------------

TEST(MaintenanceValidationTest, MachineIdsNeedAHostnameOrAnIpAndAreNormalised) {
  auto id = makeMachineId("Host1.Example.COM", "10.0.0.1");
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_EQ(id->hostname, "host1.example.com");
  EXPECT_EQ(id->ip, "10.0.0.1");
  EXPECT_EQ(makeMachineId("", "::0001")->ip, "::1");
  EXPECT_EQ(toString(*id), "host1.example.com (10.0.0.1)");

  EXPECT_HAS_SUBSTR(makeMachineId("", "").error(), "hostname");
  EXPECT_HAS_SUBSTR(makeMachineId("", "10.0.0").error(), "not an IP address");
  EXPECT_HAS_SUBSTR(makeMachineId("", "host1").error(), "not an IP address");
  EXPECT_FALSE(makeMachineId("two words", "").ok());
  EXPECT_FALSE(makeMachineId(std::string("nul\0l", 5), "").ok());
  EXPECT_FALSE(makeMachineId(std::string(256, 'h'), "").ok());
  EXPECT_TRUE(makeMachineId(std::string(255, 'h'), "").ok());
}

TEST(MaintenanceValidationTest, ScheduleFollowsMesossRules) {
  const std::map<MachineID, MachineMode> none;
  EXPECT_TRUE(validateSchedule(MaintenanceSchedule{}, none).ok()) << "the empty schedule";
  EXPECT_TRUE(validateSchedule(scheduleOf({{{machine("a"), machine("", "10.0.0.2")},
                                            unavailability(100)},
                                           {{machine("b")}, unavailability(200, std::nullopt)}}),
                               none)
                  .ok());
  // A window needs machines.
  EXPECT_HAS_SUBSTR(validateSchedule(scheduleOf({{{}, unavailability(1)}}), none).message(),
                    "empty");
  // A machine appears once in a window, and in one window only.
  EXPECT_HAS_SUBSTR(
      validateSchedule(scheduleOf({{{machine("a"), machine("a")}, unavailability(1)}}), none)
          .message(),
      "more than once");
  EXPECT_HAS_SUBSTR(validateSchedule(scheduleOf({{{machine("a")}, unavailability(1)},
                                                 {{machine("b"), machine("a")}, unavailability(2)}}),
                                     none)
                        .message(),
                    "more than one window");
  // "a" and "a (10.0.0.1)" are different machine ids, as in Mesos.
  EXPECT_TRUE(validateSchedule(scheduleOf({{{machine("a")}, unavailability(1)},
                                           {{machine("a", "10.0.0.1")}, unavailability(2)}}),
                               none)
                  .ok());
  // Durations are not negative.
  Unavailability negative = unavailability(1);
  negative.duration = -1ns;
  EXPECT_HAS_SUBSTR(validateSchedule(scheduleOf({{{machine("a")}, negative}}), none).message(),
                    "negative");
  // Ids not in normal form (made without makeMachineId) are refused.
  EXPECT_HAS_SUBSTR(
      validateSchedule(scheduleOf({{{MachineID{"UPPER", ""}}, unavailability(1)}}), none).message(),
      "normal form");
  // A DOWN machine must stay in the schedule until it is brought up.
  std::map<MachineID, MachineMode> modes{{machine("a"), MachineMode::kDown},
                                         {machine("b"), MachineMode::kDraining}};
  EXPECT_HAS_SUBSTR(validateSchedule(scheduleOf({{{machine("b")}, unavailability(1)}}), modes)
                        .message(),
                    "is DOWN");
  EXPECT_TRUE(validateSchedule(scheduleOf({{{machine("a")}, unavailability(5)}}), modes).ok())
      << "a DRAINING machine may leave; a DOWN one may get a new window";
  // At most kMaxMaintenanceMachines machines.
  MaintenanceWindow big{{}, unavailability(1)};
  for (size_t i = 0; i <= kMaxMaintenanceMachines; ++i) {
    big.machineIds.push_back(MachineID{"h" + std::to_string(i), ""});
  }
  EXPECT_FALSE(validateSchedule(scheduleOf({big}), none).ok());
}

TEST(MaintenanceValidationTest, AnAgentIsOnTheMachinesNamedByItsHostnameAndIp) {
  AgentInfo agent;
  agent.hostname = "Agent1.Example.com";
  agent.ip = "10.0.0.1";
  auto ids = machineIdsOf(agent);
  std::set<MachineID> got(ids.begin(), ids.end());
  EXPECT_EQ(got, (std::set<MachineID>{machine("agent1.example.com"), machine("", "10.0.0.1"),
                                      machine("agent1.example.com", "10.0.0.1")}));
  // A hostname that is an address names the machine by IP too.
  AgentInfo byIp;
  byIp.hostname = "127.0.0.1";
  ids = machineIdsOf(byIp);
  got = std::set<MachineID>(ids.begin(), ids.end());
  EXPECT_TRUE(got.count(machine("", "127.0.0.1")));
  EXPECT_TRUE(got.count(machine("127.0.0.1")));
}

// ---- JSON bodies ------------------------------------------------------------------

TEST(MaintenanceJsonTest, ParsesMesossScheduleAndPrintsItBack) {
  Json body = Json::parse(R"({"windows": [
      {"machine_ids": [{"hostname": "Host1", "ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
       "unavailability": {"start": {"nanoseconds": 1700000000000000000},
                          "duration": {"nanoseconds": "3600000000000"}}},
      {"machine_ids": [{"hostname": "host3"}],
       "unavailability": {"start": {"nanoseconds": 5}}, "ignored": true}]})");
  auto schedule = parseMaintenanceSchedule(body);
  ASSERT_TRUE(schedule.ok()) << schedule.error();
  ASSERT_EQ(schedule->windows.size(), 2u);
  EXPECT_EQ(schedule->windows[0].machineIds[0], machine("host1", "10.0.0.1"));
  EXPECT_EQ(schedule->windows[0].unavailability.start, 1700000000000000000ns);
  EXPECT_EQ(schedule->windows[0].unavailability.duration, std::chrono::hours(1));
  EXPECT_FALSE(schedule->windows[1].unavailability.duration.has_value());

  Json printed = maintenanceScheduleJson(*schedule);
  EXPECT_EQ(printed["windows"][0]["machine_ids"][0], Json({{"hostname", "host1"}, {"ip", "10.0.0.1"}}));
  EXPECT_EQ(printed["windows"][0]["machine_ids"][1], Json({{"ip", "10.0.0.2"}}));
  EXPECT_EQ(printed["windows"][0]["unavailability"]["duration"]["nanoseconds"], 3600000000000);
  EXPECT_FALSE(printed["windows"][1]["unavailability"].contains("duration"));
  auto again = parseMaintenanceSchedule(printed);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *schedule);

  // {} is the empty schedule, as in Mesos.
  ASSERT_TRUE(parseMaintenanceSchedule(Json::object()).ok());
  EXPECT_TRUE(parseMaintenanceSchedule(Json::object())->windows.empty());

  auto ids = parseMachineIds(Json::parse(R"([{"hostname": "a"}, {"ip": "10.0.0.9"}])"));
  ASSERT_TRUE(ids.ok()) << ids.error();
  EXPECT_EQ(*ids, (std::vector<MachineID>{machine("a"), machine("", "10.0.0.9")}));
}

TEST(MaintenanceJsonTest, HostileBodiesAreClearErrors) {
  const char* badSchedules[] = {
      R"([])",
      R"("windows")",
      R"({"windows": {}})",
      R"({"windows": [1]})",
      R"({"windows": [{"unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}]}]})",
      R"({"windows": [{"machine_ids": {"hostname": "a"}, "unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": [{}], "unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": 7}], "unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": [{"ip": "999.1.1.1"}], "unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": ["a"], "unavailability": {"start": {"nanoseconds": 1}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": 1}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 1.5}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": "1x"}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 99999999999999999999}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 1e300}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": true}}}]})",
      R"({"windows": [{"machine_ids": [{"hostname": "a"}], "unavailability": {"start": {"nanoseconds": 1}, "duration": {"nanoseconds": -1}}}]})",
  };
  for (const char* text : badSchedules) {
    Json body = Json::parse(text, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << text;
    auto parsed = parseMaintenanceSchedule(body);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_FALSE(parsed.error().empty());
    }
  }
  // The error names the field.
  EXPECT_HAS_SUBSTR(
      parseMaintenanceSchedule(Json::parse(R"({"windows": [{"machine_ids": [{"hostname": "a"}],
          "unavailability": {"start": {"nanoseconds": 1.5}}}]})"))
          .error(),
      "windows[0].unavailability.start.nanoseconds");
  for (const char* text : {R"({})", R"([{"hostname": 1}])", R"([1])", R"("a")", R"(null)"}) {
    EXPECT_FALSE(parseMachineIds(Json::parse(text)).ok()) << text;
  }
  // Too many machines are refused before anything is built from them.
  Json many = Json::array();
  for (size_t i = 0; i <= kMaxMaintenanceMachines; ++i) many.push_back({{"ip", "10.0.0.1"}});
  EXPECT_HAS_SUBSTR(parseMachineIds(many).error(), "Too many machines");
}

// ---- machine modes through the master ---------------------------------------

TaskInfo sleepTask(const std::string& id, const Offer& offer) {
  TaskInfo t;
  t.name = id;
  t.taskId = TaskID(id);
  t.agentId = offer.agentId;
  t.resources = *Resources::parse("cpus:1;mem:128");
  CommandInfo c;
  c.value = "sleep 1000";
  t.command = c;
  return t;
}

// One master on a fake transport and a manual clock; a test may replace it
// by a new one (a failover) on the same registry.
struct World {
  ManualClock clock;
  Metrics metrics;
  Loop loop{clock};
  FakeTransport transport{loop, metrics};
  std::unique_ptr<Master> master;  // destroyed first
};

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override { startMaster(); }

  // A new master (a new world) on `registry` (in-memory when null).
  void startMaster(std::function<std::unique_ptr<Registry>(Loop&)> registry = nullptr) {
    w_.reset();
    w_ = std::make_unique<World>();
    MasterInfo info;
    info.id = MasterID("m1");
    info.ip = "127.0.0.1";
    info.port = 5050;
    info.hostname = "master.test";
    info.messageAddress = "tcp://127.0.0.1:6050";
    w_->master = std::make_unique<Master>(MasterOptions{}, info, w_->loop, w_->transport,
                                          w_->metrics, std::make_unique<HierarchicalAllocator>(),
                                          registry ? registry(w_->loop) : nullptr);
    w_->master->start();
    for (int i = 0; i < 100 && !w_->master->serving(); ++i) w_->loop.settle();
    ASSERT_TRUE(w_->master->serving());
  }

  void settle() {
    for (int i = 0; i < 5; ++i) w_->loop.settle();
  }

  MaintenanceManager& maintenance() { return w_->master->maintenance(); }

  // Applies a change and waits until the registry holds it.
  Status durably(const std::function<Status(Registry::Done)>& change) {
    std::optional<Status> stored;
    Status s = change([&](Status st) { stored = st; });
    if (!s.ok()) return s;
    settle();
    EXPECT_TRUE(stored.has_value()) << "the registry never answered";
    return stored.value_or(Status::Internal("no answer"));
  }
  Status setSchedule(const MaintenanceSchedule& schedule) {
    return durably([&](Registry::Done d) { return maintenance().updateSchedule(schedule, d); });
  }
  Status down(const std::vector<MachineID>& ids) {
    return durably([&](Registry::Done d) { return maintenance().startMaintenance(ids, d); });
  }
  Status up(const std::vector<MachineID>& ids) {
    return durably([&](Registry::Done d) { return maintenance().stopMaintenance(ids, d); });
  }

  wire::RegisterAgentMessage agentMessage(const std::string& hostname, const std::string& ip) {
    wire::RegisterAgentMessage m;
    m.agentInfo.hostname = hostname;
    m.agentInfo.ip = ip;
    m.agentInfo.port = 5051;
    m.agentInfo.resources = *Resources::parse("cpus:4;mem:4096");
    m.version = "test";
    return m;
  }

  // Registers an agent; an empty id when it was refused.
  AgentID registerAgent(const ConnectionId& conn, const std::string& hostname,
                        const std::string& ip) {
    w_->transport.inject(conn, agentMessage(hostname, ip));
    settle();
    auto registered = w_->transport.take<wire::AgentRegisteredMessage>(conn);
    return registered.size() == 1 ? registered[0].agentId : AgentID();
  }

  FrameworkID subscribe(const ConnectionId& conn, bool partitionAware) {
    FrameworkInfo info;
    info.user = "u";
    info.name = conn;
    if (partitionAware) info.capabilities = {FrameworkCapability::PARTITION_AWARE};
    w_->transport.inject(conn, wire::SubscribeCall{info, {}});
    settle();
    auto subscribed = w_->transport.take<wire::SubscribedEvent>(conn);
    EXPECT_EQ(subscribed.size(), 1u);
    return subscribed.empty() ? FrameworkID() : subscribed[0].frameworkId;
  }

  std::vector<Offer> offersFor(const ConnectionId& conn) {
    std::vector<Offer> out;
    for (auto& e : w_->transport.take<wire::OffersEvent>(conn)) {
      out.insert(out.end(), e.offers.begin(), e.offers.end());
    }
    return out;
  }

  std::vector<TaskStatus> updatesFor(const ConnectionId& conn) {
    std::vector<TaskStatus> out;
    for (auto& e : w_->transport.take<wire::UpdateEvent>(conn)) out.push_back(e.status);
    return out;
  }

  // Launches a task on `offer` and reports it running.
  void launchRunning(const ConnectionId& fwConn, const FrameworkID& fw,
                     const ConnectionId& agentConn, const Offer& offer, const std::string& id) {
    wire::AcceptCall call;
    call.frameworkId = fw;
    call.offerIds = {offer.id};
    call.operations.push_back(Offer::Operation::launch({sleepTask(id, offer)}));
    call.filters.refuseSeconds = 0;
    w_->transport.inject(fwConn, call);
    settle();
    ASSERT_EQ(w_->transport.take<wire::RunTaskMessage>(agentConn).size(), 1u);
    wire::StatusUpdateMessage m;
    m.frameworkId = fw;
    m.agentId = offer.agentId;
    m.status.taskId = TaskID(id);
    m.status.state = TaskState::TASK_RUNNING;
    m.status.source = Source::SOURCE_EXECUTOR;
    m.status.agentId = offer.agentId;
    m.status.executorId = ExecutorID(id);
    m.status.uuid = std::string(15, 'u') + id.substr(id.size() - 1);
    w_->transport.inject(agentConn, m);
    settle();
    auto updates = updatesFor(fwConn);
    ASSERT_EQ(updates.size(), 1u);
    ASSERT_EQ(updates[0].state, TaskState::TASK_RUNNING);
  }

  double metric(const std::string& name) {
    auto snapshot = w_->metrics.snapshot();
    auto it = snapshot.find(name);
    return it == snapshot.end() ? -1 : it->second;
  }

  std::unique_ptr<World> w_;
};

TEST_F(MaintenanceTest, ScheduledMachinesDrainAndTheirOffersCarryTheUnavailability) {
  AgentID a1 = registerAgent("agent1", "host1", "10.0.0.1");
  AgentID a2 = registerAgent("agent2", "host2", "10.0.0.2");
  ASSERT_FALSE(a1.empty());
  ASSERT_FALSE(a2.empty());
  FrameworkID fw = subscribe("fw", false);
  auto offers = offersFor("fw");
  ASSERT_EQ(offers.size(), 2u);
  for (const auto& o : offers) EXPECT_FALSE(o.unavailability.has_value());

  // host1 by name; 10.0.0.2 by address.
  Unavailability u1 = unavailability(1'800'000'000, 7200);
  Unavailability u2 = unavailability(1'900'000'000, std::nullopt);
  ASSERT_TRUE(setSchedule(scheduleOf({{{machine("HOST1")}, u1}, {{machine("", "10.0.0.2")}, u2}}))
                  .ok());
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kDraining);
  EXPECT_EQ(maintenance().modeOf(machine("", "10.0.0.2")), MachineMode::kDraining);
  EXPECT_EQ(maintenance().modeOf(machine("host3")), MachineMode::kUp);
  EXPECT_EQ(w_->master->registry().state().maintenance.schedule, maintenance().schedule());

  // Outstanding offers were rescinded; the new ones carry the windows.
  EXPECT_EQ(w_->transport.take<wire::RescindEvent>("fw").size(), 2u);
  offers = offersFor("fw");
  ASSERT_EQ(offers.size(), 2u);
  for (const auto& o : offers) {
    ASSERT_TRUE(o.unavailability.has_value()) << o.agentId;
    EXPECT_EQ(*o.unavailability, o.agentId == a1 ? u1 : u2);
  }

  Json status = maintenanceStatusJson(maintenance());
  EXPECT_EQ(status["draining_machines"].size(), 2u);
  EXPECT_EQ(status["down_machines"].size(), 0u);
  EXPECT_TRUE(std::count(status["draining_machines"].begin(), status["draining_machines"].end(),
                         Json({{"id", {{"hostname", "host1"}}}})))
      << status;

  // Posting the same schedule again changes no offer.
  ASSERT_TRUE(setSchedule(maintenance().schedule()).ok());
  EXPECT_EQ(w_->transport.take<wire::RescindEvent>("fw").size(), 0u);

  // Left out of a new schedule, a machine is UP again and its next offer
  // has no unavailability.
  ASSERT_TRUE(setSchedule(scheduleOf({{{machine("", "10.0.0.2")}, u2}})).ok());
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kUp);
  EXPECT_EQ(w_->transport.take<wire::RescindEvent>("fw").size(), 1u);
  offers = offersFor("fw");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agentId, a1);
  EXPECT_FALSE(offers[0].unavailability.has_value());
  (void)fw;
}

TEST_F(MaintenanceTest, DownShutsAgentsDownReportsTheirTasksAndRefusesThem) {
  AgentID agent = registerAgent("agent1", "host1", "10.0.0.1");
  AgentID other = registerAgent("agent2", "host2", "10.0.0.2");
  ASSERT_FALSE(agent.empty());
  FrameworkID plain = subscribe("plain", false);
  FrameworkID aware = subscribe("aware", true);
  for (const auto& [conn, fw] : {std::pair{std::string("plain"), plain}, {"aware", aware}}) {
    // Each framework runs one task on host1.
    for (int i = 0; i < 10; ++i) {
      auto offers = offersFor(conn);
      auto it = std::find_if(offers.begin(), offers.end(),
                             [&](const Offer& o) { return o.agentId == agent; });
      if (it != offers.end()) {
        launchRunning(conn, fw, "agent1", *it, "task-" + conn);
        break;
      }
      w_->clock.advance(1s);
      settle();
    }
  }
  ASSERT_EQ(w_->master->agents().find(agent)->tasks.size(), 2u);

  // Only DRAINING machines can go down.
  EXPECT_HAS_SUBSTR(down({machine("host1")}).message(), "not part of a maintenance schedule");
  ASSERT_TRUE(setSchedule(scheduleOf({{{machine("host1")}, unavailability(100)}})).ok());
  EXPECT_HAS_SUBSTR(down({machine("host1"), machine("host1")}).message(), "more than once");
  EXPECT_HAS_SUBSTR(up({machine("host1")}).message(), "not DOWN");
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kDraining);
  w_->transport.clear();

  ASSERT_TRUE(down({machine("host1")}).ok());
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kDown);
  auto shutdown = w_->transport.take<wire::ShutdownAgentMessage>("agent1");
  ASSERT_EQ(shutdown.size(), 1u);
  EXPECT_EQ(shutdown[0].agentId, agent);
  EXPECT_HAS_SUBSTR(shutdown[0].message, "DOWN for maintenance");
  EXPECT_EQ(w_->master->agents().find(agent), nullptr);
  ASSERT_NE(w_->master->agents().findRegistered(other), nullptr) << "host2 is not touched";
  EXPECT_EQ(w_->master->registry().state().agents.count(agent), 0u);
  EXPECT_EQ(w_->master->registry().state().maintenance.modes.at(machine("host1")),
            MachineMode::kDown);
  EXPECT_HAS_SUBSTR(down({machine("host1")}).message(), "not DRAINING");

  // Tasks: TASK_GONE_BY_OPERATOR for the partition-aware, TASK_LOST for the other.
  auto plainUpdates = updatesFor("plain");
  ASSERT_EQ(plainUpdates.size(), 1u);
  EXPECT_EQ(plainUpdates[0].state, TaskState::TASK_LOST);
  EXPECT_EQ(plainUpdates[0].reason, Reason::REASON_AGENT_REMOVED_BY_OPERATOR);
  auto awareUpdates = updatesFor("aware");
  ASSERT_EQ(awareUpdates.size(), 1u);
  EXPECT_EQ(awareUpdates[0].state, TaskState::TASK_GONE_BY_OPERATOR);
  EXPECT_EQ(awareUpdates[0].reason, Reason::REASON_AGENT_REMOVED_BY_OPERATOR);
  EXPECT_HAS_SUBSTR(awareUpdates[0].message, "host1");
  EXPECT_EQ(w_->transport.take<wire::FailureEvent>("aware").size(), 1u);

  // Re-registration (old id) and a fresh registration are refused while DOWN.
  wire::ReregisterAgentMessage back;
  back.agentInfo = agentMessage("host1", "10.0.0.1").agentInfo;
  back.agentInfo.id = agent;
  w_->transport.inject("agent1", back);
  settle();
  EXPECT_EQ(w_->transport.take<wire::AgentReregisteredMessage>("agent1").size(), 0u);
  EXPECT_EQ(w_->transport.take<wire::ShutdownAgentMessage>("agent1").size(), 1u);
  EXPECT_TRUE(registerAgent("agent3", "host1", "10.0.0.1").empty());
  auto refused = w_->transport.take<wire::ShutdownAgentMessage>("agent3");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_HAS_SUBSTR(refused[0].message, "machine 'host1' is DOWN");
  EXPECT_EQ(metric("master/agent_registrations_refused_down"), 1);
  // Any name of the machine counts: an agent whose hostname is its address.
  ASSERT_TRUE(setSchedule(scheduleOf({{{machine("host1")}, unavailability(100)},
                                      {{machine("", "10.0.0.9")}, unavailability(100)}}))
                  .ok());
  ASSERT_TRUE(down({machine("", "10.0.0.9")}).ok());
  EXPECT_TRUE(registerAgent("agent4", "10.0.0.9", "").empty());
  EXPECT_TRUE(registerAgent("agent5", "host9", "10.0.0.9").empty());

  // A DOWN machine cannot leave the schedule, only come up.
  EXPECT_HAS_SUBSTR(setSchedule(scheduleOf({{{machine("", "10.0.0.9")}, unavailability(1)}}))
                        .message(),
                    "is DOWN");
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kDown);
  ASSERT_TRUE(up({machine("host1")}).ok());
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kUp);
  ASSERT_EQ(maintenance().schedule().windows.size(), 1u) << "the emptied window is dropped";
  EXPECT_EQ(maintenance().schedule().windows[0].machineIds[0], machine("", "10.0.0.9"));
  EXPECT_HAS_SUBSTR(up({machine("host1")}).message(), "not part of a maintenance schedule");

  // Up again: a new agent on host1 registers; the old id stays refused.
  EXPECT_FALSE(registerAgent("agent6", "host1", "10.0.0.1").empty());
  w_->transport.inject("agent1", back);
  settle();
  EXPECT_EQ(w_->transport.take<wire::AgentReregisteredMessage>("agent1").size(), 0u);
  auto removed = w_->transport.take<wire::ShutdownAgentMessage>("agent1");
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_HAS_SUBSTR(removed[0].message, "removed");
}

TEST_F(MaintenanceTest, InvalidChangesChangeNothing) {
  ASSERT_TRUE(setSchedule(scheduleOf({{{machine("a"), machine("b")}, unavailability(10)}})).ok());
  ASSERT_TRUE(down({machine("a")}).ok());
  auto before = w_->master->registry().state().maintenance;
  uint64_t writes = w_->master->registry().writes();

  EXPECT_FALSE(setSchedule(scheduleOf({{{machine("b")}, unavailability(10)}})).ok());
  EXPECT_FALSE(setSchedule(scheduleOf({{{machine("a")}, unavailability(1)},
                                       {{machine("a")}, unavailability(2)}}))
                   .ok());
  EXPECT_FALSE(down({machine("b"), machine("c")}).ok()) << "c is not scheduled: b stays DRAINING";
  EXPECT_FALSE(down({}).ok());
  EXPECT_FALSE(up({machine("a"), machine("b")}).ok()) << "b is not DOWN: a stays DOWN";
  // Valid, but too large for one registry record.
  MaintenanceWindow huge{{machine("a")}, unavailability(10)};
  for (int i = 0; i < 4000; ++i) {
    huge.machineIds.push_back(machine(std::to_string(i) + std::string(240, 'h')));
  }
  EXPECT_HAS_SUBSTR(setSchedule(scheduleOf({huge})).message(), "too large");
  EXPECT_EQ(maintenance().modeOf(machine("a")), MachineMode::kDown);
  EXPECT_EQ(maintenance().modeOf(machine("b")), MachineMode::kDraining);
  EXPECT_EQ(w_->master->registry().state().maintenance, before);
  EXPECT_EQ(w_->master->registry().writes(), writes);
}

TEST_F(MaintenanceTest, ANewLeaderRestoresTheScheduleAndKeepsRefusingDownMachines) {
  testing::TempDir dir;
  startMaster([&](Loop& loop) { return makeLocalRegistry(loop, dir.path()); });
  AgentID agent = registerAgent("agent1", "host1", "10.0.0.1");
  ASSERT_FALSE(agent.empty());
  MaintenanceSchedule schedule =
      scheduleOf({{{machine("host1")}, unavailability(100)},
                  {{machine("host2", "10.0.0.2")}, unavailability(200, std::nullopt)}});
  ASSERT_TRUE(setSchedule(schedule).ok());
  ASSERT_TRUE(down({machine("host1")}).ok());

  // The next leader reads the same file.
  startMaster([&](Loop& loop) { return makeLocalRegistry(loop, dir.path()); });
  EXPECT_EQ(maintenance().schedule(), schedule);
  EXPECT_EQ(maintenance().modeOf(machine("host1")), MachineMode::kDown);
  EXPECT_EQ(maintenance().modeOf(machine("host2", "10.0.0.2")), MachineMode::kDraining);
  EXPECT_EQ(w_->master->agents().find(agent), nullptr) << "removed agents are not recovered";
  EXPECT_TRUE(registerAgent("agent9", "host1", "10.0.0.1").empty());
  EXPECT_EQ(w_->transport.take<wire::ShutdownAgentMessage>("agent9").size(), 1u);
  // An agent on the DRAINING machine gets offers with the unavailability.
  AgentID drained = registerAgent("agent2", "host2", "10.0.0.2");
  ASSERT_FALSE(drained.empty());
  subscribe("fw", false);
  auto offers = offersFor("fw");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].unavailability, unavailability(200, std::nullopt));
}

}  // namespace
}  // namespace master
}  // namespace tutti
