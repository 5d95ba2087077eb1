// Integration: tutti-batch against the real tutti-master, tutti-agent and
// tutti-executor binaries on loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "common/files.hpp"
#include "tests/fixtures/image_registry.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/zookeeper_server.hpp"

namespace tutti::testing {
namespace {

std::vector<std::string> readLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The last --json line of `type` in `output`.
nlohmann::json lastJson(const std::string& output, const std::string& type) {
  nlohmann::json last;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("type", "") == type) last = j;
  }
  return last;
}

class BatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_ = startMasterProcess(dir_.path());
    agent_ = startAgentProcess(master_, dir_.path());
  }

  std::string writeJob(const std::string& name, const std::string& json) {
    std::string path = dir_.path() + "/" + name + ".json";
    EXPECT_TRUE(writeFileAtomically(path, json, false).ok());
    return path;
  }

  std::vector<std::string> batch(const std::string& job, std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {binary("tutti-batch"), "run", job,
                                     "--master=" + master_.address()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return argv;
  }

  TempDir dir_;
  MasterProcess master_;
  AgentProcess agent_;
};

TEST_F(BatchTest, DagJobRunsStagesInDependencyOrderAndSucceeds) {
  std::string log = dir_.path() + "/order";
  std::string cmd = "echo $TUTTI_STAGE $TUTTI_TASK_INDEX >> " + log;
  auto job = writeJob("dag", R"({"name": "dag", "stages": [
    {"name": "last", "command": ")" + cmd + R"(", "depends_on": ["left", "right"]},
    {"name": "left", "command": ")" + cmd + R"(", "count": 3, "depends_on": ["first"]},
    {"name": "right", "command": ")" + cmd + R"(", "count": 2, "depends_on": ["first"],
     "parallelism": 1},
    {"name": "first", "command": ")" + cmd + R"(", "count": 4}]})");
  auto r = runCommand(batch(job, {"--json"}), std::chrono::seconds(120));
  ASSERT_EQ(r.exitCode, 0) << r.output;

  auto lines = readLines(log);
  ASSERT_EQ(lines.size(), 10u) << r.output;
  auto rank = [](const std::string& line) {
    if (line.rfind("first ", 0) == 0) return 0;
    if (line.rfind("last ", 0) == 0) return 2;
    return 1;
  };
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_LE(rank(lines[i - 1]), rank(lines[i])) << lines[i - 1] << " then " << lines[i];
  }
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), 10u);  // every index of every stage, once
  EXPECT_TRUE(unique.count("left 2"));

  auto summary = lastJson(r.output, "summary");
  ASSERT_TRUE(summary.is_object()) << r.output;
  EXPECT_EQ(summary["status"], "SUCCEEDED");
  ASSERT_EQ(summary["stages"].size(), 4u);
  EXPECT_EQ(summary["stages"][0]["name"], "first");
  EXPECT_EQ(summary["stages"][0]["done"], 4);
  EXPECT_EQ(summary["stages"][3]["name"], "last");
  EXPECT_EQ(summary["retries"], 0);
  // Every task ran exactly once (no stray launches).
  auto metrics = getJson(master_.httpPort, "/metrics/snapshot");
  EXPECT_EQ(metrics["master/tasks_finished"], 10.0);
}

TEST_F(BatchTest, FailingTaskIsRetriedWithBackoffThenSucceeds) {
  auto job = writeJob("flaky", R"({"name": "flaky", "stages": [
    {"name": "flaky", "command": "echo attempt $TUTTI_ATTEMPT; [ $TUTTI_ATTEMPT -ge 3 ]",
     "retries": 3, "backoff": "100ms"},
    {"name": "after", "command": "true", "depends_on": ["flaky"]}]})");
  auto r = runCommand(batch(job), std::chrono::seconds(120));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("Job flaky SUCCEEDED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 retries"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("slowest tasks:"), std::string::npos) << r.output;
  auto metrics = getJson(master_.httpPort, "/metrics/snapshot");
  EXPECT_EQ(metrics["master/tasks_failed"], 2.0);
  EXPECT_EQ(metrics["master/tasks_finished"], 2.0);
}

