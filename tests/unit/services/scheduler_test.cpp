// ServiceScheduler against a fake driver and an in-memory store: packing,
// replacement with backoff, scale, deployments, adoption after a restart.
#include <gtest/gtest.h>

#include "frameworks/services/app_views.hpp"
#include "frameworks/services/resident.hpp"
#include "frameworks/services/service_scheduler.hpp"

namespace tutti::services {
namespace {

using nlohmann::json;

// Records what the scheduler asks of the driver.
class FakeDriver : public SchedulerDriver {
 public:
  DriverStatus start() override { return ok(); }
  DriverStatus stop(bool) override { return ok(); }
  DriverStatus abort() override { return ok(); }
  DriverStatus join() override { return ok(); }
  DriverStatus run() override { return ok(); }
  DriverStatus acceptOffers(const std::vector<OfferID>&,
                            const std::vector<Offer::Operation>& operations,
                            const Filters&) override {
    accepted.push_back(operations);
    for (const auto& op : operations) {
      if (op.type == Offer::Operation::Type::LAUNCH) {
        launched.insert(launched.end(), op.tasks.begin(), op.tasks.end());
      }
    }
    return ok();
  }
  DriverStatus launchTasks(const std::vector<OfferID>&, const std::vector<TaskInfo>& tasks,
                           const Filters&) override {
    launched.insert(launched.end(), tasks.begin(), tasks.end());
    return ok();
  }
  DriverStatus declineOffer(const OfferID&, const Filters&) override {
    ++declined;
    return ok();
  }
  DriverStatus reviveOffers(const std::vector<std::string>&) override {
    ++revives;
    return ok();
  }
  DriverStatus suppressOffers(const std::vector<std::string>&) override {
    ++suppresses;
    return ok();
  }
  DriverStatus killTask(const TaskID& id) override {
    killed.push_back(id.value);
    return ok();
  }
  DriverStatus acknowledgeStatusUpdate(const TaskStatus&) override { return ok(); }
  DriverStatus reconcileTasks(const std::vector<TaskStatus>& s) override {
    reconciled.insert(reconciled.end(), s.begin(), s.end());
    return ok();
  }
  DriverStatus sendFrameworkMessage(const ExecutorID&, const AgentID&,
                                    const std::string&) override {
    return ok();
  }

  std::vector<std::vector<Offer::Operation>> accepted;
  std::vector<TaskInfo> launched;
  std::vector<std::string> killed;
  std::vector<TaskStatus> reconciled;
  int declined = 0, revives = 0, suppresses = 0;

