#include "frameworks/services/app.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <regex>
#include <set>

#include "common/pattern.hpp"

namespace tutti::services {
namespace {

using nlohmann::json;

// Above this, quantities and durations are mistakes (and would not fit the
// resources' fixed point).
constexpr double kMaxNumber = 1e9;
// Task ids ("<safe id>.<uuid>") must stay within 255 bytes.
constexpr size_t kMaxAppIdLength = 200;

// Reads typed fields of one JSON object, collecting errors by path.
class FieldReader {
 public:
  FieldReader(const json& object, std::string prefix, FieldErrors* errors)
      : object_(object), prefix_(std::move(prefix)), errors_(errors) {}

  void fail(const std::string& field, const std::string& message) {
    std::string path = prefix_ + "/" + field;
    for (auto& e : *errors_) {
      if (e.path == path) {
        e.errors.push_back(message);
        return;
      }
    }
    errors_->push_back({path, {message}});
  }
  const json* get(const std::string& field) {
    auto it = object_.find(field);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void number(const std::string& field, double* out, double min, const char* minText) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_number()) return fail(field, "error.expected.jsnumber");
    double d = v->get<double>();
    if (!std::isfinite(d) || d < min) {
      return fail(field, "got " + v->dump() + ", expected " + minText + " or more");
    }
    if (d > kMaxNumber) return fail(field, "got " + v->dump() + ", expected at most 1e9");
    *out = d;
  }
  void fraction(const std::string& field, double* out) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_number()) return fail(field, "error.expected.jsnumber");
    double d = v->get<double>();
    if (!(d >= 0 && d <= 1)) return fail(field, "got " + v->dump() + ", expected between 0 and 1");
    *out = d;
  }
  template <typename Int>
  void integer(const std::string& field, Int* out, int64_t min, int64_t max) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_number_integer()) return fail(field, "error.expected.jsnumber (an integer)");
    int64_t i = v->get<int64_t>();
    if (i < min || i > max) {
      return fail(field, "got " + v->dump() + ", expected between " + std::to_string(min) +
                             " and " + std::to_string(max));
    }
    *out = static_cast<Int>(i);
  }
  void string(const std::string& field, std::string* out) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_string()) return fail(field, "error.expected.jsstring");
    *out = v->get<std::string>();
  }
  void boolean(const std::string& field, bool* out) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_boolean()) return fail(field, "error.expected.jsboolean");
    *out = v->get<bool>();
  }
  void stringMap(const std::string& field, std::map<std::string, std::string>* out) {
    const json* v = get(field);
    if (!v) return;
    if (!v->is_object()) return fail(field, "error.expected.jsobject");
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        fail(field + "/" + k, "error.expected.jsstring");
        continue;
      }
      (*out)[k] = value.get<std::string>();
    }
  }
  // The array at `field` (nullptr, with an error, when it is not one).
  const json* array(const std::string& field) {
    const json* v = get(field);
    if (v && !v->is_array()) {
      fail(field, "error.expected.jsarray");
      return nullptr;
    }
    return v;
  }
  // Calls `fn` with a reader for each element of the array `field` that is
  // an object (other elements are errors).
  void eachObject(const std::string& field, const std::function<void(FieldReader&)>& fn) {
    const json* list = array(field);
    if (!list) return;
    for (size_t i = 0; i < list->size(); ++i) {
      std::string at = field + "(" + std::to_string(i) + ")";
      if (!(*list)[i].is_object()) {
        fail(at, "error.expected.jsobject");
        continue;
      }
      FieldReader element((*list)[i], prefix_ + "/" + at, errors_);
      fn(element);
    }
  }
  const std::string& prefix() const { return prefix_; }
  FieldErrors* errors() const { return errors_; }

 private:
  const json& object_;
  std::string prefix_;
  FieldErrors* errors_;
};

const std::regex& segmentPattern() {
  static const std::regex re(
      "^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])$");
  return re;
}

