#include "frameworks/services/service_scheduler.hpp"

#include <glog/logging.h>

#include <chrono>
#include <cmath>
#include <set>

#include "common/ids.hpp"
#include "frameworks/services/app_views.hpp"
#include "frameworks/services/backoff.hpp"
#include "frameworks/services/constraints.hpp"
#include "frameworks/services/deployment_plan.hpp"
#include "frameworks/services/resident.hpp"
#include "frameworks/services/task_factory.hpp"
#include "common/json.hpp"

namespace tutti::services {

using nlohmann::json;

namespace {
constexpr const char* kFrameworkIdKey = "framework_id";
constexpr const char* kReleasesKey = "releases";
std::string appKey(const std::string& appId) { return "app_" + safeAppId(appId); }

// Where the app's instances are, for its constraints: a resident app's
// slots (an instance stays on its agent with or without a task), else its
// tasks not being killed.
std::vector<Placement> placementsOf(const AppRecord& app) {
  std::vector<Placement> out;
  if (app.def.resident()) {
    for (const auto& [_, slot] : app.slots) {
      if (!slot.wipe) out.push_back({slot.host, slot.attributes});
    }
  } else {
    for (const auto& [_, t] : app.tasks) {
      if (t.phase != TaskPhase::kKilling) out.push_back({t.host, t.attributes});
    }
  }
  return out;
}

// A resident app's slots that are not being wiped: its instances.
size_t liveSlots(const AppRecord& app) {
  size_t n = 0;
  for (const auto& [_, slot] : app.slots) n += !slot.wipe;
  return n;
}
}  // namespace

double nowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

ServiceScheduler::ServiceScheduler(StateStore* store, ServicesOptions options, Metrics* metrics,
                                   EventBus* events)
    : store_(store), options_(options), metrics_(metrics), events_(events) {
  metrics_->gauge("services/apps", [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<double>(apps_.size());
  });
  metrics_->gauge("services/tasks_running", [this] {
    std::lock_guard<std::mutex> lock(mu_);
    double n = 0;
    for (const auto& [_, app] : apps_) {
      for (const auto& [__, t] : app.tasks) n += t.phase == TaskPhase::kRunning;
    }
    return n;
  });
  metrics_->gauge("services/deployments", [this] {
    std::lock_guard<std::mutex> lock(mu_);
    double n = 0;
    for (const auto& [_, app] : apps_) n += app.deployment.has_value();
    return n;
  });
}

ServiceScheduler::~ServiceScheduler() {
  for (const char* gauge : {"services/apps", "services/tasks_running", "services/deployments"}) {
    metrics_->removeGauge(gauge);
  }
}

Status ServiceScheduler::load() {
  auto all = store_->loadAll();
  if (!all.ok()) return all.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, value] : *all) {
    if (key == kFrameworkIdKey) {
      auto j = tutti::json::parse(value);
      if (j.is_object() && j.contains("id") && j["id"].is_string()) {
        frameworkId_ = j["id"].get<std::string>();
      }
      continue;
    }
    if (key == kReleasesKey) {
      auto j = tutti::json::parse(value);
      if (!j.is_object()) return Status::InvalidArgument("state key releases: not a JSON object");
      for (const auto& [slot, r] : j.items()) {
        if (!r.is_object() || !r.contains("agent_id") || !r["agent_id"].is_string() ||
            !r.contains("until") || !r["until"].is_number()) {
          return Status::InvalidArgument("state key releases: malformed entry " + slot);
        }
        releases_[slot] = {r["agent_id"].get<std::string>(), r["until"].get<double>()};
      }
      continue;
    }
    auto app = fromStoredJson(value);
    if (!app.ok()) return app.status().prefixed("state key " + key + ": ");
    lastVersion_ = std::max(lastVersion_, app->version);
    apps_[app->def.id] = std::move(*app);
  }
  LOG(INFO) << "Loaded " << apps_.size() << " app(s)"
            << (frameworkId_.empty() ? "" : ", framework " + frameworkId_);
  return Status::OK();
}

std::string ServiceScheduler::frameworkId() {
  std::lock_guard<std::mutex> lock(mu_);
  return frameworkId_;
}

void ServiceScheduler::setDriver(SchedulerDriver* driver) {
  std::lock_guard<std::mutex> lock(mu_);
  driver_ = driver;
}

bool ServiceScheduler::connected() {
  std::lock_guard<std::mutex> lock(mu_);
  return connected_;
}

Status ServiceScheduler::save(const AppRecord& app) {
  Status s = store_->put(appKey(app.def.id), tutti::json::dump(toStoredJson(app)));
  if (!s.ok()) {
    metrics_->counter("services/store_errors").inc();
    LOG(ERROR) << "Cannot store app " << app.def.id << ": " << s;
  }
  return s;
}

void ServiceScheduler::publish(const std::string& type, json event) {
  if (events_) events_->publish(type, std::move(event));
}

void ServiceScheduler::announceDeployment(const AppRecord& app) {
  if (!app.deployment) return;
  json plan = deploymentView(app.def.id, *app.deployment);
  publish("deployment_info", {{"plan", plan}, {"currentStep", plan["steps"][0]}});
}

void ServiceScheduler::apiPostEvent(const std::string& clientIp, const std::string& uri,
                                    const std::string& appId) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = apps_.find(appId);
  publish("api_post_event",
          {{"clientIp", clientIp},
           {"uri", uri},
           {"appDefinition", it == apps_.end() ? json(nullptr) : toJson(it->second.def)}});
}