TEST_F(BatchTest, TaskThatExhaustsItsRetriesFailsTheJob) {
  std::string marker = dir_.path() + "/never";
  auto job = writeJob("failing", R"({"name": "failing", "stages": [
    {"name": "bad", "command": "exit 3", "retries": 1, "backoff": "100ms"},
    {"name": "never", "command": "touch )" + marker + R"(", "depends_on": ["bad"]}]})");
  auto r = runCommand(batch(job), std::chrono::seconds(120));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("Job failing FAILED"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bad.0.2 failed after 2 attempt(s)"), std::string::npos) << r.output;
  EXPECT_FALSE(readFile(marker).ok()) << "a stage after the failed one ran";
}

TEST_F(BatchTest, TaskOverItsTimeoutIsKilledAndFailsTheJob) {
  auto job = writeJob("slow", R"({"name": "slow", "stages": [
    {"name": "sleeper", "command": "sleep 600", "timeout": "1secs"}]})");
  auto r = runCommand(batch(job), std::chrono::seconds(120));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("timed out"), std::string::npos) << r.output;
}

TEST_F(BatchTest, CycleAndMalformedJobsAreRejectedBeforeAnythingRuns) {
  auto cyclic = writeJob("cycle", R"({"stages": [
    {"name": "a", "command": "true", "depends_on": ["c"]},
    {"name": "b", "command": "true", "depends_on": ["a"]},
    {"name": "c", "command": "true", "depends_on": ["b"]}]})");
  auto r = runCommand(batch(cyclic));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("form a cycle (among 'a', 'b', 'c')"), std::string::npos) << r.output;

  auto malformed = writeJob("malformed", R"({"stages": [{"name": "a", "command": 3}]})");
  r = runCommand(batch(malformed));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("'command' must be a string"), std::string::npos) << r.output;

  r = runCommand(batch(dir_.path() + "/missing.json"));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("cannot read the job file"), std::string::npos) << r.output;

  auto state = getJson(master_.httpPort, "/state");
  EXPECT_TRUE(state["frameworks"].empty()) << state.dump();
  EXPECT_TRUE(state["completed_frameworks"].empty()) << state.dump();
}

TEST_F(BatchTest, RestartedWithItsStateDirItDoesNotRerunSucceededTasks) {
  std::string runs = dir_.path() + "/runs";
  std::string release = dir_.path() + "/release";
  std::string stateDir = dir_.path() + "/state";
  auto job = writeJob("resume", R"({"name": "resume", "stages": [
    {"name": "a", "command": "echo a $TUTTI_TASK_INDEX >> )" + runs + R"(", "count": 3},
    {"name": "b", "command": "echo b start >> )" + runs + "; while [ ! -f " + release +
                                     R"( ]; do sleep 0.05; done", "depends_on": ["a"]}]})");
  ProcessHandle first = startProcess(batch(job, {"--state_dir=" + stateDir, "--json",
                                                 "--port=0"}),
                                     dir_.path() + "/first.log");
  // b runs (so every a succeeded and was checkpointed).
  ASSERT_TRUE(waitUntil([&] {
    auto lines = readLines(runs);
    return std::count(lines.begin(), lines.end(), "b start") == 1;
  }, std::chrono::seconds(60))) << first.log();

  // The status page serves the same progress as JSON.
  std::smatch m;
  std::string log = first.log();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("http://127.0.0.1:(\\d+)/status"))) << log;
  ASSERT_TRUE(waitUntil([&] {
    auto status = getJson(std::stoi(m[1]), "/status");
    return status.is_object() && status["stages"][1]["running"] == 1;
  }));
  auto status = getJson(std::stoi(m[1]), "/status");
  EXPECT_EQ(status["job"], "resume");
  EXPECT_EQ(status["stages"][0]["done"], 3);

  // Killed without a chance to clean up; b keeps running (failover timeout).
  ASSERT_NE(first.stop(SIGKILL), -1);
  auto checkpoint = nlohmann::json::parse(*readFile(stateDir + "/state.json"));
  EXPECT_EQ(checkpoint["succeeded"].size(), 3u) << checkpoint.dump();
  EXPECT_FALSE(checkpoint["framework_id"].get<std::string>().empty());

  auto second = runCommand(batch(job, {"--state_dir=" + stateDir}), std::chrono::seconds(5));
  // Not yet released: the restarted run adopts b and waits for it.
  EXPECT_EQ(second.exitCode, -1) << second.output;
  EXPECT_NE(second.output.find("Resuming framework " +
                               checkpoint["framework_id"].get<std::string>()),
            std::string::npos)
      << second.output;
  ASSERT_TRUE(writeFileAtomically(release, "", false).ok());
  auto third = runCommand(batch(job, {"--state_dir=" + stateDir}), std::chrono::seconds(60));
  EXPECT_EQ(third.exitCode, 0) << third.output;

  auto lines = readLines(runs);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "b start"), 1) << "b ran again";
  EXPECT_EQ(lines.size(), 4u) << "an a task ran again";
}