void parsePorts(FieldReader& r, AppDefinition* app) {
  const json* defs = r.array("portDefinitions");
  const json* ports = r.array("ports");
  // Both may come back from GET (Marathon serves both); portDefinitions wins.
  if (defs) {
    app->portDefinitions.clear();
    r.eachObject("portDefinitions", [&](FieldReader& pr) {
      PortDefinition p;
      pr.integer("port", &p.port, 0, 65535);
      pr.string("protocol", &p.protocol);
      pr.string("name", &p.name);
      if (p.protocol != "tcp" && p.protocol != "udp" && p.protocol != "udp,tcp") {
        pr.fail("protocol", "must be one of tcp, udp, udp,tcp");
      }
      app->portDefinitions.push_back(p);
    });
  } else if (ports) {
    app->portDefinitions.clear();
    for (size_t i = 0; i < ports->size(); ++i) {
      const json& p = (*ports)[i];
      if (!p.is_number_integer() || p.get<int64_t>() < 0 || p.get<int64_t>() > 65535) {
        r.fail("ports(" + std::to_string(i) + ")", "expected a port number in 0-65535");
        continue;
      }
      app->portDefinitions.push_back({static_cast<uint32_t>(p.get<int64_t>()), "tcp", ""});
    }
  }
  std::set<uint32_t> seen;
  for (const auto& p : app->portDefinitions) {
    if (p.port != 0 && !seen.insert(p.port).second) {
      r.fail("portDefinitions", "ports must be unique");
      break;
    }
  }
  if (app->requirePorts) {
    for (const auto& p : app->portDefinitions) {
      if (p.port == 0) r.fail("requirePorts", "requirePorts needs every port to be non-zero");
    }
  }
}

// Marathon's "fetch" ([{uri, executable, extract, cache, destPath}]) and its
// legacy "uris" (strings, extracted).
void parseFetch(FieldReader& r, AppDefinition* app) {
  auto fetchable = [](const std::string& uri) {
    return fetchableUri(uri) && uri.find('\0') == std::string::npos;
  };
  r.eachObject("fetch", [&](FieldReader& fr) {
    CommandURI u;
    fr.string("uri", &u.value);
    if (!fetchable(u.value)) fr.fail("uri", "must be http://, https://, file:///… or a path");
    fr.boolean("executable", &u.executable);
    fr.boolean("extract", &u.extract);
    fr.boolean("cache", &u.cache);
    if (fr.get("destPath")) {
      std::string dest;
      fr.string("destPath", &dest);
      if (!sandboxRelativePath(dest)) {
        fr.fail("destPath", "must be a relative path inside the sandbox");
      }
      u.outputFile = dest;
    }
    app->fetch.push_back(std::move(u));
  });
  if (r.get("fetch") && r.get("uris")) r.fail("uris", "give either 'fetch' or 'uris', not both");
  if (const json* uris = r.array("uris")) {
    for (const auto& e : *uris) {
      if (!e.is_string() || !fetchable(e.get<std::string>())) {
        r.fail("uris", "every URI must be http://, https://, file:///… or a path");
        break;
      }
      CommandURI u;
      u.value = e.get<std::string>();
      app->fetch.push_back(std::move(u));
    }
  }
  if (app->fetch.size() > 100) r.fail("fetch", "at most 100 URIs");
}