std::string ServiceScheduler::nextVersion(double now) {
  // Versions are timestamps; two changes in one millisecond get distinct ones.
  std::string v = isoTime(now);
  double t = now;
  while (v <= lastVersion_) {
    t += 0.001;
    v = isoTime(t);
  }
  lastVersion_ = v;
  return v;
}

// ---- Subscription -------------------------------------------------------

void ServiceScheduler::registered(SchedulerDriver* driver, const FrameworkID& id,
                                  const MasterInfo&) {
  std::lock_guard<std::mutex> lock(mu_);
  LOG(INFO) << "Subscribed as framework " << id;
  if (frameworkId_ != id.value) {
    frameworkId_ = id.value;
    Status s = store_->put(kFrameworkIdKey, tutti::json::dump(json{{"id", id.value}}));
    if (!s.ok()) LOG(ERROR) << "Cannot store the FrameworkID: " << s;
  }
  subscribed(driver);
}

void ServiceScheduler::reregistered(SchedulerDriver* driver, const MasterInfo&) {
  std::lock_guard<std::mutex> lock(mu_);
  LOG(INFO) << "Re-subscribed; reconciling";
  subscribed(driver);
}

void ServiceScheduler::disconnected(SchedulerDriver*) {
  std::lock_guard<std::mutex> lock(mu_);
  connected_ = false;
}

void ServiceScheduler::subscribed(SchedulerDriver* driver) {
  connected_ = true;
  // Ask for the truth about every instance we know (ones the master does
  // not know come back lost), then about all (strangers get adopted).
  std::vector<TaskStatus> statuses;
  for (const auto& [_, app] : apps_) {
    for (const auto& [id, t] : app.tasks) {
      // Kills sent while disconnected may be lost: send them again.
      if (t.phase == TaskPhase::kKilling) driver->killTask(TaskID(id));
      TaskStatus s;
      s.taskId = TaskID(id);
      s.agentId = AgentID(t.agentId);
      statuses.push_back(s);
    }
  }
  if (!statuses.empty()) driver->reconcileTasks(statuses);
  driver->reconcileTasks({});
  suppressed_ = false;
  double now = nowSeconds();
  lastReconcile_ = now;
  std::vector<std::string> ids;
  for (const auto& [id, _] : apps_) ids.push_back(id);
  for (const auto& id : ids) converge(id, now);
  updateOfferInterest(now);
}

void ServiceScheduler::error(SchedulerDriver*, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  LOG(ERROR) << "Framework error: " << message;
  metrics_->counter("services/framework_errors").inc();
  fatal_ = message;
  connected_ = false;
}

