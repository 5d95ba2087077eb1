// A Docker Registry HTTP API v2 client: manifests and blobs of one
// repository, over HTTP or HTTPS (verified against the system's CAs or
// `caFile`). Blocking; one client per pull, on the image store's worker
// threads.
//
// Errors say which: Unavailable "cannot reach registry H: ..." (connection
// refused, timeout, TLS failure), NotFound "... not found in registry H"
// (404), PermissionDenied (401/403: registries that need credentials are
// not supported yet), InvalidArgument for a body that is not what the
// registry promised (digest mismatch, size above the descriptor's).
#pragma once

#include <chrono>
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

  ImageReference ref_;
  RegistryOptions options_;
  int schemeDecided_ = 0;  // 0: unknown, 1: https, 2: http
};

// sha256 of a string / a file, "sha256:<hex>".
std::string sha256Digest(const std::string& data);
Result<std::string> sha256FileDigest(const std::string& path);

}  // namespace tutti::agent::images
