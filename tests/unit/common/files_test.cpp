// common/files: makeDirectories (`mkdir -p`) on real directories.
#include "common/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/fixtures/cluster.hpp"

namespace tutti {
namespace {

bool isDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(MakeDirectoriesTest, CreatesEveryMissingParent) {
  testing::TempDir dir;
  std::string deep = dir.path() + "/a/b/c/d";
  ASSERT_TRUE(makeDirectories(deep).ok());
  EXPECT_TRUE(isDirectory(dir.path() + "/a/b"));
  EXPECT_TRUE(isDirectory(deep));
}

TEST(MakeDirectoriesTest, ExistingDirectoriesAreFine) {
  testing::TempDir dir;
  ASSERT_TRUE(makeDirectories(dir.path() + "/x/y").ok());
  EXPECT_TRUE(makeDirectories(dir.path() + "/x/y").ok());  // all there
  EXPECT_TRUE(makeDirectories(dir.path() + "/x").ok());
  EXPECT_TRUE(makeDirectories(dir.path() + "/x/y/z").ok());  // only the last is new
  EXPECT_TRUE(isDirectory(dir.path() + "/x/y/z"));
  EXPECT_TRUE(makeDirectories("/").ok());
}

TEST(MakeDirectoriesTest, TrailingSlashesAndRelativePaths) {
  testing::TempDir dir;
  ASSERT_TRUE(makeDirectories(dir.path() + "/t/u//").ok());
  EXPECT_TRUE(isDirectory(dir.path() + "/t/u"));
  char* cwd = ::getcwd(nullptr, 0);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  Status s = makeDirectories("rel/one/two");
  ASSERT_EQ(::chdir(cwd), 0);
  ::free(cwd);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(isDirectory(dir.path() + "/rel/one/two"));
}

TEST(MakeDirectoriesTest, AFileInTheWayIsAnErrorNamingIt) {
  testing::TempDir dir;
  ASSERT_TRUE(writeFileAtomically(dir.path() + "/f", "x", false).ok());
  Status leaf = makeDirectories(dir.path() + "/f");
  EXPECT_FALSE(leaf.ok());
  EXPECT_NE(leaf.message().find(dir.path() + "/f"), std::string::npos) << leaf.message();
  Status below = makeDirectories(dir.path() + "/f/g/h");
  EXPECT_FALSE(below.ok());
  EXPECT_NE(below.message().find("/f"), std::string::npos) << below.message();
  EXPECT_FALSE(makeDirectories("").ok());
}

}  // namespace
}  // namespace tutti