std::string ServiceScheduler::fatalError() {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

// ---- Offers -------------------------------------------------------------

bool ServiceScheduler::wantsOffers(const AppRecord& app, double now) const {
  auto it = wanted_.find(app.def.id);
  return it != wanted_.end() && it->second > 0 && !app.deleting && app.launchNotBefore <= now;
}

TaskRecord& ServiceScheduler::addTask(AppRecord& app, const std::string& taskId,
                                      const Offer& offer, const std::vector<uint32_t>& ports,
                                      double now) {
  TaskRecord t;
  t.id = taskId;
  t.agentId = offer.agentId.value;
  t.host = offer.hostname;
  t.attributes = offer.attributes;
  t.ports = ports;
  t.version = app.configVersion;
  t.stagedAt = now;
  if (--wanted_[app.def.id] <= 0) app.waitingSince = 0;
  return app.tasks[taskId] = t;
}

void ServiceScheduler::releaseUnknown(const Offer& offer, Resources& left,
                                      std::vector<Offer::Operation>* operations,
                                      std::set<std::string>* touched) {
  for (const auto& [slotId, reserved] : reservationsBySlot(offer.resources, frameworkId_)) {
    bool known = false;
    for (auto& [appId, app] : apps_) {
      auto it = app.slots.find(slotId);
      if (it == app.slots.end()) continue;
      known = true;
      if (!it->second.confirmed) {
        it->second.confirmed = true;
        touched->insert(appId);
      }
    }
    if (known) continue;
    LOG(INFO) << "Releasing reservation " << slotId << " on agent " << offer.agentId
              << ", which no instance owns: " << reserved.unallocate();
    if (releases_.erase(slotId)) saveReleases();
    for (auto& op : releaseOperations(reserved)) operations->push_back(std::move(op));
    left -= reserved;
    metrics_->counter("services/reservations_released").inc();
  }
}

bool ServiceScheduler::placeResident(AppRecord& app, const Offer& offer, Resources& left,
                                     std::vector<Offer::Operation>* operations,
                                     std::vector<TaskInfo>* launches, double now) {
  auto allocated = [&](const Resources& r) {
    return offer.allocationRole.empty() ? r : r.allocate(offer.allocationRole);
  };
  // A free slot of the app on this agent, whose reservation the offer holds.
  for (auto& [slotId, slot] : app.slots) {
    if (slot.wipe || !slot.taskId.empty() || slot.agentId != offer.agentId.value) continue;
    Resources reserved = allocated(slotTaskResources(slot));
    std::string taskId = newTaskId(app.def.id);
    auto launch = buildInstance(app.def, app.configVersion, taskId, offer, left, &reserved);
    if (!launch) continue;
    left -= launch->task.resources;
    slot.taskId = taskId;
    addTask(app, taskId, offer, launch->ports, now).slotId = slotId;
    launches->push_back(std::move(launch->task));
    return true;
  }
  // Else a new slot, while the app has fewer than its instances (during an
  // upgrade, new instances wait for the slots the old ones free).
  if (liveSlots(app) >= static_cast<size_t>(app.def.instances)) return false;
  if (!meetsConstraints(app.def.constraints, {offer.hostname, offer.attributes},
                        placementsOf(app))) {
    return false;
  }
  ResidentSlot slot =
      newSlot(app.def, offer, options_.role, options_.principal, frameworkId_, now);
  Resources reservation = slotReservation(slot);
  Resources unreserved = allocated(reservation.popReservation());
  if (!left.contains(unreserved)) return false;
  Resources volumes = slotVolumes(slot);
  Resources after = left - unreserved + allocated(reservation);
  if (!volumes.empty()) after = after - allocated(volumes.stripVolumes()) + allocated(volumes);
  Resources reserved = allocated(slotTaskResources(slot));
  std::string taskId = newTaskId(app.def.id);
  auto launch = buildInstance(app.def, app.configVersion, taskId, offer, after, &reserved);
  if (!launch) return false;
  left = after - launch->task.resources;
  operations->push_back(Offer::Operation::reserve(reservation));
  if (!volumes.empty()) operations->push_back(Offer::Operation::create(volumes));
  slot.taskId = taskId;
  LOG(INFO) << "Reserving " << reservation << " on agent " << offer.agentId << " for an instance of "
            << app.def.id << " (slot " << slot.id << ")";
  metrics_->counter("services/reservations_made").inc();
  addTask(app, taskId, offer, launch->ports, now).slotId = slot.id;
  app.slots[slot.id] = std::move(slot);
  launches->push_back(std::move(launch->task));
  return true;
}

void ServiceScheduler::placeInto(const Offer& offer, std::vector<Offer::Operation>* operations,
                                 std::vector<TaskInfo>* launches,
                                 std::set<std::string>* touched, double now) {
  Resources left = offer.resources;
  releaseUnknown(offer, left, operations, touched);
  std::set<std::string> waiting;
  for (const auto& [id, app] : apps_) {
    if (wantsOffers(app, now)) waiting.insert(id);
  }
  size_t launchedBefore = launches->size();
  Placement here{offer.hostname, offer.attributes};
  // Round robin over the apps that wait, one instance each per round.
  bool placed = true;
  while (placed) {
    placed = false;
    for (auto& [id, app] : apps_) {
      if (!wantsOffers(app, now)) continue;
      if (app.def.resident()) {
        if (placeResident(app, offer, left, operations, launches, now)) {
          touched->insert(id);
          placed = true;
        }
        continue;
      }
      if (!meetsConstraints(app.def.constraints, here, placementsOf(app))) continue;
      std::string taskId = newTaskId(id);
      auto launch = buildInstance(app.def, app.configVersion, taskId, offer, left);
      if (!launch) continue;
      left -= launch->task.resources;
      addTask(app, taskId, offer, launch->ports, now);
      launches->push_back(std::move(launch->task));
      touched->insert(id);
      placed = true;
    }
  }
  // What each waiting app made of the offer (GET /v2/queue).
  std::set<std::string> used;
  for (size_t i = launchedBefore; i < launches->size(); ++i) {
    if (auto id = appIdOfTask((*launches)[i].taskId.value)) used.insert(*id);
  }
  for (const auto& id : waiting) {
    AppRecord& app = apps_[id];
    AppRecord::OfferStats& stats = app.offers;
    ++stats.processed;
    if (used.count(id)) {
      stats.lastUsedAt = now;
      continue;
    }
    ++stats.unused;
    stats.lastUnusedAt = now;
    ++stats.rejects[unfitReason(app, offer, left)];
  }
}

std::string ServiceScheduler::unfitReason(const AppRecord& app, const Offer& offer,
                                          const Resources& left) const {
  if (!meetsConstraints(app.def.constraints, {offer.hostname, offer.attributes},
                        placementsOf(app))) {
    return "UnfulfilledConstraint";
  }
  // A resident app's instances wait for their own reservations, on their agents.
  if (app.def.resident() && liveSlots(app) >= static_cast<size_t>(app.def.instances)) {
    return "NoCorrespondingReservationFound";
  }
  Resources free = left.unreserved();
  double disk = app.def.disk;
  for (const auto& v : app.def.persistentVolumes) disk += v.sizeMb;
  if (free.scalar("cpus") < app.def.cpus) return "InsufficientCpus";
  if (free.scalar("mem") < app.def.mem) return "InsufficientMemory";
  if (free.scalar("disk") < disk) return "InsufficientDisk";
  return "InsufficientPorts";
}

void ServiceScheduler::resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) {
  std::lock_guard<std::mutex> lock(mu_);
  double now = nowSeconds();
  for (const auto& offer : offers) {
    std::vector<Offer::Operation> operations;
    std::vector<TaskInfo> launches;
    std::set<std::string> touched;
    placeInto(offer, &operations, &launches, &touched, now);
    if (launches.empty() && operations.empty()) {
      for (const auto& id : touched) save(apps_[id]);  // slots confirmed by this offer
      bool waiting = releasesPending(now);
      for (const auto& [_, app] : apps_) waiting = waiting || wantsOffers(app, now);
      driver->declineOffer(offer.id, Filters{waiting ? options_.unfitRefuseSeconds
                                                     : options_.idleRefuseSeconds});
      continue;
    }
    // The instances (and slots) are stored before they exist: a restart
    // adopts them.
    bool stored = true;
    for (const auto& id : touched) stored = save(apps_[id]).ok() && stored;
    if (!stored) {
      for (const auto& t : launches) {
        auto appId = appIdOfTask(t.taskId.value);
        if (!appId || !apps_.count(*appId)) continue;
        AppRecord& app = apps_[*appId];
        auto task = app.tasks.find(t.taskId.value);
        if (task != app.tasks.end() && !task->second.slotId.empty()) {
          auto slot = app.slots.find(task->second.slotId);
          // A slot made for this launch goes with it; an older one is free again.
          if (slot != app.slots.end() && !slot->second.confirmed) {
            app.slots.erase(slot);
          } else if (slot != app.slots.end()) {
            slot->second.taskId.clear();
          }
        }
        app.tasks.erase(t.taskId.value);
      }
      for (const auto& id : touched) converge(id, now);  // wants its instances again
      driver->declineOffer(offer.id, Filters{options_.unfitRefuseSeconds});
      continue;
    }
    metrics_->counter("services/tasks_launched").inc(static_cast<int64_t>(launches.size()));
    if (operations.empty()) {
      driver->launchTasks({offer.id}, launches, Filters{options_.leftoverRefuseSeconds});
      continue;
    }
    if (!launches.empty()) operations.push_back(Offer::Operation::launch(std::move(launches)));
    driver->acceptOffers({offer.id}, operations, Filters{options_.leftoverRefuseSeconds});
  }
  updateOfferInterest(now);
}

