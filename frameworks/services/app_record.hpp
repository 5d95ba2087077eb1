// AppRecord: everything tutti-services knows about one app — its definition,
// versions, live instances (TaskRecord), its deployment in progress, and
// launch backoff — and the JSON form in which it is stored (StateStore key
// "app_<safe id>"). Value types; the scheduler owns them under its lock.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "frameworks/services/app.hpp"
#include "tutti/types.hpp"

namespace tutti::services {

// A live instance's lifecycle; terminal instances are forgotten.
enum class TaskPhase { kStaging, kStarting, kRunning, kKilling };
const char* toString(TaskPhase phase);  // "TASK_STAGING", …

struct TaskRecord {
  std::string id;       // "<safe app id>.<uuid>"
  std::string agentId;
  std::string host;
  Attributes attributes;        // of its agent, for constraints
  std::vector<uint32_t> ports;  // host ports, in portDefinitions order
  std::string version;          // the app's config version it runs
  double stagedAt = 0;          // seconds since the epoch
  double startedAt = 0;         // 0 until TASK_RUNNING
  TaskPhase phase = TaskPhase::kStaging;
  std::optional<bool> healthy;  // unknown until the executor reports
  double lastHealthChange = 0;
  int healthFailures = 0;
  std::string slotId;  // a resident instance's reservation, else empty
};

// A resident app's instance home (Marathon's reserved instance): cpus, mem,
// disk and persistent volumes reserved on one agent for the framework's
// role, labelled with the slot's id, into which the instance's tasks are
// launched one after another. It outlives its tasks; it ends when the app
// is deleted or the instance is wiped, after which the scheduler destroys
// the volumes and unreserves (resident.hpp).
struct ResidentSlot {
  struct Volume {
    std::string containerPath;
    std::string persistenceId;  // "<safe app id>.<containerPath>.<slot id>"
    double sizeMb = 0;
  };
  std::string id;  // a uuid
  std::string agentId;
  std::string host;
  Attributes attributes;
  // What was reserved: the app's cpus, mem and disk, and the volumes.
  std::string role;
  std::string principal;
  std::string frameworkId;
  double cpus = 0;
  double mem = 0;
  double disk = 0;
  std::vector<Volume> volumes;
  std::string taskId;      // the live task in it, or empty
  bool confirmed = false;  // its reservation was seen (an offer or a launch)
  bool wipe = false;       // forget it when its task ends
  double createdAt = 0;
};

struct Deployment {
  enum class Kind { kStart, kScale, kRestart, kStop };
  std::string id;
  std::string version;  // the app version it moves to
  Kind kind = Kind::kStart;
  double startedAt = 0;
  // What a rollback (DELETE /v2/deployments/{id}) returns to; none for a
  // start (its rollback deletes the app).
  std::optional<AppDefinition> previous;
  std::string previousConfigVersion;
};
const char* actionName(Deployment::Kind kind);  // Marathon's action names

struct AppRecord {
  AppDefinition def;
  std::string version;        // of the latest change
  std::string configVersion;  // of the latest change other than a scale
  std::map<std::string, TaskRecord> tasks;
  std::map<std::string, ResidentSlot> slots;  // resident apps
  std::optional<Deployment> deployment;
  bool deleting = false;  // DELETE in progress: kill all, then forget
  // Backoff (not stored: a restart starts without delay).
  int failures = 0;
  double launchNotBefore = 0;
  std::string lastFailure;
  // Since when instances have been waiting to launch (0: none wait); for
  // /v2/queue, not stored.
  double waitingSince = 0;
  // Offers seen while waiting (Marathon's processedOffersSummary): how many,
  // how many gave it nothing and why (reason -> count), when. Not stored;
  // they start over each time instances start waiting.
  struct OfferStats {
    int64_t processed = 0;
    int64_t unused = 0;
    double lastUsedAt = 0;
    double lastUnusedAt = 0;
    std::map<std::string, int64_t> rejects;
  };
  OfferStats offers;

  // Tasks whose config version is the app's.
  bool isCurrent(const TaskRecord& t) const { return t.version == configVersion; }
  // Current instances: healthy, or running when the app has no health
  // checks. Old ones: running and not reported unhealthy.
  bool isReady(const TaskRecord& t) const;
};

nlohmann::json toStoredJson(const AppRecord& app);
Result<AppRecord> fromStoredJson(const std::string& text);

// "2026-11-28T10:00:00.000Z" for seconds since the epoch.
std::string isoTime(double epochSeconds);

}  // namespace tutti::services
