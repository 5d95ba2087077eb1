// Unit tests for spawnProcess()'s fork path (a task as its user, with its
// rlimits, in its own pid namespace): the child has exactly the asked ids,
// groups and limits, nothing of ours (descriptors, blocked or ignored
// signals), stdio we opened; in a pid namespace it is pid 1, with its own
// /proc, and still our child. Real processes; needs root (skipped otherwise).
#include "common/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "common/files.hpp"
#include "common/user.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti {
namespace {

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
  // Starts `script` with /bin/sh in its own process group, its stdout in
  // output(); `configure` adds ids, limits, a namespace.
  Result<pid_t> start(const std::string& script,
                      const std::function<void(SpawnOptions&)>& configure) {
    int fd = ::open(output().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    SpawnOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.env = {"PATH=/usr/bin:/bin"};
    o.stdoutFd = fd;
    o.newProcessGroup = true;
    configure(o);
    auto pid = spawnProcess(o);
    ::close(fd);
    return pid;
  }
  std::string output() const { return dir_.path() + "/out"; }
  // start() and wait: its stdout, or "" after a failure the test reports.
  std::string run(const std::string& script, const std::function<void(SpawnOptions&)>& configure) {
    auto pid = start(script, configure);
    EXPECT_TRUE(pid.ok()) << pid.error();
    if (!pid.ok()) return "";
    int st = 0;
    EXPECT_EQ(::waitpid(*pid, &st, 0), *pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describeWaitStatus(st);
    auto text = readFile(output());
    return text.ok() ? *text : "";
  }
  Credentials nobody(std::vector<gid_t> extra = {}) const {
    Credentials ids{nobody_.uid, nobody_.gid, {nobody_.gid}};
    ids.groups.insert(ids.groups.end(), extra.begin(), extra.end());
    return ids;
  }
  // Whether this host lets us make pid and mount namespaces (a container
  // without CAP_SYS_ADMIN does not).
  bool pidNamespacesWork() {
    auto pid = start("true", [](SpawnOptions& o) { o.pidNamespace = true; });
    if (!pid.ok()) return false;
    int st = 0;
    ::waitpid(*pid, &st, 0);
    return true;
  }
  // Runs `script` as nobody (groups: nobody's and `extra`).
  std::string runAsNobody(const std::string& script, std::vector<gid_t> extra = {}) {
    return run(script, [&](SpawnOptions& o) { o.credentials = nobody(extra); });
  }
  UserAccount nobody_;
  tutti::testing::TempDir dir_;
};

TEST_F(SpawnAsUserTest, ChildRunsWithTheGivenIdsAndOnlyTheGivenGroups) {
  // 100: Debian's "users", not one of nobody's own groups.
  std::istringstream out(runAsNobody("id -u; id -g; id -G; echo $$ $(ps -o pgid= -p $$)", {100}));
  std::string uid, gid, groups, self, pgid;
  std::getline(out, uid);
  std::getline(out, gid);
  std::getline(out, groups);
  out >> self >> pgid;
  EXPECT_EQ(uid, std::to_string(nobody_.uid));
  EXPECT_EQ(gid, std::to_string(nobody_.gid));
  EXPECT_EQ(groups, std::to_string(nobody_.gid) + " 100");  // root's are gone
  EXPECT_EQ(self, pgid);  // its own process group
}

TEST_F(SpawnAsUserTest, ChildKeepsNoDescriptorOrSignalStateOfOurs) {
  int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leak, 0);
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  sigset_t block, oldMask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &block, &oldMask);
  // ls's own descriptors: stdio and the directory it reads (3).
  std::string fds = runAsNobody("exec ls /proc/self/fd");
  std::string out = runAsNobody("exec grep -E '^Sig(Blk|Ign)' /proc/self/status");
  ::pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
  ::sigaction(SIGPIPE, &old, nullptr);
  ::close(leak);
  EXPECT_EQ(fds, "0\n1\n2\n3\n");
  auto mask = [&](const std::string& key) {
    auto at = out.find(key + ":\t");
    return at == std::string::npos ? ~0ull : std::stoull(out.substr(at + key.size() + 2, 16), nullptr, 16);
  };
  EXPECT_EQ(mask("SigBlk"), 0u) << out;
  EXPECT_EQ(mask("SigIgn") & (1ull << (SIGPIPE - 1)), 0u) << out;  // (the runner may ignore others)
}

TEST_F(SpawnAsUserTest, AProgramThatCannotRunIsAnErrorNamingTheStep) {
  SpawnOptions o;
  o.argv = {dir_.path() + "/missing"};
  o.credentials = Credentials{nobody_.uid, nobody_.gid, {}};
  auto pid = spawnProcess(o);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().find("exec: No such file or directory"), std::string::npos)
      << pid.error();
  EXPECT_NE(pid.error().find("as uid " + std::to_string(nobody_.uid)), std::string::npos);
}

