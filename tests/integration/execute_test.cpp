// Integration: the real tutti-master, tutti-agent, tutti-executor and
// tutti-execute binaries on loopback.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/http.hpp"
#include "common/process.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::testing {
namespace {

class ExecuteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = startMasterProcess(dir_.path());
    agent_ = startAgentProcess(master_, dir_.path());
  }

  std::vector<std::string> execute(std::vector<std::string> flags) {
    std::vector<std::string> argv = {binary("tutti-execute"), "--master=" + master_.address()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  // The sandbox directory of the executor that ran `taskId`.
  std::string sandboxOf(const std::string& taskId) {
    auto state = getJson(agent_.httpPort, "/state");
    for (const char* key : {"frameworks", "completed_frameworks"}) {
      for (const auto& fw : state[key]) {
        for (const char* ekey : {"executors", "completed_executors"}) {
          for (const auto& ex : fw[ekey]) {
            if (ex["id"] == taskId) return ex["directory"];
          }
        }
      }
    }
    return "";
  }

  TempDir dir_;
  MasterProcess master_;
  AgentProcess agent_;
};

TEST_F(ExecuteTest, ExitsWithTheCommandsStatusAndKeepsItsOutputInTheSandbox) {
  auto r = runCommand(execute({"--name=echo", "--command=echo hello; exit 3"}));
  EXPECT_EQ(r.exitCode, 3) << r.output;
  EXPECT_NE(r.output.find("TASK_RUNNING"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TASK_FAILED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exited with status 3"), std::string::npos) << r.output;

  std::string sandbox = sandboxOf("echo");
  ASSERT_FALSE(sandbox.empty());
  auto file = getJson(agent_.httpPort, "/files/read?path=" + sandbox + "/stdout&offset=0");
  ASSERT_TRUE(file.is_object());
  EXPECT_EQ(file["data"], "hello\n");
  EXPECT_EQ(file["offset"], 0);
  auto size = getJson(agent_.httpPort, "/files/read?path=" + sandbox + "/stdout&offset=-1");
  EXPECT_EQ(size["offset"], 6);

  // Nothing outside a sandbox can be read.
  for (std::string path : {sandbox + "/../../../../../../../../etc/passwd", std::string("/etc/passwd"),
                           sandbox + "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"}) {
    auto res = httpGet("127.0.0.1", agent_.httpPort, "/files/read?path=" + path);
    ASSERT_TRUE(res.ok());
    EXPECT_TRUE(res->first == 403 || res->first == 404) << path << " gave " << res->first;
    EXPECT_EQ(res->second.find("root:"), std::string::npos);
  }
  auto missing = httpGet("127.0.0.1", agent_.httpPort, "/files/read?path=" + sandbox + "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->first, 404);
  for (const char* offset : {"x", "5%00", "%2B5", "%205", "5x", ""}) {
    auto bad = httpGet("127.0.0.1", agent_.httpPort,
                       "/files/read?path=" + sandbox + "/stdout&offset=" + offset);
    ASSERT_TRUE(bad.ok());
    EXPECT_EQ(bad->first, 400) << "offset=" << offset;
  }

  // A FIFO a task makes in its sandbox is refused at once: opening it to
  // read once blocked the agent's HTTP threads until someone wrote to it.
  ASSERT_EQ(::mkfifo((sandbox + "/fifo").c_str(), 0644), 0) << std::strerror(errno);
  for (int i = 0; i < 6; ++i) {  // more requests than the agent has HTTP threads
    for (const char* endpoint : {"/files/read?path=", "/files/download?path="}) {
      auto fifo = httpGet("127.0.0.1", agent_.httpPort, endpoint + sandbox + "/fifo");
      ASSERT_TRUE(fifo.ok());
      EXPECT_EQ(fifo->first, 400) << fifo->second;
    }
  }
  // Downloads stream the whole file, however large (they were cut at 256
  // MiB, read whole into memory first): a sparse 300 MiB file.
  const uint64_t big = 300ull << 20;
  ASSERT_EQ(::truncate((sandbox + "/stdout").c_str(), static_cast<off_t>(big)), 0);
  httplib::Client client("127.0.0.1", agent_.httpPort);
  uint64_t received = 0;
  auto download = client.Get(("/files/download?path=" + sandbox + "/stdout").c_str(),
                             [&](const char*, size_t n) {
                               received += n;
                               return true;
                             });
  ASSERT_TRUE(download);
  EXPECT_EQ(download->status, 200);
  EXPECT_EQ(download->get_header_value("Content-Length"), std::to_string(big));
  EXPECT_EQ(received, big);
}

size_t countOf(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    ++n;
  }
  return n;
}

// --role takes unreserved resources as well as the role's own (it once
// asked for resources reserved for the role only, and waited forever).
TEST_F(ExecuteTest, ARoleRunsOnUnreservedResources) {
  auto r = runCommand(execute({"--name=roled", "--command=true", "--role=eng"}),
                      std::chrono::seconds(60));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("TASK_FINISHED"), std::string::npos) << r.output;
}

TEST_F(ExecuteTest, HundredInstancesAllFinish) {
  auto r = runCommand(execute({"--name=many", "--command=true", "--instances=100"}),
                      std::chrono::seconds(120));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  size_t finished = 0;
  for (size_t pos = r.output.find("TASK_FINISHED"); pos != std::string::npos;
       pos = r.output.find("TASK_FINISHED", pos + 1)) {
    ++finished;
  }
  EXPECT_EQ(finished, 100u) << r.output;

  auto metrics = getJson(master_.httpPort, "/metrics/snapshot");
  EXPECT_EQ(metrics["master/tasks_finished"], 100.0);
  EXPECT_EQ(metrics["master/tasks_running"], 0.0);
  EXPECT_EQ(metrics["master/tasks_staging"], 0.0);
}

TEST_F(ExecuteTest, AGroupRunsTogetherAndEndsTogether) {
  // Every instance finishes: exit 0, all under one default executor.
  std::string sandboxes = dir_.path() + "/sandboxes";
  auto ok = runCommand(execute({"--name=pod", "--command=echo $MESOS_SANDBOX >> " + sandboxes,
                                "--instances=3", "--group"}),
                       std::chrono::seconds(60));
  EXPECT_EQ(ok.exitCode, 0) << ok.output;
  EXPECT_EQ(countOf(ok.output, "is in TASK_FINISHED"), 3u) << ok.output;
  // Each in its own sandbox inside the one executor's.
  auto lines = readFile(sandboxes);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(countOf(*lines, "/executors/pod/runs/"), 3u) << *lines;
  for (const char* id : {"pod-0", "pod-1", "pod-2"}) {
    EXPECT_NE(lines->find("/tasks/" + std::string(id) + "\n"), std::string::npos) << *lines;
  }
  // One fails: the others (which would run forever) are killed, exit 1.
  auto bad = runCommand(
      execute({"--name=bad", "--instances=3", "--group",
               "--command=if [ \"$TUTTI_TASK_ID\" = bad-1 ]; then exit 3; fi; exec sleep 1000"}),
      std::chrono::seconds(60));
  EXPECT_EQ(bad.exitCode, 1) << bad.output;
  EXPECT_EQ(countOf(bad.output, "is in TASK_FAILED"), 1u) << bad.output;
  EXPECT_EQ(countOf(bad.output, "is in TASK_KILLED: Task bad-1 of its group ended TASK_FAILED"),
            2u)
      << bad.output;
  // With an image it is refused before anything runs.
  auto image = runCommand(execute({"--name=img", "--docker_image=busybox", "--group"}),
                          std::chrono::seconds(30));
  EXPECT_EQ(image.exitCode, 1);
  EXPECT_NE(image.output.find("--group runs the tasks on the host"), std::string::npos)
      << image.output;
}

TEST_F(ExecuteTest, SignalKillsTheTaskAndNoProcessOfItRemains) {
  std::string pids = dir_.path() + "/pids";
  // The task leaves a background child too: the kill must take the group.
  std::string command = "sleep 1000 & echo $! >> " + pids + "; echo $$ >> " + pids + "; wait";
  ProcessHandle p = startProcess(execute({"--name=sleeper", "--command=" + command}),
                                 dir_.path() + "/execute.log");
  ASSERT_TRUE(waitUntil([&] { return p.log().find("TASK_RUNNING") != std::string::npos; }))
      << p.log();
  ASSERT_TRUE(waitUntil([&] {
    std::ifstream in(pids);
    std::string a, b;
    return static_cast<bool>(in >> a >> b);
  }));
  std::vector<pid_t> taskPids;
  {
    std::ifstream in(pids);
    pid_t x;
    while (in >> x) taskPids.push_back(x);
  }
  ASSERT_EQ(taskPids.size(), 2u);
  for (pid_t x : taskPids) EXPECT_TRUE(processExists(x)) << x;

  int status = p.stop(SIGTERM, std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "tutti-execute did not exit after SIGTERM";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 143);  // the command ended by SIGTERM
  std::string out = p.log();
  EXPECT_NE(out.find("TASK_KILLED"), std::string::npos) << out;
  EXPECT_TRUE(waitUntil([&] {
    for (pid_t x : taskPids) {
      if (processExists(x)) return false;
    }
    return true;
  })) << "a process of the killed task is still alive";
}

TEST_F(ExecuteTest, TaskLargerThanAnyAgentWaitsAndCanBeInterrupted) {
  ProcessHandle p = startProcess(execute({"--name=huge", "--command=true",
                                          "--resources=cpus:64;mem:32"}),
                                 dir_.path() + "/huge.log");
  ASSERT_TRUE(waitUntil([&] { return p.log().find("Waiting for an offer") != std::string::npos; },
                        std::chrono::seconds(60)))
      << p.log();
  int status = p.stop(SIGINT, std::chrono::seconds(10));
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(BinariesTest, FlagsAreCheckedAndDocumented) {
  auto bad = runCommand({binary("tutti-master"), "--port=abc"});
  EXPECT_EQ(bad.exitCode, 1);
  auto badDuration = runCommand({binary("tutti-master"), "--agent_ping_timeout=5parsecs"});
  EXPECT_EQ(badDuration.exitCode, 1);
  EXPECT_NE(badDuration.output.find("Invalid duration"), std::string::npos) << badDuration.output;
  auto badResources = runCommand({binary("tutti-agent"), "--master=127.0.0.1:1",
                                  "--work_dir=/tmp/x", "--resources=cpus:-1"});
  EXPECT_EQ(badResources.exitCode, 1);
  EXPECT_NE(badResources.output.find("--resources"), std::string::npos) << badResources.output;
  auto unknown = runCommand({binary("tutti-agent"), "--no_such_flag=1"});
  EXPECT_EQ(unknown.exitCode, 1);

  for (auto [bin, flag] : {std::pair{"tutti-master", "--message_port=6050"},
                           {"tutti-agent", "--work_dir="},
                           {"tutti-execute", "--instances=1"}}) {
    auto help = runCommand({binary(bin), "--help"});
    EXPECT_EQ(help.exitCode, 0) << bin;
    EXPECT_NE(help.output.find(flag), std::string::npos) << bin << ":\n" << help.output;
  }
}

}  // namespace
}  // namespace tutti::testing
