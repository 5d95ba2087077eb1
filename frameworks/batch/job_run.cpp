#include "frameworks/batch/job_run.hpp"

#include <utility>

#include <algorithm>

namespace tutti::batch {
namespace {

// Ends that say nothing about the task itself: retried without counting,
// up to this many times.
constexpr int kMaxInfraFailures = 10;
constexpr size_t kSlowest = 5;

bool isInfraFailure(TaskState s) {
  return s == TaskState::TASK_LOST || s == TaskState::TASK_DROPPED ||
         s == TaskState::TASK_GONE || s == TaskState::TASK_GONE_BY_OPERATOR ||
         s == TaskState::TASK_UNKNOWN;
}

double secondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

const char* toString(JobStatus status) {
  switch (status) {
    case JobStatus::kRunning: return "RUNNING";
    case JobStatus::kSucceeded: return "SUCCEEDED";
    case JobStatus::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

JobRun::JobRun(Job job, Clock::time_point now) : job_(std::move(job)), start_(now) {
  stages_.resize(job_.stages.size());
  for (size_t s = 0; s < job_.stages.size(); ++s) {
    firstTask_.push_back(tasks_.size());
    for (int i = 0; i < job_.stages[s].count; ++i) {
      TaskRun t;
      t.stage = s;
      t.index = i;
      t.readyAt = now;
      tasks_.push_back(t);
    }
  }
}

std::string JobRun::taskId(const TaskRun& t) const {
  return job_.stages[t.stage].name + "." + std::to_string(t.index) + "." +
         std::to_string(t.attempt);
}

JobRun::TaskRun* JobRun::findTask(const TaskID& id, int* attempt) {
  return const_cast<TaskRun*>(std::as_const(*this).findTask(id, attempt));
}

const JobRun::TaskRun* JobRun::findTask(const TaskID& id, int* attempt) const {
  const std::string& v = id.value;
  size_t b = v.rfind('.');
  if (b == std::string::npos || b == 0) return nullptr;
  size_t a = v.rfind('.', b - 1);
  if (a == std::string::npos) return nullptr;
  auto stage = job_.find(v.substr(0, a));
  if (!stage) return nullptr;
  try {
    size_t used = 0;
    int index = std::stoi(v.substr(a + 1, b - a - 1), &used);
    if (used != b - a - 1 || index < 0 || index >= job_.stages[*stage].count) return nullptr;
    *attempt = std::stoi(v.substr(b + 1), &used);
    if (used != v.size() - b - 1) return nullptr;
    return &tasks_[firstTask_[*stage] + static_cast<size_t>(index)];
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool JobRun::unlocked(size_t stage) const {
  for (const auto& dep : job_.stages[stage].dependsOn) {
    size_t d = *job_.find(dep);
    if (stages_[d].succeeded < job_.stages[d].count) return false;
  }
  return true;
}

bool JobRun::fits(const TaskRun& t, const Offer& offer, const std::map<std::string, int>& used,
                  std::vector<std::string>* keys) const {
  keys->clear();
  for (const auto& c : job_.stages[t.stage].constraints) {
    if (!c.matches(offer.hostname, offer.attributes)) return false;
    if (c.op == Constraint::Op::kUnique) {
      std::string key = c.field + "=" + c.fieldValue(offer.hostname, offer.attributes);
      auto it = used.find(key);
      if (it != used.end() && it->second > 0) return false;
      keys->push_back(key);
    }
  }
  return true;
}

Placement JobRun::place(const Offer& offer, Clock::time_point now) {
  Placement out;
  if (status_ != JobStatus::kRunning) return out;
  Resources left = offer.resources;
  for (size_t s : job_.order) {
    const Stage& stage = job_.stages[s];
    if (!unlocked(s)) continue;
    StageRun& sr = stages_[s];
    Resources wanted = stage.resources.allocate(offer.allocationRole);
    for (int i = 0; i < stage.count; ++i) {
      if (stage.parallelism > 0 && sr.launched >= stage.parallelism) break;
      TaskRun& t = tasks_[firstTask_[s] + static_cast<size_t>(i)];
      if (t.phase != Phase::kWaiting || t.readyAt > now) continue;
      std::vector<std::string> keys;
      if (!left.contains(wanted) || !fits(t, offer, sr.uniqueUsed, &keys)) {
        out.unfit = true;
        continue;
      }
      left -= wanted;
      ++t.attempt;
      if (t.failures + t.infraFailures > 0) ++retries_;
      t.phase = Phase::kLaunched;
      t.launchedAt = now;
      t.agentId = offer.agentId;
      t.timedOut = false;
      t.uniqueKeys = keys;
      for (const auto& k : keys) ++sr.uniqueUsed[k];
      ++sr.launched;

      TaskInfo task;
      task.name = job_.name + "/" + stage.name;
      task.taskId = TaskID(taskId(t));
      task.agentId = offer.agentId;
      task.resources = stage.resources;
      CommandInfo cmd;
      cmd.shell = !stage.command.empty();
      cmd.value = stage.command;
      if (!stage.user.empty()) cmd.user = stage.user;
      cmd.uris = stage.fetch;
      cmd.environment = stage.env;
      cmd.environment.push_back({"TUTTI_TASK_INDEX", std::to_string(t.index)});
      cmd.environment.push_back({"TUTTI_TASK_COUNT", std::to_string(stage.count)});
      cmd.environment.push_back({"TUTTI_STAGE", stage.name});
      cmd.environment.push_back({"TUTTI_ATTEMPT", std::to_string(t.attempt)});
      task.command = cmd;
      if (!stage.image.empty()) {
        task.container = ContainerInfo{Image{Image::Type::DOCKER, stage.image, true}, {}};
      }
      out.tasks.push_back(std::move(task));
    }
  }
  return out;
}

void JobRun::endAttempt(TaskRun& t) {
  StageRun& sr = stages_[t.stage];
  --sr.launched;
  for (const auto& k : t.uniqueKeys) --sr.uniqueUsed[k];
  t.uniqueKeys.clear();
}

void JobRun::fail(TaskRun& t, const TaskStatus& status, Clock::time_point now) {
  const Stage& stage = job_.stages[t.stage];
  ++stages_[t.stage].failedAttempts;
  t.phase = Phase::kWaiting;
  if (!t.timedOut && isInfraFailure(status.state) && t.infraFailures < kMaxInfraFailures) {
    ++t.infraFailures;
    t.readyAt = now;
    return;
  }
  ++t.failures;
  if (t.failures <= stage.retries) {
    t.readyAt = now + stage.backoffBefore(t.failures);
    return;
  }
  t.phase = Phase::kFailed;
  if (status_ == JobStatus::kRunning) {
    status_ = JobStatus::kFailed;
    endedAt_ = now;
    std::string why = t.timedOut ? "timed out" : toString(status.state);
    if (!status.message.empty()) why += ": " + status.message;
    message_ = "task " + status.taskId.value + " failed after " + std::to_string(t.failures) +
               " attempt(s) (" + why + ")";
  }
}

std::optional<std::string> JobRun::onStatus(const TaskStatus& status, Clock::time_point now) {
  int attempt = 0;
  TaskRun* t = findTask(status.taskId, &attempt);
  if (!t || attempt != t->attempt || t->phase != Phase::kLaunched) return std::nullopt;
  if (!isTerminal(status.state)) return std::nullopt;
  endAttempt(*t);
  if (status.state != TaskState::TASK_FINISHED) {
    fail(*t, status, now);
    return std::nullopt;
  }
  t->phase = Phase::kSucceeded;
  ++stages_[t->stage].succeeded;
  timings_.push_back({status.taskId.value, secondsBetween(t->launchedAt, now)});
  std::sort(timings_.begin(), timings_.end(),
            [](const TaskTiming& a, const TaskTiming& b) { return a.seconds > b.seconds; });
  if (timings_.size() > kSlowest) timings_.resize(kSlowest);
  if (status_ == JobStatus::kRunning &&
      std::all_of(tasks_.begin(), tasks_.end(),
                  [](const TaskRun& r) { return r.phase == Phase::kSucceeded; })) {
    status_ = JobStatus::kSucceeded;
    endedAt_ = now;
  }
  return job_.stages[t->stage].name + "." + std::to_string(t->index);
}

std::vector<TaskID> JobRun::overdue(Clock::time_point now) {
  std::vector<TaskID> out;
  for (auto& t : tasks_) {
    const auto& timeout = job_.stages[t.stage].timeout;
    if (t.phase != Phase::kLaunched || t.timedOut || !timeout) continue;
    if (now - t.launchedAt >= *timeout) {
      t.timedOut = true;
      out.push_back(TaskID(taskId(t)));
    }
  }
  return out;
}

bool JobRun::hasReady(Clock::time_point now, std::optional<Clock::time_point>* nextReady) {
  if (nextReady) nextReady->reset();
  if (status_ != JobStatus::kRunning) return false;
  for (size_t s = 0; s < job_.stages.size(); ++s) {
    const Stage& stage = job_.stages[s];
    if (!unlocked(s)) continue;
    if (stage.parallelism > 0 && stages_[s].launched >= stage.parallelism) continue;
    for (int i = 0; i < stage.count; ++i) {
      const TaskRun& t = tasks_[firstTask_[s] + static_cast<size_t>(i)];
      if (t.phase != Phase::kWaiting) continue;
      if (t.readyAt <= now) return true;
      if (nextReady && (!*nextReady || t.readyAt < **nextReady)) *nextReady = t.readyAt;
    }
  }
  return false;
}

std::vector<std::pair<TaskID, AgentID>> JobRun::launched() const {
  std::vector<std::pair<TaskID, AgentID>> out;
  for (const auto& t : tasks_) {
    if (t.phase == Phase::kLaunched) out.emplace_back(TaskID(taskId(t)), t.agentId);
  }
  return out;
}

bool JobRun::isStale(const TaskID& id) const {
  int attempt = 0;
  const TaskRun* t = findTask(id, &attempt);
  return !t || attempt != t->attempt || t->phase != Phase::kLaunched;
}

void JobRun::restoreSucceeded(const std::string& key) {
  int attempt = 0;
  TaskRun* t = findTask(TaskID(key + ".0"), &attempt);
  if (!t || t->phase == Phase::kSucceeded) return;
  if (t->phase == Phase::kLaunched) endAttempt(*t);
  t->phase = Phase::kSucceeded;
  ++stages_[t->stage].succeeded;
}

void JobRun::restoreLaunched(const TaskID& id, const AgentID& agent) {
  int attempt = 0;
  TaskRun* t = findTask(id, &attempt);
  if (!t || t->phase == Phase::kSucceeded) return;
  if (t->phase == Phase::kLaunched) {
    if (attempt <= t->attempt) return;
    endAttempt(*t);
  }
  t->attempt = attempt;
  t->phase = Phase::kLaunched;
  t->launchedAt = start_;
  t->agentId = agent;
  ++stages_[t->stage].launched;
}

std::vector<std::string> JobRun::succeededKeys() const {
  std::vector<std::string> out;
  for (const auto& t : tasks_) {
    if (t.phase == Phase::kSucceeded) {
      out.push_back(job_.stages[t.stage].name + "." + std::to_string(t.index));
    }
  }
  return out;
}

Progress JobRun::progress(Clock::time_point now) const {
  Progress p;
  p.job = job_.name;
  p.status = status_;
  p.message = message_;
  p.elapsedSeconds = secondsBetween(start_, endedAt_.value_or(now));
  for (size_t s : job_.order) {
    StageProgress sp;
    sp.name = job_.stages[s].name;
    sp.total = job_.stages[s].count;
    sp.done = stages_[s].succeeded;
    sp.running = stages_[s].launched;
    sp.failed = stages_[s].failedAttempts;
    sp.pending = sp.total - sp.done - sp.running;
    for (int i = 0; i < sp.total; ++i) {
      if (tasks_[firstTask_[s] + static_cast<size_t>(i)].phase == Phase::kFailed) --sp.pending;
    }
    p.stages.push_back(sp);
  }
  p.slowest = timings_;
  p.retries = retries_;
  return p;
}

}  // namespace tutti::batch