void ServiceScheduler::updateOfferInterest(double now) {
  if (!driver_ || !connected_) return;
  bool wanted = releasesPending(now);
  for (const auto& [_, app] : apps_) wanted = wanted || wantsOffers(app, now);
  if (wanted && suppressed_) {
    driver_->reviveOffers();
    suppressed_ = false;
  } else if (!wanted && !suppressed_) {
    driver_->suppressOffers();
    suppressed_ = true;
  }
}

// ---- Status updates -----------------------------------------------------

void ServiceScheduler::statusUpdate(SchedulerDriver* driver, const TaskStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  double now = nowSeconds();
  const std::string& taskId = status.taskId.value;
  auto appId = appIdOfTask(taskId);
  auto appIt = appId ? apps_.find(*appId) : apps_.end();
  bool terminal = isTerminal(status.state);
  if (appIt == apps_.end()) {
    // Not ours (any more): an instance of a deleted app, or a stranger.
    if (!terminal) driver->killTask(status.taskId);
    return;
  }
  AppRecord& app = appIt->second;
  auto taskIt = app.tasks.find(taskId);
  if (taskIt == app.tasks.end()) {
    if (terminal) return;
    // Alive but unknown (its record was lost): adopt it as an old instance,
    // so that a deployment replaces it when the app has changed since.
    LOG(INFO) << "Adopting instance " << taskId << " of " << app.def.id;
    TaskRecord t;
    t.id = taskId;
    t.agentId = status.agentId.value;
    t.stagedAt = now;
    t.version = "unknown";
    // A resident app's task runs in one of its slots on that agent: the
    // free one there (its record lost with the task's). With several free
    // there, which one is unknown: it stays out of all (and is replaced as
    // an old instance), rather than risk a wipe of the wrong one.
    ResidentSlot* home = nullptr;
    int candidates = 0;
    for (auto& [slotId, slot] : app.slots) {
      if (slot.taskId.empty() && !slot.wipe && slot.agentId == t.agentId) {
        home = &slot;
        ++candidates;
      }
    }
    if (candidates == 1) {
      home->taskId = taskId;
      t.slotId = home->id;
      t.host = home->host;
      t.attributes = home->attributes;
    }
    taskIt = app.tasks.emplace(taskId, t).first;
  }
  TaskRecord& task = taskIt->second;
  publish("status_update_event", {{"slaveId", status.agentId.value},
                                  {"taskId", taskId},
                                  {"taskStatus", toString(status.state)},
                                  {"message", status.message},
                                  {"appId", app.def.id},
                                  {"host", task.host},
                                  {"ipAddresses", json::array()},
                                  {"ports", task.ports},
                                  {"version", task.version}});
  auto slot = task.slotId.empty() ? app.slots.end() : app.slots.find(task.slotId);
  if (slot != app.slots.end() && slot->second.taskId != taskId) slot = app.slots.end();
  // A task an agent reports on, or one alive at all, ran there: its slot's
  // reservation and volumes exist.
  bool fromAgent = status.source != Source::SOURCE_MASTER;
  bool refused = false;
  if (slot != app.slots.end() && !slot->second.confirmed) {
    if (fromAgent || !terminal) {
      slot->second.confirmed = true;
      save(app);
    } else {
      // The master refused the ACCEPT (the RESERVE or the launch failed
      // validation, or the offer was gone): nothing was reserved.
      // (The driver says the same when it could not send the ACCEPT.)
      refused = status.state == TaskState::TASK_ERROR ||
                status.state == TaskState::TASK_DROPPED ||
                (status.state == TaskState::TASK_LOST &&
                 (status.reason == Reason::REASON_INVALID_OFFERS ||
                  status.reason == Reason::REASON_MASTER_DISCONNECTED));
    }
  }
  if (terminal) {
    bool requested = task.phase == TaskPhase::kKilling;
    double ran = task.startedAt > 0 ? now - task.startedAt : 0;
    app.tasks.erase(taskIt);
    if (slot != app.slots.end()) {
      slot->second.taskId.clear();
      if (slot->second.wipe || refused) {
        forgetSlot(app, slot->first, now, /*release=*/!refused);
      } else if (driver_ && app.def.instances > 0 && !app.deleting) {
        // Its replacement goes into this slot: offers of the agent may be
        // filtered after earlier declines.
        driver_->reviveOffers();
        suppressed_ = false;
      }
    }
    if (!requested) {
      app.failures = nextFailureCount(app.failures, ran);
      double delay = launchDelaySeconds(app.def, app.failures);
      app.launchNotBefore = now + delay;
      app.lastFailure = std::string(toString(status.state)) + ": " + status.message;
      metrics_->counter("services/tasks_failed").inc();
      LOG(INFO) << "Instance " << taskId << " of " << app.def.id << " is "
                << toString(status.state) << " (" << status.message << "); replacing it in "
                << delay << " s";
    }
    save(app);
  } else if (status.state == TaskState::TASK_KILLING) {
    task.phase = TaskPhase::kKilling;
  } else if (task.phase != TaskPhase::kKilling) {
    if (status.state == TaskState::TASK_RUNNING) {
      task.phase = TaskPhase::kRunning;
      if (task.startedAt == 0) task.startedAt = status.timestamp > 0 ? status.timestamp : now;
    } else {
      task.phase = TaskPhase::kStarting;
    }
    if (status.healthy) {
      if (task.healthy != status.healthy) {
        task.lastHealthChange = now;
        publish("health_status_changed_event", {{"appId", app.def.id},
                                                {"taskId", taskId},
                                                {"instanceId", taskId},
                                                {"version", task.version},
                                                {"alive", *status.healthy}});
      }
      if (!*status.healthy) ++task.healthFailures;
      if (*status.healthy) {
        task.healthFailures = 0;
        app.failures = 0;  // a healthy instance ends a crash loop
      }
      task.healthy = status.healthy;
    }
  }
  converge(app.def.id, now);
  updateOfferInterest(now);
}

