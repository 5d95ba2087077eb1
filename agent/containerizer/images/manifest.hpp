// Image manifests, indexes and configs (Docker schema 2 and OCI), parsed
// from JSON. Pure functions; errors are InvalidArgument saying what is
// missing or malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tutti/status.hpp"

namespace tutti::agent::images {

namespace media {
inline constexpr const char* kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
}  // namespace media

struct Descriptor {
  std::string mediaType;
  std::string digest;
  int64_t size = -1;
  std::string os;            // index entries only
  std::string architecture;  // index entries only
  std::string variant;
  std::string refName;  // OCI layout: annotation org.opencontainers.image.ref.name
};

// A manifest list / OCI index, or a single image's manifest.
struct ManifestDocument {
  bool index = false;
  std::vector<Descriptor> manifests;  // index
  Descriptor config;                  // manifest
  std::vector<Descriptor> layers;     // manifest, bottom first
};

// `mediaType` is the Content-Type the registry sent (may be empty: the
// document's own mediaType field, or its shape, decides).
Result<ManifestDocument> parseManifest(const std::string& body, const std::string& mediaType);

// The entry for `os`/`architecture` (variant preferred when given, e.g.
// "v8" on arm64); NotFound listing the platforms the index offers.
Result<Descriptor> selectPlatform(const ManifestDocument& index, const std::string& os,
                                  const std::string& architecture, const std::string& variant);
// The host's platform in OCI terms ("amd64", "arm64", ...).
std::string hostArchitecture();

// What a container needs from the image's config.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // NAME=value
  std::string workingDir;
  std::string user;
};
Result<ImageConfig> parseImageConfig(const std::string& body);

}  // namespace tutti::agent::images