void parseHealthChecks(FieldReader& r, AppDefinition* app) {
  r.eachObject("healthChecks", [&](FieldReader& hr) {
    AppHealthCheck h;
    std::string protocol = "HTTP";
    hr.string("protocol", &protocol);
    if (protocol == "HTTP" || protocol == "MESOS_HTTP") {
      h.protocol = AppHealthCheck::Protocol::kHttp;
    } else if (protocol == "TCP" || protocol == "MESOS_TCP") {
      h.protocol = AppHealthCheck::Protocol::kTcp;
    } else if (protocol == "COMMAND") {
      h.protocol = AppHealthCheck::Protocol::kCommand;
    } else {
      hr.fail("protocol", "must be one of HTTP, TCP, COMMAND, MESOS_HTTP, MESOS_TCP");
    }
    hr.string("path", &h.path);
    if (h.path.empty() || h.path[0] != '/') hr.fail("path", "must start with /");
    hr.integer("portIndex", &h.portIndex, 0, 1000);
    uint32_t port = 0;
    if (hr.get("port")) {
      hr.integer("port", &port, 1, 65535);
      h.port = port;
    }
    if (const json* cmd = hr.get("command")) {
      if (cmd->is_object() && cmd->contains("value") && (*cmd)["value"].is_string()) {
        h.command = (*cmd)["value"].get<std::string>();
      } else {
        hr.fail("command", "expected {\"value\": \"a shell command\"}");
      }
    }
    if (h.protocol == AppHealthCheck::Protocol::kCommand && h.command.empty()) {
      hr.fail("command", "a COMMAND health check needs a command");
    }
    if (h.protocol != AppHealthCheck::Protocol::kCommand && !h.port &&
        h.portIndex >= app->portDefinitions.size()) {
      hr.fail("portIndex", "the app has no port with index " + std::to_string(h.portIndex));
    }
    hr.number("gracePeriodSeconds", &h.gracePeriodSeconds, 0, "0");
    hr.number("intervalSeconds", &h.intervalSeconds, 0, "0");
    hr.number("timeoutSeconds", &h.timeoutSeconds, 0, "0");
    if (h.intervalSeconds <= 0) hr.fail("intervalSeconds", "must be positive");
    if (h.timeoutSeconds <= 0) hr.fail("timeoutSeconds", "must be positive");
    hr.integer("maxConsecutiveFailures", &h.maxConsecutiveFailures, 0, 1000000);
    app->healthChecks.push_back(h);
  });
}

std::optional<Constraint::Operator> parseOperator(const std::string& s) {
  using Op = Constraint::Operator;
  static const std::map<std::string, Op> kOps = {
      {"UNIQUE", Op::kUnique}, {"CLUSTER", Op::kCluster}, {"GROUP_BY", Op::kGroupBy},
      {"LIKE", Op::kLike},     {"UNLIKE", Op::kUnlike},   {"MAX_PER", Op::kMaxPer}};
  auto it = kOps.find(s);
  if (it == kOps.end()) return std::nullopt;
  return it->second;
}

bool isNonNegativeInteger(const std::string& s) {
  return !s.empty() && s.size() < 10 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void parseConstraints(FieldReader& r, AppDefinition* app) {
  const json* list = r.array("constraints");
  if (!list) return;
  using Op = Constraint::Operator;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& c = (*list)[i];
    std::string at = "constraints(" + std::to_string(i) + ")";
    bool strings = c.is_array() && std::all_of(c.begin(), c.end(),
                                               [](const json& v) { return v.is_string(); });
    if (!strings || c.size() < 2 || c.size() > 3) {
      r.fail(at, "expected [field, operator] or [field, operator, value]");
      continue;
    }
    Constraint k;
    k.field = c[0].get<std::string>();
    auto op = parseOperator(c[1].get<std::string>());
    if (!op) {
      r.fail(at, "unknown operator " + c[1].get<std::string>() +
                     " (UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER)");
      continue;
    }
    k.op = *op;
    if (c.size() == 3) k.value = c[2].get<std::string>();
    if (k.field.empty()) r.fail(at, "the field must not be empty");
    if ((k.op == Op::kLike || k.op == Op::kUnlike) && !k.value) {
      r.fail(at, "LIKE and UNLIKE need a regular expression");
    } else if (k.op == Op::kLike || k.op == Op::kUnlike) {
      auto pattern = Pattern::compile(*k.value);
      if (!pattern.ok()) r.fail(at, pattern.status().message());
    }
    if (k.op == Op::kMaxPer && (!k.value || !isNonNegativeInteger(*k.value))) {
      r.fail(at, "MAX_PER needs a number");
    }
    if (k.op == Op::kGroupBy && k.value && !isNonNegativeInteger(*k.value)) {
      r.fail(at, "GROUP_BY takes an optional number of groups");
    }
    if (k.op == Op::kUnique && k.value) r.fail(at, "UNIQUE takes no value");
    app->constraints.push_back(k);
  }
}

