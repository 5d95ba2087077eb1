#include "agent/fetcher/fetcher.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/json.hpp"

namespace tutti::fetcher {

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status ioError(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

// The last path component of a URI or path, without a query or fragment.
std::string basenameOf(const std::string& uri) {
  std::string path = uri.substr(0, uri.find_first_of("?#"));
  auto scheme = path.find("://");
  if (scheme != std::string::npos) {
    auto slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path.substr(path.rfind('/') + 1);
}

// `name` relative to the sandbox, without "..": where the URI goes.
Result<std::string> destinationIn(const std::string& sandbox, const CommandURI& uri) {
  std::string name = uri.outputFile ? *uri.outputFile : basenameOf(uri.value);
  if (!sandboxRelativePath(name) || name.back() == '/' || name == ".") {
    return Status::InvalidArgument("cannot name a file in the sandbox after '" + name + "'");
  }
  // Nothing on the way may be a symlink (an earlier URI's archive may
  // have made one): the fetcher is the sandbox's only writer meanwhile, so
  // what is checked here stays true.
  std::string at = sandbox;
  for (size_t i = 0, j; (j = name.find('/', i)) != std::string::npos || i < name.size(); i = j + 1) {
    if (j == std::string::npos) j = name.size();
    at += "/" + name.substr(i, j - i);
    struct stat st;
    if (::lstat(at.c_str(), &st) != 0) break;  // made below
    if (S_ISLNK(st.st_mode)) {
      return Status::InvalidArgument("'" + name + "' goes through a symlink in the sandbox");
    }
    if (j == name.size()) break;
  }
  std::string dest = sandbox + "/" + name;
  auto slash = dest.rfind('/');
  if (slash > sandbox.size()) {
    Status s = makeDirectories(dest.substr(0, slash));
    if (!s.ok()) return s;
  }
  return dest;
}

struct HttpTarget {
  std::string origin;  // scheme://host[:port]
  std::string path;    // /path?query
};

Result<HttpTarget> splitUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return Status::InvalidArgument("'" + url + "' is not a URL");
  auto slash = url.find('/', scheme + 3);
  HttpTarget t;
  t.origin = url.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : url.substr(slash);
  auto hash = t.path.find('#');
  if (hash != std::string::npos) t.path.resize(hash);
  if (t.origin.size() <= scheme + 3) return Status::InvalidArgument("'" + url + "' has no host");
  return t;
}

Status download(const std::string& url, const std::string& dest, const FetchOptions& o) {
  std::string tmp = dest + ".fetching";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return ioError("cannot create " + tmp);
  std::string location = url;
  Status result = Status::OK();
  for (int hop = 0;; ++hop) {
    auto target = splitUrl(location);
    if (!target.ok()) {
      result = target.status();
      break;
    }
    httplib::Client client(target->origin);
    if (!client.is_valid()) {
      result = Status::InvalidArgument("cannot speak to '" + target->origin + "'");
      break;
    }
    client.set_connection_timeout(o.connectTimeout);
    client.set_read_timeout(o.stallTimeout);
    client.set_follow_location(false);
    client.enable_server_certificate_verification(true);
    int status = 0;
    std::string failure;
    auto res = client.Get(
        target->path, httplib::Headers{},
        [&](const httplib::Response& r) {
          status = r.status;
          return true;
        },
        [&](const char* data, size_t n) {
          if (status != 200) return true;  // a redirect's or an error's body
          while (n > 0) {
            ssize_t w = ::write(fd, data, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
              failure = std::string("cannot write ") + tmp + ": " + std::strerror(errno);
              return false;
            }
            data += w;
            n -= static_cast<size_t>(w);
          }
          return true;
        });
    if (!failure.empty()) {
      result = Status::IoError(failure);
      break;
    }
    if (!res) {
      result = Status::Unavailable("cannot download '" + location + "': " +
                                   httplib::to_string(res.error()));
      break;
    }
    if (res->status >= 300 && res->status < 400 && res->has_header("Location")) {
      if (hop >= o.maxRedirects) {
        result = Status::Unavailable("more than " + std::to_string(o.maxRedirects) +
                                     " redirects from '" + url + "'");
        break;
      }
      std::string next = res->get_header_value("Location");
      location = next.rfind("/", 0) == 0 ? target->origin + next : next;
      if (location.rfind("http://", 0) != 0 && location.rfind("https://", 0) != 0) {
        result = Status::Unavailable("'" + url + "' redirects to '" + location.substr(0, 200) +
                                     "', which is not http(s)");
        break;
      }
      continue;
    }
    if (res->status == 404) {
      result = Status::NotFound("'" + location + "' answered HTTP 404");
    } else if (res->status == 401 || res->status == 403) {
      result = Status::PermissionDenied("'" + location + "' answered HTTP " +
                                        std::to_string(res->status));
    } else if (res->status != 200) {
      result = Status::Unavailable("'" + location + "' answered HTTP " +
                                   std::to_string(res->status));
    }
    break;
  }
  if (result.ok() && ::fsync(fd) != 0) result = ioError("cannot write " + tmp);
  ::close(fd);
  if (result.ok() && ::rename(tmp.c_str(), dest.c_str()) != 0) {
    result = ioError("cannot rename " + tmp);
  }
  if (!result.ok()) ::unlink(tmp.c_str());
  return result;
}

Status copyFile(const std::string& source, const std::string& dest) {
  // O_NONBLOCK: a FIFO must not hang the fetcher (refused below).
  int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) {
    if (errno == ENOENT) return Status::NotFound("no file '" + source + "'");
    if (errno == EACCES) return Status::PermissionDenied("cannot read '" + source + "'");
    return ioError("cannot open " + source);
  }
  struct stat st;
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return Status::InvalidArgument("'" + source + "' is not a regular file");
  }
  ::fcntl(in, F_SETFL, 0);
  std::string tmp = dest + ".fetching";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                   st.st_mode & 0777);
  if (out < 0) {
    ::close(in);
    return ioError("cannot create " + tmp);
  }
  Status result = Status::OK();
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result = ioError("cannot read " + source);
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        result = ioError("cannot write " + tmp);
        break;
      }
      off += w;
    }
    if (!result.ok()) break;
  }
  ::close(in);
  if (::close(out) != 0 && result.ok()) result = ioError("cannot write " + tmp);
  if (result.ok() && ::rename(tmp.c_str(), dest.c_str()) != 0) result = ioError("cannot rename");
  if (!result.ok()) ::unlink(tmp.c_str());
  return result;
}

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};

