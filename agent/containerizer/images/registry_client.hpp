// A Docker Registry HTTP API v2 client: manifests and blobs of one
// repository, over HTTP or HTTPS (verified against the system's CAs or
// `caFile`). Blocking; one client per pull, on the image store's worker
// threads.
//
// Errors say which: Unavailable "cannot reach registry H: ..." (connection
// refused, timeout, TLS failure), NotFound "... not found in registry H"
// (404), PermissionDenied (401/403 after authenticating: a token service or
// registry that refuses the credentials, or none configured), InvalidArgument
// for a body that is not what the registry promised (digest mismatch, size
// above the descriptor's).
//
// Authentication (registry_auth.hpp): on a 401 the client answers the
// registry's challenge once — a bearer token from its realm (anonymous, or
// with the registry's credentials), or Basic credentials — and repeats the
// request; the header is kept for the client's later requests. A blob the
// registry redirects to another host (a CDN) is fetched there without it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/containerizer/images/image_reference.hpp"
#include "tutti/status.hpp"

namespace tutti::agent::images {

struct RegistryOptions {
  std::string caFile;  // PEM bundle for HTTPS; empty: the system's
  // Registries spoken to in plain HTTP when HTTPS fails, as Docker does
  // for "insecure registries": loopback ones always, plus these host:port.
  std::vector<std::string> insecure;
  std::chrono::seconds timeout{30};
  // Registry host[:port] -> "user:password" (--docker_config).
  std::map<std::string, std::string> credentials;
  size_t maxManifestBytes = 4u << 20;
};

struct FetchedManifest {
  std::string body;
  std::string mediaType;  // Content-Type
  std::string digest;     // sha256 of body
};

class RegistryClient {
 public:
  RegistryClient(const ImageReference& ref, RegistryOptions options);

  // GET /v2/<repository>/manifests/<reference> accepting lists, indexes
  // and schema 2 / OCI manifests. A digest reference is verified.
  Result<FetchedManifest> manifest(const std::string& reference);
  // GET /v2/<repository>/blobs/<digest> into `path` (created, replaced),
  // verifying the digest and, when known (>= 0), the size. On any error
  // `path` does not exist afterwards.
  Status blob(const std::string& digest, int64_t size, const std::string& path);

 private:
  bool insecure() const;
  std::string base(bool tls) const;
  // Answers a 401's WWW-Authenticate header; once per client.
  Status authenticate(const std::string& challenge);

  ImageReference ref_;
  RegistryOptions options_;
  int schemeDecided_ = 0;  // 0: unknown, 1: https, 2: http
  std::string authorization_;  // the Authorization header once authenticated
  bool authTried_ = false;
};

// sha256 of a string / a file, "sha256:<hex>".
std::string sha256Digest(const std::string& data);
Result<std::string> sha256FileDigest(const std::string& path);

}  // namespace tutti::agent::images
