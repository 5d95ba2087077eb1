// Unit tests for spawnProcess() with credentials (the path that runs a
// task as its user, through setpriv): the child has exactly the asked ids
// and groups, nothing of ours (descriptors, blocked or ignored signals),
// and stdio we opened. Real processes; needs root (skipped otherwise).
#include "common/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
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
  // Runs `script` with /bin/sh as nobody (groups: nobody's and `extra`);
  // its stdout, or "" after a failure the test reports.
  std::string runAsNobody(const std::string& script, std::vector<gid_t> extra = {}) {
    std::string out = dir_.path() + "/out";
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    SpawnOptions o;
    o.argv = {"/bin/sh", "-c", script};
    o.env = {"PATH=/usr/bin:/bin"};
    o.stdoutFd = fd;
    o.newProcessGroup = true;
    Credentials ids{nobody_.uid, nobody_.gid, {nobody_.gid}};
    ids.groups.insert(ids.groups.end(), extra.begin(), extra.end());
    o.credentials = ids;
    auto pid = spawnProcess(o);
    ::close(fd);
    EXPECT_TRUE(pid.ok()) << pid.error();
    if (!pid.ok()) return "";
    int st = 0;
    EXPECT_EQ(::waitpid(*pid, &st, 0), *pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describeWaitStatus(st);
    auto text = readFile(out);
    return text.ok() ? *text : "";
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
  if (firstExecutable({"/usr/bin/cc"}).empty()) GTEST_SKIP() << "no C compiler to build a library";
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
