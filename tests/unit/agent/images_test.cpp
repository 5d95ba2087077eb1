// Unit tests of the image store's pure parts: reference parsing, manifests
// and configs, layer unpacking with whiteouts (archives written here with
// libarchive), and the OCI config rules.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "agent/containerizer/images/image_reference.hpp"
#include "agent/containerizer/images/image_store.hpp"
#include "agent/containerizer/images/layer_extractor.hpp"
#include "agent/containerizer/images/manifest.hpp"
#include "agent/containerizer/images/registry_auth.hpp"
#include "agent/containerizer/images/registry_client.hpp"
#include "agent/containerizer/oci/oci_spec.hpp"
#include "common/clock.hpp"
#include "common/files.hpp"
#include "common/loop.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::agent {
namespace {

using images::parseImageReference;
using testing::TempDir;

TEST(ImageReferenceTest, ParsesRegistryRepositoryTagAndDigest) {
  auto r = parseImageReference("127.0.0.1:5000/team/app:1.2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->registry, "127.0.0.1:5000");
  EXPECT_EQ(r->repository, "team/app");
  EXPECT_EQ(r->tag, "1.2");
  EXPECT_EQ(r->reference(), "1.2");

  r = parseImageReference("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "registry-1.docker.io");
  EXPECT_EQ(r->repository, "library/busybox");
  EXPECT_EQ(r->tag, "latest");

  r = parseImageReference("team/app", "registry.example.com:443");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "registry.example.com:443");
  EXPECT_EQ(r->repository, "team/app");  // no "library/" outside Docker Hub

  std::string digest = "sha256:" + std::string(64, 'a');
  r = parseImageReference("localhost/app@" + digest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->registry, "localhost");
  EXPECT_EQ(r->digest, digest);
  EXPECT_EQ(r->reference(), digest);
  EXPECT_EQ(r->canonical(), "localhost/app@" + digest);
}

TEST(ImageReferenceTest, RejectsMalformedNames) {
  for (const char* bad : {"", "Busybox", "app:", "app:bad tag", "a//b", "-app", "app@sha256:xyz",
                          "app@md5:", "host:5000/",
                          "app:"
                          "tag-that-is-way-too-long-"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
    auto r = parseImageReference(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("Invalid image name"), std::string::npos);
    }
  }
}

TEST(ManifestTest, ParsesIndexesAndPicksThePlatform) {
  std::string d1 = "sha256:" + std::string(64, '1'), d2 = "sha256:" + std::string(64, '2');
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", images::media::kDockerList},
      {"manifests",
       {{{"digest", d1}, {"size", 10}, {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
        {{"digest", d2},
         {"size", 11},
         {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  auto doc = images::parseManifest(index.dump(), "");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_TRUE(doc->index);
  auto amd = images::selectPlatform(*doc, "linux", "amd64", "");
  ASSERT_TRUE(amd.ok());
  EXPECT_EQ(amd->digest, d2);
  auto none = images::selectPlatform(*doc, "linux", "s390x", "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("linux/arm64"), std::string::npos);

  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"config", {{"digest", d1}, {"size", 5}}},
                             {"layers", {{{"digest", d2}, {"size", 7}, {"mediaType", "x"}}}}};
  doc = images::parseManifest(manifest.dump(), images::media::kOciManifest);
  ASSERT_TRUE(doc.ok());
  EXPECT_FALSE(doc->index);
  EXPECT_EQ(doc->config.digest, d1);
  ASSERT_EQ(doc->layers.size(), 1u);
  EXPECT_EQ(doc->layers[0].size, 7);

  for (const char* bad : {"not json", "[]", "{\"schemaVersion\":1}", "{\"config\":{}}",
                          "{\"manifests\":[{\"digest\":\"sha256:zz\"}]}",
                          "{\"config\":{\"digest\":7},\"layers\":[]}"}) {
    EXPECT_FALSE(images::parseManifest(bad, "").ok()) << bad;
  }
}

TEST(ManifestTest, ImageConfigDefaults) {
  auto c = images::parseImageConfig(
      R"({"config":{"Entrypoint":["/bin/app"],"Cmd":["--x"],"Env":["A=1"],"WorkingDir":"/w","User":"nobody"}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/bin/app"});
  EXPECT_EQ(c->cmd, std::vector<std::string>{"--x"});
  EXPECT_EQ(c->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(c->workingDir, "/w");
  EXPECT_EQ(c->user, "nobody");
  EXPECT_TRUE(images::parseImageConfig("{}").ok());
  EXPECT_FALSE(images::parseImageConfig("[1]").ok());
}

// A tar.gz with `entries`: name → content; a name ending in '/' is a
// directory, "->target" content a symlink.
std::string makeLayer(const std::string& dir, const std::string& name,
                      const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string path = dir + "/" + name;
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, path.c_str());
  for (const auto& [n, content] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, n.c_str());
    if (!n.empty() && n.back() == '/') {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      archive_write_header(a, e);
    } else if (content.rfind("->", 0) == 0) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, content.substr(2).c_str());
      archive_entry_set_perm(e, 0777);
      archive_write_header(a, e);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
      archive_write_header(a, e);
      archive_write_data(a, content.data(), content.size());
    }
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return path;
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

TEST(LayerExtractorTest, ApplyModeHonoursWhiteoutsAndOpaqueDirectories) {
  TempDir dir;
  std::string l1 = makeLayer(dir.path(), "l1.tgz",
                             {{"etc/", ""},
                              {"etc/a", "a1"},
                              {"etc/gone", "g"},
                              {"opq/", ""},
                              {"opq/old", "o"},
                              {"opq/sub/", ""},
                              {"opq/sub/deep", "d"}});
  std::string l2 = makeLayer(dir.path(), "l2.tgz",
                             {{"etc/.wh.gone", ""},
                              {"etc/a", "a2"},
                              {"opq/", ""},
                              {"opq/.wh..wh..opq", ""},
                              {"opq/new", "n"}});
  std::string root = dir.path() + "/rootfs";
  ASSERT_TRUE(images::extractLayer(l1, root, images::WhiteoutMode::kApply).ok());
  ASSERT_TRUE(images::extractLayer(l2, root, images::WhiteoutMode::kApply).ok());
  EXPECT_EQ(*readFile(root + "/etc/a"), "a2");
  EXPECT_FALSE(exists(root + "/etc/gone"));
  EXPECT_FALSE(exists(root + "/etc/.wh.gone"));
  EXPECT_FALSE(exists(root + "/opq/old"));
  EXPECT_FALSE(exists(root + "/opq/sub"));
  EXPECT_EQ(*readFile(root + "/opq/new"), "n");
}

TEST(LayerExtractorTest, OverlayModeWritesOverlayWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "whiteout devices need root";
  TempDir dir;
  std::string l2 = makeLayer(dir.path(), "l2.tgz",
                             {{"etc/.wh.gone", ""}, {"opq/", ""}, {"opq/.wh..wh..opq", ""}});
  std::string out = dir.path() + "/layer";
  ASSERT_TRUE(images::extractLayer(l2, out, images::WhiteoutMode::kOverlay).ok());
  struct stat st;
  ASSERT_EQ(::lstat((out + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char v[8] = {0};
  EXPECT_EQ(::getxattr((out + "/opq").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
}

TEST(LayerExtractorTest, EntriesCannotLeaveTheRoot) {
  TempDir dir;
  std::string root = dir.path() + "/rootfs";
  std::string outside = dir.path() + "/outside";
  // "..": refused outright.
  std::string dots = makeLayer(dir.path(), "dots.tgz", {{"../outside", "x"}});
  Status s = images::extractLayer(dots, root, images::WhiteoutMode::kApply);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(exists(outside));
  // A symlink to a directory outside, then a file through it.
  ASSERT_TRUE(makeDirectories(outside).ok());
  std::string link =
      makeLayer(dir.path(), "link.tgz", {{"escape", "->" + outside}, {"escape/pwned", "x"}});
  s = images::extractLayer(link, dir.path() + "/root2", images::WhiteoutMode::kApply);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(exists(outside + "/pwned"));
  // Absolute names land inside.
  std::string abs = makeLayer(dir.path(), "abs.tgz", {{"/etc/x", "inside"}});
  ASSERT_TRUE(images::extractLayer(abs, dir.path() + "/root3", images::WhiteoutMode::kApply).ok());
  EXPECT_EQ(*readFile(dir.path() + "/root3/etc/x"), "inside");
  // Not an archive at all.
  ASSERT_TRUE(writeFileAtomically(dir.path() + "/junk", "not a tar", false).ok());
  EXPECT_FALSE(
      images::extractLayer(dir.path() + "/junk", dir.path() + "/r4", images::WhiteoutMode::kApply)
          .ok());
}

// One directory entry carrying the given extended attributes.
std::string makeLayerWithXattrs(const std::string& dir,
                                const std::vector<std::pair<std::string, std::string>>& xattrs) {
  std::string path = dir + "/xattrs.tar";
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_open_filename(a, path.c_str());
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "d/");
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, 0755);
  for (const auto& [k, v] : xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
  archive_write_header(a, e);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return path;
}

TEST(LayerExtractorTest, OnlyUserXattrsAndFileCapabilitiesAreKept) {
  if (::geteuid() != 0) GTEST_SKIP() << "trusted.* xattrs need root";
  TempDir dir;
  std::string layer = makeLayerWithXattrs(
      dir.path(), {{"trusted.overlay.opaque", "y"}, {"user.keep", "1"}, {"trusted.other", "x"}});
  std::string out = dir.path() + "/layer";
  ASSERT_TRUE(images::extractLayer(layer, out, images::WhiteoutMode::kOverlay).ok());
  char v[8] = {0};
  // A layer cannot mark its own directories opaque (only ".wh..wh..opq" does).
  EXPECT_LT(::getxattr((out + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v), 0);
  EXPECT_LT(::getxattr((out + "/d").c_str(), "trusted.other", v, sizeof v), 0);
  // Where the filesystem takes user xattrs, they stay.
  if (::setxattr(dir.path().c_str(), "user.probe", "1", 1, 0) == 0) {
    EXPECT_EQ(::getxattr((out + "/d").c_str(), "user.keep", v, sizeof v), 1);
  }
}

TEST(LayerExtractorTest, LimitsStopABombBeforeItFillsTheDisk) {
  TempDir dir;
  // 4 MB of zeros compress to a few KB.
  std::string big = makeLayer(dir.path(), "bomb.tgz", {{"zeros", std::string(4 << 20, '\0')}});
  images::ExtractLimits limits;
  limits.maxBytes = 1 << 20;
  Status s = images::extractLayer(big, dir.path() + "/r1", images::WhiteoutMode::kApply, limits);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("more than 1 MB"), std::string::npos) << s;
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 20; ++i) many.push_back({"f" + std::to_string(i), "x"});
  std::string wide = makeLayer(dir.path(), "wide.tgz", many);
  limits = images::ExtractLimits();
  limits.maxEntries = 10;
  s = images::extractLayer(wide, dir.path() + "/r2", images::WhiteoutMode::kApply, limits);
  EXPECT_NE(s.message().find("more than 10 entries"), std::string::npos) << s;
  // Within the limits: fine.
  EXPECT_TRUE(images::extractLayer(wide, dir.path() + "/r3", images::WhiteoutMode::kApply).ok());
}

// Image GC on a store laid out by hand: an image is kept when every layer of
// it is in use; other images go, then layers and blobs nobody keeps.
TEST(ImageStorePruneTest, KeepsImagesWhoseLayersAreInUseAndRemovesTheRest) {
  TempDir dir;
  ManualClock clock;
  Loop loop(clock);
  images::ImageStoreOptions o;
  o.dir = dir.path() + "/store";
  images::ImageStore store(loop, o);
  ASSERT_TRUE(store.initialize().ok());
  auto digest = [](char c) { return "sha256:" + std::string(64, c); };
  auto addLayer = [&](char c) {
    ASSERT_TRUE(makeDirectories(store.layerDir(digest(c)) + "/etc").ok());
    ASSERT_TRUE(writeFileAtomically(store.layerDir(digest(c)) + "/etc/f", std::string(100, c),
                                    false)
                    .ok());
    ASSERT_TRUE(writeFileAtomically(store.blobPath(digest(c)), std::string(50, c), false).ok());
  };
  for (char c : {'a', 'b', 'c', 'd'}) addLayer(c);
  auto addImage = [&](const std::string& file, std::vector<std::string> layers) {
    nlohmann::json j{{"name", file}, {"manifestDigest", digest('f')}, {"layers", layers},
                     {"config", nlohmann::json::object()}};
    ASSERT_TRUE(writeFileAtomically(o.dir + "/images/" + file + ".json", j.dump(), false).ok());
  };
  addImage("used", {digest('a'), digest('b')});     // its container runs
  addImage("partly", {digest('b'), digest('c')});   // shares b, c unused
  addImage("unused", {digest('d')});

  // Unknown usage: nothing is removed.
  auto refused = store.prune([] { return std::nullopt; });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(listDirectory(o.dir + "/images")->size(), 3u);

  auto pruned = store.prune([&] { return std::set<std::string>{digest('a'), digest('b')}; });
  ASSERT_TRUE(pruned.ok()) << pruned.status().message();
  EXPECT_EQ(pruned->images, 2);
  EXPECT_EQ(pruned->layers, 2);  // c and d
  EXPECT_GE(pruned->bytes, 2u * 150);
  EXPECT_EQ(*listDirectory(o.dir + "/images"), std::vector<std::string>{"used.json"});
  auto layers = *listDirectory(o.dir + "/layers");
  std::sort(layers.begin(), layers.end());
  EXPECT_EQ(layers, (std::vector<std::string>{std::string(64, 'a'), std::string(64, 'b')}));
  auto blobs = *listDirectory(o.dir + "/blobs/sha256");
  std::sort(blobs.begin(), blobs.end());
  EXPECT_EQ(blobs, layers);

  // Nothing in use any more: everything goes.
  pruned = store.prune([] { return std::set<std::string>{}; });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(pruned->images, 1);
  EXPECT_EQ(pruned->layers, 2);
  EXPECT_TRUE(listDirectory(o.dir + "/layers")->empty());
  EXPECT_TRUE(listDirectory(o.dir + "/blobs/sha256")->empty());
}

TEST(RegistryAuthTest, ChallengesParse) {
  auto c = images::parseAuthChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c->params["service"], "registry.docker.io");
  EXPECT_EQ(c->params["scope"], "repository:library/busybox:pull");
  auto basic = images::parseAuthChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_FALSE(images::parseAuthChallenge("Negotiate abc"));
  EXPECT_FALSE(images::parseAuthChallenge(R"(Bearer realm="unterminated)"));
  EXPECT_FALSE(images::parseAuthChallenge(""));
}

TEST(RegistryAuthTest, DockerConfigCredentials) {
  auto creds = images::parseDockerConfig(R"({"auths": {
      "https://index.docker.io/v1/": {"auth": ")" + images::base64Encode("me:pw") + R"("},
      "127.0.0.1:5000": {"username": "u", "password": "p:with:colons"},
      "helper.example": {"identitytoken": "x"}}})");
  ASSERT_TRUE(creds.ok()) << creds.status().message();
  EXPECT_EQ((*creds)["index.docker.io"], "me:pw");
  EXPECT_EQ((*creds)["registry-1.docker.io"], "me:pw");  // where Docker Hub pulls go
  EXPECT_EQ((*creds)["127.0.0.1:5000"], "u:p:with:colons");
  EXPECT_EQ(creds->count("helper.example"), 0u);
  EXPECT_TRUE(images::parseDockerConfig("{}").ok());
  for (const char* bad : {"[]", "not json", R"({"auths": []})", R"({"auths": {"h": 1}})",
                          R"({"auths": {"h": {"auth": "!!!"}}})"}) {
    auto r = images::parseDockerConfig(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  for (const std::string& text : {std::string(""), std::string("a"), std::string("ab"),
                                  std::string("user:password"), std::string("\0\xff", 2)}) {
    EXPECT_EQ(images::base64Decode(images::base64Encode(text)), text);
  }
}

TEST(RegistryClientTest, Sha256) {
  EXPECT_EQ(images::sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TaskInfo taskWith(std::optional<CommandInfo> cmd) {
  TaskInfo t;
  t.taskId = TaskID("t1");
  t.command = cmd;
  t.resources = *Resources::parse("cpus:1;ports:[31000-31001]");
  return t;
}

TEST(OciSpecTest, CommandEnvAndWorkingDirectoryRules) {
  images::ImageConfig image;
  image.entrypoint = {"/bin/app"};
  image.cmd = {"--default"};
  image.env = {"PATH=/opt/bin", "A=image"};
  image.workingDir = "/srv";
  image.user = "daemon";

  CommandInfo shell;
  shell.shell = true;
  shell.value = "echo hi";
  shell.environment = {{"A", "task"}};
  auto p = oci::containerProcess(taskWith(shell), image, "host1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p->cwd, oci::kSandboxMount);
  EXPECT_EQ(p->user, "daemon");
  auto has = [&](const std::string& kv) {
    return std::find(p->env.begin(), p->env.end(), kv) != p->env.end();
  };
  EXPECT_TRUE(has("PATH=/opt/bin"));
  EXPECT_TRUE(has("A=task"));
  EXPECT_FALSE(has("A=image"));
  EXPECT_TRUE(has("PORT0=31000"));
  EXPECT_TRUE(has("PORT1=31001"));
  EXPECT_TRUE(has("MESOS_SANDBOX=/mnt/tutti/sandbox"));
  EXPECT_TRUE(has("HOST=host1"));

  // No command: the image's Entrypoint + Cmd, in its WorkingDir.
  p = oci::containerProcess(taskWith(std::nullopt), image, "");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (std::vector<std::string>{"/bin/app", "--default"}));
  EXPECT_EQ(p->cwd, "/srv");
  // Arguments only: they replace the Cmd.
  CommandInfo args;
  args.shell = false;
  args.arguments = {"--mine"};
  p = oci::containerProcess(taskWith(args), image, "");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, (std::vector<std::string>{"/bin/app", "--mine"}));
  // Nothing to run at all.
  EXPECT_FALSE(oci::containerProcess(taskWith(std::nullopt), images::ImageConfig{}, "").ok());
}

TEST(OciSpecTest, UsersResolveInTheImage) {
  TempDir dir;
  ASSERT_TRUE(makeDirectories(dir.path() + "/etc").ok());
  ASSERT_TRUE(writeFileAtomically(dir.path() + "/etc/passwd",
                                  "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n", false)
                  .ok());
  ASSERT_TRUE(
      writeFileAtomically(dir.path() + "/etc/group", "app:x:1001:\nextra:x:2000:app\n", false)
          .ok());
  auto u = oci::resolveUser(dir.path(), "app");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->additionalGids, std::vector<uint32_t>{2000});
  u = oci::resolveUser(dir.path(), "4242:extra");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 4242u);
  EXPECT_EQ(u->gid, 2000u);
  EXPECT_EQ(oci::resolveUser(dir.path(), "")->uid, 0u);
  EXPECT_FALSE(oci::resolveUser(dir.path(), "ghost").ok());
  EXPECT_FALSE(oci::resolveUser(dir.path(), "app:ghosts").ok());
}

TEST(OciSpecTest, AccountFilesAreReadInsideTheImageOnly) {
  TempDir dir;
  // A host directory with a passwd that knows "app", and an image whose
  // /etc is an absolute symlink to it: the name must not resolve there.
  std::string host = dir.path() + "/host-etc";
  ASSERT_TRUE(makeDirectories(host).ok());
  ASSERT_TRUE(writeFileAtomically(host + "/passwd", "app:x:1000:1000::/:/bin/sh\n", false).ok());
  std::string rootfs = dir.path() + "/rootfs";
  ASSERT_TRUE(makeDirectories(rootfs).ok());
  ASSERT_EQ(::symlink(host.c_str(), (rootfs + "/etc").c_str()), 0);
  auto u = oci::resolveUser(rootfs, "app");
  EXPECT_FALSE(u.ok());
  // /etc/passwd -> /dev/zero: not a regular file, not read (no hang).
  std::string rootfs2 = dir.path() + "/rootfs2";
  ASSERT_TRUE(makeDirectories(rootfs2 + "/etc").ok());
  ASSERT_EQ(::symlink("/dev/zero", (rootfs2 + "/etc/passwd").c_str()), 0);
  EXPECT_FALSE(oci::resolveUser(rootfs2, "app").ok());
  EXPECT_EQ(oci::resolveUser(rootfs2, "1234")->uid, 1234u);
  // A relative symlink that stays inside the image is followed.
  std::string rootfs3 = dir.path() + "/rootfs3";
  ASSERT_TRUE(makeDirectories(rootfs3 + "/usr/etc").ok());
  ASSERT_TRUE(
      writeFileAtomically(rootfs3 + "/usr/etc/passwd", "app:x:77:78::/:/bin/sh\n", false).ok());
  ASSERT_EQ(::symlink("usr/etc", (rootfs3 + "/etc").c_str()), 0);
  u = oci::resolveUser(rootfs3, "app");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 77u);
}

TEST(OciSpecTest, ConfigIsConfinedAndSurvivesAnyBytes) {
  oci::SpecOptions o;
  o.process.args = {"/bin/sh", "-c", "echo \xff\xfe"};
  o.process.env = {"BAD=\xc3\x28"};
  o.process.cwd = "/";
  o.sandbox = "/var/sandbox";
  std::string text;
  ASSERT_NO_THROW(text = oci::makeConfig(o));
  auto j = nlohmann::json::parse(text);
  for (const auto& c : j["process"]["capabilities"]["bounding"]) {
    EXPECT_NE(c, "CAP_NET_RAW");
    EXPECT_NE(c, "CAP_SYS_ADMIN");
  }
  ASSERT_TRUE(j["linux"].contains("seccomp"));
  EXPECT_EQ(j["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
  bool unshare = false;
  for (const auto& rule : j["linux"]["seccomp"]["syscalls"]) {
    for (const auto& n : rule["names"]) unshare = unshare || n == "unshare";
  }
  EXPECT_TRUE(unshare);
  EXPECT_TRUE(j["process"]["noNewPrivileges"]);
}

TEST(OciSpecTest, ConfigCarriesMountsLimitsAndNamespaces) {
  oci::SpecOptions o;
  o.process.args = {"/bin/true"};
  o.process.cwd = "/";
  o.sandbox = "/var/sandbox";
  o.cgroupsPath = "tutti-oci-x";
  o.rlimits = {{"RLMT_NOFILE", 64, 128}};
  auto j = nlohmann::json::parse(oci::makeConfig(o));
  EXPECT_EQ(j["root"]["path"], "rootfs");
  EXPECT_EQ(j["linux"]["cgroupsPath"], "tutti-oci-x");
  bool sandbox = false;
  for (const auto& m : j["mounts"]) {
    if (m["destination"] == oci::kSandboxMount && m["source"] == "/var/sandbox") sandbox = true;
  }
  EXPECT_TRUE(sandbox);
  ASSERT_EQ(j["process"]["rlimits"].size(), 1u);
  EXPECT_EQ(j["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
  EXPECT_EQ(j["process"]["rlimits"][0]["soft"], 64);
  bool pid = false;
  for (const auto& n : j["linux"]["namespaces"]) pid = pid || n["type"] == "pid";
  EXPECT_TRUE(pid);

  // Without a task limit, the agent's own open-file limit (not runc's 1024).
  o.rlimits.clear();
  j = nlohmann::json::parse(oci::makeConfig(o));
  struct rlimit own {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &own), 0);
  ASSERT_EQ(j["process"]["rlimits"].size(), 1u);
  EXPECT_EQ(j["process"]["rlimits"][0]["soft"].get<uint64_t>(), own.rlim_cur);
  EXPECT_EQ(j["process"]["rlimits"][0]["hard"].get<uint64_t>(), own.rlim_max);
}

}  // namespace
}  // namespace tutti::agent
