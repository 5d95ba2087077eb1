// Unit tests for SessionKiller: whole sessions die (their leader and what
// the leader started), other sessions live, and requests made together are
// served by one pass over /proc. Real processes; waits are for a condition,
// with a deadline.
#include "agent/containerizer/session_killer.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "common/process.hpp"
#include "tests/unit/agent/agent_fixture.hpp"

namespace tutti::agent {
namespace {

using namespace std::chrono_literals;

using agent_test::killedBy;

// Real processes die in real time: polled with a deadline (no loop runs).
bool waitFor(const std::function<bool()>& condition) { return agent_test::pollFor(condition, 10s); }

// A session leader (a shell) with a child of its own (a background sleep,
// whose pid it writes to `pidFile`).
struct Session {
  pid_t leader = -1;
  pid_t child = -1;
};

Session startSession(const std::string& pidFile) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "sleep 300 & echo $! > " + pidFile + "; wait"};
  o.newSession = true;
  Session s;
  auto pid = spawnProcess(o);
  EXPECT_TRUE(pid.ok()) << pid.error();
  if (!pid.ok()) return s;
  s.leader = *pid;
  EXPECT_TRUE(waitFor([&] {
    std::ifstream in(pidFile);
    return static_cast<bool>(in >> s.child);
  })) << "no pid in " << pidFile;
  return s;
}

TEST(SessionKillerTest, KillsWholeSessionsInOnePassAndLeavesOthersAlone) {
  tutti::testing::TempDir dir;
  std::vector<Session> sessions;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(startSession(dir.path() + "/child" + std::to_string(i)));
  }
  for (const auto& s : sessions) {
    ASSERT_GT(s.leader, 1);
    ASSERT_GT(s.child, 1);
  }
  {
    SessionKiller killer;
    // Requested together: served by at most two passes (one may start
    // between the two requests), each finding every process of its sessions.
    killer.kill(sessions[0].leader);
    killer.kill(sessions[1].leader);
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(waitFor([&] {
        return !processExists(sessions[i].leader) && !processExists(sessions[i].child);
      })) << "session " << i << " is still alive";
    }
    // The counters move once a pass is over, which may be after the
    // processes it signalled died.
    EXPECT_TRUE(waitFor([&] { return killer.signalled() >= 4; })) << killer.signalled();
    EXPECT_GE(killer.passes(), 1u);
    EXPECT_LE(killer.passes(), 2u);
    // Not asked for: still running.
    EXPECT_TRUE(processExists(sessions[2].leader));
    EXPECT_TRUE(processExists(sessions[2].child));
    // Ignored: not a session anyone may kill.
    killer.kill(0);
    killer.kill(1);
  }
  EXPECT_EQ(killSession(sessions[2].leader, SIGKILL), 2u);
  for (const auto& s : sessions) ::waitpid(s.leader, nullptr, 0);
}

TEST(SessionKillerTest, DoneRunsAfterThePassThatKilledTheSession) {
  tutti::testing::TempDir dir;
  Session s = startSession(dir.path() + "/child");
  ASSERT_GT(s.child, 1);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> signalledAtDone{0};
  SessionKiller killer;
  killer.kill(s.leader, [&] {
    signalledAtDone = killer.signalled();
    done = true;
  });
  ASSERT_TRUE(waitFor([&] { return done.load(); }));
  // Both had been signalled when it ran.
  EXPECT_GE(signalledAtDone.load(), 2u);
  int status = 0;
  ASSERT_TRUE(waitFor([&] { return ::waitpid(s.leader, &status, WNOHANG) == s.leader; }));
  EXPECT_TRUE(killedBy(status, SIGKILL)) << describeWaitStatus(status);
  // An id no one may kill: `done` still runs (at once).
  bool ignored = false;
  killer.kill(1, [&] { ignored = true; });
  EXPECT_TRUE(ignored);
}

TEST(SessionKillerTest, TheDestructorFinishesWhatWasRequested) {
  tutti::testing::TempDir dir;
  Session s = startSession(dir.path() + "/child");
  ASSERT_GT(s.child, 1);
  {
    SessionKiller killer;
    killer.kill(s.leader);
  }
  // The destructor returned after the pass: both were sent SIGKILL (had
  // the request been dropped, nothing else would ever kill them).
  int status = 0;
  ASSERT_TRUE(waitFor([&] { return ::waitpid(s.leader, &status, WNOHANG) == s.leader; }));
  EXPECT_TRUE(killedBy(status, SIGKILL)) << describeWaitStatus(status);
  EXPECT_TRUE(waitFor([&] { return !processExists(s.child); }));
}

}  // namespace
}  // namespace tutti::agent