 private:
  DriverStatus ok() { return DriverStatus::DRIVER_RUNNING; }
};

Offer offer(const std::string& resources = "cpus:4;mem:1024;ports:[31000-31100]") {
  static int n = 0;
  Offer o;
  o.id = OfferID("offer-" + std::to_string(++n));
  o.agentId = AgentID("agent-1");
  o.hostname = "host1";
  o.resources = *Resources::parse(resources);
  return o;
}

TaskStatus status(const std::string& id, TaskState state, std::optional<bool> healthy = {}) {
  TaskStatus s;
  s.taskId = TaskID(id);
  s.state = state;
  s.healthy = healthy;
  s.agentId = AgentID("agent-1");
  return s;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  void start() {
    scheduler_ = std::make_unique<ServiceScheduler>(store_.get(), options_, &metrics_, &events_);
    ASSERT_TRUE(scheduler_->load().ok());
    driver_ = FakeDriver();
    scheduler_->setDriver(&driver_);
    scheduler_->registered(&driver_, FrameworkID("fw-1"), MasterInfo{});
  }

  AppDefinition app(const std::string& json) { return *parseApp(json::parse(json)).app; }

  void runAll() {
    for (const auto& t : driver_.launched) {
      scheduler_->statusUpdate(&driver_, status(t.taskId.value, TaskState::TASK_RUNNING));
    }
  }

  json view(const std::string& id) {
    json out;
    scheduler_->read([&](const std::map<std::string, AppRecord>& apps) {
      auto it = apps.find(id);
      if (it != apps.end()) out = toStoredJson(it->second);
    });
    return out;
  }

  std::unique_ptr<StateStore> store_ = makeMemoryStore();
  ServicesOptions options_;
  Metrics metrics_;
  EventBus events_{&metrics_};
  FakeDriver driver_;
  std::unique_ptr<ServiceScheduler> scheduler_;
};

TEST_F(SchedulerTest, PacksInstancesIntoOneOfferAndFinishesTheDeployment) {
  auto ref = scheduler_->createApp(app(R"({"id": "web", "cmd": "x", "cpus": 0.5, "mem": 64,
                                           "instances": 3})"));
  ASSERT_TRUE(ref.ok());
  EXPECT_FALSE(scheduler_->createApp(app(R"({"id": "web", "cmd": "x"})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  ASSERT_EQ(driver_.launched.size(), 3u);
  EXPECT_EQ(driver_.launched[0].taskId.value.rfind("web.", 0), 0u);
  EXPECT_TRUE(view("/web").contains("deployment"));
  runAll();
  EXPECT_FALSE(view("/web").contains("deployment"));
  // Nothing more to launch: offers are declined and suppressed.
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_EQ(driver_.launched.size(), 3u);
  EXPECT_EQ(driver_.declined, 1);
  EXPECT_GE(driver_.suppresses, 1);
}

TEST_F(SchedulerTest, PublishesMarathonsEventsAsThingsHappen) {
  auto sub = events_.subscribe({}, "test");
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8,
      "healthChecks": [{"protocol": "TCP"}]})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  ASSERT_EQ(driver_.launched.size(), 1u);
  std::string id = driver_.launched[0].taskId.value;
  scheduler_->statusUpdate(&driver_, status(id, TaskState::TASK_RUNNING, true));
  ASSERT_TRUE(scheduler_->deleteApp("/web", false).ok());
  scheduler_->statusUpdate(&driver_, status(id, TaskState::TASK_KILLED));
  std::string text;
  ASSERT_TRUE((*sub)->next(&text, std::chrono::milliseconds(0)));
  std::vector<std::string> types;
  for (size_t at = 0; (at = text.find("event: ", at)) != std::string::npos; ++at) {
    types.push_back(text.substr(at + 7, text.find('\n', at) - at - 7));
  }
  EXPECT_EQ(types, (std::vector<std::string>{
                       "event_stream_attached", "deployment_info", "status_update_event",
                       "health_status_changed_event", "deployment_success", "deployment_info",
                       "status_update_event", "deployment_success", "app_terminated_event"}))
      << text;
  EXPECT_NE(text.find("\"taskStatus\":\"TASK_RUNNING\""), std::string::npos);
}

TEST_F(SchedulerTest, TheQueueSaysWhyOffersWereNotUsed) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "big", "cmd": "x", "cpus": 8, "mem": 64,
      "constraints": [["hostname", "LIKE", "host[12]"]]})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});  // 4 cpus on host1
  Offer elsewhere = offer("cpus:16;mem:1024;ports:[31000-31100]");
  elsewhere.hostname = "host3";
  scheduler_->resourceOffers(&driver_, {elsewhere});
  Offer small = offer("cpus:16;mem:32;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {small});
  json first = scheduler_->queue()["queue"][0]["processedOffersSummary"];
  EXPECT_EQ(first["processedOffersCount"], 3) << first.dump();
  EXPECT_EQ(first["unusedOffersCount"], 3);
  EXPECT_TRUE(first["lastUsedOfferAt"].is_null());
  std::map<std::string, int> reasons;
  for (const auto& r : first["rejectSummaryLastOffers"]) reasons[r["reason"]] = r["declined"];
  EXPECT_EQ(reasons, (std::map<std::string, int>{{"InsufficientCpus", 1},
                                                 {"InsufficientMemory", 1},
                                                 {"UnfulfilledConstraint", 1}}));
  Offer fits = offer("cpus:16;mem:1024;ports:[31000-31100]");
  fits.hostname = "host2";
  scheduler_->resourceOffers(&driver_, {fits});
  ASSERT_EQ(driver_.launched.size(), 1u);
  // Scaled up to wait again: the summary starts over.
  FieldErrors errors;
  ASSERT_TRUE(scheduler_->updateApp("/big", json{{"instances", 2}}, true, &errors).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  json q = scheduler_->queue()["queue"];
  ASSERT_EQ(q.size(), 1u);
  json summary = q[0]["processedOffersSummary"];
  EXPECT_EQ(summary["processedOffersCount"], 1) << summary.dump();
  EXPECT_EQ(summary["unusedOffersCount"], 1);
  ASSERT_EQ(summary["rejectSummaryLastOffers"].size(), 1u);
  EXPECT_EQ(summary["rejectSummaryLastOffers"][0]["reason"], "InsufficientCpus");
}

TEST_F(SchedulerTest, FailedInstanceIsReplacedAfterItsBackoff) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8,
                                            "backoffSeconds": 3600})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  ASSERT_EQ(driver_.launched.size(), 1u);
  runAll();
  scheduler_->statusUpdate(&driver_, status(driver_.launched[0].taskId.value,
                                            TaskState::TASK_FAILED));
  // Backing off for an hour: the offer is declined.
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_EQ(driver_.launched.size(), 1u);
  EXPECT_EQ(view("/web")["tasks"].size(), 0u);
  // It waits in the launch queue, delayed.
  json queue = scheduler_->queue()["queue"];
  ASSERT_EQ(queue.size(), 1u) << queue.dump();
  EXPECT_EQ(queue[0]["count"], 1);
  EXPECT_GT(queue[0]["delay"]["timeLeftSeconds"].get<int>(), 200);  // capped at 300
  EXPECT_EQ(queue[0]["delay"]["overdue"], false);
  EXPECT_EQ(queue[0]["app"]["id"], "/web");
  // A change of the app resets the backoff.
  FieldErrors errors;
  ASSERT_TRUE(scheduler_->updateApp("/web", json{{"cmd", "y"}}, true, &errors).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_EQ(driver_.launched.size(), 2u);
  EXPECT_TRUE(scheduler_->queue()["queue"].empty());
  // So does DELETE /v2/queue/{app}/delay, and offers are asked for again.
  scheduler_->statusUpdate(&driver_, status(driver_.launched[1].taskId.value,
                                            TaskState::TASK_RUNNING));
  scheduler_->statusUpdate(&driver_, status(driver_.launched[1].taskId.value,
                                            TaskState::TASK_FAILED));
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_EQ(driver_.launched.size(), 2u);
  int revives = driver_.revives;
  EXPECT_FALSE(scheduler_->resetDelay("/nope").ok());
  ASSERT_TRUE(scheduler_->resetDelay("/web").ok());
  EXPECT_GT(driver_.revives, revives);
  EXPECT_EQ(scheduler_->queue()["queue"][0]["delay"]["overdue"], true);
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_EQ(driver_.launched.size(), 3u);
}

