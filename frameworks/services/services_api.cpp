#include "frameworks/services/services_api.hpp"

#include "frameworks/services/app_views.hpp"
#include "common/json.hpp"

namespace tutti::services {

using nlohmann::json;

namespace {

bool flag(const HttpRequest& req, const std::string& name) {
  auto v = req.param(name);
  return v && (*v == "true" || *v == "1" || v->empty());
}

bool wantsText(const HttpRequest& req) {
  auto it = req.headers.find("accept");
  return it != req.headers.end() && it->second.find("text/plain") != std::string::npos &&
         it->second.find("application/json") == std::string::npos;
}

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(),
                                                suffix) == 0;
}

HttpResponse jsonResponse(const json& body, int status = 200) {
  return HttpResponse::json(tutti::json::dump(body), status);
}

std::string queryOf(const HttpRequest& req) {
  std::string q;
  for (const auto& [k, v] : req.params) q += (q.empty() ? "?" : "&") + k + "=" + v;
  return q;
}

}  // namespace

ServicesApi::ServicesApi(Leadership leadership, Metrics* metrics, json info, EventBus* events)
    : leadership_(std::move(leadership)), metrics_(metrics), info_(std::move(info)),
      events_(events) {}

void ServicesApi::install(HttpServer& server) {
  auto bind = [this](HttpResponse (ServicesApi::*fn)(const HttpRequest&)) {
    return [this, fn](const HttpRequest& req) { return (this->*fn)(req); };
  };
  server.route("GET", "/ping", [](const HttpRequest&) { return HttpResponse::text("pong\n"); });
  server.route("GET", "/metrics", bind(&ServicesApi::onMetrics));
  server.route("GET", "/v2/info", bind(&ServicesApi::onInfo));
  server.route("GET", "/v2/leader", bind(&ServicesApi::onLeader));
  server.route("GET", "/v2/events", bind(&ServicesApi::onEvents));
  server.route("GET", "/v2/queue", bind(&ServicesApi::onQueue));
  server.routePrefix("DELETE", "/v2/queue/", bind(&ServicesApi::onQueue));
  server.route("GET", "/v2/apps", bind(&ServicesApi::onApps));
  server.route("POST", "/v2/apps", bind(&ServicesApi::onApps));
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    server.routePrefix(method, "/v2/apps/", bind(&ServicesApi::onApp));
  }
  server.route("GET", "/v2/tasks", bind(&ServicesApi::onTasks));
  server.route("GET", "/v2/deployments", bind(&ServicesApi::onDeployments));
  server.routePrefix("DELETE", "/v2/deployments/", bind(&ServicesApi::onDeployments));
}

HttpResponse ServicesApi::reject(int status, json body) {
  metrics_->counter("services/api_rejections").inc();
  metrics_->counter("services/api_rejections_" + std::to_string(status)).inc();
  return jsonResponse(body, status);
}

HttpResponse ServicesApi::invalid(const FieldErrors& errors) {
  json details = json::array();
  for (const auto& e : errors) details.push_back({{"path", e.path}, {"errors", e.errors}});
  return reject(422, {{"message", "Object is not valid"}, {"details", details}});
}

HttpResponse ServicesApi::failed(const Status& status) {
  switch (status.code()) {
    case Status::Code::kNotFound: return reject(404, {{"message", status.message()}});
    case Status::Code::kAlreadyExists: return reject(409, {{"message", status.message()}});
    case Status::Code::kFailedPrecondition: return reject(409, {{"message", status.message()}});
    case Status::Code::kInvalidArgument: return reject(422, {{"message", status.message()}});
    case Status::Code::kUnavailable: return reject(503, {{"message", status.message()}});
    default: return reject(500, {{"message", status.message()}});
  }
}

HttpResponse ServicesApi::deployed(const Result<DeploymentRef>& ref, int okStatus,
                                   const FieldErrors& errors) {
  if (!ref.ok()) {
    if (!errors.empty()) return invalid(errors);
    return failed(ref.status());
  }
  return jsonResponse({{"deploymentId", ref->deploymentId}, {"version", ref->version}},
                      ref->created ? 201 : okStatus);
}

