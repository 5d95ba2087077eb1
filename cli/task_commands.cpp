#include <algorithm>
#include <cstdint>

#include "cli/commands.hpp"
#include "cli/table.hpp"
#include "common/http.hpp"
#include "common/json.hpp"

namespace tutti::cli {

namespace {
using json::Json;

std::string str(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool isTerminal(const std::string& state) {
  return state == "TASK_FINISHED" || state == "TASK_FAILED" || state == "TASK_KILLED" ||
         state == "TASK_ERROR" || state == "TASK_LOST" || state == "TASK_DROPPED" ||
         state == "TASK_GONE" || state == "TASK_GONE_BY_OPERATOR";
}

// A task as /master/state lists it, with where it ran.
struct Found {
  Json task;
  std::string agentHost;
  int agentPort = 0;
};

// Percent-encodes a query parameter value.
std::string encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

Result<Found> findTask(MasterClient& m, const std::string& id) {
  auto state = m.getJson("/master/state");
  if (!state.ok()) return state.status();
  std::vector<Json> matches;
  for (const char* group : {"frameworks", "completed_frameworks"}) {
    for (const auto& f : (*state)[group]) {
      for (const char* list : {"tasks", "unreachable_tasks", "completed_tasks"}) {
        if (!f.contains(list)) continue;
        for (const auto& t : f[list]) {
          if (str(t, "id") == id) matches.push_back(t);
        }
      }
    }
  }
  if (matches.empty()) return Status::NotFound("No task '" + id + "' is known to the master");
  // Task ids are unique per framework; prefer a live one, then the newest.
  auto live = std::find_if(matches.begin(), matches.end(),
                           [](const Json& t) { return !isTerminal(str(t, "state")); });
  Found found;
  found.task = live != matches.end() ? *live : matches.back();
  std::string agentId = str(found.task, "slave_id");
  for (const auto& a : (*state)["slaves"]) {
    if (str(a, "id") != agentId) continue;
    found.agentHost = str(a, "hostname");
    found.agentPort = a.value("port", 0);
  }
  if (found.agentPort == 0) {
    return Status::NotFound("Task '" + id + "' ran on agent " + agentId +
                            ", which is not registered now: its sandbox cannot be read");
  }
  return found;
}
}  // namespace

Status taskList(MasterClient& m, const CommandLine& c, std::ostream& out) {
  auto tasks = m.getJson("/master/tasks");
  if (!tasks.ok()) return tasks.status();
  if (c.json) {
    out << tasks->dump(2) << "\n";
    return Status::OK();
  }
  auto state = m.getJson("/master/slaves");
  std::map<std::string, std::string> hostOf;
  if (state.ok()) {
    for (const char* group : {"slaves", "recovered_slaves", "unreachable_slaves"}) {
      for (const auto& a : (*state)[group]) hostOf[str(a, "id")] = str(a, "hostname");
    }
  }
  Table t({"ID", "NAME", "STATE", "FRAMEWORK", "AGENT"});
  for (const auto& task : (*tasks)["tasks"]) {
    std::string st = str(task, "state");
    if (isTerminal(st) && !c.has("all")) continue;
    std::string agent = str(task, "slave_id");
    auto host = hostOf.find(agent);
    t.add({str(task, "id"), str(task, "name"), st, str(task, "framework_id"),
           host != hostOf.end() && !host->second.empty() ? host->second : agent});
  }
  t.print(out);
  return Status::OK();
}

Status taskLog(MasterClient& m, const CommandLine& c, std::ostream& out) {
  if (c.args.size() != 1 || c.args[0].empty()) {
    return Status::InvalidArgument("Expected one argument: the task id");
  }
  std::string file = c.has("stderr") ? "stderr" : "stdout";
  int64_t lines = -1;
  if (auto n = c.flag("lines")) {
    char* end = nullptr;
    long long v = std::strtoll(n->c_str(), &end, 10);
    if (n->empty() || *end != '\0' || v < 0) {
      return Status::InvalidArgument("--lines must be a non-negative number");
    }
    lines = v;
  }
  auto found = findTask(m, c.args[0]);
  if (!found.ok()) return found.status();
  const Json& task = found->task;
  std::string executor = str(task, "executor_id");
  if (executor.empty()) executor = str(task, "id");
  std::string path = "/frameworks/" + str(task, "framework_id") + "/executors/" + executor +
                     "/runs/latest/" + file;
  std::string where = found->agentHost + ":" + std::to_string(found->agentPort);
  auto read = [&](int64_t offset, int64_t length) -> Result<Json> {
    std::string q = "/files/read?path=" + encode(path) + "&offset=" + std::to_string(offset);
    if (length >= 0) q += "&length=" + std::to_string(length);
    auto r = httpGet(found->agentHost, found->agentPort, q);
    if (!r.ok()) return Status::Unavailable("Cannot reach agent " + where + ": " + r.error());
    if (r->first == 404) {
      return Status::NotFound("The sandbox of task '" + c.args[0] + "' on " + where +
                              " has no " + file + " (garbage collected?)");
    }
    if (r->first != 200) {
      return Status::Unavailable("Agent " + where + " answered " + std::to_string(r->first) +
                                 " for " + path);
    }
    Json j = tutti::json::parse(r->second);
    if (!j.is_object() || !j.contains("data")) {
      return Status::Unavailable("Agent " + where + " did not answer a file chunk");
    }
    return j;
  };
  // [from, to) of the file, in as many reads as the agent's read limit needs.
  auto readRange = [&](int64_t from, int64_t to) -> Result<std::string> {
    std::string data;
    while (from < to) {
      auto chunk = read(from, to - from);
      if (!chunk.ok()) return chunk.status();
      std::string piece = (*chunk)["data"].get<std::string>();
      if (piece.empty()) break;  // the file shrank
      from += static_cast<int64_t>(piece.size());
      data += piece;
    }
    return data;
  };
  // The size first; then the whole file, or enough of its end for --lines.
  auto size = read(-1, -1);
  if (!size.ok()) return size.status();
  const int64_t end = size->value("offset", int64_t{0});
  constexpr int64_t kChunk = 1 << 20;
  if (lines < 0) {
    for (int64_t from = 0; from < end; from += kChunk) {
      auto piece = readRange(from, std::min(end, from + kChunk));
      if (!piece.ok()) return piece.status();
      out << *piece;
    }
    return Status::OK();
  }
  // Read backwards a chunk at a time until enough lines are in.
  std::string data;
  int64_t start = end;
  while (start > 0 && std::count(data.begin(), data.end(), '\n') <= lines) {
    int64_t from = std::max<int64_t>(0, start - kChunk);
    auto piece = readRange(from, start);
    if (!piece.ok()) return piece.status();
    data = *piece + data;
    start = from;
  }
  // Keep the last `lines` lines (a last line without a newline counts).
  size_t cut = data.size();
  if (cut > 0 && data.back() == '\n') --cut;
  int64_t counted = 0;
  size_t begin = 0;
  while (counted < lines) {
    size_t nl = cut == 0 ? std::string::npos : data.rfind('\n', cut - 1);
    if (nl == std::string::npos) {
      begin = 0;
      counted = lines;
      break;
    }
    ++counted;
    begin = nl + 1;
    cut = nl;
  }
  out << (lines == 0 ? std::string() : data.substr(begin));
  return Status::OK();
}

}  // namespace tutti::cli
