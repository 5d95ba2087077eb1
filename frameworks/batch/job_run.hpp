// JobRun: the progress of one job — which task attempt is waiting, launched,
// succeeded or failed — and the decisions that follow from it: which tasks
// an offer can take (packing, constraints, parallelism, stage dependencies),
// when a failed task is retried (exponential backoff), which attempts are
// over their timeout, and whether the job succeeded or failed.
//
// Pure logic: no driver, no I/O, no threads, no clock of its own (callers
// pass `now`). Not thread-safe; BatchScheduler owns one under its lock.
//
// Task ids are "<stage>.<index>.<attempt>" so that an update (also one
// answered by reconciliation after a restart) maps back to its task.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "frameworks/batch/job.hpp"

namespace tutti::batch {

using Clock = std::chrono::steady_clock;

enum class JobStatus { kRunning, kSucceeded, kFailed };
const char* toString(JobStatus status);

struct StageProgress {
  std::string name;
  int total = 0;
  int done = 0;     // succeeded
  int running = 0;  // launched, not ended
  int pending = 0;  // not launched yet (blocked, ready or in backoff)
  int failed = 0;   // failed attempts, retried or not
};

struct TaskTiming {
  std::string taskId;
  double seconds = 0;
};

struct Progress {
  std::string job;
  JobStatus status = JobStatus::kRunning;
  std::string message;  // why the job failed
  double elapsedSeconds = 0;
  std::vector<StageProgress> stages;  // in the job's order
  std::vector<TaskTiming> slowest;    // succeeded attempts, slowest first (up to 5)
  int retries = 0;                    // attempts launched after a failure
};

// What launchable work an offer left behind.
struct Placement {
  std::vector<TaskInfo> tasks;  // to launch on the offer, all on its agent
  bool unfit = false;           // some ready task did not fit (size or constraints)
};

class JobRun {
 public:
  JobRun(Job job, Clock::time_point now);

  const Job& job() const { return job_; }
  JobStatus status() const { return status_; }
  const std::string& failureMessage() const { return message_; }

  // Packs as many ready tasks as fit into `offer`, marking them launched.
  Placement place(const Offer& offer, Clock::time_point now);

  // Applies an update; returns the key ("stage.index") of a task that has
  // just succeeded, for checkpointing. Updates of old attempts are ignored.
  std::optional<std::string> onStatus(const TaskStatus& status, Clock::time_point now);

  // Launched attempts over their stage's timeout, each returned once.
  std::vector<TaskID> overdue(Clock::time_point now);

  // Whether some task could be launched now; when none is but one will be
  // after a backoff, `nextReady` is set to when.
  bool hasReady(Clock::time_point now, std::optional<Clock::time_point>* nextReady = nullptr);
  // Launched attempts and the agent each went to (empty when unknown), for
  // reconciliation.
  std::vector<std::pair<TaskID, AgentID>> launched() const;
  // Whether `id` names an attempt this run no longer expects updates from
  // (an older attempt, or a task of another job): its tasks should be killed.
  bool isStale(const TaskID& id) const;

  // Restart: a task that succeeded before (key "stage.index").
  void restoreSucceeded(const std::string& key);
  // Restart: an attempt that may still run; it is not relaunched until an
  // update (e.g. a reconciliation answer) says how it ended.
  void restoreLaunched(const TaskID& id, const AgentID& agent);

  // Keys of every succeeded task and ids of every launched attempt.
  std::vector<std::string> succeededKeys() const;

  Progress progress(Clock::time_point now) const;

 private:
  enum class Phase { kWaiting, kLaunched, kSucceeded, kFailed };
  struct TaskRun {
    size_t stage = 0;
    int index = 0;
    int attempt = 0;  // of the latest launch; next launch uses attempt + 1
    Phase phase = Phase::kWaiting;
    int failures = 0;       // counted against the stage's retries
    int infraFailures = 0;  // lost agents and the like: retried at once
    Clock::time_point readyAt{};
    Clock::time_point launchedAt{};
    AgentID agentId;  // of the latest launch
    bool timedOut = false;
    std::vector<std::string> uniqueKeys;  // UNIQUE constraint values held
  };
  struct StageRun {
    int succeeded = 0;
    int launched = 0;
    int failedAttempts = 0;
    std::map<std::string, int> uniqueUsed;  // "field=value" -> launched tasks
  };

  std::string taskId(const TaskRun& t) const;
  TaskRun* findTask(const TaskID& id, int* attempt);
  const TaskRun* findTask(const TaskID& id, int* attempt) const;
  bool unlocked(size_t stage) const;
  bool fits(const TaskRun& t, const Offer& offer, const std::map<std::string, int>& used,
            std::vector<std::string>* keys) const;
  void endAttempt(TaskRun& t);
  void fail(TaskRun& t, const TaskStatus& status, Clock::time_point now);

  Job job_;
  Clock::time_point start_;
  std::vector<TaskRun> tasks_;
  std::vector<size_t> firstTask_;  // per stage: index of its first task in tasks_
  std::vector<StageRun> stages_;
  std::vector<TaskTiming> timings_;
  JobStatus status_ = JobStatus::kRunning;
  std::string message_;
  std::optional<Clock::time_point> endedAt_;
  int retries_ = 0;
};

}  // namespace tutti::batch
