#include "agent/http/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace tutti::agent {

namespace {
bool within(const std::string& path, const std::string& root) {
  if (root.empty()) return false;
  if (path == root) return true;
  std::string r = root.back() == '/' ? root : root + "/";
  return path.rfind(r, 0) == 0;
}

std::string realPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return "";
  return buf;
}

std::string modeString(mode_t m) {
  std::string s = S_ISDIR(m) ? "d" : S_ISLNK(m) ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (m & (1 << (8 - i))) ? rwx[i] : '-';
  return s;
}
}  // namespace

std::string normalizePath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

Result<std::string> resolveSandboxPath(const std::string& path,
                                       const std::vector<std::string>& roots) {
  if (path.empty()) return Status::InvalidArgument("Missing 'path'");
  if (path[0] != '/') return Status::InvalidArgument("'path' must be absolute");
  if (path.find('\0') != std::string::npos) return Status::InvalidArgument("Invalid 'path'");
  std::string lexical = normalizePath(path);
  // `.../runs/latest` names the newest run: follow that one link (a plain
  // run name, never a path) before checking where the path leads.
  size_t at = lexical.find("/runs/latest");
  if (at != std::string::npos) {
    size_t end = at + std::string("/runs/latest").size();
    if (end == lexical.size() || lexical[end] == '/') {
      char target[NAME_MAX + 1];
      ssize_t n = ::readlink(lexical.substr(0, end).c_str(), target, sizeof(target) - 1);
      if (n > 0) {
        std::string run(target, static_cast<size_t>(n));
        if (run.find('/') == std::string::npos && run != "." && run != "..") {
          lexical = lexical.substr(0, at) + "/runs/" + run + lexical.substr(end);
        }
      }
    }
  }
  bool inside = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
    return within(lexical, normalizePath(r));
  });
  if (!inside) return Status::PermissionDenied("'" + path + "' is outside every sandbox");
  std::string real = realPath(lexical);
  if (real.empty()) return Status::NotFound("'" + path + "' does not exist");
  bool realInside = std::any_of(roots.begin(), roots.end(), [&](const std::string& r) {
    std::string rr = realPath(r);
    return within(real, rr);
  });
  if (!realInside) {
    return Status::PermissionDenied("'" + path + "' leads outside its sandbox");
  }
  return real;
}

namespace {
// Opens `resolved` (a realpath: no symlink in it) refusing any symlink met
// on the way: a sandbox's user may swap a directory of it for a link to
// elsewhere between resolveSandboxPath() and this open (openat2's
// RESOLVE_NO_SYMLINKS; O_NOFOLLOW on the last component only where the
// kernel lacks openat2).
int openResolved(const std::string& resolved, int flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, resolved.c_str(), &how, sizeof how));
  if (fd < 0 && errno == ENOSYS) fd = ::open(resolved.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP) errno = EACCES;
  return fd;
}
}  // namespace

Result<int> openRegularFile(const std::string& resolved, uint64_t* size) {
  int fd = openResolved(resolved, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("'" + resolved + "' does not exist");
    return Status::IoError("Cannot open '" + resolved + "': " + std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("'" + resolved + "' is not a regular file");
  }
  if (size) *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

Result<FileChunk> readFileChunk(const std::string& resolved, int64_t offset, size_t length) {
  uint64_t size = 0;
  auto opened = openRegularFile(resolved, &size);
  if (!opened.ok()) return opened.status();
  int fd = *opened;
  struct stat st;
  st.st_size = static_cast<off_t>(size);
  FileChunk chunk;
  if (offset == -1) {
    chunk.offset = st.st_size;
    ::close(fd);
    return chunk;
  }
  if (offset < 0) {
    ::close(fd);
    return Status::InvalidArgument("Negative offset");
  }
  chunk.offset = offset;
  if (offset < st.st_size) {
    size_t want = std::min<size_t>(length, static_cast<size_t>(st.st_size - offset));
    chunk.data.resize(want);
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::pread(fd, chunk.data.data() + got, want - got, offset + got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    chunk.data.resize(got);
  }
  ::close(fd);
  return chunk;
}

Result<std::vector<DirEntry>> listDirectory(const std::string& resolved) {
  int dirFd = openResolved(resolved, O_RDONLY | O_DIRECTORY);
  DIR* dir = dirFd >= 0 ? ::fdopendir(dirFd) : nullptr;
  if (!dir) {
    if (dirFd >= 0) ::close(dirFd);
    if (errno == ENOTDIR) return Status::InvalidArgument("'" + resolved + "' is not a directory");
    return Status::NotFound("Cannot open directory '" + resolved + "'");
  }
  std::vector<DirEntry> out;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string full = resolved + "/" + name;
    struct stat st;
    if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    DirEntry d;
    d.path = full;
    d.size = st.st_size;
    d.nlink = static_cast<int64_t>(st.st_nlink);
    d.mtime = static_cast<double>(st.st_mtime);
    d.mode = modeString(st.st_mode);
    d.directory = S_ISDIR(st.st_mode);
    out.push_back(std::move(d));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.path < b.path; });
  return out;
}

}  // namespace tutti::agent