// One relative path segment, as Marathon requires of a persistent volume's
// containerPath (the agent links the volume there, in the sandbox).
bool volumePathSegment(const std::string& p) {
  return !p.empty() && p.size() <= 255 && p != "." && p != ".." &&
         std::all_of(p.begin(), p.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                  c == '-';
         });
}

// container.volumes: local persistent volumes only.
void parseVolumes(FieldReader& cr, AppDefinition* app) {
  cr.eachObject("volumes", [&](FieldReader& vr) {
    AppVolume v;
    vr.string("containerPath", &v.containerPath);
    if (!volumePathSegment(v.containerPath)) {
      vr.fail("containerPath",
              "a persistent volume's containerPath is one relative path segment "
              "(letters, digits, '.', '_', '-'), such as \"data\"");
    }
    std::string mode = "RW";
    vr.string("mode", &mode);
    if (mode != "RW") vr.fail("mode", "persistent volumes are read-write: mode must be RW");
    if (vr.get("hostPath") || vr.get("external")) {
      vr.fail("persistent", "only local persistent volumes are supported (no hostPath, "
                            "no external volumes)");
      return;
    }
    const json* p = vr.get("persistent");
    if (!p || !p->is_object()) {
      vr.fail("persistent", "expected {\"size\": MiB}: only persistent volumes are supported");
      return;
    }
    FieldReader checked(*p, vr.prefix() + "/persistent", cr.errors());
    checked.number("size", &v.sizeMb, 0, "0");
    if (!p->contains("size") || v.sizeMb <= 0) {
      checked.fail("size", "a persistent volume needs a size in MiB, more than 0");
    }
    std::string type = "root";
    checked.string("type", &type);
    if (type != "root") checked.fail("type", "only root volumes are supported");
    for (const auto& other : app->persistentVolumes) {
      if (other.containerPath == v.containerPath) {
        vr.fail("containerPath", "two volumes at " + v.containerPath);
      }
    }
    app->persistentVolumes.push_back(v);
  });
}

void parseContainer(FieldReader& r, AppDefinition* app) {
  const json* c = r.get("container");
  if (!c) return;
  if (!c->is_object()) return r.fail("container", "error.expected.jsobject");
  FieldReader cr(*c, r.prefix() + "/container", r.errors());
  parseVolumes(cr, app);
  std::string type = "DOCKER";
  cr.string("type", &type);
  if (type != "DOCKER" && type != "MESOS") cr.fail("type", "must be DOCKER or MESOS");
  const json* docker = c->contains("docker") ? &(*c)["docker"] : nullptr;
  if (docker && docker->is_object() && docker->contains("image") &&
      (*docker)["image"].is_string() && !(*docker)["image"].get<std::string>().empty()) {
    app->image = (*docker)["image"].get<std::string>();
  } else if (docker || app->persistentVolumes.empty()) {
    r.fail("container/docker/image", "a container needs docker.image (a non-empty string)");
  }
}

}  // namespace

const char* toString(AppHealthCheck::Protocol p) {
  switch (p) {
    case AppHealthCheck::Protocol::kHttp: return "HTTP";
    case AppHealthCheck::Protocol::kTcp: return "TCP";
    case AppHealthCheck::Protocol::kCommand: return "COMMAND";
  }
  return "HTTP";
}