// ---- Convergence --------------------------------------------------------

void ServiceScheduler::converge(const std::string& appId, double now) {
  auto it = apps_.find(appId);
  if (it == apps_.end()) return;
  AppRecord& app = it->second;
  std::vector<InstanceView> live;
  for (const auto& [id, t] : app.tasks) {
    live.push_back({id, app.isCurrent(t), app.isReady(t), t.phase == TaskPhase::kKilling,
                    t.stagedAt});
  }
  int target = app.deleting ? 0 : app.def.instances;
  PlanStep step =
      planStep(target, app.def.upgradeStrategy, app.def.killSelection, live, app.def.resident());
  for (const auto& id : step.kill) {
    app.tasks[id].phase = TaskPhase::kKilling;
    if (driver_) driver_->killTask(TaskID(id));
    metrics_->counter("services/tasks_killed").inc();
  }
  wanted_[appId] = step.launch;
  if (step.launch == 0) {
    app.waitingSince = 0;
  } else if (app.waitingSince == 0) {
    app.waitingSince = now;
    app.offers = AppRecord::OfferStats{};
  }
  if (app.deleting && app.tasks.empty()) {
    std::vector<std::string> slots;
    for (const auto& [id, _] : app.slots) slots.push_back(id);
    for (const auto& id : slots) forgetSlot(app, id, now);
    Status s = store_->remove(appKey(appId));
    if (!s.ok()) LOG(ERROR) << "Cannot remove app " << appId << " from the store: " << s;
    LOG(INFO) << "App " << appId << " deleted";
    if (app.deployment) publish("deployment_success", {{"id", app.deployment->id},
                                                       {"plan", deploymentView(appId, *app.deployment)}});
    publish("app_terminated_event", {{"appId", appId}});
    wanted_.erase(appId);
    apps_.erase(it);
    return;
  }
  if (step.converged && app.deployment) {
    LOG(INFO) << "Deployment " << app.deployment->id << " of " << appId << " is done";
    metrics_->counter("services/deployments_finished").inc();
    publish("deployment_success",
            {{"id", app.deployment->id}, {"plan", deploymentView(appId, *app.deployment)}});
    app.deployment.reset();
    save(app);
  }
}

void ServiceScheduler::forgetSlot(AppRecord& app, const std::string& slotId, double now,
                                  bool release) {
  auto slot = app.slots.find(slotId);
  if (slot == app.slots.end()) return;
  LOG(INFO) << "Forgetting the reservation " << slotId << " of " << app.def.id
            << (release ? "; its volumes are destroyed and its resources unreserved when offered"
                        : " (never made)");
  if (release) recordRelease(slot->second, now);
  app.slots.erase(slot);
  save(app);
}

void ServiceScheduler::recordRelease(const ResidentSlot& slot, double now) {
  // Recorded before the slot goes: a restart must still want the offers
  // that release it.
  releases_[slot.id] = {slot.agentId, now + options_.releaseSeconds};
  saveReleases();
}

