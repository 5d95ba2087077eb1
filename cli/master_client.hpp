// MasterClient: the CLI's way to the leading master's HTTP API.
//
// `--master` is HOST:PORT of any master's HTTP port (a standby redirects),
// or zk://host1:2181,host2:2181/path: the leader is read from ZooKeeper
// (its json.info_ node holds its HTTP address). Requests follow a
// standby's 307 to the leader (a few hops at most); 503 "no leader" and
// connection failures are Unavailable errors that name the address.
//
// Threads: one thread; blocking calls.
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "common/json.hpp"
#include "tutti/status.hpp"

namespace tutti::cli {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class MasterClient {
 public:
  // Resolves `master`; with zk:// waits up to `timeout` for a leader.
  static Result<MasterClient> connect(const std::string& master,
                                      std::chrono::milliseconds timeout);

  // Any method; follows redirects. The answer's status is the final one.
  Result<HttpAnswer> request(const std::string& method, const std::string& path,
                             const std::string& body = "",
                             const std::string& contentType = "application/json");
  // GET that must answer 200 with JSON.
  Result<json::Json> getJson(const std::string& path);

  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  MasterClient(std::string host, int port) : host_(std::move(host)), port_(port) {}
  std::string host_;
  int port_;
};

// OK for a 2xx answer; otherwise an error of the matching kind (404
// NotFound, 400 InvalidArgument, …) saying `what` failed and the server's
// message.
Status checkAnswer(const HttpAnswer& answer, const std::string& what);

// "host:port" -> (host, port); InvalidArgument otherwise.
Result<std::pair<std::string, int>> parseHostPort(const std::string& text);
// "http://host:port/anything" -> (host, port); InvalidArgument otherwise.
Result<std::pair<std::string, int>> parseHttpUrl(const std::string& url);

}  // namespace tutti::cli