// A single gzip-compressed file: its contents, as `dest`.
Status gunzip(const std::string& path, const std::string& dest) {
  std::unique_ptr<archive, ReadDeleter> in(archive_read_new());
  archive_read_support_filter_gzip(in.get());
  archive_read_support_format_raw(in.get());
  if (archive_read_open_filename(in.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::InvalidArgument("cannot read '" + path + "': " + archive_error_string(in.get()));
  }
  archive_entry* entry = nullptr;
  if (archive_read_next_header(in.get(), &entry) != ARCHIVE_OK) {
    return Status::InvalidArgument("'" + path + "' is not gzip: " + archive_error_string(in.get()));
  }
  int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (out < 0) return ioError("cannot create " + dest);
  Status result = Status::OK();
  char buf[1 << 16];
  la_ssize_t n;
  while ((n = archive_read_data(in.get(), buf, sizeof buf)) > 0) {
    if (::write(out, buf, static_cast<size_t>(n)) != n) {
      result = ioError("cannot write " + dest);
      break;
    }
  }
  if (n < 0) result = Status::InvalidArgument("'" + path + "': " + archive_error_string(in.get()));
  ::close(out);
  return result;
}

}  // namespace

bool isArchive(const std::string& name) {
  for (const char* s : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip",
                        ".gz"}) {
    if (endsWith(name, s)) return true;
  }
  return false;
}

Status extractArchive(const std::string& path, const std::string& dir) {
  if (endsWith(path, ".gz") && !endsWith(path, ".tar.gz")) {
    std::string stem = path.substr(path.rfind('/') + 1);
    return gunzip(path, dir + "/" + stem.substr(0, stem.size() - 3));
  }
  std::unique_ptr<archive, ReadDeleter> in(archive_read_new());
  archive_read_support_filter_all(in.get());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  archive_read_support_format_zip(in.get());
  if (archive_read_open_filename(in.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::InvalidArgument("cannot read archive '" + path + "': " +
                                   archive_error_string(in.get()));
  }
  std::unique_ptr<archive, WriteDeleter> out(archive_write_disk_new());
  // Relative names only, checked by libarchive from `dir` (entered below):
  // no absolute names, no "..", nothing through a symlink on disk. The
  // fetcher's own ids own what it writes (no ARCHIVE_EXTRACT_OWNER).
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME);
  int cwd = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0 || ::chdir(dir.c_str()) != 0) {
    if (cwd >= 0) ::close(cwd);
    return ioError("cannot enter " + dir);
  }
  Status result = Status::OK();
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      result = Status::InvalidArgument("archive '" + path + "': " + archive_error_string(in.get()));
      break;
    }
    const char* name = archive_entry_pathname(entry);
    std::string entryName = name ? name : "?";
    // Plain files, directories and links that stay inside; no set-id bits
    // or devices, whoever runs the fetcher.
    mode_t type = archive_entry_filetype(entry);
    const char* link = archive_entry_symlink(entry);
    const char* hard = archive_entry_hardlink(entry);
    auto escapes = [](const char* target) {
      if (!target) return false;
      std::string t = target;
      return t.empty() || t[0] == '/' || ("/" + t + "/").find("/../") != std::string::npos;
    };
    // (A hard link's entry has no type of its own: libarchive says 0.)
    bool allowed = hard ? !escapes(hard)
                        : (type == AE_IFREG || type == AE_IFDIR || (type == AE_IFLNK && !escapes(link)));
    if (!allowed) {
      result = Status::InvalidArgument("archive '" + path + "': entry '" + entryName +
                                       "' refused: only files, directories and links inside");
      break;
    }
    archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      result = Status::InvalidArgument("archive '" + path + "': entry '" +
                                       std::string(name ? name : "?") +
                                       "' refused: " + archive_error_string(out.get()));
      break;
    }
    if (archive_entry_size(entry) > 0) {
      const void* block;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_WARN) {
          r = ARCHIVE_FATAL;
          break;
        }
      }
      if (r != ARCHIVE_EOF) {
        result = Status::InvalidArgument("archive '" + path + "': cannot unpack '" +
                                         std::string(name ? name : "?") + "'");
        break;
      }
    }
    archive_write_finish_entry(out.get());
  }
  if (result.ok() && archive_write_close(out.get()) != ARCHIVE_OK) {
    result = Status::IoError("archive '" + path + "': " + archive_error_string(out.get()));
  }
  (void)::fchdir(cwd);
  ::close(cwd);
  return result;
}

