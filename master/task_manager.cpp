#include "master/task_manager.hpp"

#include "common/process.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <cctype>

#include "master/master.hpp"
#include "master/state_snapshot.hpp"
#include "master/validation.hpp"

namespace tutti::master {

namespace {
bool agentHasExecutor(const AgentRecord& agent, const FrameworkID& fw, const ExecutorID& id) {
  auto executors = agent.executors.find(fw);
  return executors != agent.executors.end() && executors->second.count(id) > 0;
}
}  // namespace

namespace {
constexpr size_t kMaxStatusesPerTask = 32;

std::string lowerStateName(TaskState s) {
  std::string name = toString(s);  // TASK_FINISHED
  std::string out = name.substr(5);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}
}  // namespace

TaskManager::TaskManager(Master& master)
    : master_(master),
      validUpdates_(master.metrics().counter("master/valid_status_updates")),
      invalidUpdates_(master.metrics().counter("master/invalid_status_updates")),
      invalidTasks_(master.metrics().counter("master/invalid_tasks")),
      taskLaunches_(master.metrics().counter("master/task_launches")),
      reconciliations_(master.metrics().counter("master/messages_reconcile_tasks")) {
  for (size_t i = 0; i < terminal_.size(); ++i) {
    auto s = static_cast<TaskState>(i);
    if (isTerminal(s)) {
      terminal_[i] = &master.metrics().counter("master/tasks_" + lowerStateName(s));
    }
  }
}

TaskStatus TaskManager::masterStatus(const Task& task, TaskState state, Reason reason,
                                     const std::string& message) const {
  TaskStatus s;
  s.taskId = task.taskId;
  s.state = state;
  s.message = message;
  s.source = Source::SOURCE_MASTER;
  s.reason = reason;
  s.agentId = task.agentId;
  s.executorId = task.executorId;
  s.timestamp = master_.loop().clock().wallSeconds();
  return s;
}

void TaskManager::setState(TaskRecord& rec, TaskState state) {
  TaskState old = rec.task->state;
  if (old == state) return;
  if (!isTerminal(old)) active_[static_cast<size_t>(old)]--;
  if (isTerminal(state)) {
    if (!isTerminal(old)) terminal_[static_cast<size_t>(state)]->inc();
  } else {
    active_[static_cast<size_t>(state)]++;
  }
  rec.task.mut().state = state;
}

void TaskManager::sendUpdate(FrameworkRecord& fw, TaskStatus status) {
  master_.frameworks().sendSoon(fw, wire::UpdateEvent{std::move(status)});
}

void TaskManager::addTask(FrameworkRecord& fw, AgentRecord& agent, const TaskInfo& info) {
  TaskRecord rec;
  Task& task = rec.task.mut();
  task.taskId = info.taskId;
  task.name = info.name;
  task.frameworkId = fw.id;
  task.executorId = executorIdOf(info);
  task.agentId = agent.id;
  task.state = TaskState::TASK_STAGING;
  task.resources = info.resources;
  task.labels = info.labels;
  // Room for the usual life (starting, running, a terminal state) without
  // moving the statuses on each update.
  task.statuses.reserve(3);
  active_[static_cast<size_t>(TaskState::TASK_STAGING)]++;
  fw.used += info.resources;
  agent.used[fw.id] += info.resources;
  agent.tasks[fw.id].insert(info.taskId);
  if (info.executor) chargeExecutor(agent, fw.id, *info.executor);
  fw.tasks.emplace(info.taskId, std::move(rec));
}

void TaskManager::chargeExecutor(AgentRecord& agent, const FrameworkID& fwId,
                                 const ExecutorInfo& e) {
  // An agent's built-in command executor (type DEFAULT with a command, a
  // pair frameworks cannot send) is the task's own business: not recorded.
  if (e.type == ExecutorInfo::Type::DEFAULT && e.command) return;
  auto& known = agent.executors[fwId];
  if (!known.emplace(e.executorId, e).second) return;  // charged when it first came
  if (e.resources.empty()) return;
  if (FrameworkRecord* fw = master_.frameworks().find(fwId)) fw->used += e.resources;
  agent.used[fwId] += e.resources;
}

void TaskManager::releaseExecutor(AgentRecord& agent, const FrameworkID& fwId,
                                  const ExecutorID& exId, bool toAllocator) {
  auto executors = agent.executors.find(fwId);
  if (executors == agent.executors.end()) return;
  auto e = executors->second.find(exId);
  if (e == executors->second.end()) return;
  Resources res = e->second.resources;
  executors->second.erase(e);
  if (executors->second.empty()) agent.executors.erase(executors);
  if (res.empty()) return;
  if (FrameworkRecord* fw = master_.frameworks().find(fwId)) fw->used -= res;
  auto used = agent.used.find(fwId);
  if (used != agent.used.end()) {
    used->second -= res;
    if (used->second.empty()) agent.used.erase(used);
  }
  if (toAllocator) {
    master_.allocator().recoverResources(fwId, agent.id, res, std::nullopt);
    master_.requestAllocation();
  }
}

void TaskManager::releaseExecutors(AgentRecord& agent, const FrameworkID& fwId, bool toAllocator) {
  auto executors = agent.executors.find(fwId);
  if (executors == agent.executors.end()) return;
  std::vector<ExecutorID> ids;
  for (const auto& [id, _] : executors->second) ids.push_back(id);
  for (const auto& id : ids) releaseExecutor(agent, fwId, id, toAllocator);
}

void TaskManager::addReportedTask(FrameworkRecord& fw, AgentRecord& agent, Task task) {
  if (fw.tasks.count(task.taskId)) return;
  fw.unreachableTasks.erase(task.taskId);
  task.agentId = agent.id;
  task.frameworkId = fw.id;
  const TaskID id = task.taskId;
  const bool terminal = isTerminal(task.state);
  if (!terminal) {
    active_[static_cast<size_t>(task.state)]++;
    fw.used += task.resources;
    agent.used[fw.id] += task.resources;
  }
  TaskRecord rec{Cow<Task>(std::move(task))};
  rec.released = terminal;  // a finished task holds nothing of the agent's
  agent.tasks[fw.id].insert(id);
  fw.tasks.emplace(id, std::move(rec));
}

void TaskManager::release(FrameworkRecord& fw, TaskRecord& rec, AgentRecord* agent,
                          bool toAllocator) {
  if (rec.released) return;
  rec.released = true;
  const Task& t = *rec.task;
  fw.used -= t.resources;
  if (agent) {
    auto it = agent->used.find(fw.id);
    if (it != agent->used.end()) {
      it->second -= t.resources;
      if (it->second.empty()) agent->used.erase(it);
    }
  }
  if (toAllocator) {
    master_.allocator().recoverResources(fw.id, t.agentId, t.resources, std::nullopt);
    master_.requestAllocation();
  }
}

void TaskManager::removeTask(FrameworkRecord& fw, const TaskID& id) {
  auto it = fw.tasks.find(id);
  if (it == fw.tasks.end()) return;
  TaskRecord& rec = it->second;
  AgentRecord* agent = master_.agents().find(rec.task->agentId);
  release(fw, rec, agent, /*toAllocator=*/agent && agent->state == AgentState::kRegistered);
  if (!isTerminal(rec.task->state)) active_[static_cast<size_t>(rec.task->state)]--;
  if (agent) {
    auto t = agent->tasks.find(fw.id);
    if (t != agent->tasks.end()) {
      t->second.erase(id);
      if (t->second.empty()) agent->tasks.erase(t);
    }
  }
  if (rec.task->state == TaskState::TASK_UNREACHABLE) {
    fw.unreachableTasks[id] = rec.task.share();
    while (fw.unreachableTasks.size() > master_.options().maxUnreachableTasksPerFramework) {
      fw.unreachableTasks.erase(fw.unreachableTasks.begin());
    }
  } else {
    fw.completedTasks.push_back(completedTask(*rec.task, fw.info));
    while (fw.completedTasks.size() > master_.options().maxCompletedTasksPerFramework) {
      fw.completedTasks.pop_front();
    }
  }
  fw.tasks.erase(it);
}

void TaskManager::dropLaunches(FrameworkRecord& fw, const wire::AcceptCall& m,
                               const std::string& why) {
  TaskState state =
      fw.partitionAware() ? TaskState::TASK_DROPPED : TaskState::TASK_LOST;
  for (const auto& op : m.operations) {
    bool group = op.type == Offer::Operation::Type::LAUNCH_GROUP;
    if (op.type != Offer::Operation::Type::LAUNCH && !group) continue;
    for (const auto& t : op.tasks) {
      Task task;
      task.taskId = t.taskId;
      task.agentId = t.agentId;
      task.executorId = group && op.executor ? op.executor->executorId : executorIdOf(t);
      invalidTasks_.inc();
      terminal_[static_cast<size_t>(state)]->inc();
      sendUpdate(fw, masterStatus(task, state, Reason::REASON_INVALID_OFFERS, why));
    }
  }
}

void TaskManager::onAccept(const ConnectionId& from, const wire::AcceptCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "ACCEPT");
  if (!fw) return;

