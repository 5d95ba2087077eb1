// Unit tests for the agent's sandbox file access (agent/http/files.hpp):
// path resolution that never leaves a sandbox, chunked reads and listings.
// Works on real files and symlinks in a fresh temporary directory.
#include "agent/http/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tutti::agent {
namespace {

namespace fs = std::filesystem;

void writeFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// <tmp>/work/sandbox/{stdout, sub/nested, link-out -> ../outside/secret,
//                     link-in -> stdout, dir-out -> ../outside}
// <tmp>/work/sandbox2/stderr, <tmp>/work/sandboxes/x, <tmp>/work/outside/secret
class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tutti-files-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    // The real path: the temporary directory itself may be behind a symlink.
    tmp_ = fs::canonical(pattern);
    work_ = tmp_ / "work";
    sandbox_ = work_ / "sandbox";
    outside_ = work_ / "outside";
    fs::create_directories(sandbox_ / "sub");
    fs::create_directories(work_ / "sandbox2");
    fs::create_directories(work_ / "sandboxes");
    fs::create_directories(outside_);
    writeFile(sandbox_ / "stdout", "0123456789");
    writeFile(sandbox_ / "sub" / "nested", "nested file");
    writeFile(work_ / "sandbox2" / "stderr", "err");
    writeFile(work_ / "sandboxes" / "x", "x");
    writeFile(outside_ / "secret", "top secret");
    fs::create_symlink("../outside/secret", sandbox_ / "link-out");
    fs::create_symlink("stdout", sandbox_ / "link-in");
    fs::create_directory_symlink("../outside", sandbox_ / "dir-out");
    roots_ = {sandbox_.string(), (work_ / "sandbox2").string()};
  }

  void TearDown() override {
    std::error_code ec;
    if (!tmp_.empty()) fs::remove_all(tmp_, ec);
  }

  Result<std::string> resolve(const std::string& path) {
    return resolveSandboxPath(path, roots_);
  }
  std::string s(const fs::path& p) { return p.string(); }

  fs::path tmp_, work_, sandbox_, outside_;
  std::vector<std::string> roots_;
};

// ---- resolveSandboxPath ------------------------------------------------------------------

TEST_F(FilesTest, ResolvesAFileInsideASandbox) {
  auto r = resolve(s(sandbox_ / "stdout"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "stdout"));

  r = resolve(s(sandbox_ / "sub" / "nested"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "sub" / "nested"));

  // Any of the roots.
  r = resolve(s(work_ / "sandbox2" / "stderr"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(work_ / "sandbox2" / "stderr"));
}

TEST_F(FilesTest, ResolvesTheSandboxItself) {
  auto r = resolve(s(sandbox_));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_));
  r = resolve(s(sandbox_) + "/");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_));
}

TEST_F(FilesTest, DotsThatStayInsideAreNormalized) {
  auto r = resolve(s(sandbox_) + "/sub/../stdout");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "stdout"));
  r = resolve(s(sandbox_) + "//./sub/./nested");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "sub" / "nested"));
}

TEST_F(FilesTest, SymlinkInsideTheSandboxIsFollowed) {
  auto r = resolve(s(sandbox_ / "link-in"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "stdout"));
}