const char* toString(Constraint::Operator op) {
  switch (op) {
    case Constraint::Operator::kUnique: return "UNIQUE";
    case Constraint::Operator::kCluster: return "CLUSTER";
    case Constraint::Operator::kGroupBy: return "GROUP_BY";
    case Constraint::Operator::kLike: return "LIKE";
    case Constraint::Operator::kUnlike: return "UNLIKE";
    case Constraint::Operator::kMaxPer: return "MAX_PER";
  }
  return "UNIQUE";
}

bool AppDefinition::sameConfig(const AppDefinition& other) const {
  AppDefinition a = *this;
  a.instances = other.instances;
  return a == other;
}

bool AppDefinition::sameReservation(const AppDefinition& other) const {
  return cpus == other.cpus && mem == other.mem && disk == other.disk &&
         persistentVolumes == other.persistentVolumes;
}

Result<std::string> normalizeAppId(const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("must not be empty");
  if (id.size() > kMaxAppIdLength) {
    return Status::InvalidArgument("is longer than " + std::to_string(kMaxAppIdLength) +
                                   " characters");
  }
  std::string path = id[0] == '/' ? id : "/" + id;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string segment = path.substr(start, end - start);
    if (!std::regex_match(segment, segmentPattern())) {
      return Status::InvalidArgument(
          "'" + id + "': each path segment must be lower-case letters, digits, '-' and '.' "
          "(Marathon's ^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|"
          "[a-z0-9][a-z0-9\\-]*[a-z0-9])$)");
    }
    out += "/" + segment;
    start = end + 1;
  }
  return out;
}

