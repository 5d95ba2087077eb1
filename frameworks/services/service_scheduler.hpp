// ServiceScheduler: the Scheduler behind tutti-services. It keeps every
// app's instances running as its definition says: launches into offers
// (several instances per offer where they fit, honouring constraints and
// ports), replaces instances that fail, are lost or are killed by their
// health check (with launch backoff), scales, runs rolling deployments
// (deployment_plan.hpp), and stores every app in a StateStore before its
// instances exist, so that a restarted or failed-over scheduler adopts
// them (reconciliation by task id) instead of launching again.
//
// The API (services_api.hpp) calls the operations below; they validate,
// store, then act, and return Marathon's answers as values.
//
// Threads: Scheduler callbacks run on the driver's thread; every public
// method may be called from any thread (one mutex guards all state).
// Store writes happen under the lock. Errors: operations return
// NotFound (no such app/deployment/task), AlreadyExists (POST of an
// existing app), FailedPrecondition (app locked by a deployment, override
// with force), Unavailable/IoError (the store failed: nothing changed).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/metrics.hpp"
#include "frameworks/services/app_record.hpp"
#include "frameworks/services/event_bus.hpp"
#include "frameworks/services/state_store.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::services {

struct ServicesOptions {
  // refuse_seconds for offers that fit none of the instances waiting.
  double unfitRefuseSeconds = 5;
  // refuse_seconds when nothing waits (offers are suppressed as well).
  double idleRefuseSeconds = 120;
  // refuse_seconds for what is left of an offer after packing instances.
  double leftoverRefuseSeconds = 1;
  // Implicit reconciliation this often (besides after every subscription).
  double reconcileIntervalSeconds = 600;
  // The framework's role and principal: resident apps reserve for them
  // (no resident apps with role "*").
  std::string role = "*";
  std::string principal;
  // After a slot is forgotten, offers are wanted (for up to this long) until
  // one from its agent shows its reservation, which is then released.
  double releaseSeconds = 3600;
};

// What a change answers: Marathon's {"deploymentId", "version"}.
struct DeploymentRef {
  std::string deploymentId;
  std::string version;
  bool created = false;  // PUT created the app
};

class ServiceScheduler final : public Scheduler {
 public:
  // `store` holds the state loaded by load(); it must outlive this, as must
  // `events` (may be null: no event stream).
  ServiceScheduler(StateStore* store, ServicesOptions options, Metrics* metrics,
                   EventBus* events = nullptr);
  ~ServiceScheduler() override;

  // Loads the stored FrameworkID and apps (before the driver starts).
  Status load();
  std::string frameworkId();
  // The driver to act through (set once, before it starts).
  void setDriver(SchedulerDriver* driver);

