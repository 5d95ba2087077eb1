#include "common/http.hpp"

#include <glog/logging.h>
#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <thread>
#include <unistd.h>
#include <vector>

namespace tutti {

std::optional<std::string> HttpRequest::param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

HttpResponse HttpResponse::json(std::string body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::json(std::shared_ptr<const json::JsonRope> body, int status) {
  HttpResponse r;
  r.status = status;
  r.rope = std::move(body);
  return r;
}

HttpResponse HttpResponse::text(std::string body, int status) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.contentType = "text/plain; charset=utf-8";
  return r;
}

HttpResponse HttpResponse::error(int status, const std::string& message) {
  // Escape for a JSON string without pulling a JSON library into callers.
  std::string escaped;
  for (char c : message) {
    switch (c) {
      case '"': escaped += "\\\""; break;
      case '\\': escaped += "\\\\"; break;
      case '\n': escaped += "\\n"; break;
      case '\r': escaped += "\\r"; break;
      case '\t': escaped += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          escaped += buf;
        } else {
          escaped += c;
        }
    }
  }
  return json("{\"error\":\"" + escaped + "\"}\n", status);
}

struct HttpServer::Impl {
  Options options;
  httplib::Server server;
  std::thread thread;
  bool started = false;
  std::atomic<bool> listenReturned{false};
};

HttpServer::HttpServer() : HttpServer(Options{}) {}

HttpServer::HttpServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  int threads = options.threads;
  impl_->server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->server.set_payload_max_length(options.maxBodyBytes);
  impl_->server.set_read_timeout(options.readTimeout.count(), 0);
  impl_->server.set_write_timeout(options.writeTimeout.count(), 0);
  // cpp-httplib bounds a body by its Content-Length only: a chunked body
  // would be read whole, however large. Bodies must say their length: 411
  // before any of it is read. The unread rest must not be taken for further
  // requests on the connection (request smuggling), and cpp-httplib decides
  // to keep a connection from the request alone; a response body whose
  // writer reports failure once it has written it all is what makes it
  // close the connection.
  impl_->server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Transfer-Encoding")) return httplib::Server::HandlerResponse::Unhandled;
    auto r = HttpResponse::error(
        411, "Chunked request bodies are not accepted: send the body with a Content-Length");
    res.status = 411;
    res.set_header("Connection", "close");
    auto body = std::make_shared<std::string>(std::move(r.body));
    res.set_content_provider(body->size(), r.contentType.c_str(),
                             [body](size_t offset, size_t, httplib::DataSink& sink) {
                               sink.write(body->data() + offset, body->size() - offset);
                               return false;  // all written: now close
                             });
    return httplib::Server::HandlerResponse::Handled;
  });
  impl_->server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        LOG(ERROR) << "HTTP handler for " << req.path << " failed: " << what;
        auto r = HttpResponse::error(500, what);
        res.status = 500;
        res.set_content(r.body, r.contentType.c_str());
      });
  impl_->server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty() && !res.content_provider_) {
      std::string what = res.status == 404   ? "No such endpoint"
                         : res.status == 413 ? "Request body too large"
                         : res.status == 400 ? "Bad request"
                                             : "HTTP " + std::to_string(res.status);
      auto r = HttpResponse::error(res.status, what);
      res.set_content(r.body, r.contentType.c_str());
    }
  });
}

HttpServer::~HttpServer() { stop(); }

HttpFileBody::~HttpFileBody() {
  if (fd >= 0) ::close(fd);
}

namespace {
HttpRequest convert(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  for (const auto& [k, v] : req.params) r.params.emplace(k, v);
  for (const auto& [k, v] : req.headers) {
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    r.headers[lower] = v;
  }
  r.body = req.body;
  r.remoteAddr = req.remote_addr;
  return r;
}

void apply(const HttpResponse& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [k, v] : from.headers) to.set_header(k, v);
  if (from.stream) {
    // cpp-httplib stops calling it once the server is stopping.
    auto next = from.stream;
    to.set_chunked_content_provider(
        from.contentType, [next](size_t, httplib::DataSink& sink) {
          std::string chunk;
          if (!next(&chunk)) {
            sink.done();
            return true;
          }
          return chunk.empty() || sink.write(chunk.data(), chunk.size());
        });
    return;
  }
  if (from.file) {
    std::shared_ptr<const HttpFileBody> file = from.file;
    to.set_content_provider(
        file->size, from.contentType.c_str(),
        [file](size_t offset, size_t length, httplib::DataSink& sink) {
          constexpr size_t kChunk = 256 * 1024;
          thread_local std::vector<char> chunk(kChunk);
          ssize_t n = ::pread(file->fd, chunk.data(), std::min(length, kChunk),
                              static_cast<off_t>(offset));
          return n > 0 && sink.write(chunk.data(), static_cast<size_t>(n));
        });
    return;
  }
  if (!from.rope) {
    to.set_content(from.body, from.contentType.c_str());
    return;
  }
  std::shared_ptr<const json::JsonRope> body = from.rope;
  to.set_content_provider(
      body->size(), from.contentType.c_str(),
      [body](size_t offset, size_t length, httplib::DataSink& sink) {
        // A chunk at a time through a per-thread buffer: one send per
        // 256 KiB, whatever the sizes of the rope's pieces.
        constexpr size_t kChunk = 256 * 1024;
        thread_local std::vector<char> chunk(kChunk);
        size_t n = body->copy(offset, chunk.data(), std::min(length, kChunk));
        return n > 0 && sink.write(chunk.data(), n);
      });
}