  // Gather the offers. Any problem voids the whole accept, as in Mesos:
  // the valid offers' resources go back and every launch is dropped.
  std::string error;
  // Shared with the records they came from: nothing is copied.
  std::vector<std::shared_ptr<const Offer>> offers;
  std::set<OfferID> seen;
  for (const auto& id : m.offerIds) {
    if (!seen.insert(id).second) {
      error = "Offer " + id.value + " is listed twice";
      continue;
    }
    const OfferRecord* rec = master_.offers().find(id);
    if (!rec || rec->offer->frameworkId != fw->id) {
      if (error.empty()) error = "Offer " + id.value + " is no longer valid";
      continue;
    }
    offers.push_back(master_.offers().take(id));
  }
  if (error.empty() && offers.empty()) error = "No offers to accept";
  for (size_t i = 1; error.empty() && i < offers.size(); ++i) {
    if (offers[i]->agentId != offers[0]->agentId) {
      error = "Offers " + offers[0]->id.value + " and " + offers[i]->id.value +
              " are for different agents";
    } else if (offers[i]->allocationRole != offers[0]->allocationRole) {
      error = "Offers " + offers[0]->id.value + " and " + offers[i]->id.value +
              " are for different roles";
    }
  }
  AgentRecord* agent = nullptr;
  if (error.empty()) {
    agent = master_.agents().findRegistered(offers[0]->agentId);
    if (!agent) error = "Agent " + offers[0]->agentId.value + " is not registered";
  }
  if (!error.empty()) {
    LOG(WARNING) << "Invalid ACCEPT from framework " << fw->id << ": " << error;
    for (const auto& o : offers) {
      master_.allocator().recoverResources(fw->id, o->agentId, o->resources, std::nullopt);
    }
    if (!offers.empty()) master_.requestAllocation();
    dropLaunches(*fw, m, error);
    return;
  }