TEST_F(BatchTest, WordcountEqualsSortUniqC) {
  std::string example = std::string(TUTTI_BATCH_EXAMPLES_DIR) + "/wordcount";
  std::string work = dir_.path() + "/wc";
  // run.sh generates the corpus, runs the job and compares with sort | uniq -c.
  auto r = runCommand({"/usr/bin/env", "TUTTI_BATCH=" + binary("tutti-batch"),
                       example + "/run.sh", master_.address(), work, "1", "4", "3"},
                      std::chrono::seconds(120));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("wordcount: OK"), std::string::npos) << r.output;
  // And independently of run.sh's own check:
  auto expected = runCommand({"/bin/sh", "-c",
                              "tr -cs 'A-Za-z' '\\n' < " + work + "/corpus.txt | tr A-Z a-z | "
                              "grep -v '^$' | LC_ALL=C sort | uniq -c | awk '{print $1, $2}'"});
  ASSERT_EQ(expected.exitCode, 0);
  auto result = readFile(work + "/result.txt");
  ASSERT_TRUE(result.ok());
  EXPECT_GT(result->size(), 1000u);
  EXPECT_TRUE(*result == expected.output) << "the job's counts differ from sort | uniq -c";
}

// Stages may run from an OCI image pulled from a registry: the tasks see the
// image's filesystem (its /etc/os-release, not the host's); an image that
// does not exist fails the job with a message naming it.
TEST_F(BatchTest, StagesRunFromAnImageAndABadImageFailsTheJob) {
  std::string missing = imageToolsMissing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  Status s = buildTestImage(dir_.path() + "/layout", "latest");
  ASSERT_TRUE(s.ok()) << s;
  RegistryServer registry(dir_.path() + "/image-registry");
  ASSERT_TRUE(registry.ok()) << registry.error();
  s = registry.push(dir_.path() + "/layout", "latest", "busybox:latest");
  ASSERT_TRUE(s.ok()) << s;
  std::string image = registry.address() + "/busybox:latest";

  auto job = writeJob("image", R"({"name": "image", "stages": [
    {"name": "inside", "image": ")" + image + R"(", "count": 2,
     "command": "grep -q ID=tuttitest /etc/os-release && echo $TUTTI_TASK_INDEX > /mnt/tutti/sandbox/out"},
    {"name": "defaults", "image": ")" + image + R"(", "depends_on": ["inside"]}]})");
  auto r = runCommand(batch(job), std::chrono::seconds(180));
  ASSERT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("Job image SUCCEEDED"), std::string::npos) << r.output;

  auto bad = writeJob("bad-image", R"({"name": "bad-image", "stages": [
    {"name": "nope", "image": ")" + registry.address() + R"(/no/such:image", "command": "true",
     "retries": 0}]})");
  r = runCommand(batch(bad), std::chrono::seconds(180));
  EXPECT_EQ(r.exitCode, 1) << r.output;
  EXPECT_NE(r.output.find("no/such"), std::string::npos) << r.output;
}

