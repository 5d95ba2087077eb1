// Unit tests for the agent's fetcher cache: misses become entries only when
// their fetch succeeded, hits reuse them (unless their file changed), a
// URI being filled is waited for, least recently used entries go when the
// cache is over its size (never one a fetch is reading), and users never
// share.
// Real files in a temporary directory; the per-user case needs root.
#include "agent/fetcher/fetcher_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/user.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::fetcher {
namespace {

CommandURI cached(const std::string& value, bool cache = true) {
  CommandURI u;
  u.value = value;
  u.cache = cache;
  return u;
}

class FetcherCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cache_.reset().ok()); }
  // What the fetcher would have written for a miss.
  void fill(const FetchItem& item, size_t bytes) {
    std::ofstream(item.cacheFile) << std::string(bytes, 'x');
  }
  // One fetch of `uri` that succeeds (a miss filled with `bytes`, or a hit).
  FetchItem fetchOnce(const std::string& uri, size_t bytes = 10) {
    auto plan = cache_.plan({cached(uri)}, std::nullopt);
    EXPECT_EQ(plan.items.size(), 1u);
    if (!plan.items[0].cached && !plan.items[0].cacheFile.empty()) fill(plan.items[0], bytes);
    cache_.release(plan.ticket, true);
    return plan.items[0];
  }
  double metric(const std::string& name) { return metrics_.snapshot()[name]; }

  tutti::testing::TempDir dir_;
  Metrics metrics_;
  FetcherCache cache_{FetcherCacheOptions{dir_.path() + "/fetch", 100}, metrics_};
};

TEST_F(FetcherCacheTest, AMissBecomesAnEntryThatLaterFetchesReuse) {
  auto first = fetchOnce("http://h/app.tgz", 40);
  EXPECT_FALSE(first.cached);
  EXPECT_EQ(first.cacheFile.rfind(dir_.path() + "/fetch/" + std::to_string(::geteuid()) + "/", 0),
            0u)
      << first.cacheFile;
  EXPECT_NE(first.cacheFile.find("app.tgz"), std::string::npos);  // readable names
  auto second = fetchOnce("http://h/app.tgz");
  EXPECT_TRUE(second.cached);
  EXPECT_EQ(second.cacheFile, first.cacheFile);
  EXPECT_EQ(cache_.usedBytes(), 40u);
  EXPECT_EQ(metric("containerizer/fetcher/cache_hits"), 1);
  EXPECT_EQ(metric("containerizer/fetcher/cache_misses"), 1);
  EXPECT_EQ(metric("containerizer/fetcher/cache_size_used_bytes"), 40);
  EXPECT_EQ(metric("containerizer/fetcher/cache_size_total_bytes"), 100);
  // URIs without cache: true never touch it.
  auto plan = cache_.plan({cached("http://h/app.tgz", false)}, std::nullopt);
  EXPECT_EQ(plan.items[0].cacheFile, "");
  cache_.release(plan.ticket, true);
}

TEST_F(FetcherCacheTest, AFailedFetchLeavesNoEntryAndAConcurrentOneFetchesDirectly) {
  auto filling = cache_.plan({cached("http://h/a")}, std::nullopt);
  ASSERT_FALSE(filling.items[0].cacheFile.empty());
  // Meanwhile another task wants it: fetched directly, not waited for.
  auto meanwhile = cache_.plan({cached("http://h/a")}, std::nullopt);
  EXPECT_EQ(meanwhile.items[0].cacheFile, "");
  cache_.release(meanwhile.ticket, true);
  fill(filling.items[0], 5);  // a partial file of a fetch that then failed
  cache_.release(filling.ticket, false);
  EXPECT_FALSE(std::filesystem::exists(filling.items[0].cacheFile));
  EXPECT_EQ(cache_.entries(), 0u);
  EXPECT_EQ(cache_.usedBytes(), 0u);
  // The next one tries again.
  auto again = cache_.plan({cached("http://h/a")}, std::nullopt);
  EXPECT_FALSE(again.items[0].cacheFile.empty());
  EXPECT_FALSE(again.items[0].cached);
  cache_.release(again.ticket, false);
}