HttpResponse ServicesApi::leading(const HttpRequest& req,
                                  const std::function<HttpResponse(ServiceScheduler&)>& fn) {
  if (ServiceScheduler* scheduler = leadership_.scheduler()) return fn(*scheduler);
  auto leader = leadership_.leader();
  if (!leader) return reject(503, {{"message", "There is no leader at the moment"}});
  HttpResponse r = jsonResponse({{"message", "Redirecting to the leader at " + *leader}}, 307);
  r.headers["Location"] = "http://" + *leader + req.path + queryOf(req);
  return r;
}

// ---- Apps ---------------------------------------------------------------

HttpResponse ServicesApi::onApps(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler& s) {
    if (req.method == "GET") {
      bool withTasks = req.param("embed").value_or("").find("tasks") != std::string::npos;
      json apps = json::array();
      s.read([&](const AppMap& all) {
        for (const auto& [_, app] : all) {
          if (!app.deleting) apps.push_back(appView(app, withTasks));
        }
      });
      return jsonResponse({{"apps", apps}});
    }
    auto body = tutti::json::parse(req.body);
    if (body.is_discarded()) {
      return reject(400, {{"message", "Invalid JSON"},
                          {"details", {{{"path", "/"}, {"errors", {"not a JSON document"}}}}}});
    }
    ParsedApp parsed = parseApp(body);
    if (!parsed.app) return invalid(parsed.errors);
    std::string id = parsed.app->id;
    auto ref = s.createApp(*parsed.app);
    if (!ref.ok()) return failed(ref.status());
    s.apiPostEvent(req.remoteAddr, req.path, id);
    json view;
    s.read([&](const AppMap& all) {
      auto it = all.find(id);
      if (it != all.end()) view = appView(it->second, false);
    });
    HttpResponse r = jsonResponse(view, 201);
    r.headers["Location"] = "/v2/apps" + id;
    return r;
  });
}

HttpResponse ServicesApi::onApp(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler& s) {
    std::string rest = req.path.substr(std::string("/v2/apps").size());
    bool force = flag(req, "force");
    std::string taskId;
    enum class Target { kApp, kRestart, kTasks, kTask } target = Target::kApp;
    if (req.method == "POST" && endsWith(rest, "/restart")) {
      target = Target::kRestart;
      rest.resize(rest.size() - 8);
    } else if (req.method == "GET" && endsWith(rest, "/tasks")) {
      target = Target::kTasks;
      rest.resize(rest.size() - 6);
    } else if (req.method == "DELETE" && rest.rfind("/tasks/") != std::string::npos) {
      size_t at = rest.rfind("/tasks/");
      target = Target::kTask;
      taskId = rest.substr(at + 7);
      rest.resize(at);
    } else if (req.method == "POST") {
      return reject(405, {{"message", "POST /v2/apps/{id} is only for /restart"}});
    }
    auto id = normalizeAppId(rest);
    if (!id.ok()) return reject(404, {{"message", "App '" + rest + "' does not exist"}});
    std::string appId = *id;
    auto notFound = [&] { return reject(404, {{"message", "App '" + appId + "' does not exist"}}); };

    if (target == Target::kRestart) return deployed(s.restartApp(appId, force), 200);
    if (target == Target::kTask) {
      auto r = s.killTask(appId, taskId, flag(req, "scale"), flag(req, "wipe"));
      return r.ok() ? jsonResponse(*r) : failed(r.status());
    }
    if (req.method == "GET") {
      json view;
      std::string text;
      bool found = false;
      s.read([&](const AppMap& all) {
        auto it = all.find(appId);
        if (it == all.end() || it->second.deleting) return;
        found = true;
        if (target == Target::kTasks && wantsText(req)) {
          text = endpointsText(all, appId);
        } else if (target == Target::kTasks) {
          view = tasksView(all, appId);
        } else {
          view = {{"app", appView(it->second, true)}};
        }
      });
      if (!found) return notFound();
      if (target == Target::kTasks && wantsText(req)) return HttpResponse::text(text);
      return jsonResponse(view);
    }
    if (req.method == "DELETE") {
      auto ref = s.deleteApp(appId, force);
      if (ref.ok()) s.apiPostEvent(req.remoteAddr, req.path, appId);
      return deployed(ref, 200);
    }
    // PUT, PATCH.
    auto body = tutti::json::parse(req.body);
    if (body.is_discarded()) {
      return reject(400, {{"message", "Invalid JSON"},
                          {"details", {{{"path", "/"}, {"errors", {"not a JSON document"}}}}}});
    }
    if (body.is_object() && body.contains("id") && body["id"].is_string()) {
      auto bodyId = normalizeAppId(body["id"].get<std::string>());
      if (bodyId.ok() && *bodyId != appId) {
        return invalid({{"/id", {"the id in the body (" + *bodyId +
                                     ") is not the one in the path (" + appId + ")"}}});
      }
    }
    FieldErrors errors;
    auto ref = s.updateApp(appId, body, force, &errors);
    if (ref.ok()) s.apiPostEvent(req.remoteAddr, req.path, appId);
    return deployed(ref, 200, errors);
  });
}

