#include "master/http/master_http.hpp"

#include <chrono>
#include <future>

#include "common/json.hpp"
#include "common/version.hpp"
#include "master/http/http_common.hpp"
#include "master/http/maintenance_json.hpp"
#include "master/http/operator_api.hpp"

namespace tutti::master {

namespace {
using json::Json;

// The roles Mesos lists: those with frameworks, a weight or a quota (from
// the allocator), plus those holding reservations, and every ancestor of
// these (the role tree). A role's "reserved" holds the reservations of the
// role and of its sub-roles: they are the resources only that subtree can
// use. "allocated" and "offered" are the role's own.
Json rolesJson(Master& m) {
  // One pass over offers and agents for all roles.
  std::map<std::string, Resources> offeredByRole, reservedByRole;
  for (const auto& [_, o] : m.offers().all()) {
    offeredByRole[o.offer->allocationRole] += o.offer->resources;
  }
  for (const auto& [_, a] : m.agents().all()) {
    if (a.state != AgentState::kRegistered) continue;
    for (const Resource& r : a.total) {
      if (!r.isReserved()) continue;
      // The reservation counts for its role and each ancestor.
      std::string role = r.reservationRole();
      for (;;) {
        reservedByRole[role] += r;
        size_t slash = role.rfind('/');
        if (slash == std::string::npos) break;
        role.resize(slash);
      }
    }
  }
  std::map<std::string, RoleSummary> byRole;
  for (auto& r : m.allocator().roles()) byRole[r.role] = std::move(r);
  for (const auto& [role, _] : reservedByRole) {
    if (!byRole.count(role)) byRole[role].role = role;
  }
  // Ancestors of every listed role (their weight is 1 unless set).
  std::vector<std::string> names;
  for (const auto& [role, _] : byRole) names.push_back(role);
  for (std::string role : names) {
    for (size_t slash = role.rfind('/'); slash != std::string::npos; slash = role.rfind('/')) {
      role.resize(slash);
      if (!byRole.count(role)) byRole[role].role = role;
    }
  }
  const auto& weights = m.roles().weights();
  Json roles = Json::array();
  for (auto& [name, r] : byRole) {
    Json j;
    j["name"] = name;
    auto w = weights.find(name);
    j["weight"] = w != weights.end() ? w->second : 1.0;
    j["resources"] = json::resources(r.allocated);
    j["allocated"] = json::resources(r.allocated);
    j["offered"] = json::resources(offeredByRole[name]);
    j["reserved"] = json::resources(reservedByRole[name]);
    Json fws = Json::array();
    for (const auto& f : r.frameworks) fws.push_back(f.value);
    j["frameworks"] = fws;
    if (r.quota) {
      j["quota"] = {{"guarantee", json::resources(r.quota->guarantee)},
                    {"limit", json::resources(r.quota->limit)}};
    }
    roles.push_back(j);
  }
  return {{"roles", roles}};
}

Json weightsJson(const Master& m) {
  Json out = Json::array();
  for (const auto& [role, w] : m.roles().weights()) out.push_back({{"role", role}, {"weight", w}});
  return out;
}

Json quotaJson(const Master& m) {
  Json infos = Json::array();
  for (const auto& [role, q] : m.roles().quotas()) {
    Json j{{"role", role}, {"guarantee", json::resourcesFull(q.guarantee)}};
    if (!q.limit.empty()) j["limit"] = json::resourcesFull(q.limit);
    infos.push_back(j);
  }
  return {{"infos", infos}};
}

// Mesos's /reserve and /unreserve take form fields slaveId and resources
// (JSON), /create-volumes and /destroy-volumes slaveId and volumes; a JSON
// body {"slave_id"|"agent_id", "resources"|"volumes"} works too.
Result<std::pair<AgentID, Resources>> reservationRequest(const HttpRequest& req,
                                                         const std::string& field = "resources") {
  std::optional<std::string> agent = req.param("slaveId");
  if (!agent) agent = req.param("agentId");
  Json resources;
  if (auto r = req.param(field)) {
    auto parsed = json::parseChecked(*r, "'" + field + "'");
    if (!parsed.ok()) return parsed.status();
    resources = std::move(parsed).value();
  } else {
    auto body = parseBody(req);
    if (!body.ok()) return body.status();
    if (!body->is_object()) return Status::InvalidArgument("Expected a JSON object");
    for (const char* key : {"slave_id", "agent_id", "slaveId", "agentId"}) {
      if (body->contains(key) && (*body)[key].is_string()) agent = (*body)[key].get<std::string>();
    }
    if (body->contains(field)) resources = (*body)[field];
  }
  if (!agent || agent->empty()) return Status::InvalidArgument("Missing the agent id (slaveId)");
  if (resources.is_null()) return Status::InvalidArgument("Missing '" + field + "'");
  auto parsed = json::parseResources(resources);
  if (!parsed.ok()) return parsed.status();
  return std::make_pair(AgentID(*agent), *parsed);
}

HttpResponse jsonOnLoop(Loop& loop, const char* name, std::function<Json()> build) {
  Json j = loop.call(name, std::move(build));
  return HttpResponse::json(json::dump(j) + "\n");
}

// A default value of the payload's alternative `i` (for its name).
template <size_t... I>
wire::Payload variantAtImpl(size_t i, std::index_sequence<I...>) {
  wire::Payload p;
  (void)((i == I ? (p.emplace<I>(), true) : false) || ...);
  return p;
}
wire::Payload variantAt(size_t i) {
  return variantAtImpl(i, std::make_index_sequence<std::variant_size_v<wire::Payload>>{});
}

}  // namespace

void installMasterRoutes(HttpServer& server, Master& master, Loop& loop, Metrics& metrics,
                         StatePublisher& state, std::map<std::string, std::string> flags,
                         std::function<std::optional<std::string>()> leaderUrl) {
  // Leader-only endpoints: a standby master redirects (307) to the leader,
  // or answers 503 while there is none.
  auto gate = [leaderUrl](HttpServer::Handler h) -> HttpServer::Handler {
    return [leaderUrl, h](const HttpRequest& req) {
      std::optional<std::string> leader = leaderUrl ? leaderUrl() : std::nullopt;
      if (!leader) return h(req);
      if (leader->empty()) return HttpResponse::error(503, "No leading master is elected");
      HttpResponse r = HttpResponse::error(307, "This master is not the leader");
      r.headers["Location"] = *leader + req.path;
      return r;
    };
  };
  auto route = [&](const std::string& method, const std::string& path, HttpServer::Handler h) {
    server.route(method, path, gate(std::move(h)));
  };
  auto routePrefix = [&](const std::string& method, const std::string& prefix,
                         HttpServer::Handler h) {
    server.routePrefix(method, prefix, gate(std::move(h)));
  };
  auto both = [&](const std::string& path, HttpServer::Handler h) {
    route("GET", "/master" + path, h);
    route("GET", path, h);
  };
  auto open = [&](const std::string& path, HttpServer::Handler h) {
    server.route("GET", "/master" + path, h);
    server.route("GET", path, h);
  };
  // Any master answers with the leader's address.
  open("/redirect", [leaderUrl, &master](const HttpRequest&) {
    std::optional<std::string> leader = leaderUrl ? leaderUrl() : std::nullopt;
    std::string target = leader ? *leader
                                : "http://" + master.info().ip + ":" +
                                      std::to_string(master.info().port);
    if (target.empty()) return HttpResponse::error(503, "No leading master is elected");
    HttpResponse r = HttpResponse::text("", 307);
    r.headers["Location"] = target;
    return r;
  });
  // The state endpoints: from snapshots the loop publishes, serialized off
  // it, shared by concurrent readers (state_publisher.hpp).
  auto fromSnapshot = [&state](StatePublisher::View view) {
    return [&state, view](const HttpRequest&) {
      auto body = state.get(view);
      if (!body.ok()) return HttpResponse::error(503, body.error());
      return HttpResponse::json(*body);
    };
  };
  both("/state", fromSnapshot(StatePublisher::View::kState));
  both("/state.json", fromSnapshot(StatePublisher::View::kState));
  both("/state-summary", fromSnapshot(StatePublisher::View::kStateSummary));
  both("/frameworks", fromSnapshot(StatePublisher::View::kFrameworks));
  both("/slaves", fromSnapshot(StatePublisher::View::kSlaves));
  both("/tasks", fromSnapshot(StatePublisher::View::kTasks));
  both("/roles", [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.roles", [&master] { return rolesJson(master); });
  });
  // Weights: GET, and PUT [{"role": "eng", "weight": 2.0}, ...].
  route("GET", "/master/weights", [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.weights", [&master] { return weightsJson(master); });
  });
  route("GET", "/weights", [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.weights", [&master] { return weightsJson(master); });
  });
  auto putWeights = [&master, &loop, &metrics](const HttpRequest& req) {
    auto body = parseBody(req);
    std::map<std::string, double> weights;
    Status s = body.status();
    if (s.ok() && !body->is_array()) s = Status::InvalidArgument("Expected a JSON array");
    if (s.ok()) {
      for (const auto& e : *body) {
        if (!e.is_object() || !e.contains("role") || !e["role"].is_string() ||
            !e.contains("weight") || !e["weight"].is_number()) {
          s = Status::InvalidArgument("Each entry needs a string 'role' and a number 'weight'");
          break;
        }
        weights[e["role"].get<std::string>()] = e["weight"].get<double>();
      }
    }
    if (s.ok()) {
      s = changeDurably(loop, master, "http.update_weights",
                        [&master, weights](Registry::Done durable) {
                          return master.roles().updateWeights(weights, std::move(durable));
                        });
    }
    if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
    return statusResponse(s);
  };
  route("PUT", "/master/weights", putWeights);
  route("PUT", "/weights", putWeights);

  // Quota: GET; POST {"role", "guarantee", "limit"}; DELETE /master/quota/ROLE.
  auto getQuota = [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.quota", [&master] { return quotaJson(master); });
  };
  route("GET", "/master/quota", getQuota);
  route("GET", "/quota", getQuota);
  auto postQuota = [&master, &loop, &metrics](const HttpRequest& req) {
    auto body = parseBody(req);
    Status s = body.status();
    std::string role;
    Quota quota;
    if (s.ok() && (!body->is_object() || !body->contains("role") || !(*body)["role"].is_string())) {
      s = Status::InvalidArgument("Expected a JSON object with a string 'role'");
    }
    if (s.ok()) {
      role = (*body)["role"].get<std::string>();
      for (const char* key : {"guarantee", "limit"}) {
        if (!body->contains(key)) continue;
        auto r = json::parseResources((*body)[key]);
        if (!r.ok()) {
          s = Status::InvalidArgument(std::string("'") + key + "': " + r.error());
          break;
        }
        (std::string(key) == "guarantee" ? quota.guarantee : quota.limit) = *r;
      }
    }
    if (s.ok()) {
      s = changeDurably(loop, master, "http.set_quota",
                        [&master, role, quota](Registry::Done durable) {
                          return master.roles().setQuota(role, quota, std::move(durable));
                        });
    }
    if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
    return statusResponse(s);
  };
  route("POST", "/master/quota", postQuota);
  route("POST", "/quota", postQuota);
  auto deleteQuota = [&master, &loop](const HttpRequest& req) {
    std::string role = req.path.substr(req.path.find("/quota/") + 7);
    Status s = changeDurably(loop, master, "http.remove_quota",
                             [&master, role](Registry::Done durable) {
                               return master.roles().removeQuota(role, std::move(durable));
                             });
    return statusResponse(s);
  };
  routePrefix("DELETE", "/master/quota/", deleteQuota);
  routePrefix("DELETE", "/quota/", deleteQuota);

  // Operator reservations.
  for (bool reserve : {true, false}) {
    auto handler = [&master, &loop, &metrics, reserve](const HttpRequest& req) {
      auto request = reservationRequest(req);
      Status s = request.status();
      if (s.ok()) {
        s = loop.call("http.reserve", [&] {
          return reserve ? master.roles().reserve(request->first, request->second)
                         : master.roles().unreserve(request->first, request->second);
        });
      }
      if (!s.ok()) metrics.counter("master/invalid_http_requests").inc();
      return statusResponse(s, 202);
    };
    std::string name = reserve ? "/reserve" : "/unreserve";
    route("POST", "/master" + name, handler);
    route("POST", name, handler);
  }

  // Operator persistent volumes.
  for (bool create : {true, false}) {
    auto handler = [&master, &loop, &metrics, create](const HttpRequest& req) {
      auto request = reservationRequest(req, "volumes");
      Status s = request.status();
      if (s.ok()) {
        s = loop.call("http.volumes", [&] {
          return create ? master.roles().createVolumes(request->first, request->second)
                        : master.roles().destroyVolumes(request->first, request->second);
        });
      }
      if (!s.ok()) metrics.counter("master/invalid_http_requests").inc();
      return statusResponse(s, 202);
    };
    std::string name = create ? "/create-volumes" : "/destroy-volumes";
    route("POST", "/master" + name, handler);
    route("POST", name, handler);
  }

  // Mesos's operator teardown: form body "frameworkId=ID" (curl -d), or JSON
  // {"framework_id": "ID"}. The framework's tasks are killed.
  auto teardown = [&master, &loop, &metrics](const HttpRequest& req) {
    std::optional<std::string> id = req.param("frameworkId");
    if (!id && !req.body.empty() && req.body.front() == '{') {
      Json j = json::parse(req.body);
      if (j.is_object() && j.contains("framework_id") && j["framework_id"].is_string()) {
        id = j["framework_id"].get<std::string>();
      }
    }
    Status s = id && !id->empty()
                   ? Status::OK()
                   : Status::InvalidArgument(
                         "Expected 'frameworkId=ID' in the body, or a JSON object with a "
                         "string 'framework_id'");
    if (s.ok()) {
      s = loop.call("http.teardown",
                    [&] { return master.frameworks().teardownByOperator(FrameworkID(*id)); });
    }
    if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
    return statusResponse(s);
  };
  route("POST", "/master/teardown", teardown);
  route("POST", "/api/v1", [&master, &loop, &metrics](const HttpRequest& req) {
    return handleOperatorCall(req, master, loop, metrics);
  });
  route("POST", "/teardown", teardown);

  // Maintenance primitives (Mesos's): the schedule, machines down and up,
  // and the machines' status. Changes answer once the registry holds them.
  auto getSchedule = [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.maintenance_schedule", [&master] {
      return maintenanceScheduleJson(master.maintenance().schedule());
    });
  };
  auto postSchedule = [&master, &loop, &metrics](const HttpRequest& req) {
    auto body = parseBody(req);
    Status s = body.status();
    MaintenanceSchedule schedule;
    if (s.ok()) {
      auto parsed = parseMaintenanceSchedule(*body);
      s = parsed.status();
      if (s.ok()) schedule = std::move(parsed).value();
    }
    if (s.ok()) {
      s = changeDurably(loop, master, "http.update_maintenance_schedule",
                        [&master, schedule](Registry::Done durable) {
                          return master.maintenance().updateSchedule(schedule,
                                                                     std::move(durable));
                        });
    }
    if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
    return statusResponse(s);
  };
  auto getStatus = [&master, &loop](const HttpRequest&) {
    return jsonOnLoop(loop, "http.maintenance_status",
                      [&master] { return maintenanceStatusJson(master.maintenance()); });
  };
  for (const std::string prefix : {"/master", ""}) {
    route("GET", prefix + "/maintenance/schedule", getSchedule);
    route("POST", prefix + "/maintenance/schedule", postSchedule);
    route("GET", prefix + "/maintenance/status", getStatus);
  }
  for (bool down : {true, false}) {
    auto handler = [&master, &loop, &metrics, down](const HttpRequest& req) {
      auto body = parseBody(req);
      Status s = body.status();
      std::vector<MachineID> ids;
      if (s.ok()) {
        auto parsed = parseMachineIds(*body);
        s = parsed.status();
        if (s.ok()) ids = std::move(parsed).value();
      }
      if (s.ok()) {
        s = changeDurably(loop, master, down ? "http.machine_down" : "http.machine_up",
                          [&master, ids, down](Registry::Done durable) {
                            auto& m = master.maintenance();
                            return down ? m.startMaintenance(ids, std::move(durable))
                                        : m.stopMaintenance(ids, std::move(durable));
                          });
      }
      if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
      return statusResponse(s);
    };
    std::string name = down ? "/machine/down" : "/machine/up";
    route("POST", "/master" + name, handler);
    route("POST", name, handler);
  }

  open("/flags", [flags](const HttpRequest&) {
    return HttpResponse::json(json::dump(Json{{"flags", flags}}) + "\n");
  });
  open("/health", [](const HttpRequest&) { return HttpResponse::text("", 200); });
  open("/version", [](const HttpRequest&) {
    return HttpResponse::json(
        json::dump(Json{{"version", tuttiVersion()}, {"build_user", ""}, {"git_sha", ""}}) + "\n");
  });
  // The registry, plus the loop's handler statistics (DESIGN §4): per
  // handler name `master/loop/<name>/{count,total_ms,max_ms}`, per message
  // type `master/handlers/<Message>/{count,total_ms,max_ms}`.
  auto takeSnapshot = [&loop, &metrics, &master] {
    return loop.call("http.metrics", [&metrics, &loop, &master] {
      std::map<std::string, double> out = metrics.snapshot();
      auto add = [&out](const std::string& prefix, const LoopHandlerStats& s) {
        out[prefix + "/count"] = static_cast<double>(s.count);
        out[prefix + "/total_ms"] = toMillis(s.total);
        out[prefix + "/max_ms"] = toMillis(s.max);
      };
      LoopStats stats = loop.stats();
      for (const auto& [name, s] : stats.handlers) add("master/loop/" + name, s);
      out["master/loop_lag_ms_last"] = toMillis(stats.lagLast);
      out["master/loop_lag_ms_max"] = toMillis(stats.lagMax);
      out["master/loop_slow_handlers"] = static_cast<double>(stats.slowHandlers);
      const auto& handlers = master.handlerStats();
      for (size_t i = 0; i < handlers.size(); ++i) {
        if (handlers[i].count == 0) continue;
        wire::Payload p = variantAt(i);
        add(std::string("master/handlers/") + wire::payloadName(p), handlers[i]);
      }
      return out;
    });
  };
  server.route("GET", "/metrics/snapshot", [takeSnapshot](const HttpRequest&) {
    return HttpResponse::json(json::dump(Json(takeSnapshot())) + "\n");
  });
  server.route("GET", "/metrics", [takeSnapshot](const HttpRequest&) {
    auto snapshot = takeSnapshot();
    HttpResponse r = HttpResponse::text(Metrics::toPrometheus(snapshot));
    r.contentType = "text/plain; version=0.0.4";
    return r;
  });
}

}  // namespace tutti::master
