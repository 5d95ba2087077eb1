// Docker image references: "[registry[:port]/]repository[:tag|@digest]"
// (the grammar of docker/distribution's reference package, without the
// Docker Hub "library/" rewriting beyond the default registry's).
//
// Plain values; parse errors are InvalidArgument naming what is wrong.
#pragma once

#include <string>

#include "tutti/status.hpp"

namespace tutti::agent::images {

struct ImageReference {
  std::string registry;    // "127.0.0.1:5000", "registry-1.docker.io"; never empty
  std::string repository;  // "busybox", "library/busybox", "team/app"
  std::string tag;         // "latest" unless a digest or another tag is given
  std::string digest;      // "sha256:<64 hex>" or empty

  // The manifest reference: the digest when there is one, else the tag.
  std::string reference() const { return digest.empty() ? tag : digest; }
  // "registry/repository:tag" or "registry/repository@digest".
  std::string canonical() const;
};

// `defaultRegistry` ("registry-1.docker.io" when empty) is used when the
// name has no registry part (its first component has no '.' or ':' and is
// not "localhost"); on Docker Hub a single-component repository gets
// "library/" as Docker's clients do.
Result<ImageReference> parseImageReference(const std::string& name,
                                           const std::string& defaultRegistry = "");

// "sha256:<64 lower-case hex>" (the only algorithm registries use).
bool validDigest(const std::string& digest);

}  // namespace tutti::agent::images