  // Scheduler callbacks.
  void registered(SchedulerDriver* driver, const FrameworkID& id, const MasterInfo&) override;
  void reregistered(SchedulerDriver* driver, const MasterInfo&) override;
  void disconnected(SchedulerDriver*) override;
  void resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) override;
  void offerRescinded(SchedulerDriver*, const OfferID&) override {}
  void statusUpdate(SchedulerDriver* driver, const TaskStatus& status) override;
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}
  void agentLost(SchedulerDriver*, const AgentID&) override {}
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver* driver, const std::string& message) override;

  // Timers: launch backoff ending, periodic reconciliation.
  void tick();
  bool connected();
  // The master reported an error (the driver has aborted): the message, or
  // empty. The process should exit and be restarted.
  std::string fatalError();

  // API operations (Marathon's semantics).
  Result<DeploymentRef> createApp(AppDefinition app);
  // PUT/PATCH: the fields of `patch` replace the app's; creates the app
  // when it does not exist. Invalid results come back in `errors`.
  Result<DeploymentRef> updateApp(const std::string& id, const nlohmann::json& patch, bool force,
                                  FieldErrors* errors);
  Result<DeploymentRef> deleteApp(const std::string& id, bool force);
  Result<DeploymentRef> restartApp(const std::string& id, bool force);
  // Kills one instance; with `scale` the app's instances go down by one;
  // with `wipe` a resident instance's reservation and volumes go too (a new
  // instance starts elsewhere). Returns the task's JSON (without scale) or
  // a deployment's (with it).
  Result<nlohmann::json> killTask(const std::string& appId, const std::string& taskId, bool scale,
                                  bool wipe = false);
  Result<DeploymentRef> cancelDeployment(const std::string& id, bool force);

  // Marathon's api_post_event for a change of `appId` made through the API.
  void apiPostEvent(const std::string& clientIp, const std::string& uri,
                    const std::string& appId);

  // Marathon's launch queue: {"queue": [{"count", "delay": {"timeLeftSeconds",
  // "overdue"}, "since", "app"}]} for every app with instances waiting.
  nlohmann::json queue();
  // DELETE /v2/queue/{app}/delay: the app's launch backoff ends now.
  // NotFound when the app does not exist.
  Status resetDelay(const std::string& appId);

  // Read access to the apps under the lock (for the JSON views).
  void read(const std::function<void(const std::map<std::string, AppRecord>&)>& fn);

 private:
  void subscribed(SchedulerDriver* driver);
  // Re-plans one app and acts: kills, launch wishes, deployment end.
  void converge(const std::string& appId, double now);
  void updateOfferInterest(double now);
  bool wantsOffers(const AppRecord& app, double now) const;
  Status save(const AppRecord& app);
  // Starts a deployment of `app` (already changed), replacing any.
  DeploymentRef startDeployment(AppRecord& app, Deployment::Kind kind,
                                std::optional<AppDefinition> previous,
                                std::string previousConfigVersion, double now);
  Status lockedBy(const AppRecord& app, bool force) const;
  // Service ports of every app but `except`.
  std::set<uint32_t> servicePortsInUse(const std::string& except) const;
  // The app unless it does not exist or is being deleted.
  AppRecord* liveApp(const std::string& id);
  // A change of `app` by `edit` (on a copy with its new version) as a
  // deployment of `kind`: checks the lock, stores the copy, then commits it
  // and acts. A failed store write changes nothing.
  Result<DeploymentRef> change(AppRecord& app, bool force, Deployment::Kind kind,
                               const std::function<void(AppRecord&)>& edit);
  std::string nextVersion(double now);
  // Fills `launches` (and, for resident instances, `operations` to run
  // before them: RESERVE, CREATE, and releases of forgotten slots).
  void placeInto(const Offer& offer, std::vector<Offer::Operation>* operations,
                 std::vector<TaskInfo>* launches, std::set<std::string>* apps, double now);
  // One instance of resident `app` into a free slot on the offer's agent or
  // a new slot; false when neither fits.
  bool placeResident(AppRecord& app, const Offer& offer, Resources& left,
                     std::vector<Offer::Operation>* operations, std::vector<TaskInfo>* launches,
                     double now);
  // Why `app` (waiting) took nothing of the offer: Marathon's reject
  // reasons (UnfulfilledConstraint, NoCorrespondingReservationFound,
  // InsufficientCpus, InsufficientMemory, InsufficientDisk,
  // InsufficientPorts).
  std::string unfitReason(const AppRecord& app, const Offer& offer, const Resources& left) const;
  // Releases reservations of this framework's that no slot owns.
  void releaseUnknown(const Offer& offer, Resources& left,
                      std::vector<Offer::Operation>* operations, std::set<std::string>* apps);
  TaskRecord& addTask(AppRecord& app, const std::string& taskId, const Offer& offer,
                      const std::vector<uint32_t>& ports, double now);
  // Forgets a slot; with `release` (it was reserved) its reservation is
  // released when an offer shows it, and offers are wanted until then.
  void forgetSlot(AppRecord& app, const std::string& slotId, double now, bool release = true);
  void recordRelease(const ResidentSlot& slot, double now);
  Status saveReleases();
  bool releasesPending(double now) const;
  Status checkResident(const AppDefinition& def, const AppDefinition* previous) const;

  void publish(const std::string& type, nlohmann::json event);
  // deployment_info for the app's (stored) deployment.
  void announceDeployment(const AppRecord& app);

  StateStore* store_;
  ServicesOptions options_;
  Metrics* metrics_;
  EventBus* events_;
  std::mutex mu_;
  SchedulerDriver* driver_ = nullptr;
  std::string frameworkId_;
  bool connected_ = false;
  bool suppressed_ = false;
  double lastReconcile_ = 0;
  // Forgotten slots whose reservations were not released yet: slot id ->
  // (agent id, until when offers are wanted for it). Stored ("releases").
  std::map<std::string, std::pair<std::string, double>> releases_;
  std::string fatal_;
  std::string lastVersion_;
  std::map<std::string, AppRecord> apps_;
  std::map<std::string, int> wanted_;  // app id -> instances to launch now
};

// The current time in seconds since the epoch.
double nowSeconds();

}  // namespace tutti::services