  Resources available;
  for (const auto& o : offers) available += o->resources;
  const std::string& role = offers[0]->allocationRole;
  std::set<TaskID> launching;
  LaunchContext ctx{fw->info, agent->id, role,
                    [&](const TaskID& id) {
                      return fw->tasks.count(id) > 0 || launching.count(id) > 0;
                    },
                    master_.options().rootSubmissions};

  for (const auto& op : m.operations) {
    if (op.type == Offer::Operation::Type::RESERVE ||
        op.type == Offer::Operation::Type::UNRESERVE) {
      applyReservation(*fw, *agent, role, op, available);
      continue;
    }
    if (op.type == Offer::Operation::Type::LAUNCH_GROUP) {
      launchGroup(*fw, *agent, op, ctx, available, launching);
      continue;
    }
    if (op.type == Offer::Operation::Type::CREATE ||
        op.type == Offer::Operation::Type::DESTROY) {
      applyVolumes(*fw, *agent, role, op, available);
      continue;
    }
    if (op.type != Offer::Operation::Type::LAUNCH) {
      LOG(WARNING) << "Framework " << fw->id << " asked for a " << toString(op.type)
                   << " operation, which this master does not know";
      master_.metrics().counter("master/invalid_operations").inc();
      continue;
    }
    for (const auto& task : op.tasks) {
      auto valid = validateTask(task, ctx, available);
      if (valid.ok() && valid->executor) {
        // A custom executor cannot take the id of a default one running there.
        auto executors = agent->executors.find(fw->id);
        if (executors != agent->executors.end()) {
          auto e = executors->second.find(valid->executor->executorId);
          if (e != executors->second.end() && isDefaultExecutor(e->second)) {
            valid = Status::InvalidArgument("Task '" + task.taskId.value + "' names executor " +
                                            e->first.value +
                                            ", which runs on this agent as a default executor");
          }
        }
      }
      // A new executor's own resources come out of the offers too.
      Resources executorResources;
      if (valid.ok() && valid->executor && !agentHasExecutor(*agent, fw->id, valid->executor->executorId)) {
        executorResources = valid->executor->resources;
        if (!available.contains(valid->resources + executorResources)) {
          valid = Status::InvalidArgument(
              "Task '" + task.taskId.value + "' and its new executor use more resources (" +
              (valid->resources + executorResources).unallocate().toString() +
              ") than the offers have left (" + available.unallocate().toString() + ")");
        }
      }
      if (!valid.ok()) {
        invalidTasks_.inc();
        Task t;
        t.taskId = task.taskId;
        t.agentId = agent->id;
        t.executorId = executorIdOf(task);
        terminal_[static_cast<size_t>(TaskState::TASK_ERROR)]->inc();
        LOG(INFO) << "Framework " << fw->id << ": " << valid.error();
        sendUpdate(*fw, masterStatus(t, TaskState::TASK_ERROR, Reason::REASON_TASK_INVALID,
                                     valid.error()));
        continue;
      }
      const TaskInfo& info = *valid;
      available -= info.resources + executorResources;
      launching.insert(info.taskId);
      addTask(*fw, *agent, info);
      taskLaunches_.inc();
      VLOG(1) << "Launching task " << info.taskId << " of framework " << fw->id
              << " on agent " << agent->id;
      master_.agents().send(*agent, wire::RunTaskMessage{fw->info, info, agent->id});
    }
  }

