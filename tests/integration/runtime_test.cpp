// Integration: tutti-runtime, the agent's own OCI runtime, run directly on
// bundles the agent's own code writes (oci_spec.hpp makeConfig) over a
// busybox-static root filesystem. What a container must not be able to do
// is tried from inside it. Root only (namespaces, mounts, cgroups).
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/containerizer/oci/oci_spec.hpp"
#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::testing {
namespace {

using json = nlohmann::json;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "tutti-runtime needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox-static is not installed";
    bundle_ = dir_.path() + "/bundle";
    root_ = dir_.path() + "/state";
    sandbox_ = dir_.path() + "/sandbox";
    std::string rootfs = bundle_ + "/rootfs";
    for (const char* d : {"/bin", "/etc", "/tmp"}) ASSERT_TRUE(makeDirectories(rootfs + d).ok());
    ASSERT_TRUE(makeDirectories(sandbox_).ok());
    ASSERT_EQ(runCommand({"/bin/cp", "/bin/busybox", rootfs + "/bin/busybox"}).exitCode, 0);
    std::istringstream applets(runCommand({"/bin/busybox", "--list"}).output);
    for (std::string a; std::getline(applets, a);) {
      if (!a.empty() && a != "busybox") (void)::symlink("busybox", (rootfs + "/bin/" + a).c_str());
    }
    write(rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n");
    write(rootfs + "/etc/group", "root:x:0:\napp:x:1000:\n");
    write(rootfs + "/etc/marker", "image\n");
    write(sandbox_ + "/from-host", "sandbox file\n");
  }

  void TearDown() override {
    for (const auto& id : started_) runtime({"delete", "--force", id});
  }

  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  // config.json as the agent writes it, running `script` with /bin/sh.
  void configure(const std::string& script, uint32_t uid = 0,
                 const std::function<void(json&)>& edit = nullptr) {
    agent::oci::SpecOptions o;
    o.process.args = {"/bin/sh", "-c", script};
    o.process.env = {"PATH=/bin", "GREETING=hello"};
    o.process.cwd = agent::oci::kSandboxMount;
    o.user.uid = o.user.gid = uid;
    o.sandbox = sandbox_;
    o.cgroupsPath = "tutti-runtime-test-" + std::to_string(::getpid());
    json config = json::parse(agent::oci::makeConfig(o));
    if (edit) edit(config);
    write(bundle_ + "/config.json", config.dump());
  }

  CommandResult runtime(std::vector<std::string> args) {
    args.insert(args.begin(), {binary("tutti-runtime"), "--root", root_});
    return runCommand(args);
  }

  // A foreground run of the configured bundle as container `id`.
  CommandResult run(const std::string& id) {
    return runtime({"run", "--bundle", bundle_, id});
  }

  // The container keeps the runtime's stdout: a file here, so that no
  // pipe of runCommand stays open while it runs.
  CommandResult runDetached(const std::string& id) {
    started_.push_back(id);
    std::string log = dir_.path() + "/" + id + ".log";
    CommandResult r = runCommand({"/bin/sh", "-c", "exec \"$@\" >\"$0\" 2>&1", log,
                                  binary("tutti-runtime"), "--root", root_, "run", "--detach",
                                  "--bundle", bundle_, "--pid-file", dir_.path() + "/pid", id});
    auto text = readFile(log);
    r.output = text.ok() ? *text : "";
    return r;
  }

  TempDir dir_;
  std::string bundle_, root_, sandbox_;
  std::vector<std::string> started_;
};

uint64_t hexField(const std::string& status, const std::string& name) {
  auto at = status.find(name + ":\t");
  if (at == std::string::npos) return ~0ull;
  return std::stoull(status.substr(at + name.size() + 2, 16), nullptr, 16);
}