// A burst: tasks that want a URI being filled wait for it (waitForFills)
// and then read it; when the fill fails, the first retry fills again.
TEST_F(FetcherCacheTest, FetchesThatWantAUriBeingFilledWaitForIt) {
  std::vector<CommandURI> uris = {cached("http://h/a")};
  EXPECT_FALSE(cache_.waitForFills(uris, std::nullopt, [] {}));  // nothing being filled
  auto filling = cache_.plan(uris, std::nullopt);
  int retries = 0;
  EXPECT_TRUE(cache_.waitForFills(uris, std::nullopt, [&] { ++retries; }));
  EXPECT_TRUE(cache_.waitForFills(uris, std::nullopt, [&] { ++retries; }));
  EXPECT_FALSE(cache_.waitForFills({cached("http://h/a", false)}, std::nullopt, [] {}));
  EXPECT_EQ(retries, 0);
  fill(filling.items[0], 10);
  cache_.release(filling.ticket, true);
  EXPECT_EQ(retries, 2);
  EXPECT_TRUE(cache_.plan(uris, std::nullopt).items[0].cached);

  // A failed fill wakes its waiters too; the first to plan fills again.
  auto failing = cache_.plan({cached("http://h/b")}, std::nullopt);
  bool woke = false;
  EXPECT_TRUE(cache_.waitForFills({cached("http://h/b")}, std::nullopt, [&] {
    woke = true;
    auto again = cache_.plan({cached("http://h/b")}, std::nullopt);
    EXPECT_FALSE(again.items[0].cached);
    EXPECT_FALSE(again.items[0].cacheFile.empty());
    cache_.release(again.ticket, false);
  }));
  cache_.release(failing.ticket, false);
  EXPECT_TRUE(woke);
}

// The same URI twice in one command: filled once, then read.
TEST_F(FetcherCacheTest, TheSameUriTwiceInOneFetchIsFetchedOnce) {
  auto plan = cache_.plan({cached("http://h/a"), cached("http://h/a")}, std::nullopt);
  ASSERT_EQ(plan.items.size(), 2u);
  EXPECT_FALSE(plan.items[0].cached);
  EXPECT_TRUE(plan.items[1].cached);
  EXPECT_EQ(plan.items[1].cacheFile, plan.items[0].cacheFile);
  fill(plan.items[0], 10);
  cache_.release(plan.ticket, true);
  EXPECT_EQ(cache_.entries(), 1u);
  EXPECT_EQ(cache_.usedBytes(), 10u);
}

// An entry whose file changed (removed, replaced, rewritten, linked) is not
// handed out: the URI is fetched again.
TEST_F(FetcherCacheTest, ADamagedEntryIsFetchedAgain) {
  auto a = fetchOnce("http://h/a", 10);
  ::unlink(a.cacheFile.c_str());
  auto removed = fetchOnce("http://h/a", 10);
  EXPECT_FALSE(removed.cached);
  EXPECT_EQ(cache_.entries(), 1u);
  EXPECT_EQ(cache_.usedBytes(), 10u);

  std::ofstream(removed.cacheFile, std::ios::app) << "more";  // grown after it was counted
  EXPECT_FALSE(fetchOnce("http://h/a", 10).cached);

  auto b = fetchOnce("http://h/b", 10);
  ASSERT_EQ(::link(b.cacheFile.c_str(), (dir_.path() + "/elsewhere").c_str()), 0);
  EXPECT_FALSE(fetchOnce("http://h/b", 10).cached);  // a second link: not the file it made
  // A miss whose file is a symlink, not a file, never becomes an entry.
  auto plan = cache_.plan({cached("http://h/c")}, std::nullopt);
  ASSERT_EQ(::symlink("/etc/passwd", plan.items[0].cacheFile.c_str()), 0);
  cache_.release(plan.ticket, true);
  EXPECT_FALSE(fetchOnce("http://h/c").cached);
}

