// Checkpoint: what tutti-batch keeps in --state_dir so that a restarted run
// resumes the same job: the FrameworkID, the tasks that succeeded ("stage.
// index") and the attempts launched and not yet ended (task id -> agent id,
// so that reconciliation can name the agent). Written
// as one JSON file (<state_dir>/state.json) replaced atomically, so a crash
// leaves the old or the new content.
//
// Value type; save()/load() do blocking file I/O on the caller's thread.
// Errors: IoError when the disk fails, InvalidArgument for a corrupted file.
#pragma once

#include <map>
#include <set>
#include <string>

#include "tutti/status.hpp"

namespace tutti::batch {

struct Checkpoint {
  std::string job;          // the job's name: a state_dir belongs to one job
  std::string frameworkId;  // empty before the first subscription
  std::set<std::string> succeeded;
  std::map<std::string, std::string> launched;  // task id -> agent id

  Status save(const std::string& dir) const;
  // An empty Checkpoint when the directory holds none yet.
  static Result<Checkpoint> load(const std::string& dir);
};

}  // namespace tutti::batch
