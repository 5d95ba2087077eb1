#include "agent/containerizer/images/layer_extractor.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "common/files.hpp"

namespace tutti::agent::images {

namespace {

constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr const char* kOpaqueMarker = ".wh..wh..opq";

struct ReaderDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};

// "./a/b" and "/a/b" → "a/b"; empty for the root itself; nullopt when a
// component is "..".
std::optional<std::string> cleanName(const char* raw) {
  std::string out;
  std::string name = raw ? raw : "";
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string::npos) j = name.size();
    std::string c = name.substr(i, j - i);
    if (c == "..") return std::nullopt;
    if (!c.empty() && c != ".") out += (out.empty() ? "" : "/") + c;
    i = j + 1;
  }
  return out;
}

std::string parentOf(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

std::string baseOf(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// True when every existing directory on the way from `root` to `rel`'s
// parent is a real directory (no symlink could carry a write elsewhere).
bool parentIsInside(const std::string& root, const std::string& rel) {
  std::string path = root;
  std::string parent = parentOf(rel);
  size_t i = 0;
  while (!parent.empty() && i <= parent.size()) {
    size_t j = parent.find('/', i);
    if (j == std::string::npos) j = parent.size();
    path += "/" + parent.substr(i, j - i);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return true;  // created as a directory by us
    if (!S_ISDIR(st.st_mode)) return false;
    i = j + 1;
  }
  return true;
}

Status removeIfPresent(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::OK();
  if (S_ISDIR(st.st_mode)) return removeTree(path);
  if (::unlink(path.c_str()) != 0) {
    return Status::IoError("cannot remove " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

// Drops every extended attribute but user.* and security.capability.
void keepSafeXattrs(archive_entry* entry) {
  if (archive_entry_xattr_reset(entry) == 0) return;
  struct Xattr {
    std::string name;
    std::string value;
  };
  std::vector<Xattr> kept;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  bool dropped = false;
  while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
    std::string n = name ? name : "";
    if (n.rfind("user.", 0) == 0 || n == "security.capability") {
      kept.push_back({n, std::string(static_cast<const char*>(value), size)});
    } else {
      dropped = true;
    }
  }
  if (!dropped) return;
  archive_entry_xattr_clear(entry);
  for (const auto& x : kept) {
    archive_entry_xattr_add_entry(entry, x.name.c_str(), x.value.data(), x.value.size());
  }
}

}  // namespace

Status extractLayer(const std::string& archivePath, const std::string& destination,
                    WhiteoutMode mode, const ExtractLimits& limits) {
  Status made = makeDirectories(destination);
  if (!made.ok()) return made;
  char resolved[PATH_MAX];
  if (!::realpath(destination.c_str(), resolved)) {
    return Status::IoError("cannot resolve " + destination + ": " + std::strerror(errno));
  }
  const std::string root = resolved;

  std::unique_ptr<archive, ReaderDeleter> in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_filename(in.get(), archivePath.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::InvalidArgument("cannot read layer " + archivePath + ": " +
                                   archive_error_string(in.get()));
  }
  std::unique_ptr<archive, WriterDeleter> out(archive_write_disk_new());
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                     ARCHIVE_EXTRACT_XATTR |
                     ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                     ARCHIVE_EXTRACT_UNLINK);
  archive_write_disk_set_standard_lookup(out.get());

  // kApply: what this layer wrote, which an opaque marker must keep.
  std::set<std::string> written;
  std::vector<std::string> opaqueDirs;

  uint64_t bytes = 0;
  uint64_t entries = 0;
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return Status::InvalidArgument("corrupt layer " + archivePath + ": " +
                                     archive_error_string(in.get()));
    }
    if (++entries > limits.maxEntries) {
      return Status::InvalidArgument("layer " + archivePath + " has more than " +
                                     std::to_string(limits.maxEntries) + " entries");
    }
    keepSafeXattrs(entry);
    const char* rawName = archive_entry_pathname(entry);
    auto rel = cleanName(rawName);
    if (!rel) {
      return Status::InvalidArgument("layer " + archivePath + " has an entry outside the root: " +
                                     std::string(rawName ? rawName : ""));
    }
    if (rel->empty()) continue;  // "./" itself
    if (!parentIsInside(root, *rel)) {
      return Status::InvalidArgument("layer " + archivePath + " writes through a symlink: " + *rel);
    }
    std::string base = baseOf(*rel);
    std::string dir = parentOf(*rel);
    std::string dirPath = dir.empty() ? root : root + "/" + dir;
    if (base == kOpaqueMarker) {
      Status s = makeDirectories(dirPath);
      if (!s.ok()) return s;
      if (mode == WhiteoutMode::kOverlay) {
        if (::setxattr(dirPath.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
          return Status::IoError("cannot mark " + dirPath + " opaque: " + std::strerror(errno));
        }
      } else {
        opaqueDirs.push_back(dir);
      }
      continue;
    }
    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      std::string hidden = base.substr(std::strlen(kWhiteoutPrefix));
      if (hidden.empty() || hidden == "." || hidden == "..") continue;
      std::string target = dirPath + "/" + hidden;
      Status s = removeIfPresent(target);
      if (!s.ok()) return s;
      if (mode == WhiteoutMode::kOverlay) {
        Status m = makeDirectories(dirPath);
        if (!m.ok()) return m;
        if (::mknod(target.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) {
          return Status::IoError("cannot create whiteout " + target + ": " + std::strerror(errno));
        }
      }
      continue;
    }
    std::string full = root + "/" + *rel;
    archive_entry_set_pathname(entry, full.c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      auto target = cleanName(link);
      if (!target || target->empty()) {
        return Status::InvalidArgument("layer " + archivePath +
                                       " has a hard link outside the root: " + link);
      }
      std::string linkPath = root + "/" + *target;
      archive_entry_set_hardlink(entry, linkPath.c_str());
    }
    if (mode == WhiteoutMode::kApply) {
      written.insert(*rel);
      // A lower layer's directory replaced by a file (or the reverse).
      struct stat st;
      bool isDir = archive_entry_filetype(entry) == AE_IFDIR;
      if (::lstat(full.c_str(), &st) == 0 && (S_ISDIR(st.st_mode) != isDir || !isDir)) {
        Status s = removeIfPresent(full);
        if (!s.ok()) return s;
      }
    }
    r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN) {
      return Status::IoError("cannot extract " + *rel + " from " + archivePath + ": " +
                             archive_error_string(out.get()));
    }
    if (archive_entry_size(entry) > 0) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        bytes += size;
        if (bytes > limits.maxBytes) {
          return Status::InvalidArgument("layer " + archivePath + " unpacks to more than " +
                                         std::to_string(limits.maxBytes >> 20) + " MB");
        }
        if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_OK) {
          return Status::IoError("cannot write " + *rel + ": " + archive_error_string(out.get()));
        }
      }
      if (r != ARCHIVE_EOF) {
        return Status::InvalidArgument("corrupt layer " + archivePath + " at " + *rel + ": " +
                                       archive_error_string(in.get()));
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return Status::IoError("cannot finish " + *rel + ": " + archive_error_string(out.get()));
    }
  }
  // Opaque directories (kApply): drop what lower layers left there.
  for (const auto& dir : opaqueDirs) {
    std::string dirPath = dir.empty() ? root : root + "/" + dir;
    auto names = listDirectory(dirPath);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      std::string rel = dir.empty() ? n : dir + "/" + n;
      if (written.count(rel)) continue;
      Status s = removeIfPresent(dirPath + "/" + n);
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

}  // namespace tutti::agent::images