TEST_F(FetcherCacheTest, TheLeastRecentlyUsedGoFirstButNeverOneBeingRead) {
  auto a = fetchOnce("http://h/a", 40);
  auto b = fetchOnce("http://h/b", 40);
  fetchOnce("http://h/a");  // a is now more recent than b
  auto c = fetchOnce("http://h/c", 40);  // 120 > 100: b goes
  EXPECT_TRUE(std::filesystem::exists(a.cacheFile));
  EXPECT_FALSE(std::filesystem::exists(b.cacheFile));
  EXPECT_TRUE(std::filesystem::exists(c.cacheFile));
  EXPECT_EQ(cache_.usedBytes(), 80u);
  EXPECT_EQ(metric("containerizer/fetcher/cache_evictions"), 1);

  // a is being read by a fetch: c, though more recent, goes instead.
  auto reading = cache_.plan({cached("http://h/a")}, std::nullopt);
  ASSERT_TRUE(reading.items[0].cached);
  auto d = fetchOnce("http://h/d", 40);
  EXPECT_TRUE(std::filesystem::exists(a.cacheFile));
  EXPECT_FALSE(std::filesystem::exists(c.cacheFile));
  EXPECT_TRUE(std::filesystem::exists(d.cacheFile));
  cache_.release(reading.ticket, true);

  // Larger than the whole cache: used by its fetch, then dropped, and
  // nothing else goes for it.
  auto huge = fetchOnce("http://h/huge", 150);
  EXPECT_FALSE(std::filesystem::exists(huge.cacheFile));
  EXPECT_TRUE(std::filesystem::exists(a.cacheFile));
  EXPECT_TRUE(std::filesystem::exists(d.cacheFile));
  EXPECT_EQ(cache_.usedBytes(), 80u);
}

TEST_F(FetcherCacheTest, ResetEmptiesWhatAPreviousRunLeftAndNothingElse) {
  auto a = fetchOnce("http://h/a", 10);
  ASSERT_TRUE(std::filesystem::exists(a.cacheFile));
  std::string other = dir_.path() + "/fetch/not-ours";  // a shared parent's other files
  std::ofstream(other) << "keep";
  ASSERT_TRUE(cache_.reset().ok());
  EXPECT_FALSE(std::filesystem::exists(a.cacheFile));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_EQ(cache_.entries(), 0u);
  auto again = fetchOnce("http://h/a");
  EXPECT_FALSE(again.cached);
  EXPECT_NE(again.cacheFile, a.cacheFile);  // new names after a restart
  // A directory others may write is refused (users' directories could be
  // swapped under us); the cache then runs disabled.
  ASSERT_EQ(::chmod((dir_.path() + "/fetch").c_str(), 0777), 0);
  auto refused = cache_.reset();
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied) << refused;
  cache_.disable(refused.message());
  auto plan = cache_.plan({cached("http://h/a")}, std::nullopt);
  EXPECT_EQ(plan.items[0].cacheFile, "");
  EXPECT_EQ(metric("containerizer/fetcher/cache_size_total_bytes"), 0);
}

TEST_F(FetcherCacheTest, EachUserHasItsOwnEntriesInItsOwnDirectory) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory to another user";
  auto nobody = lookupUser("nobody");
  if (!nobody.ok()) GTEST_SKIP() << "no user 'nobody' here";
  Credentials ids{nobody->uid, nobody->gid, {}};
  fetchOnce("http://h/a", 10);
  auto theirs = cache_.plan({cached("http://h/a")}, ids);
  ASSERT_FALSE(theirs.items[0].cacheFile.empty());
  EXPECT_FALSE(theirs.items[0].cached);  // not root's entry
  std::string dir = dir_.path() + "/fetch/" + std::to_string(nobody->uid);
  EXPECT_EQ(theirs.items[0].cacheFile.rfind(dir + "/", 0), 0u);
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->uid);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  cache_.release(theirs.ticket, false);
}

}  // namespace
}  // namespace tutti::fetcher
