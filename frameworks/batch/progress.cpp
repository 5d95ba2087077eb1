#include "frameworks/batch/progress.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

namespace tutti::batch {
namespace {
constexpr int kBarWidth = 30;

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fs", s);
  return buf;
}
}  // namespace

nlohmann::json toJson(const Progress& p) {
  nlohmann::json j;
  j["job"] = p.job;
  j["status"] = toString(p.status);
  if (!p.message.empty()) j["message"] = p.message;
  j["elapsed_seconds"] = p.elapsedSeconds;
  j["retries"] = p.retries;
  j["stages"] = nlohmann::json::array();
  for (const auto& s : p.stages) {
    j["stages"].push_back({{"name", s.name},
                           {"total", s.total},
                           {"done", s.done},
                           {"running", s.running},
                           {"pending", s.pending},
                           {"failed", s.failed}});
  }
  j["slowest"] = nlohmann::json::array();
  for (const auto& t : p.slowest) {
    j["slowest"].push_back({{"task_id", t.taskId}, {"seconds", t.seconds}});
  }
  return j;
}

std::string ProgressPrinter::stageLine(const StageProgress& s, bool bar) {
  std::ostringstream o;
  o << std::left << std::setw(16) << s.name << " ";
  if (bar) {
    int filled = s.total ? s.done * kBarWidth / s.total : 0;
    int running = s.total ? s.running * kBarWidth / s.total : 0;
    o << "[" << std::string(filled, '#') << std::string(running, '>')
      << std::string(kBarWidth - filled - running, '.') << "] ";
  }
  o << s.done << "/" << s.total << " done, " << s.running << " running, " << s.failed
    << " failed, " << s.pending << " pending";
  return o.str();
}

void ProgressPrinter::update(const Progress& p) {
  nlohmann::json j = toJson(p);
  j.erase("elapsed_seconds");
  std::string key = j.dump();
  bool changed = key != last_;
  last_ = key;
  switch (mode_) {
    case Mode::kJson:
      if (changed) {
        nlohmann::json line = toJson(p);
        line["type"] = "progress";
        out_ << line.dump() << std::endl;
      }
      return;
    case Mode::kPlain:
      if (lastStages_.size() != p.stages.size()) lastStages_.assign(p.stages.size(), "");
      for (size_t i = 0; i < p.stages.size(); ++i) {
        std::string line = stageLine(p.stages[i], false);
        if (line != lastStages_[i]) out_ << "[" << seconds(p.elapsedSeconds) << "] " << line
                                         << std::endl;
        lastStages_[i] = line;
      }
      return;
    case Mode::kTerminal:
      // Redraw every stage line in place (also when only the clock moved).
      if (drawnLines_ > 0) out_ << "\033[" << drawnLines_ << "A";
      out_ << "\r\033[K" << p.job << " " << toString(p.status) << " "
           << seconds(p.elapsedSeconds) << "\n";
      for (const auto& s : p.stages) out_ << "\r\033[K  " << stageLine(s, true) << "\n";
      out_ << std::flush;
      drawnLines_ = static_cast<int>(p.stages.size()) + 1;
      return;
  }
}

void ProgressPrinter::finish(const Progress& p) {
  update(p);
  if (mode_ == Mode::kJson) {
    nlohmann::json line = toJson(p);
    line["type"] = "summary";
    out_ << line.dump() << std::endl;
    return;
  }
  int tasks = 0;
  for (const auto& s : p.stages) tasks += s.total;
  out_ << "Job " << p.job << " " << toString(p.status) << " in " << seconds(p.elapsedSeconds)
       << ": " << tasks << " tasks, " << p.retries << " retries" << std::endl;
  if (!p.message.empty()) out_ << "  " << p.message << std::endl;
  if (!p.slowest.empty()) {
    out_ << "  slowest tasks:";
    for (const auto& t : p.slowest) out_ << " " << t.taskId << " " << seconds(t.seconds);
    out_ << std::endl;
  }
}

}  // namespace tutti::batch