TEST_F(FilesTest, RefusesDotDotEscapes) {
  for (const std::string& path :
       {s(sandbox_) + "/../outside/secret", s(sandbox_) + "/sub/../../outside/secret",
        s(sandbox_) + "/../../../../../../etc/passwd", s(sandbox_) + "/.."}) {
    SCOPED_TRACE(path);
    auto r = resolve(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << r.error();
  }
}

TEST_F(FilesTest, RefusesAbsolutePathsOutsideEveryRoot) {
  for (const std::string& path : {std::string("/etc/passwd"), std::string("/"),
                                  s(outside_ / "secret"), s(work_)}) {
    SCOPED_TRACE(path);
    auto r = resolve(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << r.error();
  }
}

TEST_F(FilesTest, RefusesASiblingThatSharesTheRootsPrefix) {
  // <work>/sandboxes is not inside <work>/sandbox.
  auto r = resolve(s(work_ / "sandboxes" / "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
}

TEST_F(FilesTest, RefusesSymlinksPointingOutside) {
  auto r = resolve(s(sandbox_ / "link-out"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << r.error();

  r = resolve(s(sandbox_ / "dir-out" / "secret"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << r.error();

  r = resolve(s(sandbox_ / "dir-out"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << r.error();
}

TEST_F(FilesTest, RootReachedThroughASymlinkStillWorks) {
  fs::create_directory_symlink(sandbox_, tmp_ / "alias");
  std::vector<std::string> roots = {s(tmp_ / "alias")};
  auto r = resolveSandboxPath(s(tmp_ / "alias" / "stdout"), roots);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(sandbox_ / "stdout"));
  // And its escapes are still refused.
  r = resolveSandboxPath(s(tmp_ / "alias" / "link-out"), roots);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
}

// `runs/latest` names the newest run; a `latest` that is not a plain run
// name is not followed, so it cannot lead anywhere else.
TEST_F(FilesTest, LatestRunLinkIsFollowedOnlyToARun) {
  fs::path runs = work_ / "runs";
  fs::create_directories(runs / "c1");
  writeFile(runs / "c1" / "stdout", "run one");
  fs::create_symlink("c1", runs / "latest");
  roots_.push_back((runs / "c1").string());
  auto r = resolve(s(runs / "latest" / "stdout"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(*r, s(runs / "c1" / "stdout"));
  fs::remove(runs / "latest");
  fs::create_symlink("../outside", runs / "latest");
  r = resolve(s(runs / "latest" / "secret"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
}

TEST_F(FilesTest, RefusesRelativeAndEmptyPaths) {
  for (const std::string& path : {std::string(""), std::string("stdout"),
                                  std::string("sandbox/stdout"), std::string("./stdout"),
                                  std::string("../outside/secret")}) {
    SCOPED_TRACE("'" + path + "'");
    auto r = resolve(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.error();
  }
}

TEST_F(FilesTest, RefusesNulBytes) {
  auto r = resolve(s(sandbox_ / "stdout") + std::string("\0/../../outside/secret", 22));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.error();
}

TEST_F(FilesTest, MissingFileIsNotFound) {
  auto r = resolve(s(sandbox_ / "missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound) << r.error();
}

TEST_F(FilesTest, NoRootsMeansNothingIsReachable) {
  auto r = resolveSandboxPath(s(sandbox_ / "stdout"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  r = resolveSandboxPath(s(sandbox_ / "stdout"), {""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
}

// ---- normalizePath ---------------------------------------------------------------------------

TEST(NormalizePathTest, Cases) {
  EXPECT_EQ(normalizePath("/a/b/c"), "/a/b/c");
  EXPECT_EQ(normalizePath("/a//b///c"), "/a/b/c");
  EXPECT_EQ(normalizePath("/a/./b/."), "/a/b");
  EXPECT_EQ(normalizePath("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalizePath("/a/b/c/../../d"), "/a/d");
  EXPECT_EQ(normalizePath("/a/b/"), "/a/b");
  EXPECT_EQ(normalizePath("/"), "/");
  EXPECT_EQ(normalizePath(""), "/");
  EXPECT_EQ(normalizePath("/.."), "/");
  EXPECT_EQ(normalizePath("/../../etc"), "/etc");
  EXPECT_EQ(normalizePath("/a/../../b"), "/b");
  EXPECT_EQ(normalizePath("/..."), "/...");
  EXPECT_EQ(normalizePath("/a/.hidden/b"), "/a/.hidden/b");
  // Relative input comes out anchored at '/'.
  EXPECT_EQ(normalizePath("a/b"), "/a/b");
}

// ---- readFileChunk -----------------------------------------------------------------------------

TEST_F(FilesTest, ReadFromTheStart) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), 0, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "0123");
  EXPECT_EQ(r->offset, 0);
}

TEST_F(FilesTest, ReadFromTheMiddle) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), 3, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "3456");
  EXPECT_EQ(r->offset, 3);
}

TEST_F(FilesTest, ReadIsCappedAtTheEnd) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), 8, 100);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "89");
  EXPECT_EQ(r->offset, 8);
  r = readFileChunk(s(sandbox_ / "stdout"), 0, 1'000'000);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "0123456789");
}

TEST_F(FilesTest, ReadAtOrPastTheEndGivesNoData) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), 10, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "");
  EXPECT_EQ(r->offset, 10);
  r = readFileChunk(s(sandbox_ / "stdout"), 1000, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "");
  EXPECT_EQ(r->offset, 1000);
}

TEST_F(FilesTest, ZeroLengthReadsNothing) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), 2, 0);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "");
  EXPECT_EQ(r->offset, 2);
}

TEST_F(FilesTest, OffsetMinusOneGivesTheSize) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), -1, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "");
  EXPECT_EQ(r->offset, 10);
  writeFile(sandbox_ / "empty", "");
  r = readFileChunk(s(sandbox_ / "empty"), -1, 4);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->offset, 0);
}

