// Validation of what a framework asks the master to launch. Pure functions.
//
// Errors are meant for the framework author: they name the task and say
// what is wrong ("Task 'web-1' uses more resources (cpus:2) than the offers
// hold (cpus:1)"). The master turns them into TASK_ERROR updates.
#pragma once

#include <functional>
#include <string>

#include "tutti/types.hpp"

namespace tutti::master {

struct LaunchContext {
  const FrameworkInfo& framework;
  const AgentID& agentId;
  const std::string& offerRole;  // the role the offers were made to
  // Whether the framework already has a task with this id (the accept's
  // earlier tasks included).
  std::function<bool(const TaskID&)> taskIdInUse;
  bool rootSubmissions = true;  // --root_submissions: false refuses user root
};

// URIs a command may ask the agent to fetch (agent/fetcher/fetcher.hpp).
inline constexpr size_t kMaxCommandUris = 100;
// http(s)://, file:///… or an absolute path; an output_file relative and
// without "..". InvalidArgument saying what is wrong.
Status validateCommandUri(const CommandURI& uri);

// A health check Mesos would accept: known type with its fields, sane
// times, a port for HTTP/TCP, an absolute path for HTTP.
Status validateHealthCheck(const HealthCheck& check);
// Image name shape (the agent parses it) and rlimits (known types, soft <= hard).
Status validateContainer(const ContainerInfo& container);

// Checks `task` against the framework, the offered agent and what is left
// of the offers (`available`, allocated to offerRole). Returns the task as
// it will run: agent id filled in, resources allocated to the offer's role.
Result<TaskInfo> validateTask(const TaskInfo& task, const LaunchContext& context,
                              const Resources& available);

// LAUNCH_GROUP: `tasks` under the default executor `executor`. The group is
// valid or not as a whole: each task as validateTask() sees it (without an
// executor of its own, with a command, not in an image), the executor of
// type DEFAULT without a command, and, when `running` (the executor already
// known on the agent under that id) is set, of the same kind. On success,
// each task carries the executor (its framework id filled in) and
// resources allocated to the offer's role; their sum fits `available`.
Result<std::vector<TaskInfo>> validateTaskGroup(const std::optional<ExecutorInfo>& executor,
                                                const std::vector<TaskInfo>& tasks,
                                                const LaunchContext& context,
                                                const Resources& available,
                                                const ExecutorInfo* running);

// RESERVE: `reserve` (resources carrying the new dynamic reservation on top
// of their stack) must come out of `available` (unreserved, or reserved to a
// parent role, allocated to `offerRole`), be reserved for `offerRole` or a
// sub-role of it, and name the framework's principal. Returns the resources
// it consumes from `available` (the same resources without the new
// reservation, allocated to offerRole).
Result<Resources> validateReserve(const Resources& reserve, const FrameworkInfo& framework,
                                  const std::string& offerRole, const Resources& available);
// UNRESERVE: `unreserve` must be dynamically reserved resources held in
// `available`; returns what they become (the reservation popped).
Result<Resources> validateUnreserve(const Resources& unreserve, const std::string& offerRole,
                                    const Resources& available);
// Operator reservations (/master/reserve): the same rules without a
// framework; `free` is the agent's unused, unoffered resources.
Result<Resources> validateOperatorReserve(const Resources& reserve, const Resources& free);
Result<Resources> validateOperatorUnreserve(const Resources& unreserve, const Resources& free);

// Persistent volumes. CREATE: every entry of `volumes` is a persistent
// volume (no allocation role) made of reserved disk, whose principal is
// `principal` (the framework's, when it has one, as in Mesos; nullopt for
// the operator, who may name any), and whose persistence id is new for its role on the
// agent (`agentTotal`: its resources, volumes included) and not given twice.
// Returns what the volumes consume: the same disk without the volumes (the
// caller checks that the offers, or the agent's free resources, hold it).
Result<Resources> validateCreate(const Resources& volumes,
                                 const std::optional<std::string>& principal,
                                 const Resources& agentTotal);
// DESTROY: every entry is a persistent volume (no allocation role); returns
// what they become, the plain reserved disk (the caller checks that the
// volumes are held: offered to the framework, or free on the agent, which
// a volume in use by a task is not).
Result<Resources> validateDestroy(const Resources& volumes);
// InvalidArgument unless each volume of `wanted` is all of that volume in
// `held`: a volume is used, and destroyed, whole.
Status checkWholeVolumes(const Resources& wanted, const Resources& held);

}  // namespace tutti::master
