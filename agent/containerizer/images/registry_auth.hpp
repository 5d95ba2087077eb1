// Registry authentication (Docker's token scheme and HTTP Basic):
// credentials from a Docker config file, WWW-Authenticate challenges, and
// bearer tokens from the realm a registry names, as Docker Hub requires even
// for public images (an anonymous token per repository).
//
// Free functions, blocking (the token request), no state; the caller keeps
// the Authorization header it gets. Errors: InvalidArgument for a config
// file or challenge that does not parse, PermissionDenied when the token
// service refuses, Unavailable when it cannot be reached.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "agent/containerizer/images/registry_client.hpp"
#include "tutti/status.hpp"

namespace tutti::agent::images {

// Docker's ~/.docker/config.json: {"auths": {"host[:port]": {"auth":
// base64("user:password")} or {"username", "password"}}}. Keys may be URLs
// ("https://index.docker.io/v1/" stands for Docker Hub). Returns
// registry host -> "user:password".
Result<std::map<std::string, std::string>> parseDockerConfig(const std::string& text);

// A WWW-Authenticate header: `Bearer realm="…",service="…",scope="…"` or
// `Basic realm="…"`. Scheme lower-cased; nullopt when it does not parse.
struct AuthChallenge {
  std::string scheme;  // "bearer" or "basic"
  std::map<std::string, std::string> params;
};
std::optional<AuthChallenge> parseAuthChallenge(const std::string& header);

// The Authorization header value answering `challenge` for pulling
// `repository`: "Basic …" from `userPass`, or "Bearer <token>" from the
// realm (asked with `userPass` when given, anonymously otherwise).
Result<std::string> authorizationFor(const AuthChallenge& challenge,
                                     const std::string& repository,
                                     const std::optional<std::string>& userPass,
                                     const RegistryOptions& options);

std::string base64Encode(const std::string& data);
std::optional<std::string> base64Decode(const std::string& data);

}  // namespace tutti::agent::images
