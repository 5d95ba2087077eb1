// Implementations of the small helpers declared in tutti/types.hpp.
#include "tutti/types.hpp"

#include <array>

namespace tutti {

namespace {
constexpr std::array<const char*, 14> kTaskStateNames = {
    "TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED",  "TASK_KILLED",
    "TASK_LOST",     "TASK_STAGING", "TASK_ERROR",    "TASK_KILLING", "TASK_DROPPED",
    "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"};

constexpr std::array<const char*, kReasonCount> kReasonNames = {
    "REASON_COMMAND_EXECUTOR_FAILED",
    "REASON_EXECUTOR_TERMINATED",
    "REASON_EXECUTOR_UNREGISTERED",
    "REASON_FRAMEWORK_REMOVED",
    "REASON_GC_ERROR",
    "REASON_INVALID_FRAMEWORKID",
    "REASON_INVALID_OFFERS",
    "REASON_MASTER_DISCONNECTED",
    "REASON_CONTAINER_LIMITATION_MEMORY",
    "REASON_RECONCILIATION",
    "REASON_AGENT_DISCONNECTED",
    "REASON_AGENT_REMOVED",
    "REASON_AGENT_RESTARTED",
    "REASON_AGENT_UNKNOWN",
    "REASON_TASK_INVALID",
    "REASON_TASK_UNAUTHORIZED",
    "REASON_TASK_UNKNOWN",
    "REASON_CONTAINER_PREEMPTED",
    "REASON_RESOURCES_UNKNOWN",
    "REASON_CONTAINER_LIMITATION",
    "REASON_CONTAINER_LIMITATION_DISK",
    "REASON_CONTAINER_LAUNCH_FAILED",
    "REASON_CONTAINER_UPDATE_FAILED",
    "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
    "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
    "REASON_TASK_GROUP_INVALID",
    "REASON_TASK_GROUP_UNAUTHORIZED",
    "REASON_IO_SWITCHBOARD_EXITED",
    "REASON_TASK_CHECK_STATUS_UPDATED",
    "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    "REASON_TASK_KILLED_DURING_LAUNCH",
    "REASON_AGENT_REMOVED_BY_OPERATOR",
    "REASON_AGENT_REREGISTERED",
    "REASON_MAX_COMPLETION_TIME_REACHED",
};
}  // namespace

const char* toString(TaskState state) {
  auto i = static_cast<size_t>(state);
  return i < kTaskStateNames.size() ? kTaskStateNames[i] : "TASK_UNKNOWN";
}

std::optional<TaskState> parseTaskState(std::string_view name) {
  for (size_t i = 0; i < kTaskStateNames.size(); ++i) {
    if (name == kTaskStateNames[i]) return static_cast<TaskState>(i);
  }
  return std::nullopt;
}

bool isTerminal(TaskState state) {
  switch (state) {
    case TaskState::TASK_FINISHED:
    case TaskState::TASK_FAILED:
    case TaskState::TASK_KILLED:
    case TaskState::TASK_ERROR:
    case TaskState::TASK_LOST:
    case TaskState::TASK_DROPPED:
    case TaskState::TASK_GONE:
    case TaskState::TASK_GONE_BY_OPERATOR:
      return true;
    default:
      return false;
  }
}

const char* toString(Reason reason) {
  auto i = static_cast<size_t>(reason);
  return i < kReasonNames.size() ? kReasonNames[i] : "REASON_UNKNOWN";
}

const char* toString(Source source) {
  switch (source) {
    case Source::SOURCE_MASTER: return "SOURCE_MASTER";
    case Source::SOURCE_AGENT: return "SOURCE_AGENT";
    case Source::SOURCE_EXECUTOR: return "SOURCE_EXECUTOR";
  }
  return "SOURCE_UNKNOWN";
}

const char* toString(FrameworkCapability c) {
  switch (c) {
    case FrameworkCapability::UNKNOWN: return "UNKNOWN";
    case FrameworkCapability::REVOCABLE_RESOURCES: return "REVOCABLE_RESOURCES";
    case FrameworkCapability::TASK_KILLING_STATE: return "TASK_KILLING_STATE";
    case FrameworkCapability::GPU_RESOURCES: return "GPU_RESOURCES";
    case FrameworkCapability::SHARED_RESOURCES: return "SHARED_RESOURCES";
    case FrameworkCapability::PARTITION_AWARE: return "PARTITION_AWARE";
    case FrameworkCapability::MULTI_ROLE: return "MULTI_ROLE";
    case FrameworkCapability::RESERVATION_REFINEMENT: return "RESERVATION_REFINEMENT";
    case FrameworkCapability::REGION_AWARE: return "REGION_AWARE";
  }
  return "UNKNOWN";
}

const char* toString(Offer::Operation::Type type) {
  using T = Offer::Operation::Type;
  switch (type) {
    case T::UNKNOWN: return "UNKNOWN";
    case T::LAUNCH: return "LAUNCH";
    case T::RESERVE: return "RESERVE";
    case T::UNRESERVE: return "UNRESERVE";
    case T::CREATE: return "CREATE";
    case T::DESTROY: return "DESTROY";
    case T::LAUNCH_GROUP: return "LAUNCH_GROUP";
  }
  return "UNKNOWN";
}

Offer::Operation Offer::Operation::launch(std::vector<TaskInfo> tasks) {
  Operation op;
  op.type = Type::LAUNCH;
  op.tasks = std::move(tasks);
  return op;
}

Offer::Operation Offer::Operation::launchGroup(ExecutorInfo executor, std::vector<TaskInfo> tasks) {
  Operation op;
  op.type = Type::LAUNCH_GROUP;
  executor.type = ExecutorInfo::Type::DEFAULT;
  op.executor = std::move(executor);
  op.tasks = std::move(tasks);
  return op;
}

namespace {
Offer::Operation resourceOperation(Offer::Operation::Type type, Resources resources) {
  Offer::Operation op;
  op.type = type;
  op.resources = resources.unallocate();
  return op;
}
}  // namespace

Offer::Operation Offer::Operation::reserve(Resources resources) {
  return resourceOperation(Type::RESERVE, std::move(resources));
}
Offer::Operation Offer::Operation::unreserve(Resources resources) {
  return resourceOperation(Type::UNRESERVE, std::move(resources));
}
Offer::Operation Offer::Operation::create(Resources volumes) {
  return resourceOperation(Type::CREATE, std::move(volumes));
}
Offer::Operation Offer::Operation::destroy(Resources volumes) {
  return resourceOperation(Type::DESTROY, std::move(volumes));
}

ExecutorID executorIdOf(const TaskInfo& task) {
  if (task.executor) return task.executor->executorId;
  return ExecutorID(task.taskId.value);
}

bool isDefaultExecutor(const ExecutorInfo& executor) {
  return executor.type == ExecutorInfo::Type::DEFAULT && !executor.command;
}

bool FrameworkInfo::hasCapability(FrameworkCapability c) const {
  for (auto x : capabilities) {
    if (x == c) return true;
  }
  return false;
}

std::vector<std::string> FrameworkInfo::effectiveRoles() const {
  if (roles.empty()) return {"*"};
  return roles;
}

Result<Attributes> parseAttributes(std::string_view text) {
  Attributes out;
  size_t pos = 0;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) continue;
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("Invalid attribute '" + std::string(item) +
                                     "': expected name:value");
    }
    std::string_view name = trim(item.substr(0, colon));
    std::string_view value = trim(item.substr(colon + 1));
    if (name.empty() || value.empty()) {
      return Status::InvalidArgument("Invalid attribute '" + std::string(item) +
                                     "': name and value must not be empty");
    }
    out.push_back(Attribute{std::string(name), std::string(value)});
  }
  return out;
}

}  // namespace tutti
