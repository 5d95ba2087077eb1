#include "master/http/operator_api.hpp"

#include "common/version.hpp"
#include "master/http/http_common.hpp"

namespace tutti::master {

namespace {
using json::Json;

// body[call][field]["value"] as a non-empty string.
Result<std::string> idIn(const Json& body, const char* call, const char* field) {
  if (!body.contains(call) || !body[call].is_object()) {
    return Status::InvalidArgument(std::string("Expected '") + call + "' in the call");
  }
  const Json& c = body[call];
  if (!c.contains(field) || !c[field].is_object() || !c[field].contains("value") ||
      !c[field]["value"].is_string() || c[field]["value"].get<std::string>().empty()) {
    return Status::InvalidArgument(std::string("Expected '") + call + "." + field +
                                   ".value' (a non-empty string)");
  }
  return c[field]["value"].get<std::string>();
}

HttpResponse answer(const Status& s, Metrics& metrics) {
  if (isClientError(s)) metrics.counter("master/invalid_http_requests").inc();
  if (s.ok()) return HttpResponse::text("", 200);
  return HttpResponse::error(httpStatusFor(s), s.message());
}
}  // namespace

HttpResponse handleOperatorCall(const HttpRequest& req, Master& master, Loop& loop,
                                Metrics& metrics) {
  auto type = req.headers.find("content-type");
  if (type != req.headers.end() && type->second.find("protobuf") != std::string::npos) {
    metrics.counter("master/invalid_http_requests").inc();
    return HttpResponse::error(415, "Only application/json calls are supported");
  }
  auto body = parseBody(req);
  if (!body.ok()) return answer(body.status(), metrics);
  if (!body->is_object() || !body->contains("type") || !(*body)["type"].is_string()) {
    return answer(Status::InvalidArgument("Expected a JSON object with a string 'type'"), metrics);
  }
  const std::string call = (*body)["type"].get<std::string>();

  if (call == "GET_HEALTH") {
    return HttpResponse::json(
        json::dump(Json{{"type", "GET_HEALTH"}, {"get_health", {{"healthy", true}}}}) + "\n");
  }
  if (call == "GET_VERSION") {
    Json info{{"version", tuttiVersion()}, {"build_user", ""}, {"git_sha", ""}};
    return HttpResponse::json(
        json::dump(Json{{"type", "GET_VERSION"}, {"get_version", {{"version_info", info}}}}) +
        "\n");
  }
  if (call == "MARK_AGENT_GONE") {
    auto id = idIn(*body, "mark_agent_gone", "agent_id");
    if (!id.ok()) return answer(id.status(), metrics);
    Status s = changeDurably(loop, master, "http.mark_agent_gone",
                             [&master, agent = AgentID(*id)](Registry::Done durable) {
                               return master.agents().markGone(agent, std::move(durable));
                             });
    return answer(s, metrics);
  }
  if (call == "TEARDOWN") {
    auto id = idIn(*body, "teardown", "framework_id");
    if (!id.ok()) return answer(id.status(), metrics);
    Status s = loop.call("http.teardown", [&master, fw = FrameworkID(*id)] {
      return master.frameworks().teardownByOperator(fw);
    });
    return answer(s, metrics);
  }
  metrics.counter("master/invalid_http_requests").inc();
  return HttpResponse::error(501, "The v1 operator call '" + call +
                                      "' is not implemented; supported: MARK_AGENT_GONE, "
                                      "TEARDOWN, GET_HEALTH, GET_VERSION (the v0 endpoints "
                                      "cover the rest: docs/http-api.md)");
}

}  // namespace tutti::master