TEST_F(FilesTest, OtherNegativeOffsetsAreInvalid) {
  auto r = readFileChunk(s(sandbox_ / "stdout"), -2, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(FilesTest, ReadingADirectoryOrAMissingFileFails) {
  auto r = readFileChunk(s(sandbox_ / "sub"), 0, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  r = readFileChunk(s(sandbox_ / "missing"), 0, 4);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST_F(FilesTest, ReadDoesNotFollowASymlink) {
  // Callers pass resolved paths; a symlink swapped in afterwards is refused.
  auto r = readFileChunk(s(sandbox_ / "link-out"), 0, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIoError) << r.error();
}

TEST_F(FilesTest, ReadsBinaryData) {
  std::string binary("a\0b\xff\n", 5);
  writeFile(sandbox_ / "bin", binary);
  auto r = readFileChunk(s(sandbox_ / "bin"), 0, 100);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, binary);
}

// ---- listDirectory ----------------------------------------------------------------------------

TEST_F(FilesTest, ListsADirectorySortedWithDetails) {
  ASSERT_EQ(::chmod(s(sandbox_ / "stdout").c_str(), 0640), 0);
  ASSERT_EQ(::chmod(s(sandbox_ / "sub").c_str(), 0750), 0);
  auto r = listDirectory(s(sandbox_));
  ASSERT_TRUE(r.ok()) << r.error();
  std::vector<std::string> names;
  for (const auto& e : *r) names.push_back(fs::path(e.path).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"dir-out", "link-in", "link-out", "stdout", "sub"}));

  const DirEntry& out = (*r)[3];
  EXPECT_EQ(out.path, s(sandbox_ / "stdout"));
  EXPECT_EQ(out.size, 10);
  EXPECT_FALSE(out.directory);
  EXPECT_EQ(out.mode, "-rw-r-----");
  EXPECT_EQ(out.nlink, 1);
  EXPECT_GT(out.mtime, 1e9);

  const DirEntry& sub = (*r)[4];
  EXPECT_TRUE(sub.directory);
  EXPECT_EQ(sub.mode, "drwxr-x---");

  // Symlinks are listed as themselves, not followed.
  const DirEntry& link = (*r)[2];
  EXPECT_FALSE(link.directory);
  EXPECT_EQ(link.mode[0], 'l');
  const DirEntry& dirLink = (*r)[0];
  EXPECT_FALSE(dirLink.directory);
}

TEST_F(FilesTest, ListsAnEmptyDirectory) {
  fs::create_directory(sandbox_ / "empty");
  auto r = listDirectory(s(sandbox_ / "empty"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->empty());
}

TEST_F(FilesTest, ListingAFileOrAMissingDirectoryFails) {
  auto r = listDirectory(s(sandbox_ / "stdout"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  r = listDirectory(s(sandbox_ / "missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace tutti::agent
