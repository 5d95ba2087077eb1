#include "master/validation.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common/ids.hpp"
#include "common/rlimits.hpp"

namespace tutti::master {

Status validateCommandUri(const CommandURI& u) {
  if (u.value.find('\0') != std::string::npos) return Status::InvalidArgument("a NUL byte");
  if (u.value.size() > 8192) return Status::InvalidArgument("longer than 8192 bytes");
  if (!fetchableUri(u.value)) {
    return Status::InvalidArgument("'" + u.value.substr(0, 200) +
                                   "' is not http://, https://, file:///… or an absolute path");
  }
  if (u.outputFile) {
    const std::string& o = *u.outputFile;
    if (!sandboxRelativePath(o) || o.size() > 4096) {
      return Status::InvalidArgument("output_file '" + o.substr(0, 200) +
                                     "' must be a relative path inside the sandbox");
    }
  }
  return Status::OK();
}

// A volume is used (and destroyed) whole: every volume of `wanted` must be
// all of that volume in `held`.
Status checkWholeVolumes(const Resources& wanted, const Resources& held) {
  for (const auto& v : wanted) {
    if (!v.disk) continue;
    for (const auto& h : held) {
      if (h.sameKind(v) && h.scalarMillis != v.scalarMillis) {
        return Status::InvalidArgument(
            "asks for " + formatScalarMillis(v.scalarMillis) + " of persistent volume '" +
            v.disk->persistenceId + "', which has " + formatScalarMillis(h.scalarMillis) +
            ": a volume is used whole");
      }
    }
  }
  return Status::OK();
}

namespace {
Status err(const TaskInfo& task, const std::string& what) {
  return Status::InvalidArgument("Task '" + task.taskId.value + "' " + what);
}

Status validateCommand(const TaskInfo& task, const CommandInfo& c, const char* whose,
                       bool rootSubmissions) {
  // In an image, a task may leave its command to the image (Entrypoint/Cmd).
  const bool imageCommand = std::string(whose) == "task" && task.container &&
                            task.container->image && !c.shell;
  if (c.value.empty() && !imageCommand) {
    return err(task, std::string("has an empty ") + whose + " command");
  }
  for (const auto& e : c.environment) {
    if (e.name.empty() || e.name.find('=') != std::string::npos ||
        e.name.find('\0') != std::string::npos) {
      return err(task, "has an invalid environment variable name '" + e.name + "'");
    }
    if (e.value.find('\0') != std::string::npos) {
      return err(task, "has a NUL byte in environment variable '" + e.name + "'");
    }
  }
  if (c.value.find('\0') != std::string::npos) return err(task, "has a NUL byte in its command");
  for (const auto& a : c.arguments) {
    if (a.find('\0') != std::string::npos) return err(task, "has a NUL byte in an argument");
  }
  if (c.user && c.user->find('\0') != std::string::npos) {
    return err(task, "has a NUL byte in its user");
  }
  if (c.uris.size() > kMaxCommandUris) {
    return err(task, "has " + std::to_string(c.uris.size()) + " URIs in its " + whose +
                         " command; at most " + std::to_string(kMaxCommandUris));
  }
  for (const auto& u : c.uris) {
    Status s = validateCommandUri(u);
    if (!s.ok()) return err(task, "has a bad URI: " + s.message());
  }
  if (!rootSubmissions && c.user && *c.user == "root") {
    return err(task, std::string("asks to run its ") + whose +
                         " as root, which this master refuses (--root_submissions=false)");
  }
  return Status::OK();
}
}  // namespace

Result<TaskInfo> validateTask(const TaskInfo& task, const LaunchContext& ctx,
                              const Resources& available) {
  Status s = validateId("TaskID", task.taskId.value);
  if (!s.ok()) return err(task, "has an invalid id: " + s.message());
  if (ctx.taskIdInUse(task.taskId)) return err(task, "has a duplicate id");

  if (!task.agentId.empty() && task.agentId != ctx.agentId) {
    return err(task, "names agent " + task.agentId.value + " but the offers are for agent " +
                         ctx.agentId.value);
  }

  if (task.command && task.executor) {
    return err(task, "has both a command and an executor; set exactly one");
  }
  const bool image = task.container && task.container->image;
  if (!task.command && !task.executor && !image) {
    return err(task, "has neither a command nor an executor");
  }
  if (task.container) {
    s = validateContainer(*task.container);
    if (!s.ok()) return err(task, "has an invalid container: " + s.message());
    if (image && task.executor) {
      return err(task, "has an image and a custom executor; images run command tasks only");
    }
  }
  if (task.command) {
    s = validateCommand(task, *task.command, "task", ctx.rootSubmissions);
    if (!s.ok()) return s;
  }
  if (task.executor) {
    const ExecutorInfo& e = *task.executor;
    s = validateId("ExecutorID", e.executorId.value);
    if (!s.ok()) return err(task, "has an invalid executor id: " + s.message());
    if (!e.frameworkId.empty() && ctx.framework.id && e.frameworkId != *ctx.framework.id) {
      return err(task, "has an executor of another framework");
    }
    if (!e.command) return err(task, "has an executor without a command");
    if (e.type == ExecutorInfo::Type::DEFAULT) {
      return err(task, "has an executor of type DEFAULT: a default executor has no command and "
                       "takes task groups (LAUNCH_GROUP); use type CUSTOM");
    }
    s = validateCommand(task, *e.command, "executor", ctx.rootSubmissions);
    if (!s.ok()) return s;
  }

  if (task.resources.empty()) return err(task, "uses no resources");
  std::vector<std::string> roles = ctx.framework.effectiveRoles();
  for (const auto& r : task.resources) {
    if (r.allocationRole && *r.allocationRole != ctx.offerRole) {
      return err(task, "has resources allocated to role '" + *r.allocationRole +
                           "', but the offers are for role '" + ctx.offerRole + "'");
    }
    if (r.isReserved()) {
      const std::string& role = r.reservationRole();
      bool known = std::any_of(roles.begin(), roles.end(), [&](const std::string& mine) {
        return mine == role || mine.rfind(role + "/", 0) == 0;
      });
      if (!known) {
        return err(task, "uses resources reserved for role '" + role +
                             "', which is not a role of this framework");
      }
    }
  }
  Resources wanted = task.resources.allocate(ctx.offerRole);
  if (!available.contains(wanted)) {
    return err(task, "uses more resources (" + task.resources.toString() +
                         ") than the offers have left (" + available.unallocate().toString() +
                         ")");
  }
  Status whole = checkWholeVolumes(wanted, available);
  if (!whole.ok()) return err(task, whole.message());
  if (task.executor && !task.executor->resources.volumes().empty()) {
    return err(task, "has an executor with a persistent volume: give volumes to tasks");
  }
  if (task.killPolicy && task.killPolicy->gracePeriod.count() < 0) {
    return err(task, "has a negative kill grace period");
  }
  if (task.healthCheck) {
    Status s = validateHealthCheck(*task.healthCheck);
    if (!s.ok()) return err(task, "has an invalid health check: " + s.message());
  }

  TaskInfo out = task;
  out.agentId = ctx.agentId;
  out.resources = wanted;
  if (out.executor && out.executor->frameworkId.empty() && ctx.framework.id) {
    out.executor->frameworkId = *ctx.framework.id;
  }
  // The executor's own resources, held for it as the task's are.
  if (out.executor) out.executor->resources = out.executor->resources.allocate(ctx.offerRole);
  return out;
}

Result<std::vector<TaskInfo>> validateTaskGroup(const std::optional<ExecutorInfo>& executor,
                                                const std::vector<TaskInfo>& tasks,
                                                const LaunchContext& ctx,
                                                const Resources& available,
                                                const ExecutorInfo* running) {
  auto invalid = [](const std::string& what) {
    return Status::InvalidArgument("Task group " + what);
  };
  if (tasks.empty()) return invalid("has no tasks");
  if (!executor) return invalid("has no executor");
  const ExecutorInfo& e = *executor;
  Status s = validateId("ExecutorID", e.executorId.value);
  if (!s.ok()) return invalid("has an invalid executor id: " + s.message());
  if (e.type != ExecutorInfo::Type::DEFAULT) {
    return invalid("needs an executor of type DEFAULT (the built-in default executor)");
  }
  if (e.command) return invalid("has an executor with a command; the DEFAULT executor has none");
  for (const auto& r : e.resources) {
    if (r.isReserved() || (r.allocationRole && *r.allocationRole != ctx.offerRole)) {
      return invalid("has executor resources that are reserved or allocated; give plain ones");
    }
  }
  if (!e.frameworkId.empty() && ctx.framework.id && e.frameworkId != *ctx.framework.id) {
    return invalid("has an executor of another framework");
  }
  if (running && (running->type != ExecutorInfo::Type::DEFAULT || running->command)) {
    return invalid("names executor " + e.executorId.value +
                   ", which runs on this agent as a custom executor");
  }
  std::set<TaskID> inGroup;
  LaunchContext inner = ctx;
  inner.taskIdInUse = [&](const TaskID& id) { return ctx.taskIdInUse(id) || inGroup.count(id); };
  Resources left = available;
  std::vector<TaskInfo> out;
  out.reserve(tasks.size());
  for (const auto& task : tasks) {
    if (task.executor) return err(task, "is in a task group and must not name an executor");
    if (task.container && task.container->image) {
      return err(task, "is in a task group: tasks in images run as single tasks (LAUNCH), "
                       "not in groups");
    }
    if (!task.command) return err(task, "is in a task group and has no command");
    auto valid = validateTask(task, inner, left);
    if (!valid.ok()) return valid.status();
    left -= valid->resources;
    inGroup.insert(task.taskId);
    TaskInfo t = std::move(*valid);
    t.executor = e;
    t.executor->resources = e.resources.allocate(ctx.offerRole);
    if (t.executor->frameworkId.empty() && ctx.framework.id) {
      t.executor->frameworkId = *ctx.framework.id;
    }
    out.push_back(std::move(t));
  }
  // A new executor's own resources come from the offers too (as in Mesos);
  // the master holds them for it until it exits (TaskManager::chargeExecutor).
  if (!running && !left.contains(e.resources.allocate(ctx.offerRole))) {
    return invalid("has an executor using more resources (" + e.resources.toString() +
                   ") than the offers have left after its tasks (" +
                   left.unallocate().toString() + ")");
  }
  return out;
}

Status validateContainer(const ContainerInfo& container) {
  if (container.image) {
    const std::string& name = container.image->name;
    if (name.empty()) return Status::InvalidArgument("the image has no name");
    if (name.size() > 512) return Status::InvalidArgument("the image name is too long");
    for (char c : name) {
      if (c == '\0' || std::isspace(static_cast<unsigned char>(c))) {
        return Status::InvalidArgument("the image name has a space or control character");
      }
    }
  }
  std::set<std::string> seen;
  for (const auto& l : container.rlimits) {
    if (!rlimitResource(l.type)) {
      return Status::InvalidArgument("unknown rlimit type '" + l.type + "'");
    }
    if (!seen.insert(l.type).second) {
      return Status::InvalidArgument("rlimit " + l.type + " is given twice");
    }
    if (l.soft.has_value() != l.hard.has_value()) {
      return Status::InvalidArgument("rlimit " + l.type +
                                     " needs both soft and hard (or neither: unlimited)");
    }
    if (l.soft && *l.soft > *l.hard) {
      return Status::InvalidArgument("rlimit " + l.type + " has a soft limit above its hard one");
    }
  }
  return Status::OK();
}

Status validateHealthCheck(const HealthCheck& check) {
  using Type = HealthCheck::Type;
  for (auto [name, v] : {std::pair{"delaySeconds", check.delaySeconds},
                         {"intervalSeconds", check.intervalSeconds},
                         {"timeoutSeconds", check.timeoutSeconds},
                         {"gracePeriodSeconds", check.gracePeriodSeconds}}) {
    if (!std::isfinite(v) || v < 0 || v > 86400 * 365) {
      return Status::InvalidArgument(std::string(name) + " must be between 0 and a year");
    }
  }
  if (check.intervalSeconds <= 0) return Status::InvalidArgument("intervalSeconds must be > 0");
  if (check.timeoutSeconds <= 0) return Status::InvalidArgument("timeoutSeconds must be > 0");
  switch (check.type) {
    case Type::COMMAND:
      if (!check.command || check.command->value.empty()) {
        return Status::InvalidArgument("a COMMAND check needs a command");
      }
      return Status::OK();
    case Type::HTTP:
      if (check.httpScheme != "http") {
        return Status::InvalidArgument("only the 'http' scheme is supported, not '" +
                                       check.httpScheme + "'");
      }
      if (check.httpPath.empty() || check.httpPath[0] != '/' ||
          check.httpPath.find_first_of(" \r\n") != std::string::npos) {
        return Status::InvalidArgument("an HTTP check's path must start with '/' and hold no "
                                       "spaces or line breaks");
      }
      for (uint32_t s : check.httpStatuses) {
        if (s < 100 || s > 599) return Status::InvalidArgument("bad HTTP status " + std::to_string(s));
      }
      [[fallthrough]];
    case Type::TCP:
      if (check.port == 0 || check.port > 65535) {
        return Status::InvalidArgument("an HTTP or TCP check needs a port in 1-65535");
      }
      return Status::OK();
    case Type::UNKNOWN:
      break;
  }
  return Status::InvalidArgument("the check's type must be COMMAND, HTTP or TCP");
}

namespace {
bool isSelfOrSubRole(const std::string& role, const std::string& parent) {
  return role == parent || role.rfind(parent + "/", 0) == 0;
}

// Checks the top of each reservation stack: dynamic, valid role. Returns
// the resources without it (what a reserve consumes).
Result<Resources> popDynamic(const Resources& resources, const char* what) {
  if (resources.empty()) return Status::InvalidArgument(std::string(what) + " of no resources");
  for (const auto& r : resources) {
    if (r.disk) {
      return Status::InvalidArgument(std::string(what) + ": '" + r.disk->persistenceId +
                                     "' is a persistent volume (CREATE makes volumes, DESTROY "
                                     "turns them back into reserved disk)");
    }
    if (r.reservations.empty()) {
      return Status::InvalidArgument(std::string(what) + ": '" + r.name +
                                     "' carries no reservation");
    }
    const ReservationInfo& top = r.reservations.back();
    if (top.type != ReservationInfo::Type::DYNAMIC) {
      return Status::InvalidArgument(std::string(what) + ": '" + r.name +
                                     "' has a static reservation, which cannot change");
    }
    if (r.allocationRole) {
      return Status::InvalidArgument(std::string(what) + ": give resources without an "
                                                         "allocation role");
    }
  }
  return resources.popReservation();
}
}  // namespace

Result<Resources> validateReserve(const Resources& reserve, const FrameworkInfo& framework,
                                  const std::string& offerRole, const Resources& available) {
  auto consumed = popDynamic(reserve, "RESERVE");
  if (!consumed.ok()) return consumed.status();
  for (const auto& r : reserve) {
    const ReservationInfo& top = r.reservations.back();
    if (!isSelfOrSubRole(top.role, offerRole)) {
      return Status::InvalidArgument("RESERVE for role '" + top.role +
                                     "' from offers of role '" + offerRole + "'");
    }
    if (top.principal != framework.principal) {
      return Status::InvalidArgument("RESERVE must name the framework's principal '" +
                                     framework.principal + "', not '" + top.principal + "'");
    }
    if (r.reservations.size() > 1 &&
        !isSelfOrSubRole(top.role, r.reservations[r.reservations.size() - 2].role)) {
      return Status::InvalidArgument("RESERVE for role '" + top.role +
                                     "' does not refine the existing reservation");
    }
  }
  Resources from = consumed->allocate(offerRole);
  if (!available.contains(from)) {
    return Status::InvalidArgument("RESERVE of " + consumed->toString() +
                                   ", which the offers do not hold (" +
                                   available.unallocate().toString() + ")");
  }
  return from;
}

Result<Resources> validateUnreserve(const Resources& unreserve, const std::string& offerRole,
                                    const Resources& available) {
  auto to = popDynamic(unreserve, "UNRESERVE");
  if (!to.ok()) return to.status();
  if (!available.contains(unreserve.allocate(offerRole))) {
    return Status::InvalidArgument("UNRESERVE of " + unreserve.toString() +
                                   ", which the offers do not hold");
  }
  return *to;
}

Result<Resources> validateOperatorReserve(const Resources& reserve, const Resources& free) {
  auto consumed = popDynamic(reserve, "Reserve");
  if (!consumed.ok()) return consumed.status();
  for (const auto& r : reserve) {
    Status s = validateRoleName(r.reservations.back().role);
    if (!s.ok() || r.reservations.back().role == "*") {
      return Status::InvalidArgument("Reserve for an invalid role '" +
                                     r.reservations.back().role + "'");
    }
  }
  if (!free.contains(*consumed)) {
    return Status::InvalidArgument("Reserve of " + consumed->toString() +
                                   ", which the agent does not have free (" + free.toString() +
                                   ")");
  }
  return consumed;
}

Result<Resources> validateOperatorUnreserve(const Resources& unreserve, const Resources& free) {
  auto to = popDynamic(unreserve, "Unreserve");
  if (!to.ok()) return to.status();
  if (!free.contains(unreserve)) {
    return Status::InvalidArgument("Unreserve of " + unreserve.toString() +
                                   ", which the agent does not have free (in use or unknown)");
  }
  return to;
}

namespace {
// Every entry a volume without an allocation role.
Status checkVolumes(const Resources& volumes, const char* what) {
  if (volumes.empty()) return Status::InvalidArgument(std::string(what) + " of no volumes");
  for (const auto& r : volumes) {
    if (!r.disk) {
      return Status::InvalidArgument(std::string(what) + ": '" + r.name +
                                     "' is not a persistent volume (it needs "
                                     "disk.persistence.id and disk.volume.container_path)");
    }
    if (r.allocationRole) {
      return Status::InvalidArgument(std::string(what) + ": give volumes without an "
                                                         "allocation role");
    }
  }
  return Status::OK();
}
}  // namespace

Result<Resources> validateCreate(const Resources& volumes,
                                 const std::optional<std::string>& principal,
                                 const Resources& agentTotal) {
  Status s = checkVolumes(volumes, "CREATE");
  if (!s.ok()) return s;
  std::set<std::pair<std::string, std::string>> ids;  // (role, persistence id)
  for (const auto& r : agentTotal.volumes()) {
    ids.emplace(r.reservationRole(), r.disk->persistenceId);
  }
  for (const auto& r : volumes) {
    const DiskInfo& d = *r.disk;
    if (principal && d.principal.empty()) {
      return Status::InvalidArgument("CREATE of volume '" + d.persistenceId +
                                     "' must name the framework's principal ('" + *principal +
                                     "')");
    }
    if (principal && d.principal != *principal) {
      return Status::InvalidArgument("CREATE of volume '" + d.persistenceId +
                                     "' names principal '" + d.principal +
                                     "', not the framework's ('" + *principal + "')");
    }
    if (!ids.emplace(r.reservationRole(), d.persistenceId).second) {
      return Status::InvalidArgument("CREATE of volume '" + d.persistenceId + "' for role '" +
                                     r.reservationRole() +
                                     "': that persistence id is in use on this agent");
    }
  }
  return volumes.stripVolumes();
}

Result<Resources> validateDestroy(const Resources& volumes) {
  Status s = checkVolumes(volumes, "DESTROY");
  if (!s.ok()) return s;
  return volumes.stripVolumes();
}

}  // namespace tutti::master
