#include "frameworks/batch/job.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/duration.hpp"
#include "common/files.hpp"
#include "common/json.hpp"

namespace tutti::batch {
namespace {

using nlohmann::json;

constexpr int kMaxCount = 1000000;
// Every task of a job is tracked in memory from the start (~200 bytes each).
constexpr size_t kMaxTotalTasks = 1000000;
constexpr const char* kDefaultResources = "cpus:0.1;mem:32";

Status bad(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 100) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// A duration: a number of seconds, or Mesos's text form ("10secs").
Result<std::chrono::milliseconds> parseDurationField(const json& v, const std::string& where) {
  if (v.is_number()) {
    double s = v.get<double>();
    if (!(s >= 0) || s > 1e9) return bad(where, "must be a non-negative number of seconds");
    return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  }
  if (v.is_string()) {
    auto d = parseDuration(v.get<std::string>());
    if (!d.ok()) return bad(where, d.error());
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  return bad(where, "must be seconds (a number) or a duration such as \"30secs\"");
}

Result<int> parseInt(const json& v, const std::string& where, int min, int max) {
  if (!v.is_number_integer()) return bad(where, "must be an integer");
  int64_t n = v.get<int64_t>();
  if (n < min || n > max) {
    return bad(where, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return static_cast<int>(n);
}

Result<Constraint> parseConstraint(const json& v, const std::string& where) {
  if (!v.is_array() || v.size() < 2 || v.size() > 3 ||
      !std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); })) {
    return bad(where, "must be [field, \"EQUALS\"|\"LIKE\", value] or [field, \"UNIQUE\"]");
  }
  Constraint c;
  c.field = v[0].get<std::string>();
  if (c.field.empty()) return bad(where, "the field must not be empty");
  std::string op = v[1].get<std::string>();
  if (op == "UNIQUE") {
    if (v.size() != 2) return bad(where, "UNIQUE takes no value");
    c.op = Constraint::Op::kUnique;
    return c;
  }
  if (op != "EQUALS" && op != "LIKE") {
    return bad(where, "unknown operator '" + op + "' (EQUALS, LIKE or UNIQUE)");
  }
  if (v.size() != 3) return bad(where, op + " needs a value");
  c.value = v[2].get<std::string>();
  if (op == "EQUALS") {
    c.op = Constraint::Op::kEquals;
    return c;
  }
  c.op = Constraint::Op::kLike;
  auto pattern = Pattern::compile(c.value);
  if (!pattern.ok()) return bad(where, pattern.status().message());
  c.regex = *pattern;
  return c;
}

Result<Stage> parseStage(const json& v, const std::string& where) {
  static const std::set<std::string> kKnown = {
      "name",    "command",        "image",       "count",   "resources",   "env",
      "depends_on", "retries",     "backoff",     "backoff_factor", "max_backoff",
      "timeout", "parallelism",    "constraints", "user",  "fetch"};
  if (!v.is_object()) return bad(where, "must be an object");
  for (const auto& [key, _] : v.items()) {
    if (!kKnown.count(key)) return bad(where, "unknown field '" + key + "'");
  }
  Stage s;
  if (!v.contains("name") || !v["name"].is_string()) return bad(where, "needs a string 'name'");
  s.name = v["name"].get<std::string>();
  if (!validName(s.name)) {
    return bad(where, "name '" + s.name + "' must be 1-100 of [A-Za-z0-9_-]");
  }
  std::string at = "stage '" + s.name + "'";
  for (const char* key : {"command", "image"}) {
    if (!v.contains(key)) continue;
    if (!v[key].is_string()) return bad(at, std::string("'") + key + "' must be a string");
    (key == std::string("command") ? s.command : s.image) = v[key].get<std::string>();
  }
  if (s.command.empty() && s.image.empty()) return bad(at, "needs a 'command' or an 'image'");
  if (v.contains("fetch")) {
    // Marathon's shape: [{"uri", "executable", "extract", "cache", "destPath"}].
    const json& f = v["fetch"];
    if (!f.is_array() || f.size() > 100) return bad(at, "'fetch' must be an array of at most 100 URIs");
    for (const auto& e : f) {
      if (!e.is_object() || !e.contains("uri") || !e["uri"].is_string()) {
        return bad(at, "'fetch': every entry needs a string 'uri'");
      }
      CommandURI u;
      u.value = e["uri"].get<std::string>();
      if (!fetchableUri(u.value)) return bad(at, "'fetch': '" + u.value + "' is not http(s)://, file:///… or a path");
      for (auto [key, field] : {std::pair{"executable", &u.executable}, std::pair{"extract", &u.extract},
                                std::pair{"cache", &u.cache}}) {
        if (!e.contains(key)) continue;
        if (!e[key].is_boolean()) return bad(at, std::string("'fetch': '") + key + "' must be a boolean");
        *field = e[key].get<bool>();
      }
      if (e.contains("destPath")) {
        if (!e["destPath"].is_string()) return bad(at, "'fetch': 'destPath' must be a string");
        std::string d = e["destPath"].get<std::string>();
        if (!sandboxRelativePath(d)) {
          return bad(at, "'fetch': destPath '" + d + "' must be a relative path inside the sandbox");
        }
        u.outputFile = d;
      }
      s.fetch.push_back(std::move(u));
    }
  }
  if (v.contains("user")) {
    if (!v["user"].is_string()) return bad(at, "'user' must be a string");
    s.user = v["user"].get<std::string>();
    if (s.user.empty() || s.user.find('\0') != std::string::npos ||
        s.user.find('/') != std::string::npos) {
      return bad(at, "'user' must be a user name");
    }
  }
  if (v.contains("count")) {
    auto n = parseInt(v["count"], at + ": 'count'", 1, kMaxCount);
    if (!n.ok()) return n.status();
    s.count = *n;
  }
  std::string resources = kDefaultResources;
  if (v.contains("resources")) {
    if (!v["resources"].is_string()) return bad(at, "'resources' must be a string");
    resources = v["resources"].get<std::string>();
  }
  auto r = Resources::parse(resources);
  if (!r.ok()) return bad(at, "'resources': " + r.error());
  if (r->empty()) return bad(at, "'resources' must not be empty");
  s.resources = *r;
  if (v.contains("env")) {
    if (!v["env"].is_object()) return bad(at, "'env' must be an object of strings");
    for (const auto& [k, e] : v["env"].items()) {
      if (!e.is_string()) return bad(at, "'env': the value of '" + k + "' is not a string");
      if (k.empty() || k.find('=') != std::string::npos) {
        return bad(at, "'env': invalid variable name '" + k + "'");
      }
      s.env.push_back({k, e.get<std::string>()});
    }
  }
  if (v.contains("depends_on")) {
    const json& d = v["depends_on"];
    if (!d.is_array()) return bad(at, "'depends_on' must be an array of stage names");
    for (const auto& e : d) {
      if (!e.is_string()) return bad(at, "'depends_on' must be an array of stage names");
      s.dependsOn.push_back(e.get<std::string>());
    }
  }
  if (v.contains("retries")) {
    auto n = parseInt(v["retries"], at + ": 'retries'", 0, 1000);
    if (!n.ok()) return n.status();
    s.retries = *n;
  }
  if (v.contains("backoff")) {
    auto d = parseDurationField(v["backoff"], at + ": 'backoff'");
    if (!d.ok()) return d.status();
    s.backoff = *d;
  }
  if (v.contains("max_backoff")) {
    auto d = parseDurationField(v["max_backoff"], at + ": 'max_backoff'");
    if (!d.ok()) return d.status();
    s.maxBackoff = *d;
  }
  if (v.contains("backoff_factor")) {
    const json& f = v["backoff_factor"];
    if (!f.is_number() || f.get<double>() < 1.0 || f.get<double>() > 100.0) {
      return bad(at, "'backoff_factor' must be a number from 1 to 100");
    }
    s.backoffFactor = f.get<double>();
  }
  if (v.contains("timeout")) {
    auto d = parseDurationField(v["timeout"], at + ": 'timeout'");
    if (!d.ok()) return d.status();
    if (d->count() <= 0) return bad(at, "'timeout' must be positive");
    s.timeout = *d;
  }
  if (v.contains("parallelism")) {
    auto n = parseInt(v["parallelism"], at + ": 'parallelism'", 0, kMaxCount);
    if (!n.ok()) return n.status();
    s.parallelism = *n;
  }
  if (v.contains("constraints")) {
    const json& cs = v["constraints"];
    if (!cs.is_array()) return bad(at, "'constraints' must be an array");
    for (size_t i = 0; i < cs.size(); ++i) {
      auto c = parseConstraint(cs[i], at + ": constraint " + std::to_string(i));
      if (!c.ok()) return c.status();
      s.constraints.push_back(*c);
    }
  }
  return s;
}

// Kahn's algorithm, stable in file order; reports a cycle by its members.
Status orderStages(Job& job) {
  size_t n = job.stages.size();
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<size_t>> dependents(n);
  for (size_t i = 0; i < n; ++i) {
    std::set<std::string> seen;
    for (const auto& dep : job.stages[i].dependsOn) {
      auto j = job.find(dep);
      std::string at = "stage '" + job.stages[i].name + "'";
      if (!j) return bad(at, "depends on unknown stage '" + dep + "'");
      if (*j == i) return bad(at, "depends on itself");
      if (!seen.insert(dep).second) return bad(at, "lists '" + dep + "' twice in depends_on");
      ++indegree[i];
      dependents[*j].push_back(i);
    }
  }
  std::vector<size_t> ready;
  for (size_t i = 0; i < n; ++i) {
    if (indegree[i] == 0) ready.push_back(i);
  }
  while (!ready.empty()) {
    size_t i = ready.front();
    ready.erase(ready.begin());
    job.order.push_back(i);
    for (size_t d : dependents[i]) {
      if (--indegree[d] == 0) {
        ready.insert(std::upper_bound(ready.begin(), ready.end(), d), d);
      }
    }
  }
  if (job.order.size() == n) return Status::OK();
  std::string members;
  for (size_t i = 0; i < n; ++i) {
    if (indegree[i] > 0) members += (members.empty() ? "'" : ", '") + job.stages[i].name + "'";
  }
  return Status::InvalidArgument("the stages' dependencies form a cycle (among " + members +
                                 "); nothing was run");
}

}  // namespace

bool Constraint::matches(const std::string& hostname, const Attributes& attributes) const {
  if (op == Op::kUnique) return true;
  bool present = field == "hostname" ||
                 std::any_of(attributes.begin(), attributes.end(),
                             [&](const Attribute& a) { return a.name == field; });
  if (!present) return false;
  std::string v = fieldValue(hostname, attributes);
  return op == Op::kEquals ? v == value : regex && regex->fullMatch(v);
}

std::string Constraint::fieldValue(const std::string& hostname,
                                   const Attributes& attributes) const {
  if (field == "hostname") return hostname;
  for (const auto& a : attributes) {
    if (a.name == field) return a.value;
  }
  return "";
}

std::chrono::milliseconds Stage::backoffBefore(int attempt) const {
  double ms = static_cast<double>(backoff.count());
  for (int i = 1; i < attempt && ms < maxBackoff.count(); ++i) ms *= backoffFactor;
  return std::min(std::chrono::milliseconds(static_cast<int64_t>(ms)), maxBackoff);
}

std::optional<size_t> Job::find(const std::string& name) const {
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].name == name) return i;
  }
  return std::nullopt;
}