TEST_F(SchedulerTest, ScaleDownKillsTheYoungestAndLockedAppsNeedForce) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8,
                                            "instances": 2})")).ok());
  FieldErrors errors;
  // Locked by the start deployment.
  auto locked = scheduler_->updateApp("/web", json{{"instances", 1}}, false, &errors);
  EXPECT_EQ(locked.status().code(), Status::Code::kFailedPrecondition);
  scheduler_->resourceOffers(&driver_, {offer()});
  runAll();
  ASSERT_TRUE(scheduler_->updateApp("/web", json{{"instances", 1}}, false, &errors).ok());
  ASSERT_EQ(driver_.killed.size(), 1u);
  auto invalid = scheduler_->updateApp("/web", json{{"cpus", -2}}, true, &errors);
  EXPECT_FALSE(invalid.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/cpus");
  EXPECT_EQ(view("/web")["app"]["instances"], 1);
}

TEST_F(SchedulerTest, RestartedSchedulerAdoptsItsInstancesAndKillsStrangers) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "prod/web", "cmd": "x", "cpus": 0.1,
                                            "mem": 8, "instances": 2})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  runAll();
  auto launched = driver_.launched;
  start();  // a new scheduler on the same store
  EXPECT_EQ(scheduler_->frameworkId(), "fw-1");
  EXPECT_EQ(driver_.reconciled.size(), 2u);
  for (const auto& t : launched) {
    scheduler_->statusUpdate(&driver_, status(t.taskId.value, TaskState::TASK_RUNNING));
  }
  scheduler_->resourceOffers(&driver_, {offer()});
  EXPECT_TRUE(driver_.launched.empty());
  scheduler_->statusUpdate(&driver_, status("gone_app.1234", TaskState::TASK_RUNNING));
  EXPECT_EQ(driver_.killed, std::vector<std::string>{"gone_app.1234"});
}

