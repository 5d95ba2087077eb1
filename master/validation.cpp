#include "master/validation.hpp"

#include <algorithm>

#include "common/ids.hpp"

namespace tutti::master {

namespace {
Status err(const TaskInfo& task, const std::string& what) {
  return Status::InvalidArgument("Task '" + task.taskId.value + "' " + what);
}

Status validateCommand(const TaskInfo& task, const CommandInfo& c, const char* whose) {
  if (c.value.empty()) {
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
  if (!task.command && !task.executor) {
    return err(task, "has neither a command nor an executor");
  }
  if (task.command) {
    s = validateCommand(task, *task.command, "task");
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
    s = validateCommand(task, *e.command, "executor");
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
  if (task.killPolicy && task.killPolicy->gracePeriod.count() < 0) {
    return err(task, "has a negative kill grace period");
  }

  TaskInfo out = task;
  out.agentId = ctx.agentId;
  out.resources = wanted;
  if (out.executor && out.executor->frameworkId.empty() && ctx.framework.id) {
    out.executor->frameworkId = *ctx.framework.id;
  }
  return out;
}

}  // namespace tutti::master
