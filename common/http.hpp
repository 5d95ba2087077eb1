// A small HTTP server and client over cpp-httplib.
//
// HttpServer: routes exact paths to handlers that run on the server's own
// worker threads (never on a component's loop). A handler that needs
// component state posts to the loop (Loop::call) or reads a published
// snapshot. Request bodies above Options::maxBodyBytes get 413; a handler
// that throws gets a 500 with the message, and the server keeps serving.
//
// HttpClient functions are blocking and thread-safe; errors (connection
// refused, timeout) come back as a Status.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/json_rope.hpp"
#include "tutti/status.hpp"

namespace tutti {

struct HttpRequest {
  std::string method;
  std::string path;
  std::multimap<std::string, std::string> params;  // query string and form fields
  std::map<std::string, std::string> headers;      // lower-case names
  std::string body;
  std::string remoteAddr;

  // The first value of a query parameter, if present.
  std::optional<std::string> param(const std::string& name) const;
};

// An open file sent as a response body while it is read (never whole in
// memory). Owns `fd` (closed when the last response holding it is gone).
struct HttpFileBody {
  int fd = -1;
  uint64_t size = 0;  // bytes sent: the file's size when it was opened
  HttpFileBody(int fd, uint64_t size) : fd(fd), size(size) {}
  HttpFileBody(const HttpFileBody&) = delete;
  HttpFileBody& operator=(const HttpFileBody&) = delete;
  ~HttpFileBody();
};

struct HttpResponse {
  int status = 200;
  std::string body;
  // Instead of `body`: a large sealed document shared by many responses
  // (the master's state endpoints), copied out in chunks as it is sent.
  std::shared_ptr<const json::JsonRope> rope;
  // Instead of `body`: a file streamed from disk. A file that shrinks while
  // it is sent ends the connection early (the client sees a short body).
  std::shared_ptr<const HttpFileBody> file;
  // Instead of `body`: an open-ended stream (Server-Sent Events), sent with
  // chunked encoding as `stream` produces it. It is called again and again
  // on the worker thread that serves the request, should block for at most
  // about a second, appends what to send next to `chunk` (nothing is fine),
  // and returns false to end the response. The stream also ends when the
  // client goes away (a write fails) or the server stops; the function is
  // destroyed then. Each open stream holds one of the server's threads.
  std::function<bool(std::string* chunk)> stream;
  std::string contentType = "application/json";
  std::map<std::string, std::string> headers;

  static HttpResponse json(std::string body, int status = 200);
  static HttpResponse text(std::string body, int status = 200);
  static HttpResponse json(std::shared_ptr<const json::JsonRope> body, int status = 200);
  // A JSON or plain-text error body: {"error": message} for JSON APIs.
  static HttpResponse error(int status, const std::string& message);
};

class HttpServer {
 public:
  struct Options {
    int threads = 4;
    size_t maxBodyBytes = 4u << 20;
    std::chrono::seconds readTimeout{10};
    std::chrono::seconds writeTimeout{30};
  };
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer();
  explicit HttpServer(Options options);
  ~HttpServer();

  // Routes `method` (GET, POST, …) requests for exactly `path`.
  // Call before start().
  void route(const std::string& method, const std::string& path, Handler handler);
  // Routes requests whose path starts with `prefix`.
  void routePrefix(const std::string& method, const std::string& prefix, Handler handler);

  // Binds ip:port (0 picks a free port), starts serving on a background
  // thread, and returns the bound port.
  Result<int> start(const std::string& ip, int port);
  // The two halves of start(), for callers that need the port before they
  // can add their routes.
  Result<int> bind(const std::string& ip, int port);
  void serve();
  // Stops serving and joins the thread (idempotent).
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

struct HttpClientOptions {
  std::chrono::milliseconds connectTimeout{2000};
  std::chrono::milliseconds readTimeout{10000};
  // Out, when set: the answer's Location header (empty without one), for
  // callers that follow redirects themselves.
  std::string* location = nullptr;
};

Result<std::pair<int, std::string>> httpGet(const std::string& host, int port,
                                            const std::string& pathAndQuery,
                                            const HttpClientOptions& options = {});
Result<std::pair<int, std::string>> httpPost(const std::string& host, int port,
                                             const std::string& path, const std::string& body,
                                             const std::string& contentType = "application/json",
                                             const HttpClientOptions& options = {});

// Any method (GET, POST, PUT, DELETE, PATCH).
Result<std::pair<int, std::string>> httpRequest(const std::string& method, const std::string& host,
                                                int port, const std::string& path,
                                                const std::string& body = "",
                                                const std::string& contentType = "application/json",
                                                const HttpClientOptions& options = {});

}  // namespace tutti