TEST_F(SchedulerTest, DeleteKillsEverythingThenForgetsTheApp) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8,
                                            "instances": 2})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  runAll();
  ASSERT_TRUE(scheduler_->deleteApp("/web", false).ok());
  EXPECT_EQ(driver_.killed.size(), 2u);
  for (const auto& id : driver_.killed) {
    scheduler_->statusUpdate(&driver_, status(id, TaskState::TASK_KILLED));
  }
  EXPECT_TRUE(view("/web").is_null());
  EXPECT_EQ(store_->loadAll()->count("app_web"), 0u);
  EXPECT_EQ(scheduler_->deleteApp("/web", false).status().code(), Status::Code::kNotFound);
}

TEST_F(SchedulerTest, CancellingARollingDeploymentRollsBack) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "v1", "cpus": 0.1, "mem": 8,
                                            "instances": 2})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  runAll();
  FieldErrors errors;
  auto ref = scheduler_->updateApp("/web", json{{"cmd", "v2"}}, false, &errors);
  ASSERT_TRUE(ref.ok());
  driver_.launched.clear();
  scheduler_->resourceOffers(&driver_, {offer()});
  ASSERT_EQ(driver_.launched.size(), 2u);  // over-capacity 1: both new at once
  EXPECT_TRUE(driver_.killed.empty());     // old ones stay until new are ready
  auto back = scheduler_->cancelDeployment(ref->deploymentId, false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(view("/web")["app"]["cmd"], "v1");
  EXPECT_EQ(driver_.killed.size(), 2u);  // the new (not ready) instances go
}

TEST_F(SchedulerTest, AddingHealthChecksKeepsOldInstancesUntilNewOnesAreHealthy) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "web", "cmd": "v1", "cpus": 0.1, "mem": 8,
                                            "instances": 2})")).ok());
  scheduler_->resourceOffers(&driver_, {offer()});
  runAll();
  FieldErrors errors;
  json check = {{"protocol", "COMMAND"}, {"command", {{"value", "true"}}}};
  ASSERT_TRUE(scheduler_->updateApp("/web", json{{"cmd", "v2"}, {"healthChecks", {check}}},
                                    false, &errors).ok());
  driver_.launched.clear();
  scheduler_->resourceOffers(&driver_, {offer()});
  ASSERT_EQ(driver_.launched.size(), 2u);
  runAll();  // running, not yet healthy
  EXPECT_TRUE(driver_.killed.empty());
  scheduler_->statusUpdate(&driver_, status(driver_.launched[0].taskId.value,
                                            TaskState::TASK_RUNNING, true));
  EXPECT_EQ(driver_.killed.size(), 1u);  // one new healthy: one old may go
}

// Resident apps: the framework subscribes in role "eng".
class ResidentSchedulerTest : public SchedulerTest {
 protected:
  void SetUp() override {
    options_.role = "eng";
    options_.principal = "ops";
    start();
  }

  static Offer engOffer(const Resources& resources, const std::string& agent = "agent-1") {
    Offer o = offer();
    o.agentId = AgentID(agent);
    o.hostname = agent;
    o.allocationRole = "eng";
    o.resources = resources.allocate("eng");
    return o;
  }

  static const Offer::Operation* find(const std::vector<Offer::Operation>& ops,
                                      Offer::Operation::Type type) {
    for (const auto& op : ops) {
      if (op.type == type) return &op;
    }
    return nullptr;
  }

  const char* db_ = R"({"id": "db", "cmd": "x", "cpus": 0.5, "mem": 64, "disk": 10,
      "backoffSeconds": 0, "container": {"type": "MESOS", "volumes": [
        {"containerPath": "data", "mode": "RW", "persistent": {"size": 100}}]}})";
};