  if (!available.empty()) {
    master_.allocator().recoverResources(fw->id, agent->id, available, m.filters);
    master_.requestAllocation();
  }
}

void TaskManager::launchGroup(FrameworkRecord& fw, AgentRecord& agent, const Offer::Operation& op,
                              const LaunchContext& ctx, Resources& available,
                              std::set<TaskID>& launching) {
  const ExecutorInfo* running = nullptr;
  if (op.executor) {
    auto executors = agent.executors.find(fw.id);
    if (executors != agent.executors.end()) {
      auto e = executors->second.find(op.executor->executorId);
      if (e != executors->second.end()) running = &e->second;
    }
  }
  auto valid = validateTaskGroup(op.executor, op.tasks, ctx, available, running);
  if (!valid.ok()) {
    // All or nothing, as in Mesos: every task of the group gets the error.
    LOG(INFO) << "Framework " << fw.id << ": " << valid.error();
    for (const auto& task : op.tasks) {
      invalidTasks_.inc();
      Task t;
      t.taskId = task.taskId;
      t.agentId = agent.id;
      t.executorId = op.executor ? op.executor->executorId : executorIdOf(task);
      terminal_[static_cast<size_t>(TaskState::TASK_ERROR)]->inc();
      sendUpdate(fw, masterStatus(t, TaskState::TASK_ERROR, Reason::REASON_TASK_GROUP_INVALID,
                                  valid.error()));
    }
    return;
  }
  wire::RunTaskGroupMessage run{fw.info, valid->front().executor.value(), {}, agent.id};
  if (!running) available -= run.executor.resources;  // (validated to fit)
  for (const auto& info : *valid) {
    available -= info.resources;
    launching.insert(info.taskId);
    addTask(fw, agent, info);
    taskLaunches_.inc();
  }
  VLOG(1) << "Launching a group of " << valid->size() << " tasks of framework " << fw.id
          << " under executor " << run.executor.executorId << " on agent " << agent.id;
  run.tasks = std::move(*valid);
  master_.agents().send(agent, run);
}

void TaskManager::applyReservation(FrameworkRecord& fw, AgentRecord& agent,
                                   const std::string& role, const Offer::Operation& op,
                                   Resources& available) {
  bool reserve = op.type == Offer::Operation::Type::RESERVE;
  Resources from, to;
  if (reserve) {
    auto consumed = validateReserve(op.resources, fw.info, role, available);
    if (!consumed.ok()) {
      LOG(WARNING) << "Framework " << fw.id << ": invalid operation: " << consumed.error();
      master_.metrics().counter("master/invalid_operations").inc();
      return;
    }
    from = *consumed;
    to = op.resources.allocate(role);
  } else {
    auto result = validateUnreserve(op.resources, role, available);
    if (!result.ok()) {
      LOG(WARNING) << "Framework " << fw.id << ": invalid operation: " << result.error();
      master_.metrics().counter("master/invalid_operations").inc();
      return;
    }
    from = op.resources.allocate(role);
    to = result->allocate(role);
  }
  available = available - from + to;
  master_.allocator().updateAllocation(fw.id, agent.id, from, to);
  master_.agents().convertResources(agent, from, to);
  master_.metrics().counter(reserve ? "master/operations_reserve" : "master/operations_unreserve")
      .inc();
}

