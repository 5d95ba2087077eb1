#include "agent/containerizer/oci/provisioner.hpp"

#include <glog/logging.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent/containerizer/images/layer_extractor.hpp"
#include "common/files.hpp"

namespace tutti::agent::oci {

namespace {
// Mount options must fit in one page (the kernel copies one).
constexpr size_t kMaxMountOptions = 4095;
}  // namespace

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
  const std::string rest = ",upperdir=" + bundle + "/upper,workdir=" + bundle + "/work";
  std::string target = bundle + "/rootfs";
  int error = 0;
  if (("lowerdir=" + lower + rest).size() < kMaxMountOptions) {
    std::string options = "lowerdir=" + lower + rest;
    if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0) {
      return Status::OK();
    }
    error = errno;
  } else {
    // Many layers: their absolute paths do not fit in the page the kernel
    // takes mount options in. Mount with short relative names instead.
    Status s = mountOverlayShort(bundle, layers, rest, &error);
    if (s.ok() || error == 0) return s;
  }
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    LOG(WARNING) << "Cannot mount overlayfs (" << std::strerror(error)
                 << "); copying image layers into each container instead";
  }
  return copyLayers(bundle, layers);
}

Status Provisioner::mountOverlayShort(const std::string& bundle, const Layers& layers,
                                      const std::string& rest, int* error) const {
  // <bundle>/lower/<n> links to layer n; a child process whose working
  // directory is <bundle>/lower mounts with lowerdir=N:…:1:0 (paths in
  // mount options are resolved from the caller's working directory, and a
  // thread of the agent must not change the process's).
  const std::string links = bundle + "/lower";
  Status s = makeDirectories(links);
  if (!s.ok()) return s;
  std::string lower;
  for (size_t i = 0; i < layers.dirs.size(); ++i) {
    std::string link = links + "/" + std::to_string(i);
    if (::symlink(layers.dirs[i].c_str(), link.c_str()) != 0 && errno != EEXIST) {
      return Status::IoError("cannot link " + link + ": " + std::strerror(errno));
    }
    lower = std::to_string(i) + (lower.empty() ? "" : ":") + lower;
  }
  const std::string options = "lowerdir=" + lower + rest;
  if (options.size() >= kMaxMountOptions) {
    *error = E2BIG;
    return Status::IoError("image has too many layers (" + std::to_string(layers.dirs.size()) +
                           ") for one overlay mount");
  }
  const std::string target = bundle + "/rootfs";
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = errno;
    return Status::IoError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls in the child of a threaded process.
    if (::chdir(links.c_str()) != 0) ::_exit(errno & 0xff);
    if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0) {
      ::_exit(errno & 0xff);
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::OK();
  *error = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
  return Status::IoError(std::string("overlay mount: ") + std::strerror(*error));
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
