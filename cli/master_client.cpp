#include "cli/master_client.hpp"

#include <optional>

#include "common/clock.hpp"
#include "common/http.hpp"
#include "common/loop.hpp"
#include "common/master_detector.hpp"
#include "common/json.hpp"

namespace tutti::cli {

namespace {
constexpr int kMaxRedirects = 3;

// A non-2xx answer as a Status of the matching kind.
Status statusFromHttp(int code, const std::string& what) {
  switch (code) {
    case 400: return Status::InvalidArgument(what);
    case 404: return Status::NotFound(what);
    case 409: return Status::FailedPrecondition(what);
    case 401:
    case 403: return Status::PermissionDenied(what);
    default: return Status::Unavailable(what);
  }
}

std::string errorMessage(const std::string& body) {
  json::Json j = tutti::json::parse(body);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"];
  return body.empty() ? "(no message)" : body;
}
}  // namespace

Status checkAnswer(const HttpAnswer& answer, const std::string& what) {
  if (answer.status >= 200 && answer.status < 300) return Status::OK();
  return statusFromHttp(answer.status, what + ": " + std::to_string(answer.status) + " " +
                                           errorMessage(answer.body));
}

Result<std::pair<std::string, int>> parseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("'" + text + "' is not HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return Status::InvalidArgument("'" + text + "' has a bad port");
    }
    port = port * 10 + (c - '0');
  }
  if (port <= 0 || port > 65535) return Status::InvalidArgument("'" + text + "' has a bad port");
  return std::make_pair(host, port);
}

Result<std::pair<std::string, int>> parseHttpUrl(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return Status::InvalidArgument("'" + url + "' is not http://");
  std::string rest = url.substr(scheme.size());
  return parseHostPort(rest.substr(0, rest.find('/')));
}

Result<MasterClient> MasterClient::connect(const std::string& master,
                                           std::chrono::milliseconds timeout) {
  if (master.rfind("zk://", 0) != 0) {
    auto hp = parseHostPort(master);
    if (!hp.ok()) return hp.status();
    return MasterClient(hp->first, hp->second);
  }
  Loop loop(RealClock::instance());
  loop.adoptCurrentThread();
  std::optional<MasterInfo> leader;
  auto detector = MasterDetector::create(
      loop, master, [&leader](const std::optional<MasterInfo>& l) { leader = l; });
  if (!detector.ok()) return detector.status();
  Status s = (*detector)->start();
  if (!s.ok()) return s;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!leader && std::chrono::steady_clock::now() < deadline) {
    loop.runOnce(std::chrono::milliseconds(50));
  }
  if (!leader) {
    return Status::Unavailable("No leading master found in " + master + " within " +
                               std::to_string(timeout.count()) + " ms");
  }
  return MasterClient(leader->ip.empty() ? leader->hostname : leader->ip,
                      static_cast<int>(leader->port));
}

Result<HttpAnswer> MasterClient::request(const std::string& method, const std::string& path,
                                         const std::string& body,
                                         const std::string& contentType) {
  std::string host = host_;
  int port = port_;
  for (int hop = 0;; ++hop) {
    std::string location;
    HttpClientOptions options;
    options.location = &location;
    auto r = httpRequest(method, host, port, path, body, contentType, options);
    if (!r.ok()) {
      return Status::Unavailable("Cannot reach the master at " + host + ":" +
                                 std::to_string(port) + ": " + r.error());
    }
    if (r->first == 307 && !location.empty() && hop < kMaxRedirects) {
      auto next = parseHttpUrl(location);
      if (!next.ok()) return next.status();
      host = next->first;
      port = next->second;
      continue;
    }
    if (r->first == 503) {
      return Status::Unavailable("The master at " + host + ":" + std::to_string(port) +
                                 " cannot answer: " + errorMessage(r->second));
    }
    // Later requests go straight to the leader.
    host_ = host;
    port_ = port;
    return HttpAnswer{r->first, std::move(r->second)};
  }
}

Result<json::Json> MasterClient::getJson(const std::string& path) {
  auto r = request("GET", path);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return statusFromHttp(r->status, "GET " + path + " answered " + std::to_string(r->status) +
                                         ": " + errorMessage(r->body));
  }
  json::Json j = tutti::json::parse(r->body);
  if (j.is_discarded()) return Status::Unavailable("GET " + path + " did not answer JSON");
  return j;
}

}  // namespace tutti::cli
