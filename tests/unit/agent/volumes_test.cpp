// Persistent volumes on the agent's disk: where they live, how they come
// and go with the checkpointed resources, and the links that give them to
// tasks without ever following a link a task left in its sandbox.
#include "agent/volumes.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "agent/resources_detect.hpp"
#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::agent {
namespace {

namespace fs = std::filesystem;

Resource volume(const std::string& role, const std::string& id, const std::string& path = "data") {
  return persistentVolume(10, {{ReservationInfo::Type::DYNAMIC, role, "p", {}}}, id, path);
}

TEST(VolumesTest, PathsKeepRolesApart) {
  EXPECT_EQ(volumePath("/w/volumes/roles", volume("eng", "db")), "/w/volumes/roles/eng/db");
  // Role a/b's volume x is not inside role a's volume b.
  EXPECT_EQ(volumePath("/r", volume("a/b", "x")), "/r/a%2Fb/x");
  EXPECT_EQ(volumePath("/r", volume("a%2Fb", "x")), "/r/a%252Fb/x");
  EXPECT_EQ(volumesRoot("/w"), "/w/volumes/roles");
}

TEST(VolumesTest, SyncMakesNewVolumesAndRemovesDestroyedOnes) {
  testing::TempDir dir;
  std::string root = volumesRoot(dir.path());
  Resources plain = Resources::parse("cpus:1;disk(eng):50").value();
  Resources one = plain + Resources{volume("eng", "db")};
  ASSERT_TRUE(syncVolumes(root, plain, one).ok());
  ASSERT_TRUE(fs::is_directory(root + "/eng/db"));
  ASSERT_TRUE(writeFileAtomically(root + "/eng/db/keep", "data").ok());
  // Another change that keeps it keeps its data.
  Resources two = one + Resources{volume("eng/web", "cache")};
  ASSERT_TRUE(syncVolumes(root, one, two).ok());
  EXPECT_TRUE(fs::exists(root + "/eng/db/keep"));
  EXPECT_TRUE(fs::is_directory(root + "/eng%2Fweb/cache"));
  // Destroyed: gone with its data.
  ASSERT_TRUE(syncVolumes(root, two, two - Resources{volume("eng", "db")}).ok());
  EXPECT_FALSE(fs::exists(root + "/eng/db"));
  EXPECT_TRUE(fs::is_directory(root + "/eng%2Fweb/cache"));
}

TEST(VolumesTest, LinksAVolumeIntoTheSandbox) {
  testing::TempDir dir;
  std::string sandbox = dir.path() + "/sandbox";
  std::string host = dir.path() + "/volume";
  ASSERT_TRUE(makeDirectories(sandbox).ok());
  ASSERT_TRUE(makeDirectories(host).ok());
  VolumeLink link{"var/lib/db", host};
  ASSERT_TRUE(linkVolume(sandbox, link).ok());
  EXPECT_EQ(fs::read_symlink(sandbox + "/var/lib/db"), host);
  // Again for the next task of the executor: fine.
  EXPECT_TRUE(linkVolume(sandbox, link).ok());
  // Another volume where that link is: refused.
  Status other = linkVolume(sandbox, {"var/lib/db", dir.path() + "/other"});
  EXPECT_FALSE(other.ok());
  EXPECT_NE(other.message().find("something else is there"), std::string::npos) << other;
  EXPECT_FALSE(linkVolume(sandbox, {"../escape", host}).ok());
  EXPECT_EQ(volumeLinks("/r", Resources{volume("eng", "db", "x/y")}),
            (std::vector<VolumeLink>{{"x/y", "/r/eng/db"}}));
}

TEST(VolumesTest, NeverFollowsALinkATaskLeftInItsSandbox) {
  testing::TempDir dir;
  std::string sandbox = dir.path() + "/sandbox";
  std::string outside = dir.path() + "/outside";
  ASSERT_TRUE(makeDirectories(sandbox).ok());
  ASSERT_TRUE(makeDirectories(outside).ok());
  ASSERT_EQ(::symlink(outside.c_str(), (sandbox + "/var").c_str()), 0);
  Status s = linkVolume(sandbox, {"var/db", dir.path() + "/volume"});
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(fs::is_empty(outside));
}

TEST(VolumesTest, UnlinkRemovesOnlyTheVolumesOwnLink) {
  testing::TempDir dir;
  std::string sandbox = dir.path() + "/sandbox";
  std::string host = dir.path() + "/volume";
  ASSERT_TRUE(makeDirectories(sandbox + "/a").ok());
  ASSERT_TRUE(makeDirectories(host).ok());
  ASSERT_TRUE(linkVolume(sandbox, {"a/db", host}).ok());
  ASSERT_TRUE(unlinkVolume(sandbox, {"a/db", host}).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(sandbox + "/a/db")));
  EXPECT_TRUE(fs::is_directory(host));
  // Gone already, or something else there: left alone.
  EXPECT_TRUE(unlinkVolume(sandbox, {"a/db", host}).ok());
  ASSERT_TRUE(writeFileAtomically(sandbox + "/a/db", "task's own").ok());
  EXPECT_TRUE(unlinkVolume(sandbox, {"a/db", host}).ok());
  EXPECT_TRUE(fs::is_regular_file(sandbox + "/a/db"));
}

TEST(VolumesTest, AgentResourcesCannotHoldVolumes) {
  auto r = agentResources("cpus:1;mem:64;disk(eng)(volume: db,data):10", "/tmp");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("persistent volumes"), std::string::npos) << r.error();
  EXPECT_TRUE(agentResources("cpus:1;mem:64;disk(eng):10", "/tmp").ok());
}

TEST(VolumesTest, ChownGivesTheVolumeItselfToTheUser) {
  testing::TempDir dir;
  std::string host = dir.path() + "/volume";
  ASSERT_TRUE(makeDirectories(host).ok());
  struct stat st;
  ASSERT_EQ(::stat(host.c_str(), &st), 0);
  // To its own owner: nothing to do, and it works unprivileged too.
  EXPECT_TRUE(chownVolume(host, st.st_uid, st.st_gid).ok());
  EXPECT_FALSE(chownVolume(dir.path() + "/missing", st.st_uid, st.st_gid).ok());
  if (::geteuid() != 0) GTEST_SKIP() << "changing owners needs root";
  ASSERT_TRUE(chownVolume(host, 65534, 65534).ok());
  ASSERT_EQ(::stat(host.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
}

}  // namespace
}  // namespace tutti::agent
