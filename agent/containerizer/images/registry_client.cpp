#include "agent/containerizer/images/registry_client.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "agent/containerizer/images/manifest.hpp"
#include "agent/containerizer/images/registry_auth.hpp"

namespace tutti::agent::images {

namespace {

struct MdDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(const char* data, size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned int i = 0; i < n; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdDeleter> ctx_;
};

bool loopbackHost(const std::string& registry) {
  std::string host = registry;
  if (!host.empty() && host[0] == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "connection refused or unreachable";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "read failed or timed out";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification:
      return "the registry's certificate is not trusted";
    default:
      return httplib::to_string(e);
  }
}

// The server does not speak TLS (an HTTP-only registry). A certificate
// that fails verification is an error to report, never a reason to drop TLS.
bool tlsFailure(httplib::Error e) { return e == httplib::Error::SSLConnection; }

}  // namespace

std::string sha256Digest(const std::string& data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.digest();
}

Result<std::string> sha256FileDigest(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  Sha256 h;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) h.update(buf, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (n < 0) return Status::IoError("cannot read " + path + ": " + std::strerror(err));
  return h.digest();
}

RegistryClient::RegistryClient(const ImageReference& ref, RegistryOptions options)
    : ref_(ref), options_(std::move(options)) {}

bool RegistryClient::insecure() const {
  if (loopbackHost(ref_.registry)) return true;
  for (const auto& r : options_.insecure) {
    if (r == ref_.registry) return true;
  }
  return false;
}

std::string RegistryClient::base(bool tls) const {
  return std::string(tls ? "https://" : "http://") + ref_.registry;
}

namespace {

std::unique_ptr<httplib::Client> makeClient(const std::string& base, const RegistryOptions& o) {
  auto c = std::make_unique<httplib::Client>(base);
  c->set_connection_timeout(o.timeout);
  c->set_read_timeout(o.timeout);
  c->set_follow_location(true);
  c->enable_server_certificate_verification(true);
  if (!o.caFile.empty()) c->set_ca_cert_path(o.caFile);
  return c;
}

Status httpStatusError(int status, const std::string& what, const ImageReference& ref,
                       const std::string& body) {
  std::string detail = body.substr(0, 300);
  if (status == 404) {
    return Status::NotFound(what + " not found in registry " + ref.registry + " (" + detail + ")");
  }
  if (status == 401 || status == 403) {
    return Status::PermissionDenied("registry " + ref.registry + " refused " + what + " (HTTP " +
                                    std::to_string(status) + "): " + detail);
  }
  return Status::Unavailable("registry " + ref.registry + " answered HTTP " +
                             std::to_string(status) + " for " + what + ": " + detail);
}

}  // namespace

Status RegistryClient::authenticate(const std::string& header) {
  authTried_ = true;
  auto challenge = parseAuthChallenge(header);
  if (!challenge) {
    return Status::PermissionDenied("registry " + ref_.registry +
                                    " needs authentication it does not describe (WWW-Authenticate: '" +
                                    header.substr(0, 200) + "')");
  }
  std::optional<std::string> userPass;
  auto c = options_.credentials.find(ref_.registry);
  if (c != options_.credentials.end()) userPass = c->second;
  auto authorization = authorizationFor(*challenge, ref_.repository, userPass, options_);
  if (!authorization.ok()) {
    return authorization.status().prefixed("registry " + ref_.registry + ": ");
  }
  authorization_ = *authorization;
  return Status::OK();
}

Result<FetchedManifest> RegistryClient::manifest(const std::string& reference) {
  const std::string path = "/v2/" + ref_.repository + "/manifests/" + reference;
  httplib::Headers headers = {{"Accept", std::string(media::kOciIndex) + ", " + media::kDockerList +
                                             ", " + media::kOciManifest + ", " +
                                             media::kDockerManifest}};
  const std::string what = "manifest " + ref_.repository + ":" + reference;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool tls = schemeDecided_ == 2 ? false : (schemeDecided_ == 1 || attempt == 0);
    if (!tls && schemeDecided_ == 0 && !insecure()) break;
    auto client = makeClient(base(tls), options_);
    std::string body;
    bool tooBig = false;
    httplib::Headers sent = headers;
    if (!authorization_.empty()) sent.emplace("Authorization", authorization_);
    auto res = client->Get(path, sent, [&](const char* data, size_t n) {
      if (body.size() + n > options_.maxManifestBytes) {
        tooBig = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
    if (tooBig) {
      return Status::InvalidArgument(what + " is larger than " +
                                     std::to_string(options_.maxManifestBytes) + " bytes");
    }
    if (!res) {
      if (tls && schemeDecided_ == 0 && insecure() && tlsFailure(res.error())) continue;
      return Status::Unavailable("cannot reach registry " + ref_.registry + ": " +
                                 describe(res.error()));
    }
    if (schemeDecided_ == 0) schemeDecided_ = tls ? 1 : 2;
    if (res->status == 401 && !authTried_) {
      Status a = authenticate(res->get_header_value("WWW-Authenticate"));
      if (!a.ok()) return a;
      --attempt;  // the same request again, authenticated
      continue;
    }
    if (res->status != 200) return httpStatusError(res->status, what, ref_, body);
    FetchedManifest m;
    m.body = std::move(body);
    m.mediaType = res->get_header_value("Content-Type");
    m.digest = sha256Digest(m.body);
    if (validDigest(reference) && m.digest != reference) {
      return Status::InvalidArgument("registry " + ref_.registry + " sent a manifest with digest " +
                                     m.digest + " for " + reference);
    }
    return m;
  }
  return Status::Unavailable("cannot reach registry " + ref_.registry +
                             " over HTTPS (add it to --docker_insecure_registries for HTTP)");
}

Status RegistryClient::blob(const std::string& digest, int64_t size, const std::string& path) {
  if (!validDigest(digest)) return Status::InvalidArgument("invalid blob digest " + digest);
  const std::string tmp = path + ".part";
  const std::string what = "blob " + digest;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool tls = schemeDecided_ == 2 ? false : (schemeDecided_ == 1 || attempt == 0);
    if (!tls && schemeDecided_ == 0 && !insecure()) break;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
    auto client = makeClient(base(tls), options_);
    // Redirects are followed by hand: the Authorization header is for the
    // registry only (a CDN may refuse a request carrying one).
    client->set_follow_location(false);
    Sha256 hash;
    int64_t received = 0;
    int status = 0;
    std::string errorBody;
    std::string failure;
    auto onResponse = [&](const httplib::Response& r) {
      status = r.status;
      errorBody.clear();
      return true;
    };
    auto onData = [&](const char* data, size_t n) {
          if (status != 200) {
            if (errorBody.size() < 1024) errorBody.append(data, std::min<size_t>(n, 1024));
            return true;
          }
          received += static_cast<int64_t>(n);
          if (size >= 0 && received > size) {
            failure =
                what + " is larger than its manifest says (" + std::to_string(size) + " bytes)";
            return false;
          }
          hash.update(data, n);
          size_t off = 0;
          while (off < n) {
            ssize_t w = ::write(fd, data + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
              failure = "cannot write " + tmp + ": " + std::strerror(errno);
              return false;
            }
            off += static_cast<size_t>(w);
          }
          return true;
        };
    httplib::Headers headers;
    if (!authorization_.empty()) headers.emplace("Authorization", authorization_);
    const std::string blobPath = "/v2/" + ref_.repository + "/blobs/" + digest;
    auto res = client->Get(blobPath, headers, onResponse, onData);
    if (res && res->status == 401 && !authTried_) {
      Status a = authenticate(res->get_header_value("WWW-Authenticate"));
      if (!a.ok()) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return a;
      }
      headers = {{"Authorization", authorization_}};
      res = client->Get(blobPath, headers, onResponse, onData);
    }
    std::unique_ptr<httplib::Client> elsewhere;
    if (res && res->status >= 301 && res->status <= 308 && res->has_header("Location")) {
      std::string location = res->get_header_value("Location");
      std::string origin = base(tls);
      if (location.rfind("/", 0) == 0) location = origin + location;
      auto scheme = location.find("://");
      auto slash = scheme == std::string::npos ? std::string::npos : location.find('/', scheme + 3);
      if (scheme == std::string::npos || slash == std::string::npos) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return Status::Unavailable("registry " + ref_.registry + " redirected " + what +
                                   " to an unusable location");
      }
      std::string target = location.substr(0, slash);
      elsewhere = makeClient(target, options_);
      httplib::Headers none;
      if (target == origin && !authorization_.empty()) none.emplace("Authorization", authorization_);
      res = elsewhere->Get(location.substr(slash), none, onResponse, onData);
    }
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    auto fail = [&](Status s) {
      ::unlink(tmp.c_str());
      return s;
    };
    if (!failure.empty()) {
      return fail(failure.rfind("cannot write", 0) == 0 ? Status::IoError(failure)
                                                        : Status::InvalidArgument(failure));
    }
    if (!res) {
      ::unlink(tmp.c_str());
      if (tls && schemeDecided_ == 0 && insecure() && tlsFailure(res.error())) continue;
      return Status::Unavailable("cannot reach registry " + ref_.registry + " for " + what + ": " +
                                 describe(res.error()));
    }
    if (schemeDecided_ == 0) schemeDecided_ = tls ? 1 : 2;
    if (res->status != 200) return fail(httpStatusError(res->status, what, ref_, errorBody));
    std::string got = hash.digest();
    if (got != digest) {
      return fail(Status::InvalidArgument("digest mismatch: registry " + ref_.registry + " sent " +
                                          got + " for " + what));
    }
    if (size >= 0 && received != size) {
      return fail(Status::InvalidArgument(what + " has " + std::to_string(received) +
                                          " bytes, its manifest says " + std::to_string(size)));
    }
    if (!synced) return fail(Status::IoError("cannot sync " + tmp + ": " + std::strerror(errno)));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return fail(Status::IoError("cannot rename " + tmp + ": " + std::strerror(errno)));
    }
    return Status::OK();
  }
  return Status::Unavailable("cannot reach registry " + ref_.registry +
                             " over HTTPS (add it to --docker_insecure_registries for HTTP)");
}

}  // namespace tutti::agent::images
