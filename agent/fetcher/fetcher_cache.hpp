// The agent's fetcher cache (Mesos's): a URI with `cache: true` is fetched
// once per user into <dir>/<uid>/ and copied from there into the sandboxes
// of that user's later tasks, until evicted. Entries are never revalidated
// against their origin (as in Mesos: change the URI to change the file).
// The cache holds at most `capacityBytes` of entries no fetch is reading
// (least recently used go first; an entry larger than the whole cache is
// used once and dropped) and starts empty: the agent wipes `dir` at start.
//
// Each user's directory is theirs (0700, owned by their uid and gid): the
// fetcher, running as the user, writes and reads it; another user's tasks
// never see it. A task that wants a URI while it is being fetched into the
// cache for another waits for that fetch (waitForFills) and then copies it:
// a burst of tasks downloads each URI once.
//
// Owned by the Agent; loop thread only. Errors: only reset() and plan()
// touch the disk; a plan that cannot make a user's directory fetches those
// URIs directly and says so in the log.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/fetcher/fetcher.hpp"
#include "common/metrics.hpp"
#include "common/process.hpp"
#include "tutti/status.hpp"

namespace tutti::fetcher {

struct FetcherCacheOptions {
  std::string dir;                            // empty: no cache (every URI fetched directly)
  uint64_t capacityBytes = 2ull << 30;        // --fetcher_cache_size (2 GB)
};

class FetcherCache {
 public:
  // Counts hits, misses and evictions in `metrics`, and shows the used and
  // total bytes as gauges (removed again by the destructor).
  FetcherCache(FetcherCacheOptions options, Metrics& metrics);
  ~FetcherCache();
  FetcherCache(const FetcherCache&) = delete;
  FetcherCache& operator=(const FetcherCache&) = delete;

  // Forgets every entry and removes what a previous run left in the cache
  // directory (its users' directories, named by uid; nothing else), making
  // the directory (0711) when missing. PermissionDenied for a directory
  // that is not ours or that others may write.
  Status reset();
  // Runs without a cache from now on (every URI fetched directly).
  void disable(const std::string& why);

  // The entries one fetch uses, held until release().
  struct Ticket {
    std::vector<std::pair<uid_t, std::string>> hits;    // read from the cache
    std::vector<std::pair<uid_t, std::string>> misses;  // filled by this fetch
  };
  struct Plan {
    std::vector<FetchItem> items;
    Ticket ticket;
  };
  // Whether a URI of `uris` with cache: true is being fetched into the
  // cache for this user right now; then `retry` runs once, from the
  // release() that ends that fetch (successful or not), and the caller
  // plans again from it.
  bool waitForFills(const std::vector<CommandURI>& uris, const std::optional<Credentials>& user,
                    std::function<void()> retry);
  // What tutti-fetcher does for `uris` of a task whose fetcher runs as
  // `user` (unset: the agent's own ids). A URI being filled for another
  // fetch (see waitForFills) is fetched directly.
  Plan plan(const std::vector<CommandURI>& uris, const std::optional<Credentials>& user);
  // The fetch ended: its misses become entries when it succeeded (and are
  // dropped when not), its hits may be evicted again.
  void release(const Ticket& ticket, bool succeeded);

  uint64_t usedBytes() const { return used_; }
  size_t entries() const { return entries_.size(); }

 private:
  struct Entry {
    std::string file;
    bool ready = false;  // false: being fetched into
    uint64_t size = 0;
    uint64_t fileSize = 0;  // st_size, st_ino and st_mtim when it became ready:
    ino_t inode = 0;        // a hit checks the file is still that one
    struct timespec mtime {};
    int readers = 0;     // fetches reading or writing it
    uint64_t lastUse = 0;
    std::vector<std::function<void()>> waiters;  // while not ready
  };
  using Key = std::pair<uid_t, std::string>;
  // <dir>/<uid>, made (0700, the user's) when missing; "" on failure.
  std::string userDir(const std::optional<Credentials>& user);
  void evict();
  // Whether `e`'s file is still the regular file of `uid` it was made.
  bool intact(const Entry& e, uid_t uid) const;
  void drop(std::map<Key, Entry>::iterator it);

  FetcherCacheOptions options_;
  Metrics& metrics_;
  std::map<Key, Entry> entries_;
  uint64_t used_ = 0;   // bytes of ready entries
  uint64_t clock_ = 0;  // for lastUse
  uint64_t nextFile_ = 0;
  Counter& hits_;
  Counter& misses_;
  Counter& evictions_;
};

}  // namespace tutti::fetcher