// Two masters elected through ZooKeeper; the leader dies while a stage runs.
// tutti-batch follows the new leader, re-subscribes, reconciles, and finishes
// the job without running anything twice.
TEST(BatchFailoverTest, MasterFailoverMidJobReconcilesAndRunsNothingTwice) {
  TempDir dir;
  ZooKeeperServer zk;
  zk.start();
  std::vector<MasterProcess> masters;
  for (int i = 0; i < 2; ++i) {
    std::string masterDir = dir.path() + "/m" + std::to_string(i);
    ASSERT_EQ(::mkdir(masterDir.c_str(), 0755), 0);
    masters.push_back(startMasterProcess(
        masterDir,
        {"--zk=" + zk.url("/tutti"), "--zk_session_timeout=2secs"}));
  }
  auto leader = [&]() -> int {
    for (size_t i = 0; i < masters.size(); ++i) {
      if (masters[i].process.alive() && isElectedLeader(masters[i])) return static_cast<int>(i);
    }
    return -1;
  };
  ASSERT_TRUE(waitUntil([&] { return leader() >= 0; }));

  // The agent follows the leader through ZooKeeper.
  AgentProcess agent = startAgentProcess(zk.url("/tutti"), dir.path(),
                                         {"--zk_session_timeout=2secs"});
  ASSERT_TRUE(agent.process.alive());

  std::string runs = dir.path() + "/runs";
  std::string release = dir.path() + "/release";
  std::string job = dir.path() + "/job.json";
  ASSERT_TRUE(writeFileAtomically(job, R"({"name": "failover", "stages": [
    {"name": "a", "command": "echo a $TUTTI_TASK_INDEX >> )" + runs + R"(", "count": 3},
    {"name": "b", "command": "echo b start >> )" + runs + "; while [ ! -f " + release +
                                           R"( ]; do sleep 0.05; done", "depends_on": ["a"]}]})",
                                  false)
                  .ok());
  ProcessHandle batch = startProcess(
      {binary("tutti-batch"), "run", job, "--master=" + zk.url("/tutti"), "--json"},
      dir.path() + "/batch.log");
  ASSERT_TRUE(waitUntil([&] {
    auto lines = readLines(runs);
    return std::count(lines.begin(), lines.end(), "b start") == 1;
  }, std::chrono::seconds(60))) << batch.log();

  int old = leader();
  ASSERT_GE(old, 0);
  ASSERT_NE(masters[old].process.stop(SIGKILL), -1);
  ASSERT_TRUE(waitUntil([&] { return leader() >= 0; }, std::chrono::seconds(30)));
  int next = leader();
  EXPECT_NE(next, old);

  // The new leader knows b's task again, from the agent and the re-subscribed framework.
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(masters[next].httpPort, "/master/state");
    if (!state.is_object() || state["frameworks"].size() != 1) return false;
    const auto& fw = state["frameworks"][0];
    return fw.value("active", false) && fw["tasks"].size() == 1 &&
           fw["tasks"][0].value("state", "") == "TASK_RUNNING";
  }, std::chrono::seconds(30))) << batch.log() << masters[next].process.log();
  // It reconciled with the new leader: explicitly (b's attempt, with its agent)
  // and implicitly.
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(masters[next].httpPort, "/metrics/snapshot");
    return m.is_object() && m.value("master/messages_reconcile_tasks", 0.0) >= 2;
  })) << batch.log();

  ASSERT_TRUE(writeFileAtomically(release, "", false).ok());
  ASSERT_TRUE(waitUntil([&] { return !batch.alive(); }, std::chrono::seconds(60))) << batch.log();
  ASSERT_TRUE(batch.exitStatus().has_value());
  EXPECT_TRUE(WIFEXITED(*batch.exitStatus()) && WEXITSTATUS(*batch.exitStatus()) == 0)
      << batch.log();
  EXPECT_EQ(lastJson(batch.log(), "summary").value("status", ""), "SUCCEEDED") << batch.log();

  auto lines = readLines(runs);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "b start"), 1) << "b ran again";
  EXPECT_EQ(lines.size(), 4u) << "an a task ran again";
}

}  // namespace
}  // namespace tutti::testing
