#include "frameworks/execute/execute_scheduler.hpp"

#include <sys/wait.h>

namespace tutti::execute {

ExecuteScheduler::ExecuteScheduler(ExecuteOptions options, std::ostream& out)
    : options_(std::move(options)), out_(out) {
  for (int i = 0; i < options_.instances; ++i) {
    TaskRecord r;
    r.id = TaskID(options_.instances == 1 ? options_.name
                                          : options_.name + "-" + std::to_string(i));
    index_[r.id] = tasks_.size();
    tasks_.push_back(r);
  }
}

void ExecuteScheduler::registered(SchedulerDriver*, const FrameworkID& id,
                                  const MasterInfo& master) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ << "Subscribed with ID " << id << " to master " << master.id << " at "
       << master.messageAddress << std::endl;
}

void ExecuteScheduler::reregistered(SchedulerDriver* driver, const MasterInfo& master) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    out_ << "Re-subscribed to master " << master.id << std::endl;
  }
  driver->reconcileTasks({});
}

void ExecuteScheduler::disconnected(SchedulerDriver*) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ << "Disconnected from the master; re-subscribing" << std::endl;
}

void ExecuteScheduler::resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& offer : offers) {
    Resources left = offer.resources;
    std::vector<TaskInfo> launch;
    while (!killRequested_ && nextToLaunch_ < tasks_.size()) {
      auto found = left.find(options_.resources.allocate(offer.allocationRole));
      if (!found) break;
      Resources wanted = *found;
      TaskRecord& rec = tasks_[nextToLaunch_++];
      TaskInfo task;
      task.name = options_.name;
      task.taskId = rec.id;
      task.agentId = offer.agentId;
      task.resources = wanted.unallocate();
      CommandInfo cmd;
      cmd.shell = !options_.command.empty();
      cmd.value = options_.command;
      cmd.environment = options_.env;
      task.command = cmd;
      if (!options_.image.empty()) {
        task.container = ContainerInfo{Image{Image::Type::DOCKER, options_.image, true}, {}};
      }
      if (options_.killGracePeriod) task.killPolicy = KillPolicy{*options_.killGracePeriod};
      rec.launched = true;
      left -= wanted;
      launch.push_back(std::move(task));
    }
    if (options_.group && !launch.empty()) {
      // The whole group, with its executor, fits this offer or none of it goes.
      ExecutorInfo executor;
      executor.executorId = ExecutorID(options_.name);
      executor.name = options_.name;
      auto executorResources = left.find(Resources::parse("cpus:0.1;mem:32")->allocate(offer.allocationRole));
      if (nextToLaunch_ == tasks_.size() && executorResources) {
        executor.resources = executorResources->unallocate();
        driver->acceptOffers({offer.id}, {Offer::Operation::launchGroup(executor, launch)},
                             Filters{1.0});
        continue;
      }
      for (size_t i = 0; i < launch.size(); ++i) tasks_[--nextToLaunch_].launched = false;
      launch.clear();
    }
    if (launch.empty()) {
      if (!killRequested_ && nextToLaunch_ < tasks_.size() && ++unfitOffers_ == 3) {
        out_ << "Waiting for an offer that holds " << options_.resources
             << (options_.group ? " for each of the group's " + std::to_string(tasks_.size()) +
                                      " tasks, plus cpus:0.1;mem:32 for its executor"
                                : std::string())
             << " (offers so far, e.g. " << offer.resources.unallocate() << ", are too small)"
             << std::endl;
      }
      driver->declineOffer(offer.id, Filters{1.0});
      continue;
    }
    driver->launchTasks({offer.id}, launch, Filters{1.0});
  }
  if (!suppressed_ && (nextToLaunch_ >= tasks_.size() || killRequested_)) {
    suppressed_ = true;
    driver->suppressOffers();
  }
}

void ExecuteScheduler::print(const TaskStatus& status) {
  out_ << "Task '" << status.taskId << "' is in " << toString(status.state);
  if (status.reason) out_ << " (" << toString(*status.reason) << ")";
  if (!status.message.empty()) out_ << ": " << status.message;
  if (!status.agentId.empty() && status.state == TaskState::TASK_RUNNING) {
    out_ << " on agent " << status.agentId;
  }
  out_ << std::endl;
}

void ExecuteScheduler::statusUpdate(SchedulerDriver*, const TaskStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(status.taskId);
  if (it == index_.end()) return;
  TaskRecord& rec = tasks_[it->second];
  if (rec.state && isTerminal(*rec.state)) return;  // a duplicate after the end
  if (rec.state == status.state) return;              // at-least-once: already shown
  rec.state = status.state;
  if (status.exitStatus) rec.exitStatus = status.exitStatus;
  print(status);
  if (allEnded()) cv_.notify_all();
}

void ExecuteScheduler::agentLost(SchedulerDriver*, const AgentID& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ << "Agent " << agent << " is lost" << std::endl;
}

void ExecuteScheduler::error(SchedulerDriver*, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  out_ << "Framework error: " << message << std::endl;
  aborted_ = true;
  cv_.notify_all();
}

void ExecuteScheduler::killAll(SchedulerDriver* driver) {
  std::lock_guard<std::mutex> lock(mu_);
  killRequested_ = true;
  for (auto& rec : tasks_) {
    if (!rec.launched) {
      rec.state = TaskState::TASK_KILLED;  // never launched: nothing to kill
      continue;
    }
    if (!rec.state || !isTerminal(*rec.state)) driver->killTask(rec.id);
  }
  if (allEnded()) cv_.notify_all();
}

bool ExecuteScheduler::allEnded() const {
  for (const auto& r : tasks_) {
    if (!r.state || !isTerminal(*r.state)) return false;
  }
  return true;
}

bool ExecuteScheduler::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return aborted_ || allEnded();
}

void ExecuteScheduler::waitUntilDone() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return aborted_ || allEnded(); });
}

int ExecuteScheduler::exitCode() {
  std::lock_guard<std::mutex> lock(mu_);
  if (aborted_) return 1;
  if (tasks_.size() == 1) {
    const TaskRecord& r = tasks_[0];
    if (r.state == TaskState::TASK_FINISHED) return 0;
    if (r.exitStatus) {
      int st = *r.exitStatus;
      if (WIFEXITED(st)) return WEXITSTATUS(st) == 0 ? 1 : WEXITSTATUS(st);
      if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    }
    return 1;
  }
  for (const auto& r : tasks_) {
    if (r.state != TaskState::TASK_FINISHED) return 1;
  }
  return 0;
}

}  // namespace tutti::execute