// The child's environment reaches only the program, as the user: a
// preloaded library never runs with our ids (no root process of ours execs
// with the task's LD_PRELOAD).
TEST_F(SpawnAsUserTest, TheChildsEnvironmentNeverRunsWithOurIds) {
  if (::access("/usr/bin/cc", X_OK) != 0) GTEST_SKIP() << "no C compiler to build a library";
  std::string src = dir_.path() + "/spy.c", lib = dir_.path() + "/spy.so",
              log = dir_.path() + "/uids";
  std::ofstream(src) << "#include <stdio.h>\n#include <unistd.h>\n"
                        "__attribute__((constructor)) static void spy(void) {\n"
                        "  FILE* f = fopen(\"" << log << "\", \"a\");\n"
                        "  if (f) { fprintf(f, \"%d\\n\", (int)getuid()); fclose(f); }\n}\n";
  ASSERT_EQ(std::system(("/usr/bin/cc -shared -fPIC -o " + lib + " " + src).c_str()), 0);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
  ASSERT_GE(fd, 0);
  ::fchmod(fd, 0666);
  ::close(fd);
  SpawnOptions o;
  o.argv = {"/bin/true"};
  o.env = {"LD_PRELOAD=" + lib};
  o.credentials = Credentials{nobody_.uid, nobody_.gid, {}};
  auto pid = spawnProcess(o);
  ASSERT_TRUE(pid.ok()) << pid.error();
  int st = 0;
  ASSERT_EQ(::waitpid(*pid, &st, 0), *pid);
  auto uids = readFile(log);
  ASSERT_TRUE(uids.ok()) << uids.error();
  EXPECT_EQ(*uids, std::to_string(nobody_.uid) + "\n");
}

// The child's limits are its own (posix/rlimits): set between its fork and
// exec, with or without other ids, never on us.
TEST_F(SpawnAsUserTest, LimitsHoldForTheChildOnly) {
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  EXPECT_EQ(run("ulimit -n; ulimit -Hn", [](SpawnOptions& o) {
              o.limits = {{RLIMIT_NOFILE, 100, 200}};
            }),
            "100\n200\n");
  EXPECT_EQ(run("id -u; ulimit -c; ulimit -Hn", [&](SpawnOptions& o) {
              o.credentials = nobody();
              o.limits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, 64, 64}};
            }),
            std::to_string(nobody_.uid) + "\n0\n64\n");
  rlimit after;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_cur);
  EXPECT_EQ(after.rlim_max, before.rlim_max);
  // A limit the kernel refuses (soft above hard) is the start's error,
  // naming the limit.
  auto refused = start("true", [](SpawnOptions& o) {
    o.limits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, 300, 200}};
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("setrlimit RLIMIT_NOFILE: Invalid argument"), std::string::npos)
      << refused.error();
}

// namespaces/pid, natively: another user's task is pid 1 of its own
// namespace with its own /proc and its limits.
TEST_F(SpawnAsUserTest, APidNamespaceTaskIsPidOneWithItsOwnProc) {
  if (!pidNamespacesWork()) GTEST_SKIP() << "no pid namespaces here (no CAP_SYS_ADMIN?)";
  std::string out = run("id -u; ulimit -n; echo pid=$$; ls /proc | grep -c '^[0-9]'",
                        [&](SpawnOptions& o) {
                          o.credentials = nobody();
                          o.limits = {{RLIMIT_NOFILE, 100, 200}};
                          o.pidNamespace = true;
                        });
  // ls (and grep, when the shell started it before ls read /proc) are the
  // only other processes it sees.
  std::string prefix = std::to_string(nobody_.uid) + "\n100\npid=1\n";
  EXPECT_TRUE(out == prefix + "2\n" || out == prefix + "3\n") << out;
  // Our own /proc is untouched (the mount was in the task's namespace).
  EXPECT_TRUE(std::filesystem::exists("/proc/" + std::to_string(::getpid())));
  // A failing step in the namespace is still the start's error.
  auto missing = start("true", [&](SpawnOptions& o) {
    o.argv = {dir_.path() + "/missing"};
    o.pidNamespace = true;
  });
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("exec: No such file or directory"), std::string::npos)
      << missing.error();
}

// The process we watch is the task itself (pid 1 of its namespace, our
// child): its exit status is the task's, the kill policy's SIGTERM to its
// group reaches a task that handles it, and SIGKILL always does.
TEST_F(SpawnAsUserTest, APidNamespaceTaskIsOurChildAndItsGroupsLeader) {
  if (!pidNamespacesWork()) GTEST_SKIP() << "no pid namespaces here (no CAP_SYS_ADMIN?)";
  auto inNamespace = [&](SpawnOptions& o) {
    o.credentials = nobody();
    o.pidNamespace = true;
  };
  auto waitFor = [](pid_t pid) {
    int st = 0;
    EXPECT_EQ(::waitpid(pid, &st, 0), pid);
    return st;
  };
  auto waitReady = [&] {
    return tutti::testing::waitUntil([&] {
      auto text = readFile(output());
      return text.ok() && *text == "ready\n";
    });
  };
  auto exited = start("exit 7", inNamespace);
  ASSERT_TRUE(exited.ok()) << exited.error();
  int st = waitFor(*exited);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7) << describeWaitStatus(st);

  auto handled = start("trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done",
                       inNamespace);
  ASSERT_TRUE(handled.ok()) << handled.error();
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(::kill(-*handled, SIGTERM), 0);
  st = waitFor(*handled);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 3) << describeWaitStatus(st);

  auto killed = start("echo ready; exec sleep 1000", inNamespace);
  ASSERT_TRUE(killed.ok()) << killed.error();
  ASSERT_TRUE(waitReady());
  ASSERT_EQ(::kill(-*killed, SIGKILL), 0);
  st = waitFor(*killed);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << describeWaitStatus(st);
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
