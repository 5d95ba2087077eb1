#include "agent/fetcher/fetcher_cache.hpp"

#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/files.hpp"

namespace tutti::fetcher {

namespace {
// A readable, safe file name for a URI: its last path component with
// anything but [A-Za-z0-9._-] replaced (at most 100 characters).
std::string fileNameFor(const std::string& uri) {
  std::string path = uri.substr(0, uri.find_first_of("?#"));
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.size() > 100) name = name.substr(name.size() - 100);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  }
  return name.empty() ? "uri" : name;
}
}  // namespace

FetcherCache::FetcherCache(FetcherCacheOptions options, Metrics& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      hits_(metrics.counter("containerizer/fetcher/cache_hits")),
      misses_(metrics.counter("containerizer/fetcher/cache_misses")),
      evictions_(metrics.counter("containerizer/fetcher/cache_evictions")) {
  // File names unlike any a previous run may have left (a removal failed).
  nextFile_ = static_cast<uint64_t>(::time(nullptr)) << 20;
  // Mesos's names.
  metrics_.gauge("containerizer/fetcher/cache_size_total_bytes", [this] {
    return options_.dir.empty() ? 0.0 : static_cast<double>(options_.capacityBytes);
  });
  metrics_.gauge("containerizer/fetcher/cache_size_used_bytes",
                 [this] { return static_cast<double>(used_); });
}

FetcherCache::~FetcherCache() {
  metrics_.removeGauge("containerizer/fetcher/cache_size_total_bytes");
  metrics_.removeGauge("containerizer/fetcher/cache_size_used_bytes");
}

Status FetcherCache::reset() {
  entries_.clear();
  used_ = 0;
  if (options_.dir.empty()) return Status::OK();
  struct stat st;
  if (::lstat(options_.dir.c_str(), &st) != 0) {
    Status s = makeDirectories(options_.dir);
    if (!s.ok()) return s;
    // Users reach their own directory below it, and nothing else.
    if (::chmod(options_.dir.c_str(), 0711) != 0) {
      return Status::IoError("chmod " + options_.dir + ": " + std::strerror(errno));
    }
  } else if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    // Another's, or one others may write: users' directories must not be
    // renamed or replaced under us.
    return Status::PermissionDenied(options_.dir + " is not a directory of ours that only we "
                                    "may write");
  }
  // Only what a previous run of the cache left: the users' directories
  // (named by uid); anything else in a shared parent stays. A removal that
  // fails (a file held busy) costs disk, not correctness: new entries get
  // new names.
  auto names = listDirectory(options_.dir);
  for (const auto& name : names.ok() ? *names : std::vector<std::string>{}) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    Status s = removeTree(options_.dir + "/" + name);
    if (!s.ok()) LOG(WARNING) << "Fetcher cache: " << s;
  }
  return Status::OK();
}

void FetcherCache::disable(const std::string& why) {
  LOG(ERROR) << "No fetcher cache (URIs are fetched directly): " << why;
  options_.dir.clear();
  entries_.clear();
  used_ = 0;
}

std::string FetcherCache::userDir(const std::optional<Credentials>& user) {
  uid_t uid = user ? user->uid : ::geteuid();
  gid_t gid = user ? user->gid : ::getegid();
  std::string dir = options_.dir + "/" + std::to_string(uid);
  struct stat st;
  if (::lstat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode) && st.st_uid == uid) return dir;
    LOG(ERROR) << "Fetcher cache: " << dir << " is not a directory of uid " << uid;
    return "";
  }
  if (::mkdir(dir.c_str(), 0700) != 0 || (::geteuid() == 0 && ::chown(dir.c_str(), uid, gid) != 0)) {
    LOG(ERROR) << "Fetcher cache: cannot make " << dir << ": " << std::strerror(errno);
    return "";
  }
  return dir;
}

bool FetcherCache::waitForFills(const std::vector<CommandURI>& uris,
                                const std::optional<Credentials>& user,
                                std::function<void()> retry) {
  uid_t uid = user ? user->uid : ::geteuid();
  for (const auto& uri : uris) {
    if (!uri.cache) continue;
    auto it = entries_.find(Key{uid, uri.value});
    if (it == entries_.end() || it->second.ready) continue;
    it->second.waiters.push_back(std::move(retry));
    return true;
  }
  return false;
}

