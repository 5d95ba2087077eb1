// The provisioner's overlay backend: layers stacked in order (a higher
// layer's file wins), also for images with more layers than absolute paths
// fit in one mount's options; destroy() unmounts and removes the bundle.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/containerizer/oci/provisioner.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::agent::oci {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `n` layer directories, bottom first: layer i holds f<i> and its own
// version of "shared".
Provisioner::Layers makeLayers(const std::string& dir, int n) {
  Provisioner::Layers layers;
  for (int i = 0; i < n; ++i) {
    // Long paths, as the image store's are (sha256 digests).
    std::string layer = dir + "/layers/sha256-" + std::string(56, 'a' + i % 26) +
                        std::to_string(i) + "/rootfs";
    std::filesystem::create_directories(layer);
    std::ofstream(layer + "/f" + std::to_string(i)) << i;
    std::ofstream(layer + "/shared") << i;
    layers.dirs.push_back(layer);
    layers.digests.push_back("sha256:" + std::to_string(i));
  }
  return layers;
}

bool isMountPoint(const std::string& path) {
  struct stat self {}, parent {};
  return ::stat(path.c_str(), &self) == 0 && ::stat((path + "/..").c_str(), &parent) == 0 &&
         self.st_dev != parent.st_dev;
}

class ProvisionerTest : public ::testing::TestWithParam<int> {};

TEST_P(ProvisionerTest, OverlayStacksLayersInOrder) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root";
  testing::TempDir dir;
  const int n = GetParam();
  Provisioner::Layers layers = makeLayers(dir.path(), n);
  Provisioner provisioner(dir.path() + "/bundles", Backend::kOverlay);
  Status s = provisioner.provision("c1", layers, [](const std::string&) -> Result<std::string> {
    return std::string("{}");
  });
  ASSERT_TRUE(s.ok()) << s;
  std::string rootfs = provisioner.bundleDir("c1") + "/rootfs";
  EXPECT_TRUE(isMountPoint(rootfs)) << "not an overlay mount: the layers were copied";
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(slurp(rootfs + "/f" + std::to_string(i)), std::to_string(i));
  }
  EXPECT_EQ(slurp(rootfs + "/shared"), std::to_string(n - 1));  // the top layer wins
  // Writes go to the container's upper layer, not to the image.
  std::ofstream(rootfs + "/shared") << "mine";
  EXPECT_EQ(slurp(layers.dirs.back() + "/shared"), std::to_string(n - 1));

  ASSERT_TRUE(provisioner.destroy("c1").ok());
  EXPECT_FALSE(std::filesystem::exists(provisioner.bundleDir("c1")));
  EXPECT_EQ(slurp(layers.dirs[0] + "/f0"), "0");  // the layers are untouched
}

// Mount points are made in the upper layer before the mount: under the
// image's own directories (keeping their owner and mode), never through a
// symlink of the image or over what the image has at the path.
TEST(ProvisionerMountPointsTest, MadeInTheUpperLayerWhereTheImageHasNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root";
  testing::TempDir dir;
  Provisioner::Layers layers = makeLayers(dir.path(), 2);
  const std::string bottom = layers.dirs[0], top = layers.dirs[1];
  std::filesystem::create_directories(bottom + "/mnt");
  ASSERT_EQ(::chown((bottom + "/mnt").c_str(), 1234, 1234), 0);
  ASSERT_EQ(::chmod((bottom + "/mnt").c_str(), 0750), 0);
  std::filesystem::create_directories(bottom + "/etc");
  std::ofstream(bottom + "/etc/hosts") << "image hosts\n";
  ASSERT_EQ(::symlink("/elsewhere", (top + "/linked").c_str()), 0);
  Provisioner provisioner(dir.path() + "/bundles", Backend::kOverlay,
                          {{"/proc", true},
                           {"/mnt/tutti/sandbox", true},
                           {"/etc/hosts", false},
                           {"/etc/resolv.conf", false},
                           {"/linked/dir", true}});
  ASSERT_TRUE(provisioner.provision("c1", layers, [](const std::string&) -> Result<std::string> {
    return std::string("{}");
  }).ok());
  const std::string upper = provisioner.bundleDir("c1") + "/upper";
  const std::string rootfs = provisioner.bundleDir("c1") + "/rootfs";
  struct stat st;
  ASSERT_EQ(::stat((upper + "/mnt/tutti/sandbox").c_str(), &st), 0);
  ASSERT_EQ(::stat((rootfs + "/mnt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);  // the image's directory, as the image has it
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_TRUE(std::filesystem::is_directory(rootfs + "/proc"));
  EXPECT_EQ(slurp(rootfs + "/etc/hosts"), "image hosts\n");  // not hidden by an empty file
  EXPECT_FALSE(std::filesystem::exists(upper + "/etc/hosts"));
  EXPECT_TRUE(std::filesystem::is_regular_file(upper + "/etc/resolv.conf"));
  EXPECT_FALSE(std::filesystem::exists(upper + "/linked"));  // left to the runtime
  EXPECT_TRUE(std::filesystem::is_symlink(rootfs + "/linked"));
  ASSERT_TRUE(provisioner.destroy("c1").ok());
}

// 3 layers: one mount with absolute paths; 80: about 7 KB of paths, through
// short links instead of falling back to a copy per container.
INSTANTIATE_TEST_SUITE_P(Layers, ProvisionerTest, ::testing::Values(3, 80));

}  // namespace
}  // namespace tutti::agent::oci
