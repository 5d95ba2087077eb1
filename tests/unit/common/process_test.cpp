// Unit tests for spawnProcess() with credentials (the path that runs a
// task as its user): the child has exactly the asked ids and groups, opens
// its stdio before dropping them and enters its directory after, and a
// failing step comes back as an error naming it. Real processes; needs
// root (skipped otherwise).
#include "common/process.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "common/files.hpp"
#include "common/user.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti {
namespace {

int runToEnd(pid_t pid) {
  int st = 0;
  EXPECT_EQ(::waitpid(pid, &st, 0), pid);
  return st;
}

class SpawnAsUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to change ids";
    auto u = lookupUser("nobody");
    if (!u.ok()) GTEST_SKIP() << "no user 'nobody' here";
    nobody_ = *u;
    // Like an agent's work dir: others may pass through (mkdtemp: 0700).
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  }
  UserAccount nobody_;
  tutti::testing::TempDir dir_;
};

TEST_F(SpawnAsUserTest, ChildRunsWithTheGivenIdsAndOnlyTheGivenGroups) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "id -u; id -g; id -G; echo $$ $(ps -o pgid= -p $$)"};
  o.env = {"PATH=/usr/bin:/bin"};
  o.stdoutPath = dir_.path() + "/out";
  o.newProcessGroup = true;
  o.credentials = Credentials{nobody_.uid, nobody_.gid, {nobody_.gid}};
  auto pid = spawnProcess(o);
  ASSERT_TRUE(pid.ok()) << pid.error();
  int st = runToEnd(*pid);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describeWaitStatus(st);
  auto text = readFile(o.stdoutPath);
  ASSERT_TRUE(text.ok()) << text.error();
  std::istringstream out(*text);
  std::string uid, gid, groups, self, pgid;
  std::getline(out, uid);
  std::getline(out, gid);
  std::getline(out, groups);
  out >> self >> pgid;
  EXPECT_EQ(uid, std::to_string(nobody_.uid));
  EXPECT_EQ(gid, std::to_string(nobody_.gid));
  EXPECT_EQ(groups, std::to_string(nobody_.gid));  // root's groups are gone
  EXPECT_EQ(self, pgid);                           // its own process group
  // Opened before the ids changed: root made the file (in a root-only dir).
  struct stat sb;
  ASSERT_EQ(::stat(o.stdoutPath.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, 0u);
}

TEST_F(SpawnAsUserTest, WorkingDirectoryIsEnteredWithTheNewIds) {
  std::string closed = dir_.path() + "/closed";
  ASSERT_EQ(::mkdir(closed.c_str(), 0700), 0);
  SpawnOptions o;
  o.argv = {"/bin/true"};
  o.workingDir = closed;
  o.credentials = Credentials{nobody_.uid, nobody_.gid, {}};
  auto pid = spawnProcess(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().find("chdir " + closed), std::string::npos) << pid.error();
  EXPECT_NE(pid.error().find("Permission denied"), std::string::npos) << pid.error();

  ASSERT_EQ(::chown(closed.c_str(), nobody_.uid, nobody_.gid), 0);
  pid = spawnProcess(o);
  ASSERT_TRUE(pid.ok()) << pid.error();
  int st = runToEnd(*pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describeWaitStatus(st);
}

TEST_F(SpawnAsUserTest, AProgramThatCannotRunIsAnErrorNotAChild) {
  SpawnOptions o;
  o.argv = {dir_.path() + "/missing"};
  o.credentials = Credentials{nobody_.uid, nobody_.gid, {}};
  auto pid = spawnProcess(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().find("exec: No such file or directory"), std::string::npos)
      << pid.error();
  EXPECT_NE(pid.error().find("as uid " + std::to_string(nobody_.uid)), std::string::npos);
  // Reaped: no child is left behind.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(LookupUserTest, FindsRootAndRefusesWhatIsNoUser) {
  auto root = lookupUser("root");
  ASSERT_TRUE(root.ok()) << root.error();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  EXPECT_EQ(root->home, "/root");
  bool hasPrimary = false;
  for (gid_t g : root->groups) hasPrimary |= g == 0;
  EXPECT_TRUE(hasPrimary);

  auto missing = lookupUser("no-such-user-tutti");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(lookupUser("").ok());
  EXPECT_FALSE(lookupUser("../root").ok());
  EXPECT_FALSE(lookupUser(std::string("ro\0ot", 5)).ok());
}

}  // namespace
}  // namespace tutti
