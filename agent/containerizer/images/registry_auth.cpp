#include "agent/containerizer/images/registry_auth.hpp"
#include "common/json.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace tutti::agent::images {

std::string base64Encode(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(const std::string& data) {
  if (data.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (data.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's zero bytes.
  size_t pad = 0;
  for (size_t i = data.size(); i > 0 && data[i - 1] == '=' && pad < 2; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace {

// "https://index.docker.io/v1/" -> "index.docker.io"; "host:5000" stays.
std::string hostOf(std::string key) {
  auto scheme = key.find("://");
  if (scheme != std::string::npos) key = key.substr(scheme + 3);
  auto slash = key.find('/');
  if (slash != std::string::npos) key = key.substr(0, slash);
  return key;
}

}  // namespace

Result<std::map<std::string, std::string>> parseDockerConfig(const std::string& text) {
  auto j = tutti::json::parse(text);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the Docker config is not a JSON object");
  }
  std::map<std::string, std::string> out;
  if (!j.contains("auths")) return out;
  if (!j["auths"].is_object()) return Status::InvalidArgument("'auths' must be an object");
  for (const auto& [key, entry] : j["auths"].items()) {
    if (!entry.is_object()) return Status::InvalidArgument("'auths." + key + "' must be an object");
    std::string userPass;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      auto decoded = base64Decode(entry["auth"].get<std::string>());
      if (!decoded || decoded->find(':') == std::string::npos) {
        return Status::InvalidArgument("'auths." + key +
                                       ".auth' is not base64 of user:password");
      }
      userPass = *decoded;
    } else if (entry.contains("username") && entry["username"].is_string() &&
               entry.contains("password") && entry["password"].is_string()) {
      userPass = entry["username"].get<std::string>() + ":" + entry["password"].get<std::string>();
    } else {
      continue;  // credential helpers and identity tokens are not supported
    }
    std::string host = hostOf(key);
    out[host] = userPass;
    // Docker Hub is named index.docker.io in configs, pulled from registry-1.
    if (host == "index.docker.io" || host == "docker.io") out["registry-1.docker.io"] = userPass;
  }
  return out;
}

std::optional<AuthChallenge> parseAuthChallenge(const std::string& header) {
  size_t i = 0;
  while (i < header.size() && std::isspace(static_cast<unsigned char>(header[i]))) ++i;
  size_t start = i;
  while (i < header.size() && std::isalpha(static_cast<unsigned char>(header[i]))) ++i;
  AuthChallenge c;
  for (size_t k = start; k < i; ++k) {
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(header[k])));
  }
  if (c.scheme != "bearer" && c.scheme != "basic") return std::nullopt;
  // key="value" pairs separated by commas.
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ',' || std::isspace(static_cast<unsigned char>(header[i])))) ++i;
    size_t k = i;
    while (i < header.size() && header[i] != '=') ++i;
    if (i >= header.size()) break;
    std::string key = header.substr(k, i - k);
    ++i;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      if (i >= header.size()) return std::nullopt;  // unterminated
      ++i;
    } else {
      while (i < header.size() && header[i] != ',') value += header[i++];
    }
    c.params[key] = value;
  }
  return c;
}

Result<std::string> authorizationFor(const AuthChallenge& challenge,
                                     const std::string& repository,
                                     const std::optional<std::string>& userPass,
                                     const RegistryOptions& options) {
  if (challenge.scheme == "basic") {
    if (!userPass) {
      return Status::PermissionDenied("the registry needs a user and password (--docker_config)");
    }
    return "Basic " + base64Encode(*userPass);
  }
  auto realm = challenge.params.find("realm");
  if (realm == challenge.params.end() || realm->second.empty()) {
    return Status::InvalidArgument("the registry's token challenge names no realm");
  }
  // realm = scheme://host[:port]/path
  const std::string& url = realm->second;
  auto scheme = url.find("://");
  if (scheme == std::string::npos || (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)) {
    return Status::InvalidArgument("the token realm '" + url + "' is not an http(s) URL");
  }
  auto slash = url.find('/', scheme + 3);
  std::string base = url.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : url.substr(slash);
  httplib::Params params;
  if (challenge.params.count("service")) params.emplace("service", challenge.params.at("service"));
  auto scope = challenge.params.find("scope");
  params.emplace("scope", scope != challenge.params.end() ? scope->second
                                                           : "repository:" + repository + ":pull");
  httplib::Client client(base);
  client.set_connection_timeout(options.timeout);
  client.set_read_timeout(options.timeout);
  client.enable_server_certificate_verification(true);
  if (!options.caFile.empty()) client.set_ca_cert_path(options.caFile);
  httplib::Headers headers;
  if (userPass) headers.emplace("Authorization", "Basic " + base64Encode(*userPass));
  auto res = client.Get(path, params, headers);
  if (!res) {
    return Status::Unavailable("cannot reach the token service " + base + ": " +
                               httplib::to_string(res.error()));
  }
  if (res->status == 401 || res->status == 403) {
    return Status::PermissionDenied("the token service " + base + " refused " +
                                    (userPass ? "the credentials" : "an anonymous pull") +
                                    " (HTTP " + std::to_string(res->status) + ")");
  }
  if (res->status != 200) {
    return Status::Unavailable("the token service " + base + " answered HTTP " +
                               std::to_string(res->status));
  }
  auto j = tutti::json::parse(res->body);
  for (const char* key : {"token", "access_token"}) {
    if (j.is_object() && j.contains(key) && j[key].is_string() &&
        !j[key].get<std::string>().empty()) {
      return "Bearer " + j[key].get<std::string>();
    }
  }
  return Status::InvalidArgument("the token service " + base + " sent no token");
}

}  // namespace tutti::agent::images