ParsedApp parseApp(const json& body, const std::string& fallbackId) {
  ParsedApp result;
  FieldErrors& errors = result.errors;
  if (!body.is_object()) {
    errors.push_back({"/", {"error.expected.jsobject"}});
    return result;
  }
  FieldReader r(body, "", &errors);
  AppDefinition app;
  std::string id = fallbackId;
  r.string("id", &id);
  if (id.empty()) {
    r.fail("id", "error.path.missing");
  } else {
    auto normalized = normalizeAppId(id);
    if (normalized.ok()) {
      app.id = *normalized;
    } else {
      r.fail("id", normalized.error());
    }
  }
  if (r.get("cmd")) {
    std::string cmd;
    r.string("cmd", &cmd);
    app.cmd = cmd;
    if (cmd.empty()) r.fail("cmd", "must not be empty");
  }
  if (const json* args = r.array("args")) {
    std::vector<std::string> list;
    for (const auto& a : *args) {
      if (!a.is_string()) {
        r.fail("args", "error.expected.jsstring (every argument)");
        break;
      }
      list.push_back(a.get<std::string>());
    }
    app.args = list;
  }
  if (r.get("user")) {
    std::string user;
    r.string("user", &user);
    if (user.empty() || user.find('\0') != std::string::npos || user.find('/') != std::string::npos) {
      r.fail("user", "must be a user name");
    } else {
      app.user = user;
    }
  }
  r.number("cpus", &app.cpus, 0, "0.0");
  r.number("mem", &app.mem, 0, "0.0");
  r.number("disk", &app.disk, 0, "0.0");
  r.integer("instances", &app.instances, 0, 100000);
  r.stringMap("env", &app.env);
  // What the master would refuse at every launch (the app would retry
  // forever): refused here, with the name.
  for (const auto& [name, value] : app.env) {
    if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos) {
      r.fail("env", "'" + name + "' is not a valid environment variable name");
    } else if (value.find('\0') != std::string::npos) {
      r.fail("env", "the value of '" + name + "' contains a NUL byte");
    }
  }
  r.stringMap("labels", &app.labels);
  r.boolean("requirePorts", &app.requirePorts);
  parsePorts(r, &app);
  parseContainer(r, &app);
  parseHealthChecks(r, &app);
  parseConstraints(r, &app);
  parseFetch(r, &app);
  // Persistence ids ("<safe id>.<containerPath>.<uuid>") must fit in 255.
  for (size_t i = 0; i < app.persistentVolumes.size(); ++i) {
    const std::string& path = app.persistentVolumes[i].containerPath;
    if (safeAppId(app.id).size() + path.size() + 38 > 255) {
      errors.push_back({"/container/volumes(" + std::to_string(i) + ")/containerPath",
                        {"too long for this app's id: the volume's id (app id, containerPath "
                         "and a uuid) must fit in 255 characters"}});
    }
  }
  // A resident instance is relaunched in its own reservation: an upgrade
  // stops old instances before it starts new ones (Marathon's defaults and
  // limits for apps with persistent volumes).
  if (app.resident()) app.upgradeStrategy = UpgradeStrategy{0.5, 0};
  if (const json* u = r.get("upgradeStrategy")) {
    if (!u->is_object()) {
      r.fail("upgradeStrategy", "error.expected.jsobject");
    } else {
      FieldReader ur(*u, "/upgradeStrategy", &errors);
      ur.fraction("minimumHealthCapacity", &app.upgradeStrategy.minimumHealthCapacity);
      ur.fraction("maximumOverCapacity", &app.upgradeStrategy.maximumOverCapacity);
      if (app.resident() && app.upgradeStrategy.minimumHealthCapacity > 0.5) {
        ur.fail("minimumHealthCapacity",
                "an app with persistent volumes needs minimumHealthCapacity <= 0.5");
      }
      if (app.resident() && app.upgradeStrategy.maximumOverCapacity != 0) {
        ur.fail("maximumOverCapacity",
                "an app with persistent volumes needs maximumOverCapacity 0");
      }
    }
  }
  r.number("backoffSeconds", &app.backoffSeconds, 0, "0");
  r.number("backoffFactor", &app.backoffFactor, 1, "1.0");
  r.number("maxLaunchDelaySeconds", &app.maxLaunchDelaySeconds, 0, "0");
  std::string kill = "YOUNGEST_FIRST";
  r.string("killSelection", &kill);
  if (kill == "YOUNGEST_FIRST") {
    app.killSelection = KillSelection::kYoungestFirst;
  } else if (kill == "OLDEST_FIRST") {
    app.killSelection = KillSelection::kOldestFirst;
  } else {
    r.fail("killSelection", "must be YOUNGEST_FIRST or OLDEST_FIRST");
  }
  bool hasCmd = app.cmd.has_value(), hasArgs = app.args.has_value();
  if (hasCmd && hasArgs) {
    errors.push_back({"/", {"AppDefinition must either contain one of 'cmd' or 'args', not both"}});
  } else if (!hasCmd && !hasArgs && !app.image) {
    errors.push_back({"/", {"AppDefinition must either contain one of 'cmd' or 'args', "
                            "and/or a 'container'."}});
  }
  if (hasArgs && app.args->empty() && !app.image) r.fail("args", "must not be empty");
  if (errors.empty()) result.app = std::move(app);
  return result;
}

