// Unit tests for the fetcher (agent/fetcher/fetcher.hpp): local copies,
// downloads from a real HTTP server on loopback (redirects, errors, nothing
// partial left), archives unpacked, and archives that try to write outside
// the sandbox refused. Archives are written with libarchive here.
#include "agent/fetcher/fetcher.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::fetcher {
namespace {

struct Entry {
  std::string name;
  std::string data;          // a file's contents
  std::string symlinkTo;     // non-empty: a symlink
  mode_t type = AE_IFREG;    // or AE_IFCHR, AE_IFIFO…
  mode_t perm = 0644;
  std::string hardlinkTo;    // non-empty: a hard link
};

// Writes `entries` as a tar.gz, or a zip when `zip`.
void writeArchive(const std::string& path, const std::vector<Entry>& entries, bool zip = false) {
  archive* a = archive_write_new();
  if (zip) {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    if (!e.hardlinkTo.empty()) {
      archive_entry_set_hardlink(entry, e.hardlinkTo.c_str());
      archive_entry_set_size(entry, 0);
    } else if (!e.symlinkTo.empty()) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, e.symlinkTo.c_str());
      archive_entry_set_perm(entry, 0777);
    } else {
      archive_entry_set_filetype(entry, e.type);
      archive_entry_set_perm(entry, e.perm);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    }
    archive_write_header(a, entry);
    if (e.symlinkTo.empty() && e.hardlinkTo.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string contents(const std::string& path) {
  auto t = readFile(path);
  return t.ok() ? *t : "<missing>";
}

CommandURI uri(std::string value) {
  CommandURI u;
  u.value = std::move(value);
  return u;
}

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sandbox_ = dir_.path() + "/sandbox";
    source_ = dir_.path() + "/source";
    ASSERT_TRUE(makeDirectories(sandbox_).ok());
    ASSERT_TRUE(makeDirectories(source_).ok());
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = source_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  // Files in the sandbox and around it (nothing may appear outside it).
  size_t filesOutsideSandbox() {
    size_t n = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
      std::string p = e.path().string();
      if (p.rfind(sandbox_, 0) != 0 && p.rfind(source_, 0) != 0) ++n;
    }
    return n;
  }
  tutti::testing::TempDir dir_;
  std::string sandbox_, source_;
};