void TaskManager::applyVolumes(FrameworkRecord& fw, AgentRecord& agent, const std::string& role,
                               const Offer::Operation& op, Resources& available) {
  bool create = op.type == Offer::Operation::Type::CREATE;
  Resources from, to;
  // As in Mesos, a framework with a principal creates volumes in its name.
  std::optional<std::string> principal;
  if (!fw.info.principal.empty()) principal = fw.info.principal;
  Result<Resources> plain = create ? validateCreate(op.resources, principal, agent.total)
                                   : validateDestroy(op.resources);
  Status s = plain.status();
  if (s.ok()) {
    from = create ? plain->allocate(role) : op.resources.allocate(role);
    to = create ? op.resources.allocate(role) : plain->allocate(role);
    if (!available.contains(from)) {
      s = Status::InvalidArgument(std::string(create ? "CREATE" : "DESTROY") + " of " +
                                  op.resources.toString() + ": the offers do not hold " +
                                  from.unallocate().toString() + " (they hold " +
                                  available.unallocate().toString() + ")");
    }
    if (s.ok() && !create) s = checkWholeVolumes(from, available);
  }
  if (!s.ok()) {
    LOG(WARNING) << "Framework " << fw.id << ": invalid operation: " << s.message();
    master_.metrics().counter("master/invalid_operations").inc();
    return;
  }
  available = available - from + to;
  master_.allocator().updateAllocation(fw.id, agent.id, from, to);
  master_.agents().convertResources(agent, from, to);
  master_.metrics().counter(create ? "master/operations_create" : "master/operations_destroy")
      .inc();
}

void TaskManager::onKill(const ConnectionId& from, const wire::KillCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "KILL");
  if (!fw) return;
  auto it = fw->tasks.find(m.taskId);
  if (it == fw->tasks.end()) {
    if (fw->unreachableTasks.count(m.taskId)) {
      LOG(INFO) << "Cannot kill task " << m.taskId << ": its agent is unreachable";
      return;
    }
    // Unknown: answer with what reconciliation knows, as Mesos does.
    if (auto s = reconcileOne(*fw, m.taskId, m.agentId)) sendUpdate(*fw, *s);
    return;
  }
  const Task& task = *it->second.task;
  if (isTerminal(task.state)) return;
  AgentRecord* agent = master_.agents().findRegistered(task.agentId);
  if (!agent) return;
  master_.agents().send(*agent,
                        wire::KillTaskMessage{fw->id, task.taskId, agent->id, m.killPolicy});
}

void TaskManager::onAcknowledge(const ConnectionId& from, const wire::AcknowledgeCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "ACKNOWLEDGE");
  if (!fw) return;
  if (m.uuid.size() != 16) {
    master_.metrics().counter("master/invalid_status_update_acknowledgements").inc();
    return;
  }
  AgentRecord* agent = master_.agents().findRegistered(m.agentId);
  if (!agent) {
    VLOG(1) << "Dropping acknowledgement for task " << m.taskId << ": agent " << m.agentId
            << " is not registered";
    return;
  }
  master_.agents().send(*agent,
                        wire::StatusUpdateAckMessage{agent->id, fw->id, m.taskId, m.uuid});
  auto it = fw->tasks.find(m.taskId);
  if (it == fw->tasks.end()) return;
  if (it->second.task->statusUpdateUuid != m.uuid) return;
  std::optional<TaskState> acked = it->second.task->statusUpdateState;
  if (acked && isTerminal(*acked)) {
    removeTask(*fw, m.taskId);
    return;
  }
  Task& task = it->second.task.mut();
  task.statusUpdateState.reset();
  task.statusUpdateUuid.clear();
}

std::optional<TaskStatus> TaskManager::reconcileOne(const FrameworkRecord& fw,
                                                    const TaskID& taskId,
                                                    const AgentID& agentId) const {
  Task t;
  t.taskId = taskId;
  t.agentId = agentId;
  auto it = fw.tasks.find(taskId);
  if (it != fw.tasks.end()) {
    const Task& task = *it->second.task;
    TaskStatus s = masterStatus(task, task.state, Reason::REASON_RECONCILIATION, "");
    if (!task.statuses.empty()) {
      s.message = task.statuses.back().message;
      s.healthy = task.statuses.back().healthy;
      s.exitStatus = task.statuses.back().exitStatus;
    }
    return s;
  }
  auto un = fw.unreachableTasks.find(taskId);
  if (un != fw.unreachableTasks.end()) {
    t.agentId = un->second->agentId;
    return masterStatus(t, fw.partitionAware() ? TaskState::TASK_UNREACHABLE
                                               : TaskState::TASK_LOST,
                        Reason::REASON_RECONCILIATION, "Task is on an unreachable agent");
  }
  bool pa = fw.partitionAware();
  if (!agentId.empty()) {
    const AgentRecord* agent = master_.agents().find(agentId);
    if (agent && (agent->state == AgentState::kRecovered ||
                  agent->state == AgentState::kAdmitting)) {
      return std::nullopt;
    }
    if (agent && agent->state == AgentState::kRegistered) {
      return masterStatus(t, pa ? TaskState::TASK_GONE : TaskState::TASK_LOST,
                          Reason::REASON_RECONCILIATION, "Task is unknown to the agent");
    }
    if (agent && agent->state == AgentState::kUnreachable) {
      return masterStatus(t, pa ? TaskState::TASK_UNREACHABLE : TaskState::TASK_LOST,
                          Reason::REASON_RECONCILIATION, "Agent is unreachable");
    }
  }
  return masterStatus(t, pa ? TaskState::TASK_UNKNOWN : TaskState::TASK_LOST,
                      Reason::REASON_RECONCILIATION, "Task is unknown to the master");
}

