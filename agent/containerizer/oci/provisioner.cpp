#include "agent/containerizer/oci/provisioner.hpp"

#include <glog/logging.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent/containerizer/images/layer_extractor.hpp"
#include "common/files.hpp"

namespace tutti::agent::oci {

Result<Backend> parseBackend(const std::string& name) {
  if (name == "overlay") return Backend::kOverlay;
  if (name == "copy") return Backend::kCopy;
  return Status::InvalidArgument("unknown image provisioner backend '" + name +
                                 "' (overlay or copy)");
}

Status Provisioner::provision(const std::string& containerId, const Layers& layers,
                              const MakeConfig& makeConfig) const {
  const std::string bundle = bundleDir(containerId);
  (void)destroy(containerId);  // a leftover of an earlier attempt
  Status s = makeDirectories(bundle + "/rootfs");
  if (s.ok()) {
    s = writeFileAtomically(bundle + "/layers.json", nlohmann::json(layers.digests).dump(), false);
  }
  if (s.ok()) {
    s = backend_ == Backend::kOverlay ? mountOverlay(bundle, layers) : copyLayers(bundle, layers);
  }
  if (s.ok()) {
    auto config = makeConfig(bundle + "/rootfs");
    s = config.ok() ? writeFileAtomically(bundle + "/config.json", *config, false)
                    : config.status();
  }
  if (!s.ok()) (void)destroy(containerId);
  return s;
}

Status Provisioner::mountOverlay(const std::string& bundle, const Layers& layers) const {
  if (layers.dirs.empty()) return Status::OK();  // an image without layers: empty rootfs
  for (const char* sub : {"/upper", "/work"}) {
    Status s = makeDirectories(bundle + sub);
    if (!s.ok()) return s;
  }
  // lowerdir lists the top layer first.
  std::string lower;
  for (auto it = layers.dirs.rbegin(); it != layers.dirs.rend(); ++it) {
    lower += (lower.empty() ? "" : ":") + *it;
  }
  std::string options =
      "lowerdir=" + lower + ",upperdir=" + bundle + "/upper,workdir=" + bundle + "/work";
  std::string target = bundle + "/rootfs";
  if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0) {
    return Status::OK();
  }
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    LOG(WARNING) << "Cannot mount overlayfs (" << std::strerror(errno)
                 << "); copying image layers into each container instead";
  }
  return copyLayers(bundle, layers);
}

Status Provisioner::copyLayers(const std::string& bundle, const Layers& layers) const {
  for (const auto& blob : layers.blobs) {
    Status s = images::extractLayer(blob, bundle + "/rootfs", images::WhiteoutMode::kApply);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status Provisioner::destroy(const std::string& containerId) const {
  const std::string bundle = bundleDir(containerId);
  struct stat st;
  if (::lstat(bundle.c_str(), &st) != 0) return Status::OK();
  std::string rootfs = bundle + "/rootfs";
  if (::umount2(rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return Status::IoError("cannot unmount " + rootfs + ": " + std::strerror(errno));
  }
  return removeTree(bundle);
}

std::set<std::string> Provisioner::list() const {
  std::set<std::string> out;
  auto names = listDirectory(dir_);
  if (!names.ok()) return out;
  for (const auto& n : *names) out.insert(n);
  return out;
}

std::optional<std::set<std::string>> Provisioner::layersInUse() const {
  std::set<std::string> out;
  for (const auto& id : list()) {
    auto text = readFile(bundleDir(id) + "/layers.json");
    if (!text.ok()) {
      // Being removed (neither file left): nothing in use. Made before
      // layers were recorded: unknown.
      if (!readFile(bundleDir(id) + "/config.json").ok()) continue;
      return std::nullopt;
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_array()) return std::nullopt;
    for (const auto& d : j) {
      if (!d.is_string()) return std::nullopt;
      out.insert(d.get<std::string>());
    }
  }
  return out;
}

}  // namespace tutti::agent::oci