TEST_F(ResidentSchedulerTest, AnInstanceReservesCreatesAndLaunchesThenComesBackToItsSlot) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  ASSERT_EQ(driver_.accepted.size(), 1u);
  const auto& ops = driver_.accepted[0];
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].type, Offer::Operation::Type::RESERVE);
  EXPECT_EQ(ops[1].type, Offer::Operation::Type::CREATE);
  EXPECT_EQ(ops[2].type, Offer::Operation::Type::LAUNCH);
  const Resources& reserve = ops[0].resources;
  EXPECT_EQ(reserve.cpus(), 0.5);
  EXPECT_EQ(reserve.disk(), 110);  // the sandbox's 10 and the volume's 100
  for (const auto& r : reserve) {
    ASSERT_EQ(r.reservations.size(), 1u);
    EXPECT_EQ(r.reservations[0].role, "eng");
    EXPECT_EQ(r.reservations[0].principal, "ops");
    EXPECT_EQ(r.reservations[0].labels[0].value, "fw-1");
  }
  Resources volumes = ops[1].resources;
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes.list()[0].disk->containerPath, "data");
  EXPECT_EQ(volumes.list()[0].disk->principal, "ops");
  ASSERT_EQ(driver_.launched.size(), 1u);
  Resources used = driver_.launched[0].resources;
  EXPECT_TRUE(used.contains(volumes.allocate("eng"))) << used;
  EXPECT_EQ(used.unreserved().cpus(), std::nullopt) << used;

  // It ran and failed: the next task goes into the same reservation, and an
  // agent with room elsewhere gets no new one.
  std::string first = driver_.launched[0].taskId.value;
  scheduler_->statusUpdate(&driver_, status(first, TaskState::TASK_RUNNING));
  scheduler_->statusUpdate(&driver_, status(first, TaskState::TASK_FAILED));
  scheduler_->resourceOffers(&driver_, {engOffer(plain, "agent-2")});
  EXPECT_EQ(driver_.accepted.size(), 1u);
  Resources reserved = reserve - volumes.stripVolumes() + volumes + plain;
  scheduler_->resourceOffers(&driver_, {engOffer(reserved)});
  ASSERT_EQ(driver_.launched.size(), 2u);
  ASSERT_EQ(driver_.accepted.size(), 1u);  // a plain launch: nothing to reserve
  EXPECT_TRUE(driver_.launched[1].resources.contains(volumes.allocate("eng")));

  // Deleted: once its task ended, the next offer gives everything back.
  ASSERT_TRUE(scheduler_->deleteApp("/db", false).ok());
  scheduler_->statusUpdate(&driver_,
                           status(driver_.launched[1].taskId.value, TaskState::TASK_KILLED));
  scheduler_->resourceOffers(&driver_, {engOffer(reserved)});
  ASSERT_EQ(driver_.accepted.size(), 2u);
  const auto& release = driver_.accepted[1];
  ASSERT_EQ(release.size(), 2u);
  EXPECT_EQ(release[0].type, Offer::Operation::Type::DESTROY);
  EXPECT_EQ(release[0].resources, volumes);
  EXPECT_EQ(release[1].type, Offer::Operation::Type::UNRESERVE);
  EXPECT_EQ(release[1].resources, reserve);
}

TEST_F(ResidentSchedulerTest, OnlyItsOwnUnknownReservationsAreReleased) {
  ResidentSlot mine;
  mine.id = "old-slot";
  mine.role = "eng";
  mine.frameworkId = "fw-1";
  mine.cpus = 1;
  mine.mem = 32;
  mine.volumes = {{"data", "db.data.old-slot", 50}};
  ResidentSlot theirs = mine;
  theirs.id = "their-slot";
  theirs.frameworkId = "fw-2";
  theirs.volumes = {{"data", "db.data.their-slot", 50}};
  Resources offered = slotTaskResources(mine) + slotTaskResources(theirs);
  scheduler_->resourceOffers(&driver_, {engOffer(offered)});
  ASSERT_EQ(driver_.accepted.size(), 1u);
  const auto& ops = driver_.accepted[0];
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].resources, slotVolumes(mine));
  EXPECT_EQ(ops[1].resources, slotReservation(mine));
  EXPECT_EQ(metrics_.counter("services/reservations_released").value(), 1);
}