Result<std::string> fetchUri(const CommandURI& uri, const std::string& sandbox,
                             const FetchOptions& options) {
  return fetchItem(FetchItem{uri, "", false}, sandbox, options);
}

Result<std::string> fetchItem(const FetchItem& item, const std::string& sandbox,
                              const FetchOptions& options) {
  const CommandURI& uri = item.uri;
  auto dest = destinationIn(sandbox, uri);
  if (!dest.ok()) return dest.status();
  // A miss fills the cache file first; a hit only reads it.
  const std::string& target = item.cacheFile.empty() || item.cached ? *dest : item.cacheFile;
  const std::string& v = uri.value;
  Status s;
  if (item.cached) {
    s = copyFile(item.cacheFile, *dest);
  } else if (v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) {
    s = download(v, target, options);
  } else if (v.rfind("file://", 0) == 0) {
    if (v.rfind("file:///", 0) != 0) {
      return Status::InvalidArgument("'" + v + "' names a host; only file:///path is local");
    }
    s = copyFile(v.substr(7), target);
  } else if (!v.empty() && v[0] == '/') {
    s = copyFile(v, target);
  } else {
    return Status::InvalidArgument("'" + v + "' is not http://, https://, file:/// or a path");
  }
  if (s.ok() && target != *dest) s = copyFile(target, *dest);
  if (!s.ok()) return s;
  if (uri.executable) {
    if (::chmod(dest->c_str(), 0755) != 0) return ioError("cannot make " + *dest + " executable");
  } else if (uri.extract && isArchive(*dest)) {
    s = extractArchive(*dest, sandbox);  // into the sandbox, as Mesos does
    if (!s.ok()) return s;
  }
  return *dest;
}

std::string itemsToJson(const std::vector<FetchItem>& items) {
  std::vector<CommandURI> uris;
  for (const auto& i : items) uris.push_back(i.uri);
  nlohmann::json out = json::commandUris(uris);
  for (size_t n = 0; n < items.size(); ++n) {
    if (items[n].cacheFile.empty()) continue;
    out[n]["cache_file"] = items[n].cacheFile;
    out[n]["cached"] = items[n].cached;
  }
  return out.dump();
}

Result<std::vector<FetchItem>> itemsFromJson(const std::string& text) {
  auto j = tutti::json::parse(text);
  if (!j.is_array()) return Status::InvalidArgument("--uris is not a JSON array");
  std::vector<FetchItem> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("value") || !e["value"].is_string()) {
      return Status::InvalidArgument("--uris: every entry needs a string 'value'");
    }
    // A field of the wrong type is an error, not an exception.
    auto flag = [&](const char* name, bool fallback, bool* into) {
      if (!e.contains(name)) {
        *into = fallback;
        return true;
      }
      if (!e[name].is_boolean()) return false;
      *into = e[name].get<bool>();
      return true;
    };
    FetchItem item;
    CommandURI& u = item.uri;
    u.value = e["value"].get<std::string>();
    if (!flag("executable", false, &u.executable) || !flag("extract", true, &u.extract) ||
        !flag("cache", false, &u.cache) || !flag("cached", false, &item.cached)) {
      return Status::InvalidArgument(
          "--uris: 'executable', 'extract', 'cache' and 'cached' must be true or false");
    }
    if (e.contains("output_file")) {
      if (!e["output_file"].is_string()) {
        return Status::InvalidArgument("--uris: 'output_file' must be a string");
      }
      u.outputFile = e["output_file"].get<std::string>();
    }
    if (e.contains("cache_file")) {
      if (!e["cache_file"].is_string() || e["cache_file"].get<std::string>().empty() ||
          e["cache_file"].get<std::string>()[0] != '/') {
        return Status::InvalidArgument("--uris: 'cache_file' must be an absolute path");
      }
      item.cacheFile = e["cache_file"].get<std::string>();
    } else {
      item.cached = false;  // nothing to read it from
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace tutti::fetcher
