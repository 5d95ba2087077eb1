// AppDefinition: a Marathon app definition (the JSON of POST /v2/apps), its
// defaults, validation and JSON form.
//
// parseApp() takes the request body's JSON and returns the definition with
// Marathon's defaults filled in, or every problem found as a list of
// {path, errors} (Marathon's 422 "Object is not valid" details). toJson()
// gives the JSON GET /v2/apps serves (without the runtime fields such as
// tasksRunning, which the API adds). Value types, no threads, no I/O.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti::services {

struct PortDefinition {
  uint32_t port = 0;  // the service port (0: assigned); the host port with requirePorts
  std::string protocol = "tcp";
  std::string name;
  bool operator==(const PortDefinition&) const = default;
};

struct AppHealthCheck {
  enum class Protocol { kHttp, kTcp, kCommand };
  Protocol protocol = Protocol::kHttp;
  std::string path = "/";                 // HTTP
  uint32_t portIndex = 0;                 // HTTP, TCP: index into the task's ports
  std::optional<uint32_t> port;           // HTTP, TCP: a fixed port instead
  std::string command;                    // COMMAND: run with /bin/sh -c
  double gracePeriodSeconds = 300;
  double intervalSeconds = 60;
  double timeoutSeconds = 20;
  uint32_t maxConsecutiveFailures = 3;
  bool operator==(const AppHealthCheck&) const = default;
};
const char* toString(AppHealthCheck::Protocol p);

struct Constraint {
  enum class Operator { kUnique, kCluster, kGroupBy, kLike, kUnlike, kMaxPer };
  std::string field;  // "hostname" or an agent attribute
  Operator op = Operator::kUnique;
  std::optional<std::string> value;
  bool operator==(const Constraint&) const = default;
};
const char* toString(Constraint::Operator op);

struct UpgradeStrategy {
  double minimumHealthCapacity = 1.0;
  double maximumOverCapacity = 1.0;
  bool operator==(const UpgradeStrategy&) const = default;
};

enum class KillSelection { kYoungestFirst, kOldestFirst };

// A local persistent volume (Marathon's container.volumes[] with
// "persistent"): `sizeMb` of disk reserved on the agent with the instance's
// cpus and mem, seen by the task at `containerPath` in its sandbox, and
// kept from one task of the instance to the next (a resident app).
struct AppVolume {
  std::string containerPath;  // one relative path segment: "data"
  double sizeMb = 0;
  bool operator==(const AppVolume&) const = default;
};

struct AppDefinition {
  std::string id;  // absolute: "/prod/web"
  std::optional<std::string> cmd;
  std::optional<std::vector<std::string>> args;
  std::optional<std::string> user;  // the tasks' user on the agents (else the framework's)
  std::vector<CommandURI> fetch;     // "fetch" (or legacy "uris"): into each sandbox
  double cpus = 1;
  double mem = 128;
  double disk = 0;
  int instances = 1;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  std::vector<PortDefinition> portDefinitions = {PortDefinition{}};
  bool requirePorts = false;
  std::optional<std::string> image;  // container.docker.image
  std::vector<AppVolume> persistentVolumes;  // container.volumes: non-empty = resident
  std::vector<AppHealthCheck> healthChecks;
  std::vector<Constraint> constraints;
  UpgradeStrategy upgradeStrategy;
  double backoffSeconds = 1;
  double backoffFactor = 1.15;
  // Marathon 1.x used 3600; newer releases use 300, as we do.
  double maxLaunchDelaySeconds = 300;
  KillSelection killSelection = KillSelection::kYoungestFirst;

  bool operator==(const AppDefinition&) const = default;
  // True when `other` differs only in what a scale changes (instances).
  bool sameConfig(const AppDefinition& other) const;
  // A resident app: its instances hold reservations and persistent volumes
  // on their agents and are relaunched there (Marathon's stateful apps).
  bool resident() const { return !persistentVolumes.empty(); }
  // For a resident app: the fields its reservations were made for
  // (cpus, mem, disk, volumes) are those of `other`.
  bool sameReservation(const AppDefinition& other) const;
};

// One field's problems, as in Marathon's 422 body.
struct FieldError {
  std::string path;  // "/cpus", "/healthChecks(0)/portIndex"
  std::vector<std::string> errors;
};
using FieldErrors = std::vector<FieldError>;

// Parses and validates an app definition; `fallbackId` is used when the body
// has no id (PUT /v2/apps/{id}). Relative ids are made absolute.
struct ParsedApp {
  std::optional<AppDefinition> app;
  FieldErrors errors;  // non-empty iff !app
};
ParsedApp parseApp(const nlohmann::json& body, const std::string& fallbackId = "");

// Normalizes an app id ("web" -> "/web", "/a/b/" -> "/a/b"); an error
// message when a segment is not a valid Marathon name.
Result<std::string> normalizeAppId(const std::string& id);

nlohmann::json toJson(const AppDefinition& app);

// Marathon's service ports: each port definition with port 0 (and no
// requirePorts) gets the one at the same index in `previous` if it had one,
// else the lowest of [kServicePortMin, kServicePortMax] not in `used`.
// Returns false (and assigns nothing more) when the range is exhausted.
constexpr uint32_t kServicePortMin = 10000;
constexpr uint32_t kServicePortMax = 20000;
bool assignServicePorts(AppDefinition* app, std::set<uint32_t> used,
                        const AppDefinition* previous = nullptr);

// "/prod/web" <-> "prod_web": the app id inside task ids and store keys
// ('_' is not allowed in app ids, so the mapping is reversible).
std::string safeAppId(const std::string& appId);
std::string appIdFromSafe(const std::string& safe);

}  // namespace tutti::services