TEST_F(ResidentSchedulerTest, WhatWasReservedCannotChangeButTheCommandCan) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  FieldErrors errors;
  auto bigger = scheduler_->updateApp("/db", json{{"mem", 128}}, true, &errors);
  ASSERT_FALSE(bigger.ok());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/container/volumes");
  errors.clear();
  EXPECT_FALSE(scheduler_->updateApp("/db", json{{"container", nullptr}}, true, &errors).ok());
  errors.clear();
  EXPECT_TRUE(scheduler_->updateApp("/db", json{{"cmd", "y"}}, true, &errors).ok());
}

TEST_F(ResidentSchedulerTest, AWipedInstanceLeavesItsReservationAndStartsAfresh) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  ASSERT_EQ(driver_.launched.size(), 1u);
  std::string first = driver_.launched[0].taskId.value;
  Resources reserve = driver_.accepted[0][0].resources;
  Resources volumes = driver_.accepted[0][1].resources;
  scheduler_->statusUpdate(&driver_, status(first, TaskState::TASK_RUNNING));
  ASSERT_TRUE(scheduler_->killTask("/db", first, false, true).ok());
  EXPECT_EQ(driver_.killed, (std::vector<std::string>{first}));
  scheduler_->statusUpdate(&driver_, status(first, TaskState::TASK_KILLED));
  json v = view("/db");
  ASSERT_TRUE(v.contains("slots")) << v.dump();
  EXPECT_TRUE(v["slots"].empty());
  // Its agent's next offer: the old reservation goes back, a new one is made.
  Resources reserved = reserve - volumes.stripVolumes() + volumes + plain;
  scheduler_->resourceOffers(&driver_, {engOffer(reserved)});
  ASSERT_EQ(driver_.accepted.size(), 2u);
  const auto& ops = driver_.accepted[1];
  ASSERT_GE(ops.size(), 5u);
  EXPECT_EQ(ops[0].type, Offer::Operation::Type::DESTROY);
  EXPECT_EQ(ops[1].type, Offer::Operation::Type::UNRESERVE);
  EXPECT_EQ(ops[2].type, Offer::Operation::Type::RESERVE);
  EXPECT_NE(ops[2].resources, reserve);  // another slot's labels
  EXPECT_EQ(ops[3].type, Offer::Operation::Type::CREATE);
  EXPECT_EQ(ops[4].type, Offer::Operation::Type::LAUNCH);
}

TEST_F(ResidentSchedulerTest, ATaskKilledBeforeItsFirstUpdateStillKeepsItsVolume) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  ASSERT_EQ(driver_.launched.size(), 1u);
  std::string first = driver_.launched[0].taskId.value;
  // Killed while staging; the executor reports the end: it ran there.
  ASSERT_TRUE(scheduler_->killTask("/db", first, false).ok());
  TaskStatus killed = status(first, TaskState::TASK_KILLED);
  killed.source = Source::SOURCE_EXECUTOR;
  scheduler_->statusUpdate(&driver_, killed);
  json v = view("/db");
  ASSERT_EQ(v["slots"].size(), 1u) << v.dump();
  EXPECT_TRUE(v["slots"][0]["confirmed"].get<bool>());
  // A master's TASK_LOST for a lost agent is no refusal either.
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "db2", "cmd": "x", "cpus": 0.1, "mem": 8,
      "container": {"type": "MESOS", "volumes": [
        {"containerPath": "d", "mode": "RW", "persistent": {"size": 1}}]}})")).ok());
  scheduler_->resourceOffers(&driver_, {engOffer(plain, "agent-2")});
  std::string other;
  for (const auto& t : driver_.launched) {
    if (t.taskId.value.rfind("db2.", 0) == 0) other = t.taskId.value;
  }
  ASSERT_FALSE(other.empty());
  TaskStatus lost = status(other, TaskState::TASK_LOST);
  lost.reason = Reason::REASON_AGENT_REMOVED;
  scheduler_->statusUpdate(&driver_, lost);
  EXPECT_EQ(view("/db2")["slots"].size(), 1u);
  TaskStatus dropped = status("x", TaskState::TASK_LOST);  // unknown task: ignored
  scheduler_->statusUpdate(&driver_, dropped);
}

