#include "agent/containerizer/images/manifest.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "agent/containerizer/images/image_reference.hpp"
#include "common/json.hpp"

namespace tutti::agent::images {

namespace {

using json = nlohmann::json;

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<Descriptor> descriptor(const json& j, const char* what) {
  if (!j.is_object()) return Status::InvalidArgument(std::string(what) + " is not an object");
  Descriptor d;
  d.mediaType = str(j, "mediaType");
  d.digest = str(j, "digest");
  if (!validDigest(d.digest)) {
    return Status::InvalidArgument(std::string(what) + " has no valid sha256 digest");
  }
  auto size = j.find("size");
  if (size != j.end() && size->is_number_integer()) d.size = size->get<int64_t>();
  auto platform = j.find("platform");
  if (platform != j.end() && platform->is_object()) {
    d.os = str(*platform, "os");
    d.architecture = str(*platform, "architecture");
    d.variant = str(*platform, "variant");
  }
  auto ann = j.find("annotations");
  if (ann != j.end() && ann->is_object())
    d.refName = str(*ann, "org.opencontainers.image.ref.name");
  return d;
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

Result<ManifestDocument> parseManifest(const std::string& body, const std::string& mediaType) {
  json j = tutti::json::parse(body);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the manifest is not a JSON object");
  }
  std::string type = str(j, "mediaType");
  if (type.empty()) type = mediaType.substr(0, mediaType.find(';'));
  if (j.contains("schemaVersion") && j["schemaVersion"] == 1) {
    return Status::InvalidArgument("schema 1 manifests are not supported (push the image again)");
  }
  ManifestDocument doc;
  doc.index = type == media::kDockerList || type == media::kOciIndex ||
              (type.empty() && j.contains("manifests"));
  if (doc.index) {
    auto list = j.find("manifests");
    if (list == j.end() || !list->is_array()) {
      return Status::InvalidArgument("the index has no manifests");
    }
    for (const auto& m : *list) {
      auto d = descriptor(m, "an index entry");
      if (!d.ok()) return d.status();
      doc.manifests.push_back(*d);
    }
    return doc;
  }
  auto config = j.find("config");
  if (config == j.end()) return Status::InvalidArgument("the manifest has no config");
  auto c = descriptor(*config, "the config");
  if (!c.ok()) return c.status();
  doc.config = *c;
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) {
    return Status::InvalidArgument("the manifest has no layers");
  }
  for (const auto& l : *layers) {
    auto d = descriptor(l, "a layer");
    if (!d.ok()) return d.status();
    doc.layers.push_back(*d);
  }
  return doc;
}

Result<Descriptor> selectPlatform(const ManifestDocument& index, const std::string& os,
                                  const std::string& architecture, const std::string& variant) {
  const Descriptor* match = nullptr;
  std::string offered;
  for (const auto& d : index.manifests) {
    offered += (offered.empty() ? "" : ", ") + d.os + "/" + d.architecture +
               (d.variant.empty() ? "" : "/" + d.variant);
    if (d.os != os || d.architecture != architecture) continue;
    if (!match || (!variant.empty() && d.variant == variant)) match = &d;
  }
  if (!match) {
    return Status::NotFound("the image has no " + os + "/" + architecture + " variant (it has " +
                            (offered.empty() ? "none" : offered) + ")");
  }
  return *match;
}

std::string hostArchitecture() {
  utsname u;
  if (::uname(&u) != 0) return "amd64";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "i686" || m == "i386") return "386";
  if (m.rfind("armv7", 0) == 0 || m.rfind("armv6", 0) == 0) return "arm";
  return m;  // ppc64le, s390x, riscv64 are spelled the same
}

Result<ImageConfig> parseImageConfig(const std::string& body) {
  json j = tutti::json::parse(body);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the image config is not a JSON object");
  }
  ImageConfig c;
  auto conf = j.find("config");
  if (conf == j.end() || !conf->is_object()) return c;  // an image with no defaults
  c.entrypoint = strings(*conf, "Entrypoint");
  c.cmd = strings(*conf, "Cmd");
  c.env = strings(*conf, "Env");
  c.workingDir = str(*conf, "WorkingDir");
  c.user = str(*conf, "User");
  return c;
}

}  // namespace tutti::agent::images