FetcherCache::Plan FetcherCache::plan(const std::vector<CommandURI>& uris,
                                      const std::optional<Credentials>& user) {
  Plan plan;
  uid_t uid = user ? user->uid : ::geteuid();
  std::string dir;
  std::map<std::string, std::string> filledHere;  // URI → its file, filled by an earlier item
  for (const auto& uri : uris) {
    FetchItem item{uri, "", false};
    if (uri.cache && !options_.dir.empty()) {
      Key key{uid, uri.value};
      auto it = entries_.find(key);
      if (auto same = filledHere.find(uri.value); same != filledHere.end()) {
        // The same URI again: read what the earlier item fills (items run in order).
        item.cacheFile = same->second;
        item.cached = true;
        plan.items.push_back(std::move(item));
        continue;
      }
      if (it != entries_.end() && it->second.ready && !intact(it->second, uid)) {
        LOG(WARNING) << "Fetcher cache: " << it->second.file << " changed; fetching again";
        drop(it);
        it = entries_.end();
      }
      if (it != entries_.end() && it->second.ready) {
        it->second.readers++;
        it->second.lastUse = ++clock_;
        item.cacheFile = it->second.file;
        item.cached = true;
        plan.ticket.hits.push_back(key);
        hits_.inc();
      } else if (it == entries_.end()) {
        if (dir.empty()) dir = userDir(user);
        if (!dir.empty()) {
          Entry e;
          e.file = dir + "/" + std::to_string(nextFile_++) + "-" + fileNameFor(uri.value);
          e.readers = 1;
          e.lastUse = ++clock_;
          item.cacheFile = e.file;
          filledHere[uri.value] = e.file;
          entries_.emplace(key, std::move(e));
          plan.ticket.misses.push_back(key);
          misses_.inc();
        }
      }
      // else: being fetched into for another task; this one fetches directly.
    }
    plan.items.push_back(std::move(item));
  }
  return plan;
}

void FetcherCache::release(const Ticket& ticket, bool succeeded) {
  std::vector<std::function<void()>> retries;
  for (const Key& key : ticket.hits) {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.readers == 0) continue;
    it->second.readers--;
    // A fetch that failed may have failed on its copy: a damaged entry goes.
    if (!succeeded && it->second.ready && it->second.readers == 0 && !intact(it->second, key.first)) {
      drop(it);
    }
  }
  for (const Key& key : ticket.misses) {
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.ready) continue;
    it->second.readers--;
    for (auto& w : it->second.waiters) retries.push_back(std::move(w));
    it->second.waiters.clear();
    struct stat st;
    // What the user's fetcher left: only a regular file of the user's with
    // one link counts. Larger than the whole cache: used by this fetch
    // only, evicting nothing.
    bool kept = succeeded && ::lstat(it->second.file.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                st.st_nlink == 1 && st.st_uid == key.first;
    uint64_t bytes = kept ? static_cast<uint64_t>(st.st_size) : 0;
    if (kept && bytes <= options_.capacityBytes) {
      it->second.ready = true;
      it->second.size = bytes;
      it->second.fileSize = static_cast<uint64_t>(st.st_size);
      it->second.inode = st.st_ino;
      it->second.mtime = st.st_mtim;
      used_ += it->second.size;
    } else {
      drop(it);
    }
  }
  evict();
  // Last: a retry plans again (and may start filling what just failed).
  for (auto& retry : retries) retry();
}

void FetcherCache::evict() {
  while (used_ > options_.capacityBytes) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (!it->second.ready || it->second.readers > 0) continue;
      if (victim == entries_.end() || it->second.lastUse < victim->second.lastUse) victim = it;
    }
    if (victim == entries_.end()) return;  // all in use: over until they are released
    evictions_.inc();
    drop(victim);
  }
}

bool FetcherCache::intact(const Entry& e, uid_t uid) const {
  struct stat st;
  return ::lstat(e.file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
         st.st_uid == uid && st.st_ino == e.inode &&
         static_cast<uint64_t>(st.st_size) == e.fileSize &&
         st.st_mtim.tv_sec == e.mtime.tv_sec && st.st_mtim.tv_nsec == e.mtime.tv_nsec;
}

void FetcherCache::drop(std::map<Key, Entry>::iterator it) {
  if (it->second.ready) used_ -= it->second.size;
  // unlink() does not follow a symlink the user may have put in its place.
  ::unlink(it->second.file.c_str());
  ::unlink((it->second.file + ".fetching").c_str());
  entries_.erase(it);
}

}  // namespace tutti::fetcher