json toJson(const AppDefinition& app) {
  json j;
  j["id"] = app.id;
  j["cmd"] = app.cmd ? json(*app.cmd) : json(nullptr);
  j["args"] = app.args ? json(*app.args) : json(nullptr);
  j["user"] = app.user ? json(*app.user) : json(nullptr);
  json fetch = json::array();
  for (const auto& u : app.fetch) {
    json f = {{"uri", u.value}, {"executable", u.executable}, {"extract", u.extract},
              {"cache", u.cache}};
    if (u.outputFile) f["destPath"] = *u.outputFile;
    fetch.push_back(f);
  }
  j["fetch"] = fetch;
  j["cpus"] = app.cpus;
  j["mem"] = app.mem;
  j["disk"] = app.disk;
  j["instances"] = app.instances;
  j["env"] = app.env;
  j["labels"] = app.labels;
  json ports = json::array(), defs = json::array();
  for (const auto& p : app.portDefinitions) {
    ports.push_back(p.port);
    json d = {{"port", p.port}, {"protocol", p.protocol}};
    if (!p.name.empty()) d["name"] = p.name;
    defs.push_back(d);
  }
  j["ports"] = ports;
  j["portDefinitions"] = defs;
  j["requirePorts"] = app.requirePorts;
  if (app.image || app.resident()) {
    json c = {{"type", app.image ? "DOCKER" : "MESOS"}};
    if (app.image) c["docker"] = {{"image", *app.image}};
    json volumes = json::array();
    for (const auto& v : app.persistentVolumes) {
      volumes.push_back({{"containerPath", v.containerPath},
                         {"mode", "RW"},
                         {"persistent", {{"size", v.sizeMb}, {"type", "root"}}}});
    }
    c["volumes"] = volumes;
    j["container"] = c;
  } else {
    j["container"] = nullptr;
  }
  if (app.resident()) {
    j["residency"] = {{"relaunchEscalationTimeoutSeconds", 3600},
                      {"taskLostBehavior", "WAIT_FOREVER"}};
    j["unreachableStrategy"] = "disabled";
  }
  json checks = json::array();
  for (const auto& h : app.healthChecks) {
    json c = {{"protocol", toString(h.protocol)},
              {"gracePeriodSeconds", h.gracePeriodSeconds},
              {"intervalSeconds", h.intervalSeconds},
              {"timeoutSeconds", h.timeoutSeconds},
              {"maxConsecutiveFailures", h.maxConsecutiveFailures}};
    if (h.protocol == AppHealthCheck::Protocol::kCommand) c["command"] = {{"value", h.command}};
    c["portIndex"] = h.portIndex;
    if (h.port) c["port"] = *h.port;
    c["path"] = h.path;
    checks.push_back(c);
  }
  j["healthChecks"] = checks;
  json constraints = json::array();
  for (const auto& c : app.constraints) {
    json k = {c.field, toString(c.op)};
    if (c.value) k.push_back(*c.value);
    constraints.push_back(k);
  }
  j["constraints"] = constraints;
  j["upgradeStrategy"] = {{"minimumHealthCapacity", app.upgradeStrategy.minimumHealthCapacity},
                          {"maximumOverCapacity", app.upgradeStrategy.maximumOverCapacity}};
  j["backoffSeconds"] = app.backoffSeconds;
  j["backoffFactor"] = app.backoffFactor;
  j["maxLaunchDelaySeconds"] = app.maxLaunchDelaySeconds;
  j["killSelection"] =
      app.killSelection == KillSelection::kYoungestFirst ? "YOUNGEST_FIRST" : "OLDEST_FIRST";
  return j;
}

bool assignServicePorts(AppDefinition* app, std::set<uint32_t> used,
                        const AppDefinition* previous) {
  if (app->requirePorts) return true;
  for (const auto& p : app->portDefinitions) used.insert(p.port);
  uint32_t next = kServicePortMin;
  for (size_t i = 0; i < app->portDefinitions.size(); ++i) {
    uint32_t& port = app->portDefinitions[i].port;
    if (port != 0) continue;
    if (previous && i < previous->portDefinitions.size() &&
        previous->portDefinitions[i].port != 0 &&
        !used.count(previous->portDefinitions[i].port)) {
      port = previous->portDefinitions[i].port;
      used.insert(port);
      continue;
    }
    while (next <= kServicePortMax && used.count(next)) ++next;
    if (next > kServicePortMax) return false;
    port = next;
    used.insert(port);
  }
  return true;
}

std::string safeAppId(const std::string& appId) {
  std::string s = appId.empty() || appId[0] != '/' ? appId : appId.substr(1);
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

std::string appIdFromSafe(const std::string& safe) {
  std::string s = "/" + safe;
  std::replace(s.begin(), s.end(), '_', '/');
  return s;
}

}  // namespace tutti::services