TEST_F(ResidentSchedulerTest, AReservationWithNoTaskIsListedAndCanBeWiped) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  std::string first = driver_.launched[0].taskId.value;
  scheduler_->statusUpdate(&driver_, status(first, TaskState::TASK_RUNNING));
  TaskStatus lost = status(first, TaskState::TASK_LOST);
  lost.reason = Reason::REASON_AGENT_REMOVED;
  scheduler_->statusUpdate(&driver_, lost);
  json tasks;
  scheduler_->read([&](const std::map<std::string, AppRecord>& apps) {
    tasks = tasksView(apps, "/db")["tasks"];
  });
  ASSERT_EQ(tasks.size(), 1u) << tasks.dump();
  EXPECT_EQ(tasks[0]["state"], "TASK_RESERVED");
  EXPECT_EQ(tasks[0]["slaveId"], "agent-1");
  std::string reserved = tasks[0]["id"];
  EXPECT_FALSE(scheduler_->killTask("/db", reserved, false, false).ok());
  ASSERT_TRUE(scheduler_->killTask("/db", reserved, false, true).ok());
  EXPECT_TRUE(view("/db")["slots"].empty());
  // The instance starts afresh on another agent.
  scheduler_->resourceOffers(&driver_, {engOffer(plain, "agent-2")});
  ASSERT_EQ(driver_.accepted.size(), 2u);
  EXPECT_EQ(driver_.accepted[1][0].type, Offer::Operation::Type::RESERVE);
}

TEST_F(ResidentSchedulerTest, ARestartStillReleasesWhatWasForgottenAndAdoptsIntoSlots) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "gone", "cmd": "x", "cpus": 0.1, "mem": 8,
      "container": {"type": "MESOS", "volumes": [
        {"containerPath": "d", "mode": "RW", "persistent": {"size": 1}}]}})")).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  ASSERT_EQ(driver_.launched.size(), 2u);
  std::string dbTask, goneTask;
  Resources goneReserved;
  for (size_t i = 0; i < driver_.launched.size(); ++i) {
    const std::string& id = driver_.launched[i].taskId.value;
    (id.rfind("db.", 0) == 0 ? dbTask : goneTask) = id;
    if (id.rfind("gone.", 0) == 0) goneReserved = driver_.launched[i].resources;
  }
  for (const auto& id : {dbTask, goneTask}) {
    scheduler_->statusUpdate(&driver_, status(id, TaskState::TASK_RUNNING));
  }
  ASSERT_TRUE(scheduler_->deleteApp("/gone", false).ok());
  scheduler_->statusUpdate(&driver_, status(goneTask, TaskState::TASK_KILLED));
  auto pending = [&] {
    auto all = store_->loadAll();
    EXPECT_TRUE(all.ok());
    return all.ok() && all->count("releases") ? json::parse(all->at("releases")) : json();
  };
  EXPECT_EQ(pending().size(), 1u) << pending().dump();

  // Restarted with the store, the db task's record lost (as after a crash
  // between writes): the task is adopted into its slot, and the deleted
  // app's reservation is still released by the next offer.
  store_->put("app_db", [&] {
    json j = view("/db");
    j["tasks"] = json::array();
    for (auto& slot : j["slots"]) slot["task_id"] = "";
    return j.dump();
  }());
  start();
  scheduler_->statusUpdate(&driver_, status(dbTask, TaskState::TASK_RUNNING));
  json v = view("/db");
  ASSERT_EQ(v["tasks"].size(), 1u) << v.dump();
  EXPECT_EQ(v["tasks"][0]["slot"], v["slots"][0]["id"]);
  EXPECT_EQ(v["slots"][0]["task_id"], dbTask);
  scheduler_->resourceOffers(&driver_, {engOffer(goneReserved.unallocate())});
  ASSERT_EQ(driver_.accepted.size(), 1u);
  EXPECT_EQ(driver_.accepted[0][0].type, Offer::Operation::Type::DESTROY);
  EXPECT_EQ(driver_.accepted[0][1].type, Offer::Operation::Type::UNRESERVE);
  EXPECT_TRUE(pending().empty()) << pending().dump();
}

