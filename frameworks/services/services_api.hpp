// ServicesApi: the Marathon-compatible REST API of tutti-services (see
// docs/services.md for the table). Handlers parse and validate requests,
// call the ServiceScheduler, and answer in Marathon's shapes and status
// codes: 400 for a body that is not JSON, 422 {"message": "Object is not
// valid", "details": [...]} for an invalid app, 404 {"message": "App '/x'
// does not exist"}, 409 for an existing app or one locked by a deployment.
// Every rejection is counted (services/api_rejections).
//
// A standby (not the elected leader) answers /ping, /metrics, /v2/info and
// /v2/leader itself and redirects every other call to the leader (307,
// same path and query) or answers 503 while there is none.
//
// Threads: handlers run on the HTTP server's threads; the leadership
// functions must be thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/http.hpp"
#include "common/metrics.hpp"
#include "frameworks/services/service_scheduler.hpp"

namespace tutti::services {

struct Leadership {
  // The scheduler while this instance leads; nullptr otherwise.
  std::function<ServiceScheduler*()> scheduler;
  // "host:port" of the leader's API, if one is known (may be this one).
  std::function<std::optional<std::string>()> leader;
};

class ServicesApi {
 public:
  // `info`: static fields of /v2/info (name, version, configuration).
  // `events` (may be null) serves GET /v2/events; it must outlive the
  // server's streams.
  ServicesApi(Leadership leadership, Metrics* metrics, nlohmann::json info,
              EventBus* events = nullptr);
  // Adds every route; call before the server starts.
  void install(HttpServer& server);

 private:
  HttpResponse onApps(const HttpRequest& req);         // GET/POST /v2/apps
  HttpResponse onApp(const HttpRequest& req);          // /v2/apps/{id}[/restart|/tasks…]
  HttpResponse onTasks(const HttpRequest& req);        // GET /v2/tasks
  HttpResponse onDeployments(const HttpRequest& req);  // GET, DELETE /v2/deployments[/id]
  HttpResponse onInfo(const HttpRequest& req);
  HttpResponse onLeader(const HttpRequest& req);
  HttpResponse onMetrics(const HttpRequest& req);
  // GET /v2/events[?event_type=…]: Server-Sent Events (event_bus.hpp).
  HttpResponse onEvents(const HttpRequest& req);
  // GET /v2/queue; DELETE /v2/queue/{app id}/delay.
  HttpResponse onQueue(const HttpRequest& req);

  // Runs `fn` with the scheduler when leading, else redirects.
  HttpResponse leading(const HttpRequest& req,
                       const std::function<HttpResponse(ServiceScheduler&)>& fn);
  HttpResponse reject(int status, nlohmann::json body);
  HttpResponse invalid(const FieldErrors& errors);
  HttpResponse failed(const Status& status);
  HttpResponse deployed(const Result<DeploymentRef>& ref, int okStatus,
                        const FieldErrors& errors = {});

  Leadership leadership_;
  Metrics* metrics_;
  nlohmann::json info_;
  EventBus* events_;
};

}  // namespace tutti::services