Status ServiceScheduler::saveReleases() {
  json j = json::object();
  for (const auto& [slot, r] : releases_) j[slot] = {{"agent_id", r.first}, {"until", r.second}};
  Status s = store_->put(kReleasesKey, tutti::json::dump(j));
  if (!s.ok()) {
    metrics_->counter("services/store_errors").inc();
    LOG(ERROR) << "Cannot store the pending releases: " << s;
  }
  return s;
}

bool ServiceScheduler::releasesPending(double now) const {
  for (const auto& [_, r] : releases_) {
    if (r.second > now) return true;
  }
  return false;
}

void ServiceScheduler::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  double now = nowSeconds();
  // A release whose agent never offered again is given up (it is still
  // released should that agent's offer come one day).
  size_t pending = releases_.size();
  std::erase_if(releases_, [now](const auto& r) { return r.second.second <= now; });
  if (releases_.size() != pending) saveReleases();
  if (connected_ && driver_ && now - lastReconcile_ >= options_.reconcileIntervalSeconds) {
    lastReconcile_ = now;
    driver_->reconcileTasks({});
  }
  updateOfferInterest(now);
}

// ---- API operations -----------------------------------------------------

json ServiceScheduler::queue() {
  std::lock_guard<std::mutex> lock(mu_);
  double now = nowSeconds();
  json list = json::array();
  for (const auto& [id, app] : apps_) {
    auto wanted = wanted_.find(id);
    if (app.deleting || wanted == wanted_.end() || wanted->second <= 0) continue;
    double left = std::max(0.0, app.launchNotBefore - now);
    const AppRecord::OfferStats& stats = app.offers;
    json rejects = json::array();
    for (const auto& [reason, n] : stats.rejects) {
      rejects.push_back({{"reason", reason}, {"declined", n}, {"processed", stats.processed}});
    }
    auto when = [](double t) { return t > 0 ? json(isoTime(t)) : json(nullptr); };
    list.push_back({{"count", wanted->second},
                    {"delay", {{"timeLeftSeconds", static_cast<int64_t>(std::ceil(left))},
                               {"overdue", left <= 0}}},
                    {"since", isoTime(app.waitingSince > 0 ? app.waitingSince : now)},
                    {"processedOffersSummary",
                     {{"processedOffersCount", stats.processed},
                      {"unusedOffersCount", stats.unused},
                      {"lastUnusedOfferAt", when(stats.lastUnusedAt)},
                      {"lastUsedOfferAt", when(stats.lastUsedAt)},
                      {"rejectSummaryLastOffers", rejects}}},
                    {"app", appView(app, false)}});
  }
  return {{"queue", list}};
}

Status ServiceScheduler::resetDelay(const std::string& appId) {
  std::lock_guard<std::mutex> lock(mu_);
  AppRecord* app = liveApp(appId);
  if (!app) return Status::NotFound("App '" + appId + "' does not exist");
  LOG(INFO) << "Launch delay of " << appId << " reset";
  app->failures = 0;
  app->launchNotBefore = 0;
  // Offers declined while it waited may be filtered: ask again now.
  if (driver_ && connected_ && wantsOffers(*app, nowSeconds())) {
    driver_->reviveOffers();
    suppressed_ = false;
  }
  return Status::OK();
}

