// The tutti-batch job model: a job is a DAG of named stages; a stage expands
// into `count` tasks that run the same command (or image) with their own
// TUTTI_TASK_INDEX. parseJob() turns the JSON job file into a validated Job:
// a malformed field, an unknown or cyclic dependency, bad resources or a bad
// constraint give an InvalidArgument whose message names the stage and the
// field, before anything runs. See docs/batch.md for the format.
//
// Value types, no threads, no I/O except loadJobFile().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/pattern.hpp"
#include "tutti/types.hpp"

namespace tutti::batch {

// A placement constraint, after Marathon's: ["rack", "EQUALS", "r1"],
// ["rack", "LIKE", "r[12]"], ["hostname", "UNIQUE"]. The field is an agent
// attribute, or "hostname" for the offer's hostname.
struct Constraint {
  enum class Op { kEquals, kLike, kUnique };
  std::string field;
  Op op = Op::kEquals;
  std::string value;  // EQUALS and LIKE
  std::optional<Pattern> regex;  // LIKE: `value` matched against the whole field

  // Whether an offer with this hostname and these attributes may run a task
  // (UNIQUE always holds here: it is a property of a set of placements).
  bool matches(const std::string& hostname, const Attributes& attributes) const;
  // The value of `field` for an offer (empty when the agent lacks it).
  std::string fieldValue(const std::string& hostname, const Attributes& attributes) const;
};

struct Stage {
  std::string name;                    // [A-Za-z0-9_-]+, unique in the job
  std::string command;                 // shell command; may be empty with an image
  std::string image;                   // Docker image; empty: a plain process
  std::string user;                    // the tasks' user; empty: the framework's
  std::vector<CommandURI> fetch;       // fetched into each task's sandbox
  int count = 1;                       // tasks in the stage, index 0..count-1
  Resources resources;                 // per task (default cpus:0.1;mem:32)
  std::vector<EnvironmentVariable> env;
  std::vector<std::string> dependsOn;  // stages that must all succeed first
  int retries = 0;                     // extra attempts after a failure
  std::chrono::milliseconds backoff{1000};     // delay before the first retry
  double backoffFactor = 2.0;                  // multiplies the delay each retry
  std::chrono::milliseconds maxBackoff{60000};  // cap on the delay
  std::optional<std::chrono::milliseconds> timeout;  // per attempt; killed after
  int parallelism = 0;                 // max tasks of the stage at once; 0: no cap
  std::vector<Constraint> constraints;

  // The delay before attempt `attempt` (1 = first retry).
  std::chrono::milliseconds backoffBefore(int attempt) const;
};

struct Job {
  std::string name;
  std::vector<Stage> stages;  // in file order
  std::vector<size_t> order;  // a topological order of `stages` (indices)

  // The index of the stage named `name`, if any.
  std::optional<size_t> find(const std::string& name) const;
  size_t totalTasks() const;
};

// Parses and validates a job from JSON text.
Result<Job> parseJob(const std::string& text);
// Reads then parses; errors name the file.
Result<Job> loadJobFile(const std::string& path);

}  // namespace tutti::batch