TEST_F(FetcherTest, CopiesLocalFilesToTheirNamesAndMakesThemExecutable) {
  std::string tool = write("tool.sh", "#!/bin/sh\necho hi\n");
  auto plain = fetchUri(uri(tool), sandbox_);
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_EQ(*plain, sandbox_ + "/tool.sh");
  EXPECT_EQ(contents(*plain), "#!/bin/sh\necho hi\n");

  CommandURI exec = uri("file://" + tool);
  exec.executable = true;
  exec.outputFile = "bin/run";
  auto run = fetchUri(exec, sandbox_);
  ASSERT_TRUE(run.ok()) << run.error();
  EXPECT_EQ(*run, sandbox_ + "/bin/run");
  struct stat st;
  ASSERT_EQ(::stat(run->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);

  ASSERT_EQ(::mkfifo((source_ + "/fifo").c_str(), 0644), 0);
  auto fifo = fetchUri(uri(source_ + "/fifo"), sandbox_);  // returns: no writer awaited
  EXPECT_EQ(fifo.status().code(), Status::Code::kInvalidArgument) << fifo.error();
  auto missing = fetchUri(uri(source_ + "/nope"), sandbox_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  for (const char* bad : {"file://host/x", "ftp://h/x", "relative"}) {
    EXPECT_EQ(fetchUri(uri(bad), sandbox_).status().code(), Status::Code::kInvalidArgument) << bad;
  }
  CommandURI escape = uri(tool);
  escape.outputFile = "a/../../x";
  EXPECT_FALSE(fetchUri(escape, sandbox_).ok());
  EXPECT_EQ(filesOutsideSandbox(), 0u);
}

TEST_F(FetcherTest, UnpacksArchivesIntoTheSandboxUnlessTold) {
  writeArchive(source_ + "/app.tar.gz", {{"app/run.sh", "echo app\n", ""},
                                         {"app/conf", "x=1", ""},
                                         {"app/conf.link", "", "", AE_IFREG, 0644, "app/conf"}});
  writeArchive(source_ + "/site.zip", {{"index.html", "<h1>hi</h1>", ""}}, true);
  auto tgz = fetchUri(uri(source_ + "/app.tar.gz"), sandbox_);
  ASSERT_TRUE(tgz.ok()) << tgz.error();
  EXPECT_EQ(contents(sandbox_ + "/app/run.sh"), "echo app\n");
  EXPECT_EQ(contents(sandbox_ + "/app/conf"), "x=1");
  EXPECT_EQ(contents(sandbox_ + "/app/conf.link"), "x=1");  // a hard link inside is fine
  EXPECT_TRUE(std::filesystem::exists(sandbox_ + "/app.tar.gz"));  // kept, as Mesos does
  auto zip = fetchUri(uri(source_ + "/site.zip"), sandbox_);
  ASSERT_TRUE(zip.ok()) << zip.error();
  EXPECT_EQ(contents(sandbox_ + "/index.html"), "<h1>hi</h1>");

  ASSERT_EQ(std::system(("printf 'one line' | gzip > " + source_ + "/note.txt.gz").c_str()), 0);
  ASSERT_TRUE(fetchUri(uri(source_ + "/note.txt.gz"), sandbox_).ok());
  EXPECT_EQ(contents(sandbox_ + "/note.txt"), "one line");

  // Unpacked into the sandbox even when the archive is put in a directory.
  CommandURI nested = uri(source_ + "/app.tar.gz");
  nested.outputFile = "dl/app.tar.gz";
  ::unlink((sandbox_ + "/app/conf").c_str());
  ASSERT_TRUE(fetchUri(nested, sandbox_).ok());
  EXPECT_EQ(contents(sandbox_ + "/app/conf"), "x=1");
  EXPECT_FALSE(std::filesystem::exists(sandbox_ + "/dl/app"));

  ::unlink((sandbox_ + "/index.html").c_str());
  CommandURI keep = uri(source_ + "/site.zip");
  keep.extract = false;
  keep.outputFile = "kept.zip";
  ASSERT_TRUE(fetchUri(keep, sandbox_).ok());
  EXPECT_FALSE(std::filesystem::exists(sandbox_ + "/index.html"));
}

TEST_F(FetcherTest, ArchivesThatWriteOutsideTheSandboxAreRefused) {
  std::string outside = dir_.path() + "/outside";
  ASSERT_TRUE(makeDirectories(outside).ok());
  std::vector<std::pair<std::string, std::vector<Entry>>> hostile = {
      {"dotdot.tar.gz", {{"../escaped", "x", ""}}},
      {"absolute.tar.gz", {{outside + "/escaped", "x", ""}}},
      {"through-link.tar.gz", {{"link", "", outside}, {"link/escaped", "x", ""}}},
      {"device.tar.gz", {{"null", "", "", AE_IFCHR}}},
      {"fifo.tar.gz", {{"pipe", "", "", AE_IFIFO}}},
      {"uplink.tar.gz", {{"up", "", "../.."}}},
      {"hardlink-out.tar.gz", {{"h", "", "", AE_IFREG, 0644, "../../etc/passwd"}}},
  };
  for (const auto& [name, entries] : hostile) {
    writeArchive(source_ + "/" + name, entries);
    auto r = fetchUri(uri(source_ + "/" + name), sandbox_);
    EXPECT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << name << ": " << r.error();
    EXPECT_NE(r.error().find("refused"), std::string::npos) << name << ": " << r.error();
  }
  // A link that stays inside is fine; a later URI may not write through it,
  // nor through one that leads out.
  writeArchive(source_ + "/links.tar.gz", {{"inner", "", "sub"}, {"sub/f", "x", ""}});
  ASSERT_TRUE(fetchUri(uri(source_ + "/links.tar.gz"), sandbox_).ok());
  ASSERT_EQ(::symlink(outside.c_str(), (sandbox_ + "/out").c_str()), 0);
  std::string plain = source_ + "/plain";
  std::ofstream(plain) << "p";
  for (const char* via : {"out/escaped", "inner/escaped"}) {
    CommandURI through = uri(plain);
    through.outputFile = via;
    auto r = fetchUri(through, sandbox_);
    EXPECT_FALSE(r.ok()) << via;
    EXPECT_NE(r.error().find("symlink"), std::string::npos) << r.error();
  }
  // No set-id bits from an archive, whoever fetches.
  writeArchive(source_ + "/suid.tar.gz", {{"tool", "x", "", AE_IFREG, 04755}});
  ASSERT_TRUE(fetchUri(uri(source_ + "/suid.tar.gz"), sandbox_).ok());
  struct stat st;
  ASSERT_EQ(::stat((sandbox_ + "/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/escaped"));
  EXPECT_FALSE(std::filesystem::exists(outside + "/escaped"));
}

TEST_F(FetcherTest, DownloadsOverHttpFollowingRedirectsAndLeavesNothingOnErrors) {
  httplib::Server server;
  server.Get("/files/data.bin", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(300000, 'd'), "application/octet-stream");
  });
  server.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/files/data.bin");
  });
  server.Get("/loop", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/loop");
  });
  server.Get("/broken", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("no", "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });
  ASSERT_TRUE(tutti::testing::waitUntil([&] { return server.is_running(); }));
  std::string base = "http://127.0.0.1:" + std::to_string(port);

  auto direct = fetchUri(uri(base + "/files/data.bin?x=1"), sandbox_);
  ASSERT_TRUE(direct.ok()) << direct.error();
  EXPECT_EQ(*direct, sandbox_ + "/data.bin");
  EXPECT_EQ(std::filesystem::file_size(*direct), 300000u);
  CommandURI moved = uri(base + "/moved");
  moved.outputFile = "again.bin";
  auto redirected = fetchUri(moved, sandbox_);
  ASSERT_TRUE(redirected.ok()) << redirected.error();
  EXPECT_EQ(std::filesystem::file_size(*redirected), 300000u);

  auto missing = fetchUri(uri(base + "/files/none"), sandbox_);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound) << missing.error();
  EXPECT_NE(missing.error().find("HTTP 404"), std::string::npos) << missing.error();
  auto looping = fetchUri(uri(base + "/loop"), sandbox_);
  EXPECT_NE(looping.error().find("redirects"), std::string::npos) << looping.error();
  auto broken = fetchUri(uri(base + "/broken"), sandbox_);
  EXPECT_NE(broken.error().find("HTTP 500"), std::string::npos) << broken.error();
  auto refused = fetchUri(uri("http://127.0.0.1:1/x"), sandbox_);
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable) << refused.error();
  server.stop();
  serving.join();
  for (auto& e : std::filesystem::directory_iterator(sandbox_)) {
    EXPECT_EQ(e.path().string().find(".fetching"), std::string::npos) << e.path();
  }
  std::set<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(sandbox_)) names.insert(e.path().filename());
  EXPECT_EQ(names, (std::set<std::string>{"data.bin", "again.bin"}));
}