void ServiceScheduler::read(const std::function<void(const std::map<std::string, AppRecord>&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  fn(apps_);
}

Status ServiceScheduler::lockedBy(const AppRecord& app, bool force) const {
  if (!app.deployment || force) return Status::OK();
  return Status::FailedPrecondition(
      "App is locked by one or more deployments. Override with the option '?force=true'. "
      "View details at '/v2/deployments/" + app.deployment->id + "'.");
}

DeploymentRef ServiceScheduler::startDeployment(AppRecord& app, Deployment::Kind kind,
                                                std::optional<AppDefinition> previous,
                                                std::string previousConfigVersion, double now) {
  Deployment d;
  d.id = newUuid();
  d.version = app.version;
  d.kind = kind;
  d.startedAt = now;
  // A deployment replaced mid-way keeps the first one's rollback target.
  if (app.deployment && kind != Deployment::Kind::kStart) {
    d.previous = app.deployment->previous;
    d.previousConfigVersion = app.deployment->previousConfigVersion;
  } else {
    d.previous = std::move(previous);
    d.previousConfigVersion = std::move(previousConfigVersion);
  }
  app.deployment = d;
  metrics_->counter("services/deployments_started").inc();
  return DeploymentRef{d.id, app.version, false};
}

Result<DeploymentRef> ServiceScheduler::createApp(AppDefinition def) {
  std::lock_guard<std::mutex> lock(mu_);
  if (apps_.count(def.id)) {
    return Status::AlreadyExists("An app with id [" + def.id + "] already exists.");
  }
  Status resident = checkResident(def, nullptr);
  if (!resident.ok()) return resident;
  if (!assignServicePorts(&def, servicePortsInUse(def.id))) {
    return Status::Unavailable("no free service port left in 10000-20000");
  }
  double now = nowSeconds();
  AppRecord app;
  app.def = std::move(def);
  app.version = nextVersion(now);
  app.configVersion = app.version;
  DeploymentRef ref = startDeployment(app, Deployment::Kind::kStart, std::nullopt, "", now);
  Status s = save(app);
  if (!s.ok()) return s;
  std::string id = app.def.id;
  LOG(INFO) << "Created app " << id << " (" << app.def.instances << " instance(s))";
  announceDeployment(app);
  metrics_->counter("services/apps_created").inc();
  apps_[id] = std::move(app);
  converge(id, now);
  updateOfferInterest(now);
  return ref;
}

Result<DeploymentRef> ServiceScheduler::updateApp(const std::string& id, const json& patch,
                                                  bool force, FieldErrors* errors) {
  std::unique_lock<std::mutex> lock(mu_);
  AppRecord* existing = liveApp(id);
  if (!existing) {
    lock.unlock();
    ParsedApp parsed = parseApp(patch, id);
    if (!parsed.app) {
      *errors = parsed.errors;
      return Status::InvalidArgument("Object is not valid");
    }
    parsed.app->id = id;
    auto created = createApp(*parsed.app);
    if (created.ok()) created->created = true;
    return created;
  }
  AppRecord& app = *existing;
  Status locked = lockedBy(app, force);
  if (!locked.ok()) return locked;
  json merged = toJson(app.def);
  if (!patch.is_object()) {
    *errors = {{"/", {"error.expected.jsobject"}}};
    return Status::InvalidArgument("Object is not valid");
  }
  for (const auto& [k, v] : patch.items()) merged[k] = v;
  merged["id"] = id;
  // Ports: the new list replaces the old under either name.
  if (patch.contains("ports") && !patch.contains("portDefinitions")) merged.erase("portDefinitions");
  if (patch.contains("portDefinitions") && !patch.contains("ports")) merged.erase("ports");
  if (patch.contains("cmd") && !patch.contains("args")) merged.erase("args");
  if (patch.contains("args") && !patch.contains("cmd")) merged.erase("cmd");
  if (patch.contains("uris") && !patch.contains("fetch")) merged.erase("fetch");
  if (patch.contains("fetch") && !patch.contains("uris")) merged.erase("uris");
  ParsedApp parsed = parseApp(merged, id);
  if (!parsed.app) {
    *errors = parsed.errors;
    return Status::InvalidArgument("Object is not valid");
  }
  Status resident = checkResident(*parsed.app, &app.def);
  if (!resident.ok()) {
    *errors = {{"/container/volumes", {resident.message()}}};
    return resident;
  }
  if (!assignServicePorts(&*parsed.app, servicePortsInUse(id), &app.def)) {
    return Status::Unavailable("no free service port left in 10000-20000");
  }
  bool scaleOnly = parsed.app->sameConfig(app.def);
  LOG(INFO) << "Updating app " << id << (scaleOnly ? " (scale to " : " (rolling, ")
            << parsed.app->instances << " instance(s))";
  return change(app, force, scaleOnly ? Deployment::Kind::kScale : Deployment::Kind::kRestart,
                [&](AppRecord& changed) {
                  changed.def = *parsed.app;
                  if (scaleOnly) return;
                  changed.configVersion = changed.version;
                  changed.failures = 0;
                  changed.launchNotBefore = 0;
                });
}

Status ServiceScheduler::checkResident(const AppDefinition& def,
                                       const AppDefinition* previous) const {
  if (def.resident() && options_.role == "*") {
    return Status::InvalidArgument(
        "an app with persistent volumes needs tutti-services to run with a --role other than "
        "'*' (its instances reserve resources for that role)");
  }
  if (previous && (def.resident() || previous->resident()) && !def.sameReservation(*previous)) {
    return Status::InvalidArgument(
        "the cpus, mem, disk and persistent volumes of an app with persistent volumes cannot "
        "change (its instances hold reservations of them); create a new app instead");
  }
  return Status::OK();
}

std::set<uint32_t> ServiceScheduler::servicePortsInUse(const std::string& except) const {
  std::set<uint32_t> used;
  for (const auto& [id, app] : apps_) {
    if (id == except) continue;
    for (const auto& p : app.def.portDefinitions) used.insert(p.port);
  }
  return used;
}

AppRecord* ServiceScheduler::liveApp(const std::string& id) {
  auto it = apps_.find(id);
  return it == apps_.end() || it->second.deleting ? nullptr : &it->second;
}

Result<DeploymentRef> ServiceScheduler::change(AppRecord& app, bool force, Deployment::Kind kind,
                                               const std::function<void(AppRecord&)>& edit) {
  Status locked = lockedBy(app, force);
  if (!locked.ok()) return locked;
  double now = nowSeconds();
  AppRecord changed = app;
  changed.version = nextVersion(now);
  edit(changed);
  DeploymentRef ref = startDeployment(changed, kind, app.def, app.configVersion, now);
  // Stored first: a failed write changes nothing.
  Status s = save(changed);
  if (!s.ok()) return s;
  app = std::move(changed);
  announceDeployment(app);
  std::string id = app.def.id;
  converge(id, now);
  updateOfferInterest(now);
  return ref;
}

Result<DeploymentRef> ServiceScheduler::deleteApp(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  AppRecord* app = liveApp(id);
  if (!app) return Status::NotFound("App '" + id + "' does not exist");
  LOG(INFO) << "Deleting app " << id << ": killing " << app->tasks.size() << " instance(s)";
  return change(*app, force, Deployment::Kind::kStop,
                [](AppRecord& changed) { changed.deleting = true; });
}

Result<DeploymentRef> ServiceScheduler::restartApp(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  AppRecord* app = liveApp(id);
  if (!app) return Status::NotFound("App '" + id + "' does not exist");
  LOG(INFO) << "Restarting app " << id;
  return change(*app, force, Deployment::Kind::kRestart,
                [](AppRecord& changed) { changed.configVersion = changed.version; });
}

Result<json> ServiceScheduler::killTask(const std::string& appId, const std::string& taskId,
                                        bool scale, bool wipe) {
  std::lock_guard<std::mutex> lock(mu_);
  AppRecord* live = liveApp(appId);
  if (!live) return Status::NotFound("App '" + appId + "' does not exist");
  AppRecord& app = *live;
  double now = nowSeconds();
  auto t = app.tasks.find(taskId);
  if (t == app.tasks.end()) {
    // A resident instance with no task (scaled down, or its agent gone):
    // only a wipe removes it.
    for (auto& [slotId, slot] : app.slots) {
      if (!slot.taskId.empty() || reservedTaskId(appId, slotId) != taskId) continue;
      if (!wipe) {
        return Status::FailedPrecondition("Task '" + taskId +
                                          "' is a reservation with no task running: wipe it "
                                          "with ?wipe=true (its volumes are destroyed)");
      }
      json answer = {{"task", {{"id", taskId}, {"appId", appId}, {"host", slot.host}}}};
      LOG(INFO) << "Wiping the reservation " << slotId << " of " << appId;
      if (scale) {
        recordRelease(slot, now);
        std::string wiped = slotId;
        auto ref = change(app, true, Deployment::Kind::kScale, [&wiped](AppRecord& changed) {
          changed.def.instances = std::max(0, changed.def.instances - 1);
          changed.slots.erase(wiped);
        });
        if (!ref.ok()) return ref.status();
        return json{{"deploymentId", ref->deploymentId}, {"version", ref->version}};
      }
      forgetSlot(app, slotId, now);
      converge(appId, now);
      updateOfferInterest(now);
      return answer;
    }
    return Status::NotFound("Task '" + taskId + "' does not exist");
  }
  std::string slotId = wipe ? t->second.slotId : "";
  if (!slotId.empty() && !app.slots.count(slotId)) slotId.clear();
  if (!slotId.empty()) {
    LOG(INFO) << "Wiping instance " << taskId << " of " << appId << " and its reservation";
  }
  if (scale) {
    auto ref = change(app, true, Deployment::Kind::kScale, [&](AppRecord& changed) {
      changed.def.instances = std::max(0, changed.def.instances - 1);
      changed.tasks[taskId].phase = TaskPhase::kKilling;
      if (!slotId.empty()) changed.slots[slotId].wipe = true;
    });
    if (!ref.ok()) return ref.status();
    if (driver_) driver_->killTask(TaskID(taskId));
    return json{{"deploymentId", ref->deploymentId}, {"version", ref->version}};
  }
  if (!slotId.empty()) {
    app.slots[slotId].wipe = true;
    Status s = save(app);
    if (!s.ok()) {
      app.slots[slotId].wipe = false;
      return s;
    }
  }
  t->second.phase = TaskPhase::kKilling;
  json answer = {{"task", {{"id", taskId}, {"appId", appId}, {"host", t->second.host}}}};
  if (driver_) driver_->killTask(TaskID(taskId));
  metrics_->counter("services/tasks_killed").inc();
  converge(appId, now);
  updateOfferInterest(now);
  return answer;
}

Result<DeploymentRef> ServiceScheduler::cancelDeployment(const std::string& id, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [appId, app] : apps_) {
    if (!app.deployment || app.deployment->id != id) continue;
    double now = nowSeconds();
    Deployment d = *app.deployment;
    LOG(INFO) << "Deployment " << id << " of " << appId
              << (force ? " stopped" : " cancelled: rolling back");
    json failed = {{"id", d.id}, {"plan", deploymentView(appId, d)}};
    // A rollback has nothing to roll back to: cancelling it just stops it.
    if (force || (d.kind != Deployment::Kind::kStart && !d.previous)) {
      app.deployment.reset();
      Status s = save(app);
      if (!s.ok()) {
        app.deployment = d;  // a failed write changes nothing
        return s;
      }
      publish("deployment_failed", failed);
      return DeploymentRef{"", app.version, false};
    }
    AppRecord changed = app;
    changed.version = nextVersion(now);
    changed.deployment.reset();
    Deployment::Kind kind = Deployment::Kind::kStop;
    if (d.kind == Deployment::Kind::kStart) {
      changed.deleting = true;  // rolling back a start removes the app
    } else {
      changed.deleting = false;
      changed.def = *d.previous;
      kind = d.previousConfigVersion == app.configVersion ? Deployment::Kind::kScale
                                                          : Deployment::Kind::kRestart;
      changed.configVersion = d.previousConfigVersion;
    }
    DeploymentRef ref = startDeployment(changed, kind, std::nullopt, "", now);
    Status s = save(changed);
    if (!s.ok()) return s;
    app = std::move(changed);
    publish("deployment_failed", failed);
    announceDeployment(app);
    std::string key = appId;
    converge(key, now);
    updateOfferInterest(now);
    return ref;
  }
  return Status::NotFound("DeploymentPlan " + id + " does not exist");
}

}  // namespace tutti::services