HttpResponse ServicesApi::onQueue(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler& s) {
    if (req.method == "GET") return jsonResponse(s.queue());
    std::string rest = req.path.substr(std::string("/v2/queue").size());
    if (!endsWith(rest, "/delay")) {
      return reject(404, {{"message", "DELETE /v2/queue/{appId}/delay is the only deletion"}});
    }
    rest.resize(rest.size() - 6);
    auto id = normalizeAppId(rest);
    if (!id.ok()) return reject(404, {{"message", "App '" + rest + "' does not exist"}});
    Status reset = s.resetDelay(*id);
    if (!reset.ok()) return failed(reset);
    HttpResponse r = HttpResponse::text("", 204);
    return r;
  });
}

HttpResponse ServicesApi::onEvents(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler&) {
    if (!events_) return reject(503, {{"message", "There is no event stream"}});
    std::set<std::string> types;
    auto range = req.params.equal_range("event_type");
    for (auto it = range.first; it != range.second; ++it) types.insert(it->second);
    auto sub = events_->subscribe(std::move(types), req.remoteAddr);
    if (!sub.ok()) return reject(503, {{"message", sub.status().message()}});
    HttpResponse r;
    r.contentType = "text/event-stream";
    r.headers["Cache-Control"] = "no-cache";
    // A comment line now and then: an idle stream whose client went away
    // ends at the next write instead of holding its thread forever.
    auto idle = std::make_shared<int>(0);
    r.stream = [sub = *sub, idle](std::string* chunk) {
      if (!sub->next(chunk, std::chrono::seconds(1))) return false;
      if (!chunk->empty()) {
        *idle = 0;
      } else if (++*idle >= 15) {
        *idle = 0;
        *chunk = ":\n\n";
      }
      return true;
    };
    return r;
  });
}

HttpResponse ServicesApi::onTasks(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler& s) {
    json view;
    std::string text;
    bool asText = wantsText(req);
    s.read([&](const AppMap& all) {
      if (asText) {
        text = endpointsText(all);
      } else {
        view = tasksView(all);
      }
    });
    return asText ? HttpResponse::text(text) : jsonResponse(view);
  });
}

HttpResponse ServicesApi::onDeployments(const HttpRequest& req) {
  return leading(req, [&](ServiceScheduler& s) {
    if (req.method == "GET") {
      json view;
      s.read([&](const AppMap& all) { view = deploymentsView(all); });
      return jsonResponse(view);
    }
    std::string id = req.path.substr(std::string("/v2/deployments/").size());
    bool force = flag(req, "force");
    auto ref = s.cancelDeployment(id, force);
    if (ref.ok() && force) return HttpResponse::json("", 202);
    return deployed(ref, 200);
  });
}

// ---- Info ---------------------------------------------------------------

HttpResponse ServicesApi::onInfo(const HttpRequest&) {
  json info = info_;
  auto leader = leadership_.leader();
  info["leader"] = leader ? json(*leader) : json(nullptr);
  ServiceScheduler* s = leadership_.scheduler();
  info["elected"] = s != nullptr;
  info["frameworkId"] = s ? json(s->frameworkId()) : json(nullptr);
  return jsonResponse(info);
}

HttpResponse ServicesApi::onLeader(const HttpRequest&) {
  auto leader = leadership_.leader();
  if (!leader) return reject(404, {{"message", "There is no leader"}});
  return jsonResponse({{"leader", *leader}});
}

HttpResponse ServicesApi::onMetrics(const HttpRequest& req) {
  auto snapshot = metrics_->snapshot();
  if (req.param("format").value_or("") == "prometheus") {
    return HttpResponse::text(Metrics::toPrometheus(snapshot));
  }
  return jsonResponse(json(snapshot));
}

}  // namespace tutti::services