// The cache's two ways: a miss fills the cache file and then the sandbox;
// a hit reads only the cache file (its origin may be gone by then).
TEST_F(FetcherTest, AMissFillsTheCacheFileAndAHitReadsOnlyIt) {
  std::string cacheDir = dir_.path() + "/sandbox/cache";  // counted as inside below
  ASSERT_TRUE(makeDirectories(cacheDir).ok());
  std::string source = write("tool.tgz.txt", "v1");
  CommandURI u = uri(source);
  u.cache = true;
  u.executable = true;
  auto miss = fetchItem(FetchItem{u, cacheDir + "/0-tool", false}, sandbox_);
  ASSERT_TRUE(miss.ok()) << miss.error();
  EXPECT_EQ(contents(cacheDir + "/0-tool"), "v1");
  EXPECT_EQ(contents(sandbox_ + "/tool.tgz.txt"), "v1");
  EXPECT_EQ(::access((sandbox_ + "/tool.tgz.txt").c_str(), X_OK), 0);
  // The origin changes (or goes): a hit still gives what was cached.
  ::unlink(source.c_str());
  ::unlink((sandbox_ + "/tool.tgz.txt").c_str());
  auto hit = fetchItem(FetchItem{u, cacheDir + "/0-tool", true}, sandbox_);
  ASSERT_TRUE(hit.ok()) << hit.error();
  EXPECT_EQ(contents(sandbox_ + "/tool.tgz.txt"), "v1");
  EXPECT_EQ(::access((sandbox_ + "/tool.tgz.txt").c_str(), X_OK), 0);
  // A miss whose origin fails leaves no cache file.
  auto failed = fetchItem(FetchItem{u, cacheDir + "/1-tool", false}, sandbox_);
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(std::filesystem::exists(cacheDir + "/1-tool"));
  EXPECT_FALSE(std::filesystem::exists(cacheDir + "/1-tool.fetching"));
}

TEST(FetcherJsonTest, ItemsRoundTripThroughTheFetchersInput) {
  CommandURI a;
  a.value = "http://h/a.tgz";
  CommandURI b;
  b.value = "/opt/b";
  b.executable = true;
  b.extract = false;
  b.cache = true;
  b.outputFile = "bin/b";
  auto back = itemsFromJson(itemsToJson({{a, "", false}, {b, "/cache/0/1-b", true}}));
  ASSERT_TRUE(back.ok()) << back.error();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].uri, a);
  EXPECT_EQ((*back)[0].cacheFile, "");
  EXPECT_EQ((*back)[1].uri, b);
  EXPECT_EQ((*back)[1].cacheFile, "/cache/0/1-b");
  EXPECT_TRUE((*back)[1].cached);
  EXPECT_FALSE(itemsFromJson("{").ok());
  EXPECT_FALSE(itemsFromJson("[{\"executable\": true}]").ok());
  EXPECT_FALSE(itemsFromJson("[{\"value\": \"/a\", \"cache_file\": \"rel/x\"}]").ok());
  EXPECT_FALSE(itemsFromJson("[{\"value\": \"/a\", \"cache_file\": 3}]").ok());
  // Wrong types are errors, not exceptions.
  for (const char* bad : {"[{\"value\": \"/a\", \"executable\": \"yes\"}]",
                          "[{\"value\": \"/a\", \"extract\": 1}]",
                          "[{\"value\": \"/a\", \"cache\": null}]",
                          "[{\"value\": \"/a\", \"cache_file\": \"/c\", \"cached\": []}]",
                          "[{\"value\": \"/a\", \"output_file\": 7}]"}) {
    auto r = itemsFromJson(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tutti::fetcher
