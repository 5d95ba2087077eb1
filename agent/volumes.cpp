#include "agent/volumes.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "common/files.hpp"

namespace tutti::agent {

namespace {

Status ioError(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  void reset(int f) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

constexpr int kDir = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

}  // namespace

std::string volumesRoot(const std::string& workDir) { return workDir + "/volumes/roles"; }

std::string volumePath(const std::string& root, const Resource& volume) {
  return root + "/" + escapeRoleForPath(volume.reservationRole()) + "/" +
         (volume.disk ? volume.disk->persistenceId : std::string());
}

Status syncVolumes(const std::string& root, const Resources& before, const Resources& after) {
  std::set<std::string> keep, had;
  for (const auto& v : after.volumes()) keep.insert(volumePath(root, v));
  for (const auto& v : before.volumes()) had.insert(volumePath(root, v));
  Status first = Status::OK();
  for (const auto& path : keep) {
    Status s = makeDirectories(path);
    if (!s.ok() && first.ok()) first = s;
  }
  for (const auto& path : had) {
    if (keep.count(path)) continue;
    Status s = removeTree(path);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

std::vector<VolumeLink> volumeLinks(const std::string& root, const Resources& resources) {
  std::vector<VolumeLink> out;
  for (const auto& v : resources.volumes()) {
    out.push_back({v.disk->containerPath, volumePath(root, v)});
  }
  return out;
}

Status linkVolume(const std::string& sandbox, const VolumeLink& link,
                  std::optional<std::pair<uid_t, gid_t>> owner) {
  Status valid = validateContainerPath(link.containerPath);
  if (!valid.ok()) return valid;
  Fd dir(::open(sandbox.c_str(), kDir));
  if (dir.fd < 0) return ioError("cannot open the sandbox " + sandbox);
  std::string at = sandbox;
  std::string rest = link.containerPath;
  while (true) {
    size_t slash = rest.find('/');
    if (slash == std::string::npos) break;
    std::string part = rest.substr(0, slash);
    rest.erase(0, slash + 1);
    at += "/" + part;
    bool made = ::mkdirat(dir.fd, part.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return ioError("cannot make " + at);
    int next = ::openat(dir.fd, part.c_str(), kDir);
    if (next < 0) return ioError("cannot open " + at + " (a link or not a directory?)");
    dir.reset(next);
    if (made && owner && ::fchown(dir.fd, owner->first, owner->second) != 0) {
      return ioError("cannot give " + at + " to the task's user");
    }
  }
  at += "/" + rest;
  if (::symlinkat(link.hostPath.c_str(), dir.fd, rest.c_str()) == 0) return Status::OK();
  if (errno != EEXIST) return ioError("cannot link the volume at " + at);
  // Already there: fine when it is this volume's link (a task of the same
  // executor used it before), an error otherwise.
  char target[4096];
  ssize_t n = ::readlinkat(dir.fd, rest.c_str(), target, sizeof(target) - 1);
  if (n >= 0 && std::string(target, static_cast<size_t>(n)) == link.hostPath) return Status::OK();
  return Status::IoError("cannot link the volume at " + at + ": something else is there");
}

Status unlinkVolume(const std::string& sandbox, const VolumeLink& link) {
  Status valid = validateContainerPath(link.containerPath);
  if (!valid.ok()) return valid;
  Fd dir(::open(sandbox.c_str(), kDir));
  if (dir.fd < 0) return errno == ENOENT ? Status::OK() : ioError("cannot open " + sandbox);
  std::string rest = link.containerPath;
  for (size_t slash = rest.find('/'); slash != std::string::npos; slash = rest.find('/')) {
    int next = ::openat(dir.fd, rest.substr(0, slash).c_str(), kDir);
    if (next < 0) return Status::OK();  // not there (or not ours to follow)
    dir.reset(next);
    rest.erase(0, slash + 1);
  }
  char target[4096];
  ssize_t n = ::readlinkat(dir.fd, rest.c_str(), target, sizeof(target) - 1);
  if (n < 0 || std::string(target, static_cast<size_t>(n)) != link.hostPath) return Status::OK();
  if (::unlinkat(dir.fd, rest.c_str(), 0) != 0 && errno != ENOENT) {
    return ioError("cannot remove the volume link " + sandbox + "/" + link.containerPath);
  }
  return Status::OK();
}

Status chownVolume(const std::string& hostPath, uid_t uid, gid_t gid) {
  Fd dir(::open(hostPath.c_str(), kDir));
  if (dir.fd < 0) return ioError("cannot open the volume " + hostPath);
  struct stat st;
  if (::fstat(dir.fd, &st) != 0) return ioError("cannot stat the volume " + hostPath);
  if (st.st_uid == uid && st.st_gid == gid) return Status::OK();
  if (::fchown(dir.fd, uid, gid) != 0) return ioError("cannot give the volume " + hostPath +
                                                      " to uid " + std::to_string(uid));
  return Status::OK();
}

}  // namespace tutti::agent
