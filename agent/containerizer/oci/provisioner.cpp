#include "agent/containerizer/oci/provisioner.hpp"

#include <glog/logging.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "agent/containerizer/images/layer_extractor.hpp"
#include "common/files.hpp"
#include "common/json.hpp"

namespace tutti::agent::oci {

namespace {
// Mount options must fit in one page (the kernel copies one).
constexpr size_t kMaxMountOptions = 4095;

std::vector<std::string> pathComponents(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (!part.empty() && part != ".") out.push_back(part);
    start = end + 1;
  }
  return out;
}

bool isOpaque(const std::string& dir) {
  char value[2] = {};
  return ::lgetxattr(dir.c_str(), "trusted.overlay.opaque", value, sizeof value) == 1 &&
         value[0] == 'y';
}
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
  Status made = makeMountPoints(bundle + "/upper", layers);
  if (!made.ok()) return made;
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

Status Provisioner::makeMountPoints(const std::string& upper, const Layers& layers) const {
  for (const auto& point : mountPoints_) {
    auto parts = pathComponents(point.path);
    if (parts.empty() || std::find(parts.begin(), parts.end(), "..") != parts.end()) continue;
    // The layers that make up the directory reached so far, top first (an
    // opaque directory hides the layers below it).
    std::vector<std::string> visible(layers.dirs.rbegin(), layers.dirs.rend());
    std::string rel;
    bool leave = false;  // the image has something else on the way
    size_t i = 0;
    for (; i < parts.size(); ++i) {
      rel += "/" + parts[i];
      bool last = i + 1 == parts.size();
      std::vector<std::string> below;
      struct stat found {};
      bool exists = false;
      for (const auto& layer : visible) {
        struct stat st;
        if (::lstat((layer + rel).c_str(), &st) != 0) continue;
        if (S_ISCHR(st.st_mode) && st.st_rdev == 0) break;  // a whiteout: gone below
        if (!S_ISDIR(st.st_mode)) {
          if (!exists) {
            exists = true;
            found = st;
          }
          break;
        }
        if (!exists) found = st;
        exists = true;
        below.push_back(layer);
        if (isOpaque(layer + rel)) break;
      }
      if (!exists) break;  // made from here down
      bool isDir = S_ISDIR(found.st_mode);
      if (!last && !isDir) leave = true;
      if (last) leave = true;  // there already (or something else is): nothing to make
      if (leave) break;
      // A directory of the image on the way: the upper layer's copy keeps
      // its owner and mode (the merged view shows the upper's).
      std::string dir = upper + rel;
      if (::mkdir(dir.c_str(), found.st_mode & 07777) != 0 && errno != EEXIST) {
        return Status::IoError("cannot create " + dir + ": " + std::strerror(errno));
      }
      if (::chown(dir.c_str(), found.st_uid, found.st_gid) != 0 ||
          ::chmod(dir.c_str(), found.st_mode & 07777) != 0) {
        return Status::IoError("cannot set the owner of " + dir + ": " + std::strerror(errno));
      }
      visible = std::move(below);
    }
    if (leave) continue;
    for (; i < parts.size(); ++i) {
      std::string target = upper;
      for (size_t j = 0; j <= i; ++j) target += "/" + parts[j];
      bool last = i + 1 == parts.size();
      if (last && !point.directory) {
        int fd = ::open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 && errno != EEXIST) {
          return Status::IoError("cannot create " + target + ": " + std::strerror(errno));
        }
        if (fd >= 0) ::close(fd);
      } else if (::mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::IoError("cannot create " + target + ": " + std::strerror(errno));
      }
    }
  }
  return Status::OK();
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
    auto j = tutti::json::parse(*text);
    if (!j.is_array()) return std::nullopt;
    for (const auto& d : j) {
      if (!d.is_string()) return std::nullopt;
      out.insert(d.get<std::string>());
    }
  }
  return out;
}

}  // namespace tutti::agent::oci
