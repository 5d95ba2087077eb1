#include "agent/http/agent_http.hpp"

#include <charconv>
#include <cstdlib>
#include <future>
#include <memory>

#include "agent/http/files.hpp"
#include "common/json.hpp"
#include "common/version.hpp"

namespace tutti::agent {

namespace {
using json::Json;

Json taskJson(const Task& t) {
  Json j;
  j["id"] = t.taskId.value;
  j["name"] = t.name;
  j["framework_id"] = t.frameworkId.value;
  j["executor_id"] = t.executorId.value;
  j["slave_id"] = t.agentId.value;
  j["state"] = toString(t.state);
  j["resources"] = json::resources(t.resources);
  Json statuses = Json::array();
  for (const auto& s : t.statuses) statuses.push_back(json::taskStatus(s));
  j["statuses"] = statuses;
  if (!t.labels.empty()) j["labels"] = json::labels(t.labels);
  return j;
}

Json executorJson(const ExecutorRecord& ex) {
  Json j;
  j["id"] = ex.id.value;
  j["name"] = ex.info.name;
  j["source"] = "";
  j["container"] = ex.containerId.value;
  j["directory"] = ex.directory;
  j["framework_id"] = ex.frameworkId.value;
  j["type"] = ex.commandExecutor ? "COMMAND" : isDefaultExecutor(ex.info) ? "DEFAULT" : "CUSTOM";
  j["state"] = toString(ex.state);
  j["pid"] = ex.pid;
  j["resources"] = json::resources(ex.resources());
  Json queued = Json::array();
  for (const auto& [id, t] : ex.queued) {
    queued.push_back({{"id", id.value}, {"name", t.name}, {"resources", json::resources(t.resources)}});
  }
  j["queued_tasks"] = queued;
  Json tasks = Json::array();
  for (const auto& [_, t] : ex.launched) tasks.push_back(taskJson(t));
  j["tasks"] = tasks;
  Json completed = Json::array();
  for (const auto& t : ex.completed) completed.push_back(taskJson(t));
  j["completed_tasks"] = completed;
  if (ex.exitStatus) j["exit_status"] = *ex.exitStatus;
  return j;
}

Json frameworkJson(const FrameworkEntry& fw) {
  Json j;
  j["id"] = fw.info.id ? fw.info.id->value : "";
  j["name"] = fw.info.name;
  j["user"] = fw.info.user;
  j["hostname"] = fw.info.hostname;
  j["role"] = fw.info.effectiveRoles().front();
  j["roles"] = fw.info.effectiveRoles();
  j["checkpoint"] = fw.info.checkpoint;
  j["failover_timeout"] = fw.info.failoverTimeoutSecs;
  j["capabilities"] = json::frameworkCapabilities(fw.info);
  Json executors = Json::array();
  for (const auto& [_, ex] : fw.executors) executors.push_back(executorJson(ex));
  j["executors"] = executors;
  Json completed = Json::array();
  for (const auto& ex : fw.completedExecutors) completed.push_back(executorJson(ex));
  j["completed_executors"] = completed;
  return j;
}

Json stateJson(const Agent& a, const std::map<std::string, std::string>& flags) {
  Json j;
  const AgentInfo& info = a.info();
  j["version"] = tuttiVersion();
  j["id"] = info.id ? info.id->value : "";
  j["pid"] = "slave(1)@" + info.hostname + ":" + std::to_string(info.port);
  j["hostname"] = info.hostname;
  j["port"] = info.port;
  j["start_time"] = a.startTime();
  j["state"] = toString(a.state());
  j["resources"] = json::resources(info.resources);
  j["attributes"] = json::attributes(info.attributes);
  j["master_hostname"] = a.options().master;
  j["flags"] = flags;
  Resources used;
  Json frameworks = Json::array();
  for (const auto& [_, fw] : a.frameworks()) {
    frameworks.push_back(frameworkJson(fw));
    for (const auto& [__, ex] : fw.executors) used += ex.resources();
  }
  j["frameworks"] = frameworks;
  j["used_resources"] = json::resources(used);
  Json completed = Json::array();
  for (const auto& fw : a.completedFrameworks()) completed.push_back(frameworkJson(fw));
  j["completed_frameworks"] = completed;
  j["pending_status_updates"] = a.statusUpdates().pendingUpdates();
  return j;
}

int httpStatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kPermissionDenied: return 403;
    case Status::Code::kNotFound: return 404;
    default: return 500;
  }
}