TEST_F(RuntimeTest, RunsTheProcessAsPidOneOfTheImageWithItsSandboxAndLimits) {
  configure(
      "echo pid=$$; pwd; cat /etc/marker; cat /mnt/tutti/sandbox/from-host; echo $GREETING; "
      "cat /proc/self/status; ls /dev; cat /proc/timer_list | wc -c; echo out > written");
  CommandResult r = run("first");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("pid=1\n/mnt/tutti/sandbox\nimage\nsandbox file\nhello\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("NoNewPrivs:\t1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Seccomp:\t2"), std::string::npos) << r.output;
  // Docker's default set without CAP_NET_RAW (oci_spec.cpp).
  uint64_t expected = 0;
  for (int cap : {0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 27, 29, 31}) expected |= 1ull << cap;
  EXPECT_EQ(hexField(r.output, "CapBnd"), expected) << r.output;
  EXPECT_EQ(hexField(r.output, "CapEff"), expected) << r.output;
  for (const char* dev : {"null", "zero", "urandom", "tty", "pts", "shm", "mqueue"}) {
    EXPECT_NE(r.output.find(std::string("\n") + dev + "\n"), std::string::npos) << dev << r.output;
  }
  EXPECT_NE(r.output.find("\n0\n"), std::string::npos) << "/proc/timer_list is masked: " << r.output;
  EXPECT_EQ(*readFile(sandbox_ + "/written"), "out\n");  // the sandbox is the host's directory
  // A foreground run removes its state when the process ends.
  EXPECT_FALSE(runtime({"state", "first"}).exitCode == 0);
}

TEST_F(RuntimeTest, TheContainerCannotReachTheHostOrLeaveItsNamespaces) {
  configure(
      "unshare -m true && echo unshare-worked; "
      "unshare -U true 2>/dev/null && echo userns-worked; "  // no capability needed: seccomp's
      "mount -t tmpfs t /tmp && echo mount-worked; "
      "mknod /tmp/kmsg c 1 11 2>/dev/null; echo tutti-runtime-test 2>/dev/null >/tmp/kmsg && "
      "echo kmsg-written; "
      "test -e /proc/1/root/bin/busybox && echo own-root; "
      "cat /proc/sys/kernel/panic > /tmp/panic; "
      "cat /tmp/panic 2>/dev/null > /proc/sys/kernel/panic && echo proc-sys-writable; "
      "ls /sys/firmware | wc -l; "
      "echo done");
  CommandResult r = run("escape");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output.find("unshare-worked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("userns-worked"), std::string::npos) << "seccomp: " << r.output;
  EXPECT_EQ(r.output.find("mount-worked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("kmsg-written"), std::string::npos) << "devices: " << r.output;
  EXPECT_EQ(r.output.find("proc-sys-writable"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("own-root"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n0\ndone"), std::string::npos) << "/sys/firmware masked: " << r.output;

  // The compiled filter is cached under the state root; a cache file that
  // is not this filter's (here: another filter's text and no program) is
  // never loaded: the next container is filtered all the same.
  auto cached = listDirectory(root_ + "/.seccomp");
  ASSERT_TRUE(cached.ok());
  ASSERT_EQ(cached->size(), 1u);
  const sock_filter allowAll = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  std::string program(reinterpret_cast<const char*>(&allowAll), sizeof allowAll);
  uint64_t sum = 1469598103934665603ull;  // FNV-1a, as the cache's checksum
  for (unsigned char ch : program) sum = (sum ^ ch) * 1099511628211ull;
  char sumText[32];
  std::snprintf(sumText, sizeof sumText, "sum=%016llx", static_cast<unsigned long long>(sum));
  std::string foreign = "tutti-runtime seccomp v2;13:another filter\n" + std::string(sumText) +
                        "\n" + program;
  write(root_ + "/.seccomp/" + cached->front(), foreign);
  CommandResult again = run("escape-again");
  ASSERT_EQ(again.exitCode, 0) << again.output;
  EXPECT_EQ(again.output.find("userns-worked"), std::string::npos) << again.output;
}

// Without a devices cgroup (a pure cgroups v2 host, or --no-devices-cgroup)
// device nodes are guarded by CAP_MKNOD and nodev instead: no node can be
// made, and one the image brings cannot be opened.
TEST_F(RuntimeTest, WithoutADevicesCgroupNoDeviceButDevsOwnCanBeOpened) {
  ASSERT_EQ(::mknod((bundle_ + "/rootfs/tmp/kmsg").c_str(), S_IFCHR | 0666, makedev(1, 11)), 0)
      << std::strerror(errno);
  configure(
      "echo tutti-runtime-test 2>/dev/null >/tmp/kmsg && echo image-node-opened; "
      "mknod /tmp/made c 1 11 2>/dev/null && echo node-made; "
      "echo x >/dev/null && echo dev-null-ok; grep CapBnd /proc/self/status");
  CommandResult r = runtime({"--no-devices-cgroup", "run", "--bundle", bundle_, "nodevices"});
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output.find("image-node-opened"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("node-made"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dev-null-ok"), std::string::npos) << r.output;
  EXPECT_EQ(hexField(r.output, "CapBnd") & (1ull << 27), 0u) << "CAP_MKNOD: " << r.output;
}

TEST_F(RuntimeTest, TheConfiguredUserRunsWithoutCapabilities) {
  configure("id -u; id -g; grep CapEff /proc/self/status; touch /etc/x 2>/dev/null || echo ro-etc; "
            "echo home=$HOME",
            1000);
  CommandResult r = run("user");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("1000\n1000\nCapEff:\t0000000000000000\nro-etc\nhome=/tmp\n"),
            std::string::npos)
      << "HOME from the image's /etc/passwd: " << r.output;
}

TEST_F(RuntimeTest, DetachedRunLeavesTheInitRunningUntilDeleteForceKillsIt) {
  configure("exec sleep 1000");
  CommandResult r = runDetached("held");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  auto pidText = readFile(dir_.path() + "/pid");
  ASSERT_TRUE(pidText.ok());
  pid_t pid = std::stoi(*pidText);
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0);
  CommandResult state = runtime({"state", "held"});
  ASSERT_EQ(state.exitCode, 0) << state.output;
  EXPECT_EQ(json::parse(state.output).value("status", ""), "running") << state.output;
  EXPECT_EQ(json::parse(state.output).value("pid", 0), pid);
  // exec joins its namespaces: pid 1 there is the container's sleep.
  CommandResult e = runtime({"exec", "held", "sh", "-c", "cat /proc/1/cmdline; echo; cat /etc/marker"});
  ASSERT_EQ(e.exitCode, 0) << e.output;
  EXPECT_EQ(e.output, std::string("sleep") + '\0' + "1000" + '\0' + "\nimage\n") << e.output;
  EXPECT_EQ(runtime({"exec", "held", "sh", "-c", "exit 7"}).exitCode, 7);
  CommandResult env = runtime({"exec", "--env", "FOO=bar", "held", "sh", "-c", "echo $FOO $GREETING"});
  EXPECT_EQ(env.output, "bar hello\n");  // added to the container's own
  EXPECT_EQ(runtime({"exec", "--env", "FOO", "held", "true"}).exitCode, 1);
  // A second container with the same id is refused; the first is untouched.
  CommandResult again = runtime({"run", "--detach", "--bundle", bundle_, "held"});
  EXPECT_EQ(again.exitCode, 1);
  EXPECT_NE(again.output.find("already exists"), std::string::npos) << again.output;
  CommandResult refused = runtime({"delete", "held"});
  EXPECT_EQ(refused.exitCode, 1);
  EXPECT_NE(refused.output.find("running"), std::string::npos) << refused.output;
  ASSERT_EQ(runtime({"delete", "--force", "held"}).exitCode, 0);
  // The init is gone (its pidfd is readable), and so is the state.
  struct pollfd p = {pidfd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 1);
  ::close(pidfd);
  EXPECT_NE(runtime({"state", "held"}).exitCode, 0);
  EXPECT_EQ(*listDirectory(root_), std::vector<std::string>{".seccomp"});  // only the filter cache
}

TEST_F(RuntimeTest, MountDestinationsResolveInsideTheRootFilesystem) {
  // The image makes /mnt a link to an absolute path: the sandbox must land
  // at the root filesystem's /elsewhere, never the host's.
  const std::string elsewhere = "/elsewhere-" + std::to_string(::getpid());
  ASSERT_EQ(::symlink(elsewhere.c_str(), (bundle_ + "/rootfs/mnt").c_str()), 0)
      << std::strerror(errno);
  configure("cat /mnt/tutti/sandbox/from-host");
  CommandResult r = run("links");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(r.output, "sandbox file\n");
  struct stat st;
  EXPECT_NE(::lstat(elsewhere.c_str(), &st), 0) << "made on the host";
  EXPECT_EQ(::lstat((bundle_ + "/rootfs" + elsewhere + "/tutti/sandbox").c_str(), &st), 0);
}

// runc's CVE-2019-5736: a process of the container opens /proc/<pid>/exe of
// a runtime process — one on its way in with `exec`, or the runtime's own
// binary run as the interpreter of a `#!/proc/self/exe` script — to write
// to it later. The runtime's processes are not dumpable until their
// execve, and `run` and `exec` run from a sealed copy of the binary in
// memory: whatever the container opens, it cannot write.
TEST_F(RuntimeTest, TheContainerCannotWriteTheRuntimesBinary) {
  ASSERT_EQ(runCommand({"/bin/cp", TUTTI_EXE_WATCHER, bundle_ + "/rootfs/bin/exe_watcher"}).exitCode, 0);
  write(bundle_ + "/rootfs/bin/victim", "#!/proc/self/exe\n");
  ASSERT_EQ(::chmod((bundle_ + "/rootfs/bin/victim").c_str(), 0755), 0);
  configure("exec /bin/exe_watcher /mnt/tutti/sandbox/seen");
  ASSERT_EQ(runDetached("watched").exitCode, 0);
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(runtime({"exec", "watched", "/bin/true"}).exitCode, 0);
    runtime({"exec", "watched", "/bin/victim"});  // the runtime as an interpreter, in the container
  }
  ASSERT_EQ(runtime({"delete", "--force", "watched"}).exitCode, 0);
  auto seen = readFile(sandbox_ + "/seen");
  std::string text = seen.ok() ? *seen : "";
  EXPECT_EQ(text.find("EXPOSED"), std::string::npos) << text;
}

TEST_F(RuntimeTest, AnImageWhoseDevIsALinkGetsItsNodesInsideItself) {
  // /dev in the image links to a directory that exists on the host.
  const std::string hostDir = dir_.path() + "/host-dev";
  ASSERT_TRUE(makeDirectories(hostDir).ok());
  ASSERT_EQ(::symlink(hostDir.c_str(), (bundle_ + "/rootfs/dev").c_str()), 0);
  configure("echo x > /dev/null && ls /dev | wc -l");
  CommandResult r = run("devlink");
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_EQ(*listDirectory(hostDir), std::vector<std::string>{}) << "nodes made on the host";
}

TEST_F(RuntimeTest, ConfigsItCannotHonourAreRefusedByField) {
  struct Case {
    std::function<void(json&)> edit;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](json& c) { c["linux"]["namespaces"].push_back({{"type", "user"}}); }, "linux.namespaces"},
      {[](json& c) { c["linux"]["resources"]["memory"] = {{"limit", 1000}}; }, "linux.resources.memory"},
      {[](json& c) { c["hooks"] = {{"prestart", json::array({{{"path", "/bin/true"}}})}}; }, "hooks"},
      {[](json& c) { c["process"]["capabilities"]["bounding"].push_back("CAP_NOPE"); }, "CAP_NOPE"},
      {[](json& c) { c["process"]["args"] = json::array(); }, "process.args"},
      {[](json& c) { c["process"]["args"] = {"/no/such/program"}; }, "exec /no/such/program"},
      {[](json& c) { c["process"]["args"] = {"nosuchprogram"}; }, "executable file not found"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    configure("true", 0, cases[i].edit);
    std::string id = "refused-" + std::to_string(i);
    CommandResult r = runtime({"run", "--detach", "--bundle", bundle_, id});
    EXPECT_EQ(r.exitCode, 1) << i;
    EXPECT_NE(r.output.find(cases[i].message), std::string::npos) << i << ": " << r.output;
    EXPECT_NE(runtime({"state", id}).exitCode, 0) << "nothing is left of " << id;
  }
  write(bundle_ + "/config.json", "{not json");
  CommandResult r = run("garbage");
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("config.json"), std::string::npos) << r.output;
  EXPECT_EQ(runtime({"run", "--bundle", bundle_, "../escape"}).exitCode, 1);
  EXPECT_EQ(runtime({"frobnicate"}).exitCode, 1);
}

}  // namespace
}  // namespace tutti::testing