void TaskManager::onReconcile(const ConnectionId& from, const wire::ReconcileCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "RECONCILE");
  if (!fw) return;
  reconciliations_.inc();
  if (m.tasks.empty()) {
    // Implicit: every task the master knows for this framework.
    std::vector<TaskStatus> statuses;
    for (const auto& [id, rec] : fw->tasks) {
      if (auto s = reconcileOne(*fw, id, rec.task->agentId)) statuses.push_back(*s);
    }
    for (const auto& [id, task] : fw->unreachableTasks) {
      if (auto s = reconcileOne(*fw, id, task->agentId)) statuses.push_back(*s);
    }
    for (const auto& s : statuses) sendUpdate(*fw, s);
    return;
  }
  for (const auto& t : m.tasks) {
    if (auto s = reconcileOne(*fw, t.taskId, t.agentId)) sendUpdate(*fw, *s);
  }
}

void TaskManager::onMessage(const ConnectionId& from, const wire::MessageCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "MESSAGE");
  if (!fw) return;
  AgentRecord* agent = master_.agents().findRegistered(m.agentId);
  if (!agent) return;  // best effort, as in Mesos
  master_.agents().send(*agent, wire::FrameworkToExecutorMessage{agent->id, fw->id,
                                                                 m.executorId, m.data});
}

void TaskManager::onExecutorToFramework(const ConnectionId& from,
                                        const wire::ExecutorToFrameworkMessage& m) {
  AgentRecord* agent = master_.agents().findRegistered(m.agentId);
  if (!agent) return;
  master_.agents().touch(*agent, from);
  FrameworkRecord* fw = master_.frameworks().find(m.frameworkId);
  if (!fw) return;
  master_.frameworks().send(*fw, wire::MessageEvent{m.agentId, m.executorId, m.data});
}

void TaskManager::onExitedExecutor(const ConnectionId& from,
                                   const wire::ExitedExecutorMessage& m) {
  AgentRecord* agent = master_.agents().findRegistered(m.agentId);
  if (!agent) return;
  master_.agents().touch(*agent, from);
  releaseExecutor(*agent, m.frameworkId, m.executorId, /*toAllocator=*/true);
  LOG(INFO) << "Executor " << m.executorId << " of framework " << m.frameworkId << " on agent "
            << m.agentId << " exited"
            << (m.status ? " (" + describeWaitStatus(*m.status) + ")" : std::string());
  FrameworkRecord* fw = master_.frameworks().find(m.frameworkId);
  if (!fw || fw->state != FrameworkState::kActive) return;
  master_.frameworks().send(*fw, wire::FailureEvent{m.agentId, m.executorId, m.status});
}