// Maps Mesos's virtual paths (/frameworks/F/executors/E/runs/latest/...)
// to the executor's newest sandbox; other paths are returned unchanged.
std::string devirtualize(const Agent& a, const std::string& path) {
  const std::string prefix = "/frameworks/";
  if (path.rfind(prefix, 0) != 0) return path;
  std::vector<std::string> parts;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  // frameworks F executors E runs latest|C [rest...]
  if (parts.size() < 6 || parts[2] != "executors" || parts[4] != "runs") return path;
  FrameworkID fw(parts[1]);
  ExecutorID ex(parts[3]);
  std::string dir;
  auto consider = [&](const FrameworkEntry& f) {
    if (!f.info.id || *f.info.id != fw) return;
    for (const auto& c : f.completedExecutors) {
      if (c.id == ex && (parts[5] == "latest" || parts[5] == c.containerId.value)) dir = c.directory;
    }
    auto it = f.executors.find(ex);
    if (it != f.executors.end() &&
        (parts[5] == "latest" || parts[5] == it->second.containerId.value)) {
      dir = it->second.directory;
    }
  };
  for (const auto& f : a.completedFrameworks()) consider(f);
  for (const auto& [_, f] : a.frameworks()) consider(f);
  if (dir.empty()) return path;
  for (size_t k = 6; k < parts.size(); ++k) dir += "/" + parts[k];
  return dir;
}

struct Resolved {
  std::string path;
  Status error;
};

Resolved resolve(Agent& agent, Loop& loop, const HttpRequest& req) {
  auto path = req.param("path");
  if (!path || path->empty()) return {"", Status::InvalidArgument("Missing 'path'")};
  auto [real, roots] = loop.call("http.files", [&agent, p = *path] {
    return std::make_pair(devirtualize(agent, p), agent.sandboxes());
  });
  auto r = resolveSandboxPath(real, roots);
  if (!r.ok()) return {"", r.status()};
  return {*r, Status::OK()};
}

std::optional<int64_t> intParam(const HttpRequest& req, const char* name, bool* bad) {
  auto v = req.param(name);
  if (!v) return std::nullopt;
  // Digits with an optional '-', all of the value: no '+', spaces or
  // embedded NULs ("5%00" is not 5).
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    *bad = true;
    return std::nullopt;
  }
  return n;
}
}  // namespace