size_t Job::totalTasks() const {
  size_t n = 0;
  for (const auto& s : stages) n += static_cast<size_t>(s.count);
  return n;
}

Result<Job> parseJob(const std::string& text) {
  json v = tutti::json::parse(text);
  if (v.is_discarded()) return Status::InvalidArgument("the job is not valid JSON");
  if (!v.is_object()) return Status::InvalidArgument("the job must be a JSON object");
  for (const auto& [key, _] : v.items()) {
    if (key != "name" && key != "stages") {
      return Status::InvalidArgument("unknown field '" + key + "' (a job has name and stages)");
    }
  }
  Job job;
  job.name = "batch";
  if (v.contains("name")) {
    if (!v["name"].is_string() || !validName(v["name"].get<std::string>())) {
      return Status::InvalidArgument("the job's 'name' must be 1-100 of [A-Za-z0-9_-]");
    }
    job.name = v["name"].get<std::string>();
  }
  if (!v.contains("stages") || !v["stages"].is_array() || v["stages"].empty()) {
    return Status::InvalidArgument("the job needs a non-empty array 'stages'");
  }
  for (size_t i = 0; i < v["stages"].size(); ++i) {
    auto s = parseStage(v["stages"][i], "stage " + std::to_string(i));
    if (!s.ok()) return s.status();
    if (job.find(s->name)) {
      return Status::InvalidArgument("two stages are named '" + s->name + "'");
    }
    job.stages.push_back(std::move(*s));
  }
  if (job.totalTasks() > kMaxTotalTasks) {
    return Status::InvalidArgument("the job has " + std::to_string(job.totalTasks()) +
                                   " tasks; at most " + std::to_string(kMaxTotalTasks) +
                                   " are allowed (split it into several jobs)");
  }
  Status ordered = orderStages(job);
  if (!ordered.ok()) return ordered;
  return job;
}

Result<Job> loadJobFile(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) {
    return Status::InvalidArgument("cannot read the job file: " + text.status().toString());
  }
  auto job = parseJob(*text);
  if (!job.ok()) return job.status().prefixed(path + ": ");
  return job;
}

}  // namespace tutti::batch