TEST_F(ResidentSchedulerTest, AMalformedPendingReleaseRecordStopsTheLoadWithAReason) {
  for (const char* bad : {"[1]", R"({"slot": {"agent_id": 7, "until": 1}})",
                          R"({"slot": {"agent_id": "a"}})"}) {
    ASSERT_TRUE(store_->put("releases", bad).ok());
    ServiceScheduler other(store_.get(), options_, &metrics_);
    Status loaded = other.load();
    EXPECT_FALSE(loaded.ok()) << bad;
    EXPECT_NE(loaded.message().find("releases"), std::string::npos) << loaded.message();
  }
}

TEST_F(ResidentSchedulerTest, AReservationRefusedByTheMasterIsForgotten) {
  ASSERT_TRUE(scheduler_->createApp(app(db_)).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  // The ways the master (or the driver) says an ACCEPT did nothing.
  std::vector<std::pair<TaskState, std::optional<Reason>>> refusals = {
      {TaskState::TASK_ERROR, Reason::REASON_TASK_INVALID},
      {TaskState::TASK_DROPPED, Reason::REASON_INVALID_OFFERS},
      {TaskState::TASK_LOST, Reason::REASON_INVALID_OFFERS},
      {TaskState::TASK_LOST, Reason::REASON_MASTER_DISCONNECTED}};
  for (size_t i = 0; i < refusals.size(); ++i) {
    scheduler_->resourceOffers(&driver_, {engOffer(plain)});
    ASSERT_EQ(driver_.accepted.size(), i + 1);
    // Each is a new slot: the refused one was forgotten.
    EXPECT_EQ(driver_.accepted[i][0].type, Offer::Operation::Type::RESERVE);
    TaskStatus refused = status(driver_.launched.back().taskId.value, refusals[i].first);
    refused.reason = refusals[i].second;
    scheduler_->statusUpdate(&driver_, refused);
    json v = view("/db");
    ASSERT_TRUE(v.contains("slots")) << v.dump();
    EXPECT_TRUE(v["slots"].empty()) << i << ": " << v.dump();
  }
  // Nothing was reserved, so nothing waits to be released: nothing left to
  // want offers for once the app is gone.
  int suppressed = driver_.suppresses;
  ASSERT_TRUE(scheduler_->deleteApp("/db", true).ok());
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  EXPECT_EQ(driver_.accepted.size(), refusals.size());
  EXPECT_GT(driver_.suppresses, suppressed);
}

TEST_F(ResidentSchedulerTest, AnOrphanTaskJoinsASlotOnlyWhenItCanOnlyBeThatOne) {
  ASSERT_TRUE(scheduler_->createApp(app(R"({"id": "db", "cmd": "x", "cpus": 0.1, "mem": 8,
      "instances": 2, "backoffSeconds": 0, "container": {"type": "MESOS", "volumes": [
        {"containerPath": "d", "mode": "RW", "persistent": {"size": 1}}]}})")).ok());
  Resources plain = *Resources::parse("cpus:4;mem:1024;disk:1000;ports:[31000-31100]");
  scheduler_->resourceOffers(&driver_, {engOffer(plain)});
  ASSERT_EQ(driver_.launched.size(), 2u);
  for (const auto& t : driver_.launched) {
    scheduler_->statusUpdate(&driver_, status(t.taskId.value, TaskState::TASK_RUNNING));
    scheduler_->statusUpdate(&driver_, status(t.taskId.value, TaskState::TASK_FAILED));
  }
  // Two free slots on agent-1; a running task nobody knows about there.
  scheduler_->statusUpdate(&driver_, status("db.stranger", TaskState::TASK_RUNNING));
  json v = view("/db");
  ASSERT_EQ(v["slots"].size(), 2u);
  for (const auto& slot : v["slots"]) EXPECT_EQ(slot["task_id"], "") << v.dump();
  ASSERT_EQ(v["tasks"].size(), 1u);
  EXPECT_EQ(v["tasks"][0]["slot"], "");
}

TEST_F(SchedulerTest, ResidentAppsNeedARole) {
  auto refused = scheduler_->createApp(app(R"({"id": "db", "cmd": "x", "container": {
      "type": "MESOS", "volumes": [{"containerPath": "d", "mode": "RW",
      "persistent": {"size": 1}}]}})"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--role"), std::string::npos);
}

}  // namespace
}  // namespace tutti::services
