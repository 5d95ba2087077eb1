// Rendering a job's Progress: as JSON (for --json lines and the --port
// status page), as a live bar per stage on a terminal, or as plain lines
// when stdout is not one. ProgressPrinter prints only what changed.
//
// ProgressPrinter is not thread-safe: one thread (tutti-batch's main loop)
// calls it. toJson() is a pure function.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "frameworks/batch/job_run.hpp"

namespace tutti::batch {

nlohmann::json toJson(const Progress& progress);

class ProgressPrinter {
 public:
  enum class Mode { kTerminal, kPlain, kJson };
  ProgressPrinter(std::ostream& out, Mode mode) : out_(out), mode_(mode) {}

  // Shows `progress` if it differs from what was shown last.
  void update(const Progress& progress);
  // The last update, then the summary (wall time, slowest tasks, retries).
  void finish(const Progress& progress);

 private:
  static std::string stageLine(const StageProgress& s, bool bar);

  std::ostream& out_;
  Mode mode_;
  std::string last_;  // the JSON of what was shown last, without elapsed time
  std::vector<std::string> lastStages_;
  int drawnLines_ = 0;
};

}  // namespace tutti::batch
