// Bundles of tasks that run in images: <dir>/<container>/ holds
// config.json and rootfs/, with the image's layers stacked by overlayfs
// (upper/ and work/ beside them take the container's writes) or, with the
// copy backend (or when overlayfs cannot be mounted), applied one by one
// into a plain rootfs directory. Images with many layers (more than their
// absolute paths fit in mount options, about 40) are mounted through short
// links in <bundle>/lower/.
//
// Stateless apart from the options: every call works on paths, so
// provision() runs on the launcher's worker thread and destroy() wherever
// the owner likes (the agent: its launcher thread). Errors are IoError
// naming the path, or the mount error.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tutti/status.hpp"

namespace tutti::agent::oci {

enum class Backend { kOverlay, kCopy };
Result<Backend> parseBackend(const std::string& name);  // "overlay" | "copy"

class Provisioner {
 public:
  // A path the runtime mounts over (absolute, inside the container).
  struct MountPoint {
    std::string path;
    bool directory = true;  // else a file (a bind mount of a file)
  };
  // `mountPoints` are made in each container's upper layer before
  // overlayfs is mounted: a plain mkdir there, where the runtime making
  // them through overlayfs costs a create and a copy-up of their parents
  // per container. Only where the image has nothing at a path, with
  // directories on the way (made with the image's owner and mode); a path
  // that meets anything else in the image (a symlink, a file where a
  // directory goes) is left to the runtime.
  Provisioner(std::string dir, Backend backend, std::vector<MountPoint> mountPoints = {})
      : dir_(std::move(dir)), backend_(backend), mountPoints_(std::move(mountPoints)) {}

  std::string bundleDir(const std::string& containerId) const { return dir_ + "/" + containerId; }

  struct Layers {
    std::vector<std::string> dirs;     // unpacked (overlay format), bottom first
    std::vector<std::string> blobs;    // the same layers' archives, for the copy backend
    std::vector<std::string> digests;  // the same layers' digests (kept in the bundle)
  };
  // Builds rootfs/ from `layers`, then writes config.json as `makeConfig`
  // says (given the rootfs path: it resolves the user there). On error
  // nothing of the bundle is left.
  using MakeConfig = std::function<Result<std::string>(const std::string& rootfs)>;
  Status provision(const std::string& containerId, const Layers& layers,
                   const MakeConfig& makeConfig) const;
  // Unmounts rootfs/ (lazily) and removes the bundle; fine when absent.
  Status destroy(const std::string& containerId) const;
  // Container ids that have a bundle.
  std::set<std::string> list() const;
  // The layer digests every bundle uses (each bundle keeps them in
  // layers.json, written before its rootfs); nullopt when a bundle does not
  // say (one made before layers were recorded).
  std::optional<std::set<std::string>> layersInUse() const;

 private:
  Status mountOverlay(const std::string& bundle, const Layers& layers) const;
  // For images with more layers than absolute paths fit in mount options:
  // mounts through short links. Sets `error` (errno) when the mount itself
  // failed, so that the caller can fall back to copying.
  Status mountOverlayShort(const std::string& bundle, const Layers& layers,
                           const std::string& rest, int* error) const;
  Status copyLayers(const std::string& bundle, const Layers& layers) const;
  Status makeMountPoints(const std::string& upper, const Layers& layers) const;

  std::string dir_;
  Backend backend_;
  std::vector<MountPoint> mountPoints_;
};

}  // namespace tutti::agent::oci