std::string regexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}
}  // namespace

namespace {
// Registers `handler` for `method` requests whose path matches `pattern`.
void addRoute(httplib::Server& server, const std::string& method, const std::string& pattern,
              HttpServer::Handler handler) {
  auto fn = [handler](const httplib::Request& req, httplib::Response& res) {
    apply(handler(convert(req)), res);
  };
  if (method == "GET") {
    server.Get(pattern, fn);
  } else if (method == "POST") {
    server.Post(pattern, fn);
  } else if (method == "PUT") {
    server.Put(pattern, fn);
  } else if (method == "DELETE") {
    server.Delete(pattern, fn);
  } else if (method == "PATCH") {
    server.Patch(pattern, fn);
  } else {
    LOG(FATAL) << "unsupported HTTP method " << method;
  }
}
}  // namespace

void HttpServer::route(const std::string& method, const std::string& path, Handler handler) {
  addRoute(impl_->server, method, regexEscape(path), std::move(handler));
}

void HttpServer::routePrefix(const std::string& method, const std::string& prefix,
                             Handler handler) {
  addRoute(impl_->server, method, regexEscape(prefix) + ".*", std::move(handler));
}

Result<int> HttpServer::start(const std::string& ip, int port) {
  auto bound = bind(ip, port);
  if (bound.ok()) serve();
  return bound;
}

Result<int> HttpServer::bind(const std::string& ip, int port) {
  int bound = -1;
  if (port == 0) {
    bound = impl_->server.bind_to_any_port(ip.c_str());
  } else if (impl_->server.bind_to_port(ip.c_str(), port)) {
    bound = port;
  }
  if (bound <= 0) {
    return Status::Unavailable("cannot listen on " + ip + ":" + std::to_string(port) +
                               " (address in use or not available)");
  }
  port_ = bound;
  return bound;
}

void HttpServer::serve() {
  impl_->started = true;
  impl_->listenReturned = false;
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->listenReturned = true;
  });
}

void HttpServer::stop() {
  if (!impl_ || !impl_->started) return;
  // httplib's stop() does nothing until its listen loop runs, which then
  // accepts forever: a server stopped right after serve() (a daemon that
  // failed at once) waits for the loop to start, or for it to have ended.
  // httplib 0.11 has no hook for that moment; the wait is a few
  // milliseconds at most.
  while (!impl_->server.is_running() && !impl_->listenReturned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

namespace {
template <typename Fn>
Result<std::pair<int, std::string>> withClient(const std::string& host, int port,
                                               const HttpClientOptions& options, Fn fn) {
  httplib::Client client(host, port);
  client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(
                                    options.connectTimeout)
                                    .count() /
                                    1'000'000,
                                (options.connectTimeout.count() % 1000) * 1000);
  client.set_read_timeout(options.readTimeout.count() / 1000,
                          (options.readTimeout.count() % 1000) * 1000);
  auto res = fn(client);
  if (options.location) *options.location = res ? res->get_header_value("Location") : "";
  if (!res) {
    return Status::Unavailable("HTTP request to " + host + ":" + std::to_string(port) +
                               " failed: " + httplib::to_string(res.error()));
  }
  return std::make_pair(res->status, res->body);
}
}  // namespace

Result<std::pair<int, std::string>> httpGet(const std::string& host, int port,
                                            const std::string& pathAndQuery,
                                            const HttpClientOptions& options) {
  return withClient(host, port, options,
                    [&](httplib::Client& c) { return c.Get(pathAndQuery); });
}

Result<std::pair<int, std::string>> httpPost(const std::string& host, int port,
                                             const std::string& path, const std::string& body,
                                             const std::string& contentType,
                                             const HttpClientOptions& options) {
  return withClient(host, port, options, [&](httplib::Client& c) {
    return c.Post(path, body, contentType.c_str());
  });
}

Result<std::pair<int, std::string>> httpRequest(const std::string& method, const std::string& host,
                                                int port, const std::string& path,
                                                const std::string& body,
                                                const std::string& contentType,
                                                const HttpClientOptions& options) {
  return withClient(host, port, options, [&](httplib::Client& c) {
    if (method == "GET") return c.Get(path);
    if (method == "POST") return c.Post(path, body, contentType.c_str());
    if (method == "PUT") return c.Put(path, body, contentType.c_str());
    if (method == "PATCH") return c.Patch(path, body, contentType.c_str());
    return c.Delete(path, body, contentType.c_str());
  });
}

}  // namespace tutti
