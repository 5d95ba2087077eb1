// Plain C++ value types of the tutti API: ids, infos, tasks, statuses, offers.
//
// These mirror Mesos's protobuf messages (v1 names) so that a Mesos
// framework ports by renaming. They are values: copyable, comparable, with no
// hidden sharing. Cap'n Proto is only the wire and disk format; the codecs in
// common/ convert between the two.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tutti/resources.hpp"

namespace tutti {

// A strongly typed string id: TaskID and AgentID cannot be mixed up.
template <typename Tag>
struct Id {
  std::string value;
  Id() = default;
  explicit Id(std::string v) : value(std::move(v)) {}
  bool empty() const { return value.empty(); }
  auto operator<=>(const Id&) const = default;
  bool operator==(const Id&) const = default;
};

using FrameworkID = Id<struct FrameworkIdTag>;
using AgentID = Id<struct AgentIdTag>;
using OfferID = Id<struct OfferIdTag>;
using TaskID = Id<struct TaskIdTag>;
using ExecutorID = Id<struct ExecutorIdTag>;
using ContainerID = Id<struct ContainerIdTag>;
using MasterID = Id<struct MasterIdTag>;

template <typename Tag>
std::ostream& operator<<(std::ostream& os, const Id<Tag>& id) {
  return os << id.value;
}

// Mesos's task states, with Mesos's numbers.
enum class TaskState {
  TASK_STARTING = 0,
  TASK_RUNNING = 1,
  TASK_FINISHED = 2,
  TASK_FAILED = 3,
  TASK_KILLED = 4,
  TASK_LOST = 5,
  TASK_STAGING = 6,
  TASK_ERROR = 7,
  TASK_KILLING = 8,
  TASK_DROPPED = 9,
  TASK_UNREACHABLE = 10,
  TASK_GONE = 11,
  TASK_GONE_BY_OPERATOR = 12,
  TASK_UNKNOWN = 13,
};
const char* toString(TaskState state);
std::optional<TaskState> parseTaskState(std::string_view name);
// FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE, GONE_BY_OPERATOR.
bool isTerminal(TaskState state);

// Mesos's reasons (v1 names), with Mesos's numbers.
enum class Reason {
  REASON_COMMAND_EXECUTOR_FAILED = 0,
  REASON_EXECUTOR_TERMINATED = 1,
  REASON_EXECUTOR_UNREGISTERED = 2,
  REASON_FRAMEWORK_REMOVED = 3,
  REASON_GC_ERROR = 4,
  REASON_INVALID_FRAMEWORKID = 5,
  REASON_INVALID_OFFERS = 6,
  REASON_MASTER_DISCONNECTED = 7,
  REASON_CONTAINER_LIMITATION_MEMORY = 8,
  REASON_RECONCILIATION = 9,
  REASON_AGENT_DISCONNECTED = 10,
  REASON_AGENT_REMOVED = 11,
  REASON_AGENT_RESTARTED = 12,
  REASON_AGENT_UNKNOWN = 13,
  REASON_TASK_INVALID = 14,
  REASON_TASK_UNAUTHORIZED = 15,
  REASON_TASK_UNKNOWN = 16,
  REASON_CONTAINER_PREEMPTED = 17,
  REASON_RESOURCES_UNKNOWN = 18,
  REASON_CONTAINER_LIMITATION = 19,
  REASON_CONTAINER_LIMITATION_DISK = 20,
  REASON_CONTAINER_LAUNCH_FAILED = 21,
  REASON_CONTAINER_UPDATE_FAILED = 22,
  REASON_EXECUTOR_REGISTRATION_TIMEOUT = 23,
  REASON_EXECUTOR_REREGISTRATION_TIMEOUT = 24,
  REASON_TASK_GROUP_INVALID = 25,
  REASON_TASK_GROUP_UNAUTHORIZED = 26,
  REASON_IO_SWITCHBOARD_EXITED = 27,
  REASON_TASK_CHECK_STATUS_UPDATED = 28,
  REASON_TASK_HEALTH_CHECK_STATUS_UPDATED = 29,
  REASON_TASK_KILLED_DURING_LAUNCH = 30,
  REASON_AGENT_REMOVED_BY_OPERATOR = 31,
  REASON_AGENT_REREGISTERED = 32,
  REASON_MAX_COMPLETION_TIME_REACHED = 33,
};
constexpr int kReasonCount = 34;
const char* toString(Reason reason);

enum class Source { SOURCE_MASTER = 0, SOURCE_AGENT = 1, SOURCE_EXECUTOR = 2 };
const char* toString(Source source);

struct Attribute {
  std::string name;
  std::string value;
  bool operator==(const Attribute&) const = default;
};
using Attributes = std::vector<Attribute>;
// Parses `rack:r1;zone:a`. Names and values must be non-empty.
Result<Attributes> parseAttributes(std::string_view text);

struct EnvironmentVariable {
  std::string name;
  std::string value;
  bool operator==(const EnvironmentVariable&) const = default;
};

// Mesos's CommandInfo.URI: a file the agent fetches into the sandbox before
// the executor starts (agent/fetcher/fetcher.hpp): http(s)://, file:// or an
// absolute path on the agent, read as the task's user.
struct CommandURI {
  std::string value;
  bool executable = false;  // chmod 0755 (and never extracted)
  bool extract = true;      // unpack .tar[.gz|.bz2|.xz], .tgz, .tbz2, .txz, .zip, .gz
  bool cache = false;       // through the agent's fetcher cache (--fetcher_cache_size)
  std::optional<std::string> outputFile;  // path in the sandbox; default: the URI's basename
  bool operator==(const CommandURI&) const = default;
};

// Whether the agent can fetch `uri`: http://, https://, file:///… or an
// absolute path (the master, tutti-services and tutti-batch all check it).
inline bool fetchableUri(const std::string& uri) {
  for (const char* prefix : {"http://", "https://", "file:///", "/"}) {
    if (uri.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// Whether `path` stays inside a sandbox: non-empty, relative, no ".."
// component, no NUL (an output_file / destPath).
inline bool sandboxRelativePath(const std::string& path) {
  return !path.empty() && path[0] != '/' && path.find('\0') == std::string::npos &&
         ("/" + path + "/").find("/../") == std::string::npos;
}

struct CommandInfo {
  bool shell = true;       // run `value` with /bin/sh -c
  std::string value;       // the shell command, or the program when !shell
  std::vector<std::string> arguments;  // argv when !shell
  std::vector<EnvironmentVariable> environment;
  std::optional<std::string> user;
  std::vector<CommandURI> uris;
  bool operator==(const CommandInfo&) const = default;
};

struct KillPolicy {
  std::chrono::nanoseconds gracePeriod{0};
  bool operator==(const KillPolicy&) const = default;
};

struct ExecutorInfo {
  enum class Type { UNKNOWN = 0, DEFAULT = 1, CUSTOM = 2 };
  ExecutorID executorId;
  FrameworkID frameworkId;
  std::string name;
  std::optional<CommandInfo> command;
  Resources resources;
  Type type = Type::CUSTOM;
  bool operator==(const ExecutorInfo&) const = default;
};

// Mesos's HealthCheck (defaults as Mesos's). The executor runs it next to
// the task after `delaySeconds`, every `intervalSeconds`, each attempt
// bounded by `timeoutSeconds`; it reports TASK_RUNNING with `healthy` when
// the result changes, and kills the task after `consecutiveFailures`
// failures in a row (0: never) once `gracePeriodSeconds` after the start
// have passed (failures before are ignored until the first success).
struct HealthCheck {
  enum class Type { UNKNOWN = 0, COMMAND = 1, HTTP = 2, TCP = 3 };
  Type type = Type::UNKNOWN;
  double delaySeconds = 15;
  double intervalSeconds = 10;
  double timeoutSeconds = 20;
  uint32_t consecutiveFailures = 3;
  double gracePeriodSeconds = 10;
  std::optional<CommandInfo> command;  // COMMAND
  std::string httpScheme = "http";     // HTTP (only "http")
  std::string httpPath = "/";          // HTTP
  uint32_t port = 0;                   // HTTP and TCP, on 127.0.0.1
  std::vector<uint32_t> httpStatuses;  // HTTP: empty means 200-399
  bool operator==(const HealthCheck&) const = default;
};

// Mesos's Image (type DOCKER): "[registry/]repository[:tag|@digest]".
// `cached`: use the agent's stored copy when it has one, else pull.
struct Image {
  enum class Type { DOCKER = 0 };
  Type type = Type::DOCKER;
  std::string name;
  bool cached = true;
  bool operator==(const Image&) const = default;
};

// Mesos's RLimitInfo.RLimit: `type` is "RLMT_NOFILE" and the like; no
// limits given means unlimited.
struct RLimit {
  std::string type;
  std::optional<uint64_t> soft;
  std::optional<uint64_t> hard;
  bool operator==(const RLimit&) const = default;
};

// Mesos's ContainerInfo of type MESOS: with an image the task runs in its
// own root filesystem through the OCI runtime; rlimits apply with the
// posix/rlimits isolator.
struct ContainerInfo {
  std::optional<Image> image;
  std::vector<RLimit> rlimits;
  bool operator==(const ContainerInfo&) const = default;
};

struct TaskInfo {
  std::string name;
  TaskID taskId;
  AgentID agentId;
  Resources resources;
  std::optional<CommandInfo> command;
  std::optional<ExecutorInfo> executor;
  Labels labels;
  std::optional<KillPolicy> killPolicy;
  std::string data;
  std::optional<HealthCheck> healthCheck;
  std::optional<ContainerInfo> container;
  bool operator==(const TaskInfo&) const = default;
};

// The executor a task runs under: its own executor's id, or for command
// tasks the task id (each command task gets its own built-in executor).
ExecutorID executorIdOf(const TaskInfo& task);
// The built-in default executor a LAUNCH_GROUP names: type DEFAULT and no
// command (the agent runs tutti-executor for it).
bool isDefaultExecutor(const ExecutorInfo& executor);

struct TaskStatus {
  TaskID taskId;
  TaskState state = TaskState::TASK_STAGING;
  std::string message;
  Source source = Source::SOURCE_MASTER;
  std::optional<Reason> reason;
  std::string data;
  AgentID agentId;
  ExecutorID executorId;
  double timestamp = 0;  // seconds since the epoch
  std::string uuid;      // 16 bytes when the update needs an acknowledgement
  std::optional<bool> healthy;
  Labels labels;
  std::optional<int> exitStatus;  // waitpid status of the task's command
  bool operator==(const TaskStatus&) const = default;
};

enum class FrameworkCapability {
  UNKNOWN = 0,
  REVOCABLE_RESOURCES = 1,
  TASK_KILLING_STATE = 2,
  GPU_RESOURCES = 3,
  SHARED_RESOURCES = 4,
  PARTITION_AWARE = 5,
  MULTI_ROLE = 6,
  RESERVATION_REFINEMENT = 7,
  REGION_AWARE = 8,
};
const char* toString(FrameworkCapability capability);

struct FrameworkInfo {
  std::string user;
  std::string name;
  std::optional<FrameworkID> id;
  double failoverTimeoutSecs = 0;
  bool checkpoint = false;
  std::vector<std::string> roles;  // empty means the single role "*"
  std::string hostname;
  std::string principal;
  std::string webuiUrl;
  std::vector<FrameworkCapability> capabilities;
  Labels labels;

  bool hasCapability(FrameworkCapability c) const;
  // `roles`, or {"*"} when empty.
  std::vector<std::string> effectiveRoles() const;
  bool operator==(const FrameworkInfo&) const = default;
};

struct AgentInfo {
  std::string hostname;
  uint32_t port = 0;  // HTTP port
  std::optional<AgentID> id;
  Resources resources;
  Attributes attributes;
  std::string ip;  // the agent's IP address (its --ip); empty when unknown
  bool operator==(const AgentInfo&) const = default;
};

struct MasterInfo {
  MasterID id;
  std::string ip;
  uint32_t port = 0;  // HTTP port
  std::string hostname;
  std::string version;
  std::string messageAddress;  // tcp://ip:port for agents and schedulers
  bool operator==(const MasterInfo&) const = default;
};

// Mesos's Unavailability: when an agent's machine is scheduled to go down
// for maintenance. Offers of agents on machines in the maintenance schedule
// carry it, so that frameworks can plan (finish work, move it elsewhere).
struct Unavailability {
  std::chrono::nanoseconds start{0};                 // since the epoch
  std::optional<std::chrono::nanoseconds> duration;  // none: for an unknown time
  bool operator==(const Unavailability&) const = default;
};

struct Filters {
  double refuseSeconds = 5.0;
  bool operator==(const Filters&) const = default;
};

struct Offer {
  OfferID id;
  FrameworkID frameworkId;
  AgentID agentId;
  std::string hostname;
  Resources resources;
  Attributes attributes;
  std::vector<ExecutorID> executorIds;
  std::string allocationRole;
  std::string url;  // the agent's HTTP endpoint
  // Set when the agent's machine is scheduled for maintenance.
  std::optional<Unavailability> unavailability;
  bool operator==(const Offer&) const = default;

  // What an accept does with an offer.
  struct Operation {
    enum class Type { UNKNOWN, LAUNCH, RESERVE, UNRESERVE, CREATE, DESTROY, LAUNCH_GROUP };
    Type type = Type::UNKNOWN;
    std::vector<TaskInfo> tasks;  // LAUNCH, LAUNCH_GROUP
    // LAUNCH_GROUP: the default executor the group runs under (type
    // DEFAULT, no command). Groups naming the same executor id on an agent
    // share one executor while it runs.
    std::optional<ExecutorInfo> executor;
    Resources resources;  // RESERVE, UNRESERVE, CREATE, DESTROY
    bool operator==(const Operation&) const = default;

    static Operation launch(std::vector<TaskInfo> tasks);
    // Mesos's LAUNCH_GROUP: `tasks` start together under `executor` (its
    // type is set to DEFAULT) and end together: when one of them fails or
    // is killed, the default executor kills the others.
    static Operation launchGroup(ExecutorInfo executor, std::vector<TaskInfo> tasks);
    // RESERVE/UNRESERVE: `resources` carry the dynamic reservation (on top
    // of their stack) being made or removed, without an allocation role.
    static Operation reserve(Resources resources);
    static Operation unreserve(Resources resources);
    // CREATE/DESTROY of persistent volumes: `volumes` are disk resources
    // with a DiskInfo (see persistentVolume()), without an allocation role.
    static Operation create(Resources volumes);
    static Operation destroy(Resources volumes);
  };
};
const char* toString(Offer::Operation::Type type);

// A task as the master and agents keep it.
struct Task {
  TaskID taskId;
  std::string name;
  FrameworkID frameworkId;
  ExecutorID executorId;
  AgentID agentId;
  TaskState state = TaskState::TASK_STAGING;
  Resources resources;
  std::vector<TaskStatus> statuses;
  Labels labels;
  // The state and uuid of the latest update not yet acknowledged, if any.
  std::optional<TaskState> statusUpdateState;
  std::string statusUpdateUuid;
  bool operator==(const Task&) const = default;
};

}  // namespace tutti

template <typename Tag>
struct std::hash<tutti::Id<Tag>> {
  size_t operator()(const tutti::Id<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.value);
  }
};

#if defined(__GLIBCXX__)
// libstdc++ keeps each node's hash code in an unordered container unless the
// hash is "fast" (a noexcept hash is taken to be). An id's hash runs over its
// whole string, so without the stored codes every lookup re-hashes the key of
// each node it walks past and compares strings where two codes would differ.
// std::string's own hash is marked slow the same way.
template <typename Tag>
struct std::__is_fast_hash<std::hash<tutti::Id<Tag>>> : std::false_type {};
#endif