void TaskManager::onStatusUpdate(const ConnectionId& from, wire::StatusUpdateMessage&& m) {
  AgentRecord* agent = master_.agents().findRegistered(m.agentId);
  if (!agent) {
    invalidUpdates_.inc();
    VLOG(1) << "Dropping status update from unregistered agent " << m.agentId;
    return;
  }
  master_.agents().touch(*agent, from);
  if (m.status.uuid.size() != 16) {
    invalidUpdates_.inc();
    LOG(WARNING) << "Dropping status update without a valid uuid from agent " << m.agentId;
    return;
  }

  FrameworkRecord* fw = master_.frameworks().find(m.frameworkId);
  if (!fw) {
    if (master_.frameworks().isCompleted(m.frameworkId)) {
      // Nobody will acknowledge it; acknowledge for the framework so the
      // agent stops retrying.
      master_.agents().send(*agent, wire::StatusUpdateAckMessage{agent->id, m.frameworkId,
                                                                 m.status.taskId, m.status.uuid});
    } else {
      invalidUpdates_.inc();
    }
    return;
  }
  validUpdates_.inc();

  TaskStatus& status = m.status;
  status.agentId = agent->id;
  auto it = fw->tasks.find(status.taskId);
  if (it != fw->tasks.end() && it->second.task->agentId != agent->id) {
    // Only the agent that runs a task may change it.
    LOG(WARNING) << "Agent " << agent->id << " sent an update for task " << status.taskId
                 << ", which runs on agent " << it->second.task->agentId << "; not applied";
    invalidUpdates_.inc();
    it = fw->tasks.end();
  }
  if (it != fw->tasks.end()) {
    TaskRecord& rec = it->second;
    bool duplicate = std::any_of(rec.task->statuses.begin(), rec.task->statuses.end(),
                                 [&](const TaskStatus& s) { return s.uuid == status.uuid; });
    if (!duplicate) {
      TaskState latest = m.latestState.value_or(status.state);
      if (!isTerminal(rec.task->state)) setState(rec, latest);
      // Kept without its data, as Mesos: it may be large; the scheduler has it.
      std::string data = std::move(status.data);
      status.data.clear();
      auto& statuses = rec.task.mut().statuses;
      statuses.push_back(status);
      status.data = std::move(data);
      if (statuses.size() > kMaxStatusesPerTask) statuses.erase(statuses.begin());
      if (isTerminal(rec.task->state)) release(*fw, rec, agent, /*toAllocator=*/true);
    }
    Task& task = rec.task.mut();
    task.statusUpdateState = status.state;
    task.statusUpdateUuid = status.uuid;
  }
  sendUpdate(*fw, std::move(status));
}

void TaskManager::agentLost(AgentRecord& agent, TaskState partitionAwareState, Reason reason,
                            const std::string& message) {
  auto byFramework = agent.tasks;  // removeTask edits agent.tasks
  for (const auto& [fwId, taskIds] : byFramework) {
    FrameworkRecord* fw = master_.frameworks().find(fwId);
    if (!fw) continue;
    TaskState state = fw->partitionAware() ? partitionAwareState : TaskState::TASK_LOST;
    for (const auto& id : taskIds) {
      auto it = fw->tasks.find(id);
      if (it == fw->tasks.end()) continue;
      TaskRecord& rec = it->second;
      release(*fw, rec, &agent, /*toAllocator=*/false);  // the allocator forgot the agent
      if (!isTerminal(rec.task->state)) {
        TaskStatus s = masterStatus(*rec.task, state, reason, message);
        setState(rec, state);
        rec.task.mut().statuses.push_back(s);
        sendUpdate(*fw, s);
      }
      removeTask(*fw, id);
    }
  }
  std::vector<FrameworkID> withExecutors;
  for (const auto& [fwId, _] : agent.executors) withExecutors.push_back(fwId);
  for (const auto& fwId : withExecutors) releaseExecutors(agent, fwId, /*toAllocator=*/false);
  agent.tasks.clear();
  agent.used.clear();
  agent.executors.clear();
}

void TaskManager::reconcileAgentTasks(AgentRecord& agent, const std::vector<Task>& reported,
                                      const std::vector<ExecutorInfo>& executors) {
  // Executors: those it no longer runs give their resources back; those we
  // did not know (their launch raced the reconnect) are charged.
  std::set<std::pair<FrameworkID, ExecutorID>> running;
  for (const auto& e : executors) running.emplace(e.frameworkId, e.executorId);
  std::vector<std::pair<FrameworkID, ExecutorID>> gone;
  for (const auto& [fwId, byId] : agent.executors) {
    for (const auto& [exId, _] : byId) {
      if (!running.count({fwId, exId})) gone.emplace_back(fwId, exId);
    }
  }
  for (const auto& [fwId, exId] : gone) releaseExecutor(agent, fwId, exId, /*toAllocator=*/true);
  for (const auto& e : executors) {
    FrameworkRecord* fw = master_.frameworks().find(e.frameworkId);
    if (!fw || agentHasExecutor(agent, e.frameworkId, e.executorId)) continue;
    chargeExecutor(agent, e.frameworkId, e);
    if (!e.resources.empty()) {
      master_.allocator().updateAllocation(fw->id, agent.id, Resources(), e.resources);
    }
  }
  shutdownCompletedFrameworks(agent, reported, executors);
  std::set<std::pair<FrameworkID, TaskID>> known;
  for (const auto& t : reported) known.emplace(t.frameworkId, t.taskId);
  auto byFramework = agent.tasks;
  for (const auto& [fwId, taskIds] : byFramework) {
    FrameworkRecord* fw = master_.frameworks().find(fwId);
    if (!fw) continue;
    for (const auto& id : taskIds) {
      if (known.count({fwId, id})) continue;
      auto it = fw->tasks.find(id);
      if (it == fw->tasks.end() || isTerminal(it->second.task->state)) continue;
      // The agent never got (or lost) this launch.
      TaskState state = fw->partitionAware() ? TaskState::TASK_DROPPED : TaskState::TASK_LOST;
      TaskStatus s = masterStatus(*it->second.task, state, Reason::REASON_RECONCILIATION,
                                  "Task is unknown to the agent");
      setState(it->second, state);
      sendUpdate(*fw, s);
      removeTask(*fw, id);
    }
  }
  for (const auto& t : reported) {
    FrameworkRecord* fw = master_.frameworks().find(t.frameworkId);
    if (fw && !fw->tasks.count(t.taskId)) {
      addReportedTask(*fw, agent, t);
      if (!isTerminal(t.state)) {
        master_.allocator().updateAllocation(fw->id, agent.id, Resources(), t.resources);
      }
    }
  }
}

