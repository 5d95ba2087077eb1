// Integration: the `tutti` CLI against real masters (ZooKeeper-elected, a
// standby that redirects), a real agent and a task.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "common/host.hpp"
#include "common/http.hpp"
#include "cli/table.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/zookeeper_server.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

CommandResult tutti(const std::string& master, std::vector<std::string> args) {
  std::vector<std::string> argv{binary("tutti"), "--master=" + master};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, std::chrono::seconds(30));
}

TEST(CliTest, FollowsTheLeaderListsReadsLogsAndActs) {
  ZooKeeperServer zk;
  zk.start();
  std::string zkUrl = zk.url("/tutti");
  TempDir d1, d2, agentDir;
  MasterProcess leader = startMasterProcess(d1.path(), {"--zk=" + zkUrl});
  ASSERT_TRUE(waitUntil([&] { return isElectedLeader(leader); })) << leader.process.log();
  MasterProcess standby = startMasterProcess(d2.path(), {"--zk=" + zkUrl});
  ASSERT_TRUE(waitUntil([&] {
    auto r = httpGet("127.0.0.1", standby.httpPort, "/master/state");
    return r.ok() && r->first == 307;
  }));
  AgentProcess agent = startAgentProcess(zkUrl, agentDir.path());

  RecordingScheduler scheduler;
  launchOnce(scheduler, "printer", "seq 1 5; echo oops >&2; exec sleep 1000");
  FrameworkInfo info;
  info.name = "cli-test";
  info.user = currentUserName();
  TuttiSchedulerDriver driver(&scheduler, info, zkUrl);
  driver.start();
  ASSERT_TRUE(scheduler.waitForState(TaskID("printer"), TaskState::TASK_RUNNING));
  std::string fwId = scheduler.frameworkId()->value;
  std::string standbyAddress = "127.0.0.1:" + std::to_string(standby.httpPort);

  // Found through ZooKeeper, or through the standby's redirect.
  auto r = tutti(zkUrl, {"master", "info"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:" + std::to_string(leader.httpPort)), std::string::npos)
      << r.output;
  r = tutti(standbyAddress, {"agent", "list"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("active"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0.1/4"), std::string::npos) << r.output;  // cpus used/total

  r = tutti(standbyAddress, {"task", "list"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("printer"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TASK_RUNNING"), std::string::npos) << r.output;
  r = tutti(zkUrl, {"framework", "list"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find(fwId), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cli-test"), std::string::npos) << r.output;
  r = tutti(zkUrl, {"--json", "role", "list"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(nlohmann::json::parse(r.output, nullptr, false).is_object()) << r.output;

  // The sandbox, read through the agent: the output may still be arriving.
  ASSERT_TRUE(waitUntil([&] { return tutti(zkUrl, {"task", "log", "printer"}).output ==
                                     "1\n2\n3\n4\n5\n"; }))
      << tutti(zkUrl, {"task", "log", "printer"}).output;
  r = tutti(zkUrl, {"task", "log", "printer", "--lines=2"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.output, "4\n5\n");
  r = tutti(zkUrl, {"task", "log", "printer", "--lines=0"});
  EXPECT_EQ(r.output, "");
  r = tutti(zkUrl, {"task", "log", "printer", "--stderr"});
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_NE(r.output.find("oops"), std::string::npos) << r.output;

  // Errors: a clear message and a non-zero exit.
  r = tutti(zkUrl, {"task", "log", "nope"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("No task 'nope'"), std::string::npos) << r.output;
  r = tutti(zkUrl, {"agent", "gone", "no-such-agent"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("no-such-agent"), std::string::npos) << r.output;
  r = tutti(zkUrl, {"task", "explode"});
  EXPECT_EQ(r.exitCode, 2);
  EXPECT_NE(r.output.find("unknown command"), std::string::npos) << r.output;
  r = tutti("no-port", {"agent", "list"});
  EXPECT_EQ(r.exitCode, 2);
  r = tutti(zkUrl, {"framework", "teardown"});
  EXPECT_EQ(r.exitCode, 2) << r.output;

  // Acting: teardown kills the task.
  r = tutti(standbyAddress, {"framework", "teardown", fwId});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  r = tutti(zkUrl, {"--all", "framework", "list"});
  EXPECT_NE(r.output.find("completed"), std::string::npos) << r.output;
  r = tutti(zkUrl, {"task", "list", "--all"});
  EXPECT_NE(r.output.find("TASK_KILLED"), std::string::npos) << r.output;
  driver.stop();
  driver.join();
}

TEST(CliTest, WithoutALeaderSaysSo) {
  ZooKeeperServer zk;
  zk.start();
  auto r = tutti(zk.url("/nobody"), {"--timeout=500ms", "agent", "list"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.output.find("No leading master"), std::string::npos) << r.output;
}

TEST(CliTableTest, AlignsColumnsAndFormatsNumbers) {
  cli::Table t({"ID", "NAME"});
  t.add({"a-long-id", "x"});
  t.add({"b"});
  std::ostringstream out;
  t.print(out);
  EXPECT_EQ(out.str(), "ID         NAME\na-long-id  x\nb          \n");
  EXPECT_EQ(cli::formatNumber(2), "2");
  EXPECT_EQ(cli::formatNumber(1.5), "1.5");
  EXPECT_EQ(cli::formatNumber(0.1254), "0.125");
  EXPECT_EQ(cli::formatNumber(-0.0001), "0");
}

// tutti-local runs a master and agents in one process: when one of them
// cannot go on (here an agent whose checkpoint says other resources), the
// whole process stops and says why instead of waiting forever.
TEST(LocalTest, StopsAndSaysWhyWhenAnAgentCannotRecover) {
  TempDir dir;
  int http = freePort();
  int messages = freePort();
  auto args = [&](const std::string& resources) {
    return std::vector<std::string>{binary("tutti-local"), "--num_agents=1",
                                    "--port=" + std::to_string(http),
                                    "--message_port=" + std::to_string(messages),
                                    "--work_dir=" + dir.path(), "--resources=" + resources};
  };
  {
    ProcessHandle local = startProcess(args("cpus:1;mem:512;disk:100"), dir.path() + "/first.log");
    ASSERT_TRUE(waitUntil([&] {
      auto r = httpGet("127.0.0.1", http, "/master/slaves");
      return r.ok() && r->second.find("\"active\":true") != std::string::npos &&
             std::filesystem::exists(dir.path() + "/agent-0/meta/agent");
    })) << local.log();
    local.stop(SIGKILL);
  }
  auto r = runCommand(args("cpus:2;mem:512;disk:100"), std::chrono::seconds(30));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("tutti-local: agent 0: the agent's resources changed"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace tutti::testing