void installAgentRoutes(HttpServer& server, Agent& agent, Loop& loop, Metrics& metrics,
                        std::map<std::string, std::string> flags) {
  auto state = [&agent, &loop, flags](const HttpRequest&) {
    Json j = loop.call("http.state", [&agent, &flags] { return stateJson(agent, flags); });
    return HttpResponse::json(json::dump(j) + "\n");
  };
  server.route("GET", "/state", state);
  server.route("GET", "/state.json", state);
  server.route("GET", "/slave(1)/state", state);
  server.route("GET", "/health", [](const HttpRequest&) { return HttpResponse::text("", 200); });
  server.route("GET", "/flags", [flags](const HttpRequest&) {
    return HttpResponse::json(json::dump(Json{{"flags", flags}}) + "\n");
  });
  server.route("GET", "/version", [](const HttpRequest&) {
    return HttpResponse::json(json::dump(Json{{"version", tuttiVersion()}}) + "\n");
  });
  server.route("GET", "/metrics/snapshot", [&loop, &metrics](const HttpRequest&) {
    auto snapshot = loop.call("http.metrics", [&metrics] { return metrics.snapshot(); });
    return HttpResponse::json(json::dump(Json(snapshot)) + "\n");
  });
  server.route("GET", "/metrics", [&loop, &metrics](const HttpRequest&) {
    auto snapshot = loop.call("http.metrics", [&metrics] { return metrics.snapshot(); });
    HttpResponse r = HttpResponse::text(Metrics::toPrometheus(snapshot));
    r.contentType = "text/plain; version=0.0.4";
    return r;
  });

  const size_t maxRead = agent.options().filesReadMaxBytes;
  // Image GC on demand (Mesos's PRUNE_IMAGES): removes every image no
  // container uses; answers what was removed.
  server.route("POST", "/prune_images", [&agent, &loop, &metrics](const HttpRequest&) {
    auto promise = std::make_shared<std::promise<Result<oci::ImagePruneStats>>>();
    auto future = promise->get_future();
    loop.post("http.prune_images", [&agent, promise] {
      agent.pruneImages([promise](Result<oci::ImagePruneStats> r) { promise->set_value(r); });
    });
    if (future.wait_for(std::chrono::minutes(10)) != std::future_status::ready) {
      return HttpResponse::error(503, "image GC did not finish within 10 minutes");
    }
    auto r = future.get();
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kFailedPrecondition) {
        metrics.counter("slave/invalid_http_requests").inc();
      }
      return HttpResponse::error(r.status().code() == Status::Code::kFailedPrecondition ? 409 : 500,
                                 r.status().message());
    }
    return HttpResponse::json(json::dump(Json{{"images_removed", r->images},
                                              {"layers_removed", r->layers},
                                              {"bytes_freed", r->bytes}}) +
                              "\n");
  });
  server.route("GET", "/files/read", [&agent, &loop, &metrics, maxRead](const HttpRequest& req) {
    bool bad = false;
    auto offset = intParam(req, "offset", &bad);
    auto length = intParam(req, "length", &bad);
    if (bad || (offset && *offset < -1) || (length && *length < 0)) {
      metrics.counter("slave/invalid_files_requests").inc();
      return HttpResponse::error(400, "'offset' and 'length' must be integers (offset >= -1, "
                                      "length >= 0)");
    }
    Resolved r = resolve(agent, loop, req);
    if (!r.error.ok()) {
      metrics.counter("slave/invalid_files_requests").inc();
      return HttpResponse::error(httpStatusFor(r.error), r.error.message());
    }
    size_t len = length ? std::min<size_t>(static_cast<size_t>(*length), maxRead) : maxRead;
    auto chunk = readFileChunk(r.path, offset.value_or(0), len);
    if (!chunk.ok()) return HttpResponse::error(httpStatusFor(chunk.status()), chunk.error());
    return HttpResponse::json(json::dump(Json{{"data", chunk->data}, {"offset", chunk->offset}}));
  });
  server.route("GET", "/files/browse", [&agent, &loop, &metrics](const HttpRequest& req) {
    Resolved r = resolve(agent, loop, req);
    if (!r.error.ok()) {
      metrics.counter("slave/invalid_files_requests").inc();
      return HttpResponse::error(httpStatusFor(r.error), r.error.message());
    }
    auto list = listDirectory(r.path);
    if (!list.ok()) return HttpResponse::error(httpStatusFor(list.status()), list.error());
    Json out = Json::array();
    for (const auto& e : *list) {
      out.push_back({{"path", e.path}, {"size", e.size}, {"nlink", e.nlink},
                     {"mtime", e.mtime}, {"mode", e.mode}});
    }
    return HttpResponse::json(json::dump(out));
  });
  server.route("GET", "/files/download", [&agent, &loop, &metrics](const HttpRequest& req) {
    Resolved r = resolve(agent, loop, req);
    if (!r.error.ok()) {
      metrics.counter("slave/invalid_files_requests").inc();
      return HttpResponse::error(httpStatusFor(r.error), r.error.message());
    }
    uint64_t size = 0;
    auto fd = openRegularFile(r.path, &size);
    if (!fd.ok()) return HttpResponse::error(httpStatusFor(fd.status()), fd.error());
    HttpResponse resp;
    resp.file = std::make_shared<HttpFileBody>(*fd, size);  // streamed, however large
    resp.contentType = "application/octet-stream";
    std::string name = r.path.substr(r.path.rfind('/') + 1);
    resp.headers["Content-Disposition"] = "attachment; filename=\"" + name + "\"";
    return resp;
  });
}

}  // namespace tutti::agent