void TaskManager::addAgentTasks(AgentRecord& agent, std::vector<Task>&& tasks,
                                const std::vector<ExecutorInfo>& executors,
                                bool wasUnreachable) {
  shutdownCompletedFrameworks(agent, tasks, executors);
  std::set<FrameworkID> shutdown;
  for (auto& t : tasks) {
    FrameworkRecord* fw = master_.frameworks().find(t.frameworkId);
    if (!fw) continue;
    if (wasUnreachable && !fw->partitionAware()) {
      // Its tasks were reported lost; Mesos kills them when the agent
      // comes back.
      shutdown.insert(fw->id);
      continue;
    }
    addReportedTask(*fw, agent, std::move(t));
  }
  for (const auto& e : executors) {
    if (shutdown.count(e.frameworkId)) continue;
    if (master_.frameworks().find(e.frameworkId)) chargeExecutor(agent, e.frameworkId, e);
  }
  for (const auto& fwId : shutdown) {
    LOG(INFO) << "Shutting down framework " << fwId << " on agent " << agent.id
              << ": it is not partition-aware and its tasks were reported lost";
    master_.agents().send(agent, wire::ShutdownFrameworkMessage{agent.id, fwId});
  }
}

void TaskManager::shutdownCompletedFrameworks(AgentRecord& agent, const std::vector<Task>& tasks,
                                              const std::vector<ExecutorInfo>& executors) {
  std::set<FrameworkID> done;
  auto check = [&](const FrameworkID& fwId) {
    if (done.count(fwId) || !master_.frameworks().isCompleted(fwId)) return;
    done.insert(fwId);
    // Torn down while this agent was away (unreachable, or its shutdown
    // message lost): what it still runs for the framework must stop.
    LOG(INFO) << "Shutting down framework " << fwId << " on agent " << agent.id
              << ": it was torn down while the agent was away";
    master_.agents().send(agent, wire::ShutdownFrameworkMessage{agent.id, fwId});
  };
  for (const auto& t : tasks) {
    if (!isTerminal(t.state)) check(t.frameworkId);
  }
  for (const auto& e : executors) check(e.frameworkId);
}

void TaskManager::frameworkRemoved(FrameworkRecord& fw) {
  std::set<AgentID> agents;
  std::vector<TaskID> ids;
  for (auto& [id, rec] : fw.tasks) ids.push_back(id);
  for (const auto& id : ids) {
    TaskRecord& rec = fw.tasks.at(id);
    agents.insert(rec.task->agentId);
    if (!isTerminal(rec.task->state)) {
      rec.task.mut().statuses.push_back(masterStatus(*rec.task, TaskState::TASK_KILLED,
                                               Reason::REASON_FRAMEWORK_REMOVED,
                                               "Framework removed"));
      setState(rec, TaskState::TASK_KILLED);
    }
    removeTask(fw, id);
  }
  for (const auto& [agentId, a] : master_.agents().all()) {
    if (a.executors.count(fw.id)) agents.insert(agentId);
  }
  for (const auto& agentId : agents) {
    AgentRecord* agent = master_.agents().find(agentId);
    if (!agent) continue;
    // (The allocator forgets the framework next, with all it holds.)
    releaseExecutors(*agent, fw.id, /*toAllocator=*/false);
    if (agent->state == AgentState::kRegistered) {
      master_.agents().send(*agent, wire::ShutdownFrameworkMessage{agent->id, fw.id});
    }
  }
}

}  // namespace tutti::master
