#include "agent/containerizer/images/image_reference.hpp"

#include <cctype>

namespace tutti::agent::images {

namespace {

constexpr const char* kDockerHub = "registry-1.docker.io";

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: lower-case alphanumerics separated by '.', '_', '__'
// or runs of '-'.
bool validComponent(const std::string& c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (isLowerAlnum(ch) || ch == '-') continue;
    if (ch == '.' || ch == '_') {
      if (!isLowerAlnum(c[i - 1]) &&
          !(ch == '_' && c[i - 1] == '_' && i >= 2 && isLowerAlnum(c[i - 2]))) {
        return false;
      }
      continue;
    }
    return false;
  }
  return true;
}

bool validTag(const std::string& t) {
  if (t.empty() || t.size() > 128) return false;
  if (!(std::isalnum(static_cast<unsigned char>(t[0])) || t[0] == '_')) return false;
  for (char c : t) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool validRegistry(const std::string& r) {
  if (r.empty() || r.size() > 255) return false;
  for (char c : r) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']')) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool validDigest(const std::string& digest) {
  if (digest.size() != 7 + 64 || digest.compare(0, 7, "sha256:") != 0) return false;
  for (size_t i = 7; i < digest.size(); ++i) {
    char c = digest[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ImageReference::canonical() const {
  return registry + "/" + repository + (digest.empty() ? ":" + tag : "@" + digest);
}

Result<ImageReference> parseImageReference(const std::string& name,
                                           const std::string& defaultRegistry) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("Invalid image name '" + name + "': " + why);
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 512) return bad("it is longer than 512 characters");
  ImageReference ref;
  std::string rest = name;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!validDigest(ref.digest)) return bad("the digest must be sha256:<64 hex digits>");
  }
  // A tag is after the last ':' that follows the last '/'.
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!validTag(ref.tag)) return bad("invalid tag '" + ref.tag + "'");
  }
  auto first = rest.find('/');
  if (first != std::string::npos) {
    std::string head = rest.substr(0, first);
    if (head.find_first_of(".:") != std::string::npos || head == "localhost") {
      ref.registry = head;
      rest = rest.substr(first + 1);
      if (!validRegistry(ref.registry)) return bad("invalid registry '" + ref.registry + "'");
    }
  }
  if (ref.registry.empty()) {
    ref.registry = defaultRegistry.empty() ? kDockerHub : defaultRegistry;
    if (ref.registry == kDockerHub && rest.find('/') == std::string::npos) {
      rest = "library/" + rest;
    }
  }
  if (rest.empty()) return bad("no repository");
  size_t start = 0;
  while (true) {
    size_t end = rest.find('/', start);
    std::string component = rest.substr(start, end == std::string::npos ? end : end - start);
    if (!validComponent(component)) {
      return bad("invalid repository component '" + component +
                 "' (lower-case letters, digits and . _ - only)");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  ref.repository = rest;
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace tutti::agent::images
