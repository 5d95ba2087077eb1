// Unit tests for agent::Agent (DESIGN §8, docs/architecture.md "The agent")
// and for the built-in command executor (agent/executor/).
//
// The agent runs on a Loop over a ManualClock, with FakeTransports standing
// for the master connection and for the executors' ROUTER. Executors are real
// processes: `tutti-executor` in options.launcherDir is a small shell script
// (it `exec`s `sleep`), started by the agent's AsyncLauncher on its worker
// thread and watched through pidfds; tests wait for those results with
// waitUntil() (bounded polling of the loop) and play the executor's side of
// the protocol by injecting calls from a fake connection id. Time moves only
// through ManualClock::advance().
//
// Tests named *Bug* once showed bugs found in review; they guard the fixes.
#include "agent/agent.hpp"
#include "agent/containerizer/cgroups.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/process.hpp"
#include "common/wire.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/fake_transport.hpp"
#include "tests/fixtures/reaper.hpp"
#include "tutti/executor.hpp"
#include "agent/executor/command_executor.hpp"

namespace tutti {

// Readable gtest output for enums (found by ADL; internal linkage).
[[maybe_unused]] static void PrintTo(TaskState s, std::ostream* os) { *os << toString(s); }
[[maybe_unused]] static void PrintTo(Reason r, std::ostream* os) { *os << toString(r); }

namespace agent {
[[maybe_unused]] static void PrintTo(AgentState s, std::ostream* os) { *os << toString(s); }
[[maybe_unused]] static void PrintTo(ExecutorState s, std::ostream* os) { *os << toString(s); }

namespace {

namespace fs = std::filesystem;
using ::tutti::testing::FakeTransport;
using ::tutti::testing::TempDir;


const AgentID kAgent("agent-1");
const FrameworkID kFw("fw-1");
const char kExecutorEndpoint[] = "tcp://127.0.0.1:16051";

Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

// A 16-byte status update uuid, distinct per `n`.
std::string uuid(int n) {
  std::string u(16, 'u');
  u[14] = static_cast<char>(n / 256);
  u[15] = static_cast<char>(n % 256);
  return u;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool killedBy(const std::optional<int>& status, int signal) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == signal;
}

// Polls `condition` every few milliseconds of real time, without running any
// loop, until it holds or `timeout` passes.
bool pollFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

FrameworkInfo frameworkInfo(const FrameworkID& id = kFw,
                            std::vector<FrameworkCapability> capabilities = {}) {
  FrameworkInfo f;
  f.user = "tester";
  f.name = "framework " + id.value;
  f.id = id;
  f.capabilities = std::move(capabilities);
  return f;
}

TaskInfo commandTask(const std::string& id, const std::string& command = "sleep 1000") {
  TaskInfo t;
  t.name = "task " + id;
  t.taskId = TaskID(id);
  t.agentId = kAgent;
  t.resources = res("cpus:0.1;mem:32");
  CommandInfo c;
  c.value = command;
  t.command = c;
  return t;
}

// A task for the custom executor `executorId` (a shell that execs sleep).
TaskInfo customTask(const std::string& id, const std::string& executorId,
                    const FrameworkID& fw = kFw) {
  TaskInfo t = commandTask(id);
  t.command.reset();
  ExecutorInfo e;
  e.executorId = ExecutorID(executorId);
  e.frameworkId = fw;
  e.name = "custom executor " + executorId;
  CommandInfo c;
  c.shell = true;
  c.value = "exec sleep 1000";
  e.command = c;
  e.resources = res("cpus:0.1;mem:32");
  t.executor = e;
  return t;
}

TaskStatus executorStatus(const std::string& task, TaskState state, int uuidNumber,
                          const std::string& executorId = "") {
  TaskStatus s;
  s.taskId = TaskID(task);
  s.state = state;
  s.source = Source::SOURCE_EXECUTOR;
  s.uuid = uuid(uuidNumber);
  s.executorId = ExecutorID(executorId.empty() ? task : executorId);
  s.message = std::string(toString(state)) + " from the executor";
  return s;
}

// ---------------------------------------------------------------------------

class AgentTest : public ::testing::Test {
 protected:
  AgentTest()
      : loop_(clock_),
        master_(loop_, metrics_, "slave"),
        executors_(loop_, metrics_, "slave/executors") {}

  void SetUp() override {
    loop_.adoptCurrentThread();
    ASSERT_FALSE(dir_.path().empty());
    binDir_ = dir_.path() + "/bin";
    workDir_ = dir_.path() + "/work";
    fs::create_directories(binDir_);
    fs::create_directories(workDir_);
    // Records its environment, then becomes a long sleep in the same process.
    writeExecutorScript("env > executor.env\nexec sleep 1000\n");

    options_.master = "127.0.0.1:5050";
    options_.workDir = workDir_;
    options_.launcherDir = binDir_;
    options_.registrationBackoffFactor = 1s;
    options_.executorRegistrationTimeout = 1min;
    options_.executorShutdownGracePeriod = 5s;
    options_.executorHeartbeatInterval = 5s;
    options_.statusUpdateRetryIntervalMin = 10s;
    options_.statusUpdateRetryIntervalMax = 10min;

    info_.hostname = "agent-host";
    info_.port = 5051;
    info_.resources = res("cpus:4;mem:4096;disk:4096;ports:[31000-31100]");
  }

  void TearDown() override {
    agent_.reset();
    // Executors (and whatever they started) of this test.
    ::tutti::testing::killAllDescendants();
  }

  void writeExecutorScript(const std::string& body) {
    std::string path = binDir_ + "/tutti-executor";
    {
      std::ofstream out(path, std::ios::trunc);
      out << "#!/bin/sh\n" << body;
    }
    ::chmod(path.c_str(), 0755);
  }

  void makeAgent() {
    agent_ = std::make_unique<Agent>(options_, info_, kExecutorEndpoint, loop_, master_, executors_,
                                     metrics_,
                                     [this](const std::string& why) { fatal_.push_back(why); });
  }
  void startAgent() {
    makeAgent();
    agent_->start();
    loop_.settle();
  }
  // Starts the agent and accepts its registration. The default ping timeout
  // is long enough that no test hits the master-silence watchdog by accident.
  void registerAgent(Duration pingTimeout = std::chrono::hours(1)) {
    startAgent();
    master_.inject("", wire::AgentRegisteredMessage{kAgent, pingTimeout});
    loop_.settle();
    ASSERT_EQ(agent_->state(), AgentState::kRegistered);
    master_.clear();
  }

  void settle() { loop_.settle(); }
  void advance(Duration d) {
    clock_.advance(d);
    loop_.settle();
  }

  // Runs the loop (waiting up to 10ms of real time per round for I/O and
  // posted launcher results) until `condition` holds or `timeout` passes.
  bool waitUntil(const std::function<bool()>& condition,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    loop_.settle();
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop_.runOnce(10ms);
    }
    return true;
  }

  const FrameworkEntry* framework(const FrameworkID& id = kFw) {
    auto it = agent_->frameworks().find(id);
    return it == agent_->frameworks().end() ? nullptr : &it->second;
  }
  const ExecutorRecord* executor(const std::string& id, const FrameworkID& fw = kFw) {
    const FrameworkEntry* f = framework(fw);
    if (!f) return nullptr;
    auto it = f->executors.find(ExecutorID(id));
    return it == f->executors.end() ? nullptr : &it->second;
  }
  // The latest completed record of executor `id` (in a running or a
  // completed framework).
  const ExecutorRecord* completedExecutor(const std::string& id, const FrameworkID& fw = kFw) {
    const ExecutorRecord* found = nullptr;
    auto look = [&](const FrameworkEntry& f) {
      for (const auto& e : f.completedExecutors) {
        if (e.id == ExecutorID(id) && e.frameworkId == fw) found = &e;
      }
    };
    for (const auto& f : agent_->completedFrameworks()) look(f);
    if (const FrameworkEntry* f = framework(fw)) look(*f);
    return found;
  }

  bool waitForPid(const std::string& executorId, const FrameworkID& fw = kFw) {
    return waitUntil([&] {
      const ExecutorRecord* e = executor(executorId, fw);
      return e && e->pid > 0;
    });
  }
  // Until the agent has seen the executor's process end.
  bool waitForExit(const std::string& executorId, const FrameworkID& fw = kFw) {
    return waitUntil([&] { return executor(executorId, fw) == nullptr; });
  }

  void runTask(const TaskInfo& task, const FrameworkInfo& fw = frameworkInfo(),
               const AgentID& agent = kAgent) {
    master_.inject("", wire::RunTaskMessage{fw, task, agent});
    loop_.settle();
  }
  void killTask(const std::string& task, const FrameworkID& fw = kFw,
                std::optional<KillPolicy> policy = std::nullopt) {
    master_.inject("", wire::KillTaskMessage{fw, TaskID(task), kAgent, policy});
    loop_.settle();
  }
  void ackFromMaster(const std::string& task, const std::string& uuidBytes,
                     const FrameworkID& fw = kFw) {
    master_.inject("", wire::StatusUpdateAckMessage{kAgent, fw, TaskID(task), uuidBytes});
    loop_.settle();
  }
  void subscribe(const ConnectionId& conn, const std::string& executorId,
                 const FrameworkID& fw = kFw, std::vector<TaskStatus> unacknowledged = {}) {
    executors_.inject(conn,
                      wire::ExecutorSubscribeCall{fw, ExecutorID(executorId), {}, unacknowledged});
    loop_.settle();
  }
  void executorUpdate(const ConnectionId& conn, const std::string& executorId,
                      const TaskStatus& status, const FrameworkID& fw = kFw) {
    executors_.inject(conn, wire::ExecutorUpdateCall{fw, ExecutorID(executorId), status});
    loop_.settle();
  }
  // Runs command task `id`, waits for its executor's process and subscribes
  // it from `conn`. Returns the executor's pid (0 on failure).
  pid_t launchRunning(const std::string& id, const ConnectionId& conn,
                      const FrameworkInfo& fw = frameworkInfo()) {
    runTask(commandTask(id), fw);
    if (!waitForPid(id, *fw.id)) return 0;
    subscribe(conn, id, *fw.id);
    const ExecutorRecord* e = executor(id, *fw.id);
    if (!e || e->state != ExecutorState::kRunning) return 0;
    return e->pid;
  }

  std::vector<wire::StatusUpdateMessage> updatesToMaster() {
    return master_.take<wire::StatusUpdateMessage>();
  }
  int64_t invalidExecutorCalls() { return metrics_.counter("slave/invalid_executor_calls").value(); }

  ManualClock clock_;
  Loop loop_;
  Metrics metrics_;
  FakeTransport master_;
  FakeTransport executors_;
  TempDir dir_;
  std::string binDir_;
  std::string workDir_;
  AgentOptions options_;
  AgentInfo info_;
  std::vector<std::string> fatal_;
  std::unique_ptr<Agent> agent_;
};

// ---- registration ----

TEST_F(AgentTest, RegistersOnStartAndRetriesWithBackoff) {
  startAgent();
  EXPECT_EQ(master_.connects(), 1);
  EXPECT_EQ(master_.endpoint(), "tcp://127.0.0.1:5050");
  auto first = master_.take<wire::RegisterAgentMessage>();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].agentInfo.hostname, "agent-host");
  EXPECT_EQ(first[0].agentInfo.port, 5051u);
  EXPECT_EQ(first[0].agentInfo.resources, info_.resources);
  EXPECT_FALSE(first[0].agentInfo.id.has_value());
  EXPECT_FALSE(first[0].version.empty());
  EXPECT_EQ(agent_->state(), AgentState::kRegistering);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());

  // No answer: retries, each within [10ms, b·2ⁿ] of the previous one
  // (b = 1s), never more than a minute apart.
  const Duration step = 10ms;
  std::vector<Duration> gaps;
  TimePoint last = clock_.now();
  for (Duration t{0}; t < 3min; t += step) {
    advance(step);
    auto sent = master_.take<wire::RegisterAgentMessage>();
    ASSERT_LE(sent.size(), 1u) << "two registrations in " << toMillis(step) << "ms";
    if (!sent.empty()) {
      gaps.push_back(clock_.now() - last);
      last = clock_.now();
    }
  }
  // 1+2+4+8+16+32 s of caps fit in 3 minutes: at least 6 retries; with a
  // backoff, far fewer than one per second.
  ASSERT_GE(gaps.size(), 6u);
  EXPECT_LE(gaps.size(), 40u);
  for (size_t n = 0; n < gaps.size(); ++n) {
    Duration cap = std::min<Duration>(1s * (int64_t{1} << std::min<size_t>(n, 10)), 1min);
    EXPECT_GE(gaps[n], 10ms) << "retry " << n;
    EXPECT_LE(gaps[n], cap + step) << "retry " << n << " came after " << toMillis(gaps[n]) << "ms";
  }

  // Accepted: registered, and the retries stop.
  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  ASSERT_TRUE(agent_->id().has_value());
  EXPECT_EQ(*agent_->id(), kAgent);
  for (int i = 0; i < 300; ++i) advance(1s);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  EXPECT_TRUE(fatal_.empty());
}

TEST_F(AgentTest, InvalidMasterAddressIsFatal) {
  options_.master = "not an address";
  startAgent();
  ASSERT_EQ(fatal_.size(), 1u);
  EXPECT_TRUE(contains(fatal_[0], "--master")) << fatal_[0];
  EXPECT_TRUE(master_.sent().empty());
}

TEST_F(AgentTest, AnswersPingsWithPongsOnceRegistered) {
  startAgent();
  master_.clear();
  // Not registered yet: it has no id to answer with.
  master_.inject("", wire::PingMessage{kAgent, true});
  settle();
  EXPECT_TRUE(master_.sentOf<wire::PongMessage>().empty());

  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  master_.clear();
  master_.inject("", wire::PingMessage{kAgent, true});
  settle();
  auto pongs = master_.take<wire::PongMessage>();
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(pongs[0].agentId, kAgent);

  // A ping meant for another agent is not answered.
  master_.inject("", wire::PingMessage{AgentID("agent-2"), true});
  settle();
  EXPECT_TRUE(master_.sentOf<wire::PongMessage>().empty());
}

TEST_F(AgentTest, ReregistersWithItsTasksAfterFivePingTimeoutsOfSilence) {
  registerAgent(/*pingTimeout=*/1s);
  // t1 stays queued (its executor never subscribes); t2 runs.
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  ASSERT_GT(launchRunning("t2", "conn-2"), 0);
  executorUpdate("conn-2", "t2", executorStatus("t2", TaskState::TASK_RUNNING, 1));
  master_.clear();

  // Pings keep it registered.
  for (int i = 0; i < 20; ++i) {
    advance(1s);
    master_.inject("", wire::PingMessage{kAgent, true});
    settle();
  }
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  master_.clear();

  // Four seconds of silence are fine; past five ping timeouts it
  // re-registers on a fresh connection.
  for (int i = 0; i < 4; ++i) advance(1s);
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  EXPECT_TRUE(master_.sentOf<wire::ReregisterAgentMessage>().empty());
  std::vector<wire::ReregisterAgentMessage> rereg;
  for (int i = 0; i < 3 && rereg.empty(); ++i) {
    advance(1s);
    rereg = master_.take<wire::ReregisterAgentMessage>();
  }
  ASSERT_EQ(rereg.size(), 1u);
  EXPECT_EQ(agent_->state(), AgentState::kRegistering);
  EXPECT_EQ(master_.connects(), 2);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());

  const auto& m = rereg[0];
  ASSERT_TRUE(m.agentInfo.id.has_value());
  EXPECT_EQ(*m.agentInfo.id, kAgent);
  EXPECT_EQ(m.agentInfo.hostname, "agent-host");
  EXPECT_EQ(m.agentInfo.resources, info_.resources);
  EXPECT_FALSE(m.version.empty());
  ASSERT_EQ(m.frameworks.size(), 1u);
  EXPECT_EQ(m.frameworks[0].id, kFw);
  std::set<ExecutorID> executorIds;
  for (const auto& e : m.executors) {
    executorIds.insert(e.executorId);
    EXPECT_EQ(e.frameworkId, kFw);
  }
  EXPECT_EQ(executorIds, (std::set<ExecutorID>{ExecutorID("t1"), ExecutorID("t2")}));
  ASSERT_EQ(m.tasks.size(), 2u);
  for (const auto& t : m.tasks) {
    EXPECT_EQ(t.frameworkId, kFw);
    EXPECT_EQ(t.agentId, kAgent);
    EXPECT_EQ(t.resources, res("cpus:0.1;mem:32"));
    if (t.taskId == TaskID("t1")) {
      EXPECT_EQ(t.state, TaskState::TASK_STAGING);
      EXPECT_EQ(t.executorId, ExecutorID("t1"));
      EXPECT_EQ(t.name, "task t1");
    } else {
      EXPECT_EQ(t.taskId, TaskID("t2"));
      EXPECT_EQ(t.state, TaskState::TASK_RUNNING);
      EXPECT_EQ(t.executorId, ExecutorID("t2"));
      ASSERT_FALSE(t.statuses.empty());
      EXPECT_EQ(t.statuses.back().state, TaskState::TASK_RUNNING);
    }
  }

  // Still unanswered: retried (the first retry within b = 1s).
  std::vector<wire::ReregisterAgentMessage> again;
  for (int i = 0; i < 110 && again.empty(); ++i) {
    advance(10ms);
    again = master_.take<wire::ReregisterAgentMessage>();
  }
  EXPECT_EQ(again.size(), 1u);

  // Accepted: registered again; the unacknowledged update goes out again.
  master_.clear();
  master_.inject("", wire::AgentReregisteredMessage{kAgent, 1s});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kRegistered);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t2"));
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
}

// ---- launching ----

TEST_F(AgentTest, RunTaskStartsAnExecutorInItsSandboxAndQueuesTheTask) {
  registerAgent();
  runTask(commandTask("t1"));
  EXPECT_EQ(metrics_.counter("slave/tasks_launched").value(), 1);
  const ExecutorRecord* ex = executor("t1");
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(ex->state, ExecutorState::kRegistering);
  EXPECT_TRUE(ex->commandExecutor);
  EXPECT_EQ(ex->info.type, ExecutorInfo::Type::DEFAULT);
  EXPECT_EQ(ex->info.frameworkId, kFw);
  EXPECT_EQ(ex->queued.count(TaskID("t1")), 1u);
  EXPECT_TRUE(ex->launched.empty());

  ASSERT_TRUE(waitForPid("t1"));
  ex = executor("t1");
  const std::string sandbox = workDir_ + "/slaves/agent-1/frameworks/fw-1/executors/t1/runs/" +
                              ex->containerId.value;
  EXPECT_FALSE(ex->containerId.empty());
  EXPECT_EQ(ex->directory, sandbox);
  EXPECT_TRUE(fs::is_directory(sandbox));
  EXPECT_TRUE(fs::is_regular_file(sandbox + "/stdout"));
  EXPECT_TRUE(fs::is_regular_file(sandbox + "/stderr"));
  EXPECT_TRUE(processExists(ex->pid));
  EXPECT_EQ(agent_->sandboxes(), std::vector<std::string>{sandbox});

  // The executor learns who it is from its environment (and runs in its sandbox).
  ASSERT_TRUE(waitUntil(
      [&] { return contains(readFile(sandbox + "/executor.env"), "TUTTI_SANDBOX="); }));
  std::string env = readFile(sandbox + "/executor.env");
  EXPECT_TRUE(contains(env, std::string("TUTTI_AGENT_ENDPOINT=") + kExecutorEndpoint + "\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_AGENT_ID=agent-1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_FRAMEWORK_ID=fw-1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_EXECUTOR_ID=t1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_CONTAINER_ID=" + ex->containerId.value + "\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_SANDBOX=" + sandbox + "\n")) << env;

  // Nothing goes to an executor before it subscribes, and the task waits.
  EXPECT_TRUE(executors_.sent().empty());
  EXPECT_EQ(ex->queued.count(TaskID("t1")), 1u);

  subscribe("conn-1", "t1");
  auto& sent = executors_.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].to, "conn-1");
  EXPECT_EQ(sent[1].to, "conn-1");
  auto* subscribed = std::get_if<wire::ExecutorSubscribedEvent>(&sent[0].message);
  ASSERT_NE(subscribed, nullptr) << wire::payloadName(sent[0].message);
  EXPECT_EQ(subscribed->executorInfo.executorId, ExecutorID("t1"));
  EXPECT_EQ(subscribed->frameworkInfo.id, kFw);
  EXPECT_EQ(subscribed->agentInfo.id, kAgent);
  EXPECT_EQ(subscribed->containerId, ex->containerId);
  auto* launch = std::get_if<wire::LaunchEvent>(&sent[1].message);
  ASSERT_NE(launch, nullptr) << wire::payloadName(sent[1].message);
  EXPECT_EQ(launch->task.taskId, TaskID("t1"));
  ASSERT_TRUE(launch->task.command.has_value());
  EXPECT_EQ(launch->task.command->value, "sleep 1000");

  ex = executor("t1");
  EXPECT_EQ(ex->state, ExecutorState::kRunning);
  EXPECT_EQ(ex->conn, "conn-1");
  EXPECT_TRUE(ex->queued.empty());
  ASSERT_EQ(ex->launched.count(TaskID("t1")), 1u);
  EXPECT_EQ(ex->launched.at(TaskID("t1")).state, TaskState::TASK_STAGING);
  EXPECT_EQ(ex->infos.count(TaskID("t1")), 1u);

  // Subscribed in time: the registration timeout does not fire.
  master_.clear();
  advance(options_.executorRegistrationTimeout + 1s);
  EXPECT_TRUE(updatesToMaster().empty());
  ASSERT_NE(executor("t1"), nullptr);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_TRUE(processExists(executor("t1")->pid));
}

TEST_F(AgentTest, SubscriptionBeforeTheLauncherReportedThePidIsFine) {
  registerAgent();
  // Handled before the loop runs the launcher thread's result.
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  executors_.inject("conn-1", wire::ExecutorSubscribeCall{kFw, ExecutorID("t1"), {}, {}});
  ASSERT_EQ(executor("t1")->pid, -1);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_TRUE(processExists(pid));
  // Its exit is still noticed.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
}

TEST_F(AgentTest, CustomExecutorGetsItsQueuedTasksInOrderThenNewOnesAtOnce) {
  registerAgent();
  runTask(customTask("a", "e1"));
  runTask(customTask("b", "e1"));
  // A second launch of a known task is ignored.
  runTask(customTask("a", "e1"));
  ASSERT_EQ(framework()->executors.size(), 1u);
  const ExecutorRecord* ex = executor("e1");
  ASSERT_NE(ex, nullptr);
  EXPECT_FALSE(ex->commandExecutor);
  EXPECT_EQ(ex->queued.size(), 2u);
  ASSERT_TRUE(waitForPid("e1"));
  EXPECT_TRUE(fs::is_directory(executor("e1")->directory));

  subscribe("conn-1", "e1");
  auto launches = executors_.take<wire::LaunchEvent>("conn-1");
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].task.taskId, TaskID("a"));
  EXPECT_EQ(launches[1].task.taskId, TaskID("b"));
  auto subscribed = executors_.take<wire::ExecutorSubscribedEvent>("conn-1");
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0].executorInfo.name, "custom executor e1");

  runTask(customTask("c", "e1"));
  launches = executors_.take<wire::LaunchEvent>("conn-1");
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].task.taskId, TaskID("c"));
  EXPECT_EQ(executor("e1")->launched.size(), 3u);
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, LaunchFailureFailsTheQueuedTasks) {
  registerAgent();
  fs::remove(binDir_ + "/tutti-executor");
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(metrics_.counter("slave/container_launch_errors").value(), 1);
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
}

TEST_F(AgentTest, RunTaskForAnotherAgentOrBeforeRegistrationIsIgnored) {
  startAgent();
  runTask(commandTask("t0"));  // not registered yet
  EXPECT_TRUE(agent_->frameworks().empty());

  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  master_.clear();
  runTask(commandTask("t1"), frameworkInfo(), AgentID("agent-2"));
  EXPECT_TRUE(agent_->frameworks().empty());
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(metrics_.counter("slave/tasks_launched").value(), 0);
  EXPECT_FALSE(fs::exists(workDir_ + "/slaves"));
}

TEST_F(AgentTest, InvalidIdsAreRefusedAndCreateNothing) {
  registerAgent();
  struct Case {
    FrameworkInfo fw;
    TaskInfo task;
  };
  std::vector<Case> cases = {
      {frameworkInfo(), commandTask("../x")},
      {frameworkInfo(), commandTask("..")},
      {frameworkInfo(), commandTask("a b")},
      {frameworkInfo(FrameworkID("../fw")), commandTask("t1")},
      {frameworkInfo(FrameworkID("fw/sub")), commandTask("t2")},
      {frameworkInfo(), customTask("t3", "..")},
      {frameworkInfo(), customTask("t4", "../../e")},
  };
  for (const auto& c : cases) {
    runTask(c.task, c.fw);
    auto updates = updatesToMaster();
    ASSERT_EQ(updates.size(), 1u) << c.task.taskId;
    EXPECT_EQ(updates[0].frameworkId, *c.fw.id);
    EXPECT_EQ(updates[0].status.taskId, c.task.taskId);
    EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
    EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_INVALID);
    EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  }
  EXPECT_TRUE(agent_->frameworks().empty());
  EXPECT_TRUE(executors_.sent().empty());
  // Nothing was created, inside the work dir (but the agent's own
  // checkpoint, and the image store and container directories made at
  // start) or next to it.
  std::set<std::string> inside;
  for (const auto& e : fs::directory_iterator(workDir_)) inside.insert(e.path().filename());
  EXPECT_EQ(inside, (std::set<std::string>{"containers", "images", "meta"}));
  EXPECT_EQ(std::distance(fs::directory_iterator(workDir_ + "/containers/bundles"), {}), 0);
  EXPECT_FALSE(fs::exists(workDir_ + "/meta/executors"));
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(dir_.path())) top.insert(e.path().filename());
  EXPECT_EQ(top, (std::set<std::string>{"bin", "work"}));
}

// ---- status updates ----

TEST_F(AgentTest, ExecutorUpdatesAreAcknowledgedAndForwardedOneAtATimeInOrder) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();

  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  auto acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].taskId, TaskID("t1"));
  EXPECT_EQ(acks[0].uuid, uuid(1));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, kFw);
  EXPECT_EQ(updates[0].agentId, kAgent);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_EXECUTOR);
  EXPECT_EQ(updates[0].status.executorId, ExecutorID("t1"));
  EXPECT_EQ(updates[0].status.agentId, kAgent);
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_RUNNING);
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_RUNNING);

  // The next update is acknowledged to the executor at once but waits for
  // the master's acknowledgement of the first.
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FINISHED, 2));
  acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(2));
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_FINISHED);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 2u);

  // Unacknowledged: the head is re-sent, carrying the latest state.
  advance(options_.statusUpdateRetryIntervalMin);
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_FINISHED);

  ackFromMaster("t1", uuid(1));
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FINISHED);
  EXPECT_EQ(updates[0].status.uuid, uuid(2));
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_FINISHED);

  // A stale acknowledgement changes nothing; the task is not done yet.
  ackFromMaster("t1", uuid(1));
  EXPECT_TRUE(updatesToMaster().empty());
  ASSERT_EQ(executor("t1")->launched.count(TaskID("t1")), 1u);

  // The terminal acknowledgement completes the task.
  ackFromMaster("t1", uuid(2));
  const ExecutorRecord* ex = executor("t1");
  ASSERT_NE(ex, nullptr);
  EXPECT_TRUE(ex->launched.empty());
  EXPECT_TRUE(ex->infos.empty());
  ASSERT_EQ(ex->completed.size(), 1u);
  EXPECT_EQ(ex->completed[0].taskId, TaskID("t1"));
  EXPECT_EQ(ex->completed[0].state, TaskState::TASK_FINISHED);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);

  // The executor missed our acknowledgement and sends the update again: it
  // is acknowledged again, and the master does not hear of it twice.
  int64_t invalid = invalidExecutorCalls();
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FINISHED, 2));
  acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(2));
  EXPECT_EQ(invalidExecutorCalls(), invalid);
  advance(10min);
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, DuplicateUpdateWhilePendingIsAcknowledgedButForwardedOnce) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_EQ(executors_.take<wire::AcknowledgedEvent>("conn-1").size(), 2u);
  EXPECT_EQ(updatesToMaster().size(), 1u);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).statuses.size(), 1u);
}

TEST_F(AgentTest, InvalidExecutorCallsAreDroppedAndCounted) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  master_.clear();
  int64_t base = invalidExecutorCalls();

  // From a connection that is not the executor's.
  executorUpdate("conn-evil", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_EQ(invalidExecutorCalls(), base + 1);
  // For a task this executor does not run.
  executorUpdate("conn-1", "t1", executorStatus("t9", TaskState::TASK_RUNNING, 2));
  EXPECT_EQ(invalidExecutorCalls(), base + 2);
  // From an executor the agent does not know.
  executorUpdate("conn-1", "ghost", executorStatus("t1", TaskState::TASK_RUNNING, 3));
  EXPECT_EQ(invalidExecutorCalls(), base + 3);
  // Without a uuid (one of another length does not even decode).
  TaskStatus noUuid = executorStatus("t1", TaskState::TASK_RUNNING, 4);
  noUuid.uuid.clear();
  executorUpdate("conn-1", "t1", noUuid);
  EXPECT_EQ(invalidExecutorCalls(), base + 4);
  // A framework message from the wrong connection.
  executors_.inject("conn-evil", wire::ExecutorMessageCall{kFw, ExecutorID("t1"), "x"});
  settle();
  EXPECT_EQ(invalidExecutorCalls(), base + 5);
  // A message that executors do not send.
  executors_.inject("conn-1", wire::PongMessage{kAgent});
  settle();
  EXPECT_EQ(invalidExecutorCalls(), base + 6);

  EXPECT_TRUE(executors_.sent().empty());
  EXPECT_TRUE(master_.sent().empty());
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_STAGING);
  EXPECT_EQ(executor("t1")->conn, "conn-1");
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);

  // An executor the agent does not know is told to shut down at once.
  subscribe("conn-ghost", "ghost");
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-ghost");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, Duration(0));
  EXPECT_EQ(invalidExecutorCalls(), base + 7);
  EXPECT_EQ(executor("ghost"), nullptr);
}

// ---- killing ----

TEST_F(AgentTest, KillOfAQueuedTaskBeforeTheExecutorStartedKillsItWithoutLaunching) {
  registerAgent();
  // Both handled before the loop runs again: the launcher thread's result
  // (the executor's pid) is not in yet.
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  ASSERT_NE(executor("t1"), nullptr);
  ASSERT_EQ(executor("t1")->pid, -1);
  master_.inject("", wire::KillTaskMessage{kFw, TaskID("t1"), kAgent, std::nullopt});
  ASSERT_EQ(executor("t1")->pid, -1);
  settle();
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  ASSERT_NE(executor("t1"), nullptr);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kTerminating);
  EXPECT_TRUE(executor("t1")->queued.empty());

  // Its process is killed as soon as the launcher returns it; no time passes.
  ASSERT_TRUE(waitForExit("t1"));
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_GT(done->pid, 0);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  EXPECT_FALSE(processExists(done->pid));
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_TRUE(agent_->frameworks().empty());
  ASSERT_EQ(agent_->completedFrameworks().size(), 1u);
}

TEST_F(AgentTest, KillOfAQueuedTaskShutsItsIdleExecutorDownAfterTheGracePeriod) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;
  killTask("t1");
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);

  // Subscribing late, it is told to shut down and gets no task.
  subscribe("conn-1", "t1");
  EXPECT_EQ(executors_.sentOf<wire::ExecutorSubscribedEvent>("conn-1").size(), 1u);
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());

  advance(options_.executorShutdownGracePeriod - 100ms);
  EXPECT_TRUE(processExists(pid));
  ASSERT_NE(executor("t1"), nullptr);
  advance(100ms);
  ASSERT_TRUE(waitForExit("t1"));
  EXPECT_FALSE(processExists(pid));
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, KillOfALaunchedTaskIsSentToItsExecutor) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  killTask("t1", kFw, KillPolicy{2s});
  auto kills = executors_.take<wire::KillEvent>("conn-1");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].taskId, TaskID("t1"));
  ASSERT_TRUE(kills[0].killPolicy.has_value());
  EXPECT_EQ(kills[0].killPolicy->gracePeriod, Duration(2s));
  // The executor reports the end; the agent adds nothing of its own.
  EXPECT_TRUE(updatesToMaster().empty());
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_KILLED, 1));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_EXECUTOR);
  // A kill of a task that already ended is not passed on.
  executors_.clear();
  killTask("t1");
  EXPECT_TRUE(executors_.sentOf<wire::KillEvent>().empty());
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, KillOfAnUnknownTaskIsAnsweredWithTaskLostOrDropped) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  killTask("t9");
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, kFw);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t9"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_UNKNOWN);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(updates[0].status.agentId, kAgent);
  EXPECT_TRUE(executors_.sentOf<wire::KillEvent>().empty());

  // A partition-aware framework hears TASK_DROPPED.
  const FrameworkID pa("fw-pa");
  ASSERT_GT(launchRunning("p1", "conn-p1",
                          frameworkInfo(pa, {FrameworkCapability::PARTITION_AWARE})),
            0);
  killTask("p9", pa);
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, pa);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_DROPPED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_UNKNOWN);

  // A framework the agent does not know: nothing to say.
  killTask("x", FrameworkID("fw-unknown"));
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, RunTaskOnATerminatingExecutorIsLost) {
  registerAgent();
  runTask(customTask("a", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  killTask("a");  // its only task: the executor shuts down
  updatesToMaster();
  ASSERT_EQ(executor("e1")->state, ExecutorState::kTerminating);
  runTask(customTask("b", "e1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("b"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_TRUE(executor("e1")->queued.empty());
}

// ---- executor lifecycle ----

TEST_F(AgentTest, ExecutorThatDoesNotSubscribeInTimeIsKilledAndItsTasksFail) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;

  advance(options_.executorRegistrationTimeout - 1s);
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_TRUE(processExists(pid));
  advance(1s);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(updates[0].status.executorId, ExecutorID("t1"));

  ASSERT_TRUE(waitForExit("t1"));
  EXPECT_FALSE(processExists(pid));
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  // One terminal update, not a second one for the exit.
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);
  EXPECT_TRUE(agent_->frameworks().empty());
}

TEST_F(AgentTest, ExecutorExitFailsItsUnfinishedTasksOnly) {
  registerAgent();
  runTask(customTask("a", "e1"));
  runTask(customTask("b", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  pid_t pid = executor("e1")->pid;
  subscribe("conn-1", "e1");
  executorUpdate("conn-1", "e1", executorStatus("a", TaskState::TASK_FINISHED, 1, "e1"));
  executorUpdate("conn-1", "e1", executorStatus("b", TaskState::TASK_RUNNING, 2, "e1"));
  ackFromMaster("b", uuid(2));
  master_.clear();

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("e1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);  // a's FINISHED is still unacknowledged, b fails
  EXPECT_EQ(updates[0].status.taskId, TaskID("b"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_TRUE(contains(updates[0].status.message, "killed by signal 9")) << updates[0].status.message;

  const ExecutorRecord* done = completedExecutor("e1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  ASSERT_EQ(done->completed.size(), 2u);
  for (const auto& t : done->completed) {
    EXPECT_EQ(t.state, t.taskId == TaskID("a") ? TaskState::TASK_FINISHED : TaskState::TASK_FAILED)
        << t.taskId;
  }
  // a's update is still delivered.
  ackFromMaster("a", uuid(1));
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);  // b's FAILED
}

TEST_F(AgentTest, CommandExecutorExitWithARunningTaskFailsIt) {
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  // Once the failure is acknowledged nothing is left of the task.
  ackFromMaster("t1", updates[0].status.uuid);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);
  EXPECT_TRUE(agent_->frameworks().empty());
}

TEST_F(AgentTest, ShutdownFrameworkShutsExecutorsDownThenKillsThemAfterTheGracePeriod) {
  registerAgent();
  pid_t running = launchRunning("t1", "conn-1");
  ASSERT_GT(running, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  runTask(commandTask("t2"));  // its executor never subscribes
  ASSERT_TRUE(waitForPid("t2"));
  pid_t idle = executor("t2")->pid;
  executors_.clear();
  master_.clear();

  master_.inject("", wire::ShutdownFrameworkMessage{kAgent, kFw});
  settle();
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t2"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kTerminating);
  EXPECT_EQ(executor("t2")->state, ExecutorState::kTerminating);

  advance(options_.executorShutdownGracePeriod - 100ms);
  EXPECT_TRUE(processExists(running));
  EXPECT_TRUE(processExists(idle));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return agent_->frameworks().empty(); }));
  EXPECT_FALSE(processExists(running));
  EXPECT_FALSE(processExists(idle));
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
}

TEST_F(AgentTest, ShutdownAgentMessageIsFatal) {
  registerAgent();
  master_.inject("", wire::ShutdownAgentMessage{kAgent, "go away"});
  settle();
  ASSERT_EQ(fatal_.size(), 1u);
  EXPECT_EQ(fatal_[0], "go away");
}

TEST_F(AgentTest, HeartbeatsGoToSubscribedExecutors) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  runTask(commandTask("t2"));  // not subscribed
  ASSERT_TRUE(waitForPid("t2"));
  executors_.clear();
  advance(options_.executorHeartbeatInterval);
  auto beats = executors_.sentOf<wire::ExecutorHeartbeatEvent>();
  ASSERT_EQ(beats.size(), 1u);
  EXPECT_EQ(executors_.sent()[0].to, "conn-1");
  executors_.clear();
  advance(options_.executorHeartbeatInterval);
  EXPECT_EQ(executors_.sentOf<wire::ExecutorHeartbeatEvent>("conn-1").size(), 1u);
}

TEST_F(AgentTest, FrameworkMessagesAreRelayedBothWays) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  // Not subscribed yet: nowhere to send it.
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t1"), "early"});
  settle();
  EXPECT_TRUE(executors_.sent().empty());

  subscribe("conn-1", "t1");
  executors_.clear();
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t1"), "hello"});
  settle();
  auto events = executors_.take<wire::ExecutorMessageEvent>("conn-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "hello");
  // For an executor that is not here: dropped.
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t9"), "lost"});
  settle();
  EXPECT_TRUE(executors_.sent().empty());

  master_.clear();
  executors_.inject("conn-1", wire::ExecutorMessageCall{kFw, ExecutorID("t1"), "world"});
  settle();
  auto up = master_.take<wire::ExecutorToFrameworkMessage>();
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].agentId, kAgent);
  EXPECT_EQ(up[0].frameworkId, kFw);
  EXPECT_EQ(up[0].executorId, ExecutorID("t1"));
  EXPECT_EQ(up[0].data, "world");
}

// ---- agent shutdown ----

TEST_F(AgentTest, ShutdownUnregistersAndFinishesOnceNoExecutorIsLeft) {
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executors_.clear();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  settle();
  auto unregister = master_.take<wire::UnregisterAgentMessage>();
  ASSERT_EQ(unregister.size(), 1u);
  EXPECT_EQ(unregister[0].agentId, kAgent);
  EXPECT_EQ(agent_->state(), AgentState::kTerminating);
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  EXPECT_FALSE(done);

  // Nothing new is accepted meanwhile.
  runTask(commandTask("t2"));
  EXPECT_EQ(executor("t2"), nullptr);
  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  EXPECT_EQ(agent_->state(), AgentState::kTerminating);

  advance(options_.executorShutdownGracePeriod);
  ASSERT_TRUE(waitUntil([&] { return done; }));
  EXPECT_FALSE(processExists(pid));
  EXPECT_TRUE(agent_->frameworks().empty());
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
}

TEST_F(AgentTest, ShutdownWithoutExecutorsFinishesAtOnce) {
  registerAgent();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(master_.take<wire::UnregisterAgentMessage>().size(), 1u);
}

TEST_F(AgentTest, ShutdownBeforeRegistrationFinishesAtOnceAndStopsRegistering) {
  startAgent();
  bool done = false;
  agent_->shutdown([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_TRUE(master_.sentOf<wire::UnregisterAgentMessage>().empty());
  // And it stops trying to register.
  master_.clear();
  for (int i = 0; i < 100; ++i) advance(1s);
  EXPECT_TRUE(master_.sentOf<wire::RegisterAgentMessage>().empty());
}

TEST_F(AgentTest, ShutdownKillsAnExecutorWhoseLaunchIsStillPending) {
  registerAgent();
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  ASSERT_EQ(executor("t1")->pid, -1);
  bool done = false;
  agent_->shutdown([&] { done = true; });
  ASSERT_EQ(executor("t1")->pid, -1);
  settle();
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  // Killed when the launcher returns it, without waiting for the grace period.
  ASSERT_TRUE(waitUntil([&] { return done; }));
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
}

// ---- regressions of bugs found in review ----

TEST_F(AgentTest, BugReregistrationReportsTasksOfExecutorsThatEnded) {
  registerAgent(/*pingTimeout=*/1s);
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();

  // The master goes silent; meanwhile the executor dies.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_EQ(updates[0].status.state, TaskState::TASK_FAILED);

  std::vector<wire::ReregisterAgentMessage> rereg;
  for (int i = 0; i < 8 && rereg.empty(); ++i) {
    advance(1s);
    rereg = master_.take<wire::ReregisterAgentMessage>();
  }
  ASSERT_EQ(rereg.size(), 1u);
  bool reported = false;
  for (const auto& t : rereg[0].tasks) {
    if (t.taskId != TaskID("t1")) continue;
    reported = true;
    EXPECT_EQ(t.state, TaskState::TASK_FAILED);
  }
  EXPECT_TRUE(reported) << "t1 (TASK_FAILED, unacknowledged) is missing from the re-registration";
}

TEST_F(AgentTest, BugResubscriptionDoesNotResendUpdatesOfCompletedTasks) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  TaskStatus finished = executorStatus("t1", TaskState::TASK_FINISHED, 1);
  executorUpdate("conn-1", "t1", finished);
  ackFromMaster("t1", uuid(1));
  ASSERT_EQ(executor("t1")->completed.size(), 1u);
  master_.clear();

  // The executor lost our AcknowledgedEvent and subscribes again with the
  // update it still holds (as TuttiExecutorDriver does).
  subscribe("conn-1", "t1", kFw, {finished});
  EXPECT_TRUE(updatesToMaster().empty()) << "TASK_FINISHED of t1 was forwarded twice";
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);
}

TEST_F(AgentTest, BugResubscriptionCannotUpdateTasksOfOtherExecutors) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  ASSERT_GT(launchRunning("t2", "conn-2"), 0);
  executorUpdate("conn-2", "t2", executorStatus("t2", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t2", uuid(1));
  master_.clear();
  int64_t invalid = invalidExecutorCalls();

  // t1's executor re-subscribes claiming an update for t2.
  subscribe("conn-1", "t1", kFw, {executorStatus("t2", TaskState::TASK_FAILED, 2, "t2")});
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(executor("t2")->launched.at(TaskID("t2")).state, TaskState::TASK_RUNNING);
  EXPECT_GT(invalidExecutorCalls(), invalid);
}

TEST_F(AgentTest, BugExecutorExitKillsTheTaskItLeftBehind) {
  // An executor that, like tutti-executor, starts its task in a new process
  // group of its session.
  writeExecutorScript(
      "perl -e 'setpgrp(0, 0); exec \"sleep\", \"1000\"' &\n"
      "echo $! > task.pid\n"
      "exec sleep 1000\n");
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  std::string pidFile = executor("t1")->directory + "/task.pid";
  pid_t task = 0;
  ASSERT_TRUE(waitUntil([&] {
    task = static_cast<pid_t>(std::atoi(readFile(pidFile).c_str()));
    return task > 0 && ::getpgid(task) == task;
  }));
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_TRUE(pollFor([&] { return !processExists(task); }))
      << "task process " << task << " outlived its executor";
  ::kill(task, SIGKILL);
}

TEST_F(AgentTest, BugExecutorWithoutACommandIsRefused) {
  registerAgent();
  TaskInfo t = customTask("t1", "e1");
  t.executor->command.reset();
  runTask(t);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(executor("e1"), nullptr);
}

TEST_F(AgentTest, BugCompletedTasksOfALongLivedExecutorAreBounded) {
  registerAgent();
  runTask(customTask("t0", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  subscribe("conn-1", "e1");
  for (int i = 0; i < 260; ++i) {
    std::string id = "t" + std::to_string(i);
    if (i > 0) runTask(customTask(id, "e1"));
    executorUpdate("conn-1", "e1", executorStatus(id, TaskState::TASK_FINISHED, i + 1, "e1"));
    ackFromMaster(id, uuid(i + 1));
  }
  ASSERT_NE(executor("e1"), nullptr);
  EXPECT_TRUE(executor("e1")->launched.empty());
  EXPECT_LE(executor("e1")->completed.size(), 200u);
}

// ---------------------------------------------------------------------------
// The built-in command executor, with a stub driver and a manual clock.

class StubExecutorDriver final : public ExecutorDriver {
 public:
  DriverStatus start() override { return status; }
  DriverStatus stop() override { return status = DriverStatus::DRIVER_STOPPED; }
  DriverStatus abort() override { return status = DriverStatus::DRIVER_ABORTED; }
  DriverStatus join() override { return status; }
  DriverStatus run() override { return status; }
  DriverStatus sendStatusUpdate(const TaskStatus& s) override {
    if (status != DriverStatus::DRIVER_RUNNING) return status;
    updates.push_back(s);
    ++unacked;
    return status;
  }
  DriverStatus sendFrameworkMessage(const std::string&) override { return status; }
  size_t unacknowledgedUpdates() const override { return unacked; }

  DriverStatus status = DriverStatus::DRIVER_RUNNING;
  std::vector<TaskStatus> updates;
  size_t unacked = 0;
};

class CommandExecutorTest : public ::testing::Test {
 protected:
  CommandExecutorTest() : loop_(clock_) {}

  void SetUp() override {
    loop_.adoptCurrentThread();
    ASSERT_FALSE(dir_.path().empty());
    executor_ = std::make_unique<executor::CommandExecutor>(loop_, [this] { ++done_; });
    executor_->setDriver(&driver_);
  }
  void TearDown() override {
    executor_.reset();
    ::tutti::testing::killAllDescendants();
  }

  void registered(std::vector<FrameworkCapability> capabilities = {}) {
    executor_->registered(&driver_, ExecutorInfo(), frameworkInfo(kFw, capabilities), AgentInfo());
    loop_.settle();
  }
  void launch(const TaskInfo& task) {
    executor_->launchTask(&driver_, task);
    loop_.settle();
  }
  void advance(Duration d) {
    clock_.advance(d);
    loop_.settle();
  }
  // Advances in small steps (the executor re-arms short timers).
  void advanceInSteps(Duration total, Duration step = 10ms) {
    for (Duration t{0}; t < total; t += step) advance(step);
  }
  bool waitUntil(const std::function<bool()>& condition,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    loop_.settle();
    while (!condition()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      loop_.runOnce(10ms);
    }
    return true;
  }
  std::vector<TaskState> states() const {
    std::vector<TaskState> out;
    for (const auto& u : driver_.updates) out.push_back(u.state);
    return out;
  }
  bool hasState(TaskState s) const {
    for (const auto& u : driver_.updates) {
      if (u.state == s) return true;
    }
    return false;
  }
  const TaskStatus* lastUpdate() const {
    return driver_.updates.empty() ? nullptr : &driver_.updates.back();
  }
  // A task whose shell ignores SIGTERM (inherited by the sleep it becomes)
  // and writes its pid once that is so.
  TaskInfo stubbornTask(const std::string& id, std::optional<KillPolicy> policy = std::nullopt) {
    TaskInfo t = commandTask(
        id, "trap '' TERM; echo $$ > " + dir_.path() + "/" + id + ".pid; exec sleep 1000");
    t.killPolicy = policy;
    return t;
  }
  // Waits for the pid file of a stubbornTask.
  pid_t stubbornPid(const std::string& id) {
    pid_t pid = 0;
    std::string path = dir_.path() + "/" + id + ".pid";
    waitUntil([&] {
      std::string text = readFile(path);
      if (text.empty() || text.back() != '\n') return false;
      pid = static_cast<pid_t>(std::atoi(text.c_str()));
      return pid > 0;
    });
    return pid;
  }

  ManualClock clock_;
  Loop loop_;
  TempDir dir_;
  StubExecutorDriver driver_;
  int done_ = 0;
  std::unique_ptr<executor::CommandExecutor> executor_;
};

TEST_F(CommandExecutorTest, ReportsStartingRunningAndFinishedThenEndsOnceAcknowledged) {
  registered();
  launch(commandTask("t1", "exit 0"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FINISHED); }));
  EXPECT_EQ(states(), (std::vector<TaskState>{TaskState::TASK_STARTING, TaskState::TASK_RUNNING,
                                              TaskState::TASK_FINISHED}));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->taskId, TaskID("t1"));
  ASSERT_TRUE(last->exitStatus.has_value());
  EXPECT_TRUE(WIFEXITED(*last->exitStatus) && WEXITSTATUS(*last->exitStatus) == 0);
  EXPECT_TRUE(contains(last->message, "exited with status 0")) << last->message;

  // Waits for the acknowledgements before ending.
  advanceInSteps(2s);
  EXPECT_EQ(done_, 0);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, FailingCommandReportsItsExitStatus) {
  registered();
  launch(commandTask("t1", "exit 3"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FAILED); }));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->reason, Reason::REASON_COMMAND_EXECUTOR_FAILED);
  ASSERT_TRUE(last->exitStatus.has_value());
  EXPECT_TRUE(WIFEXITED(*last->exitStatus) && WEXITSTATUS(*last->exitStatus) == 3);
  EXPECT_TRUE(contains(last->message, "exited with status 3")) << last->message;
}

TEST_F(CommandExecutorTest, TaskWithoutACommandFails) {
  registered();
  TaskInfo t = commandTask("t1");
  t.command.reset();
  launch(t);
  ASSERT_EQ(driver_.updates.size(), 1u);
  EXPECT_EQ(driver_.updates[0].state, TaskState::TASK_FAILED);
  EXPECT_EQ(driver_.updates[0].reason, Reason::REASON_TASK_INVALID);
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, RunsOneTaskOnly) {
  registered();
  launch(commandTask("t1"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  launch(commandTask("t2"));
  const TaskStatus* last = lastUpdate();
  EXPECT_EQ(last->taskId, TaskID("t2"));
  EXPECT_EQ(last->state, TaskState::TASK_FAILED);
  // A kill for another task does not touch t1.
  executor_->killTask(&driver_, TaskID("t2"), std::nullopt);
  loop_.settle();
  EXPECT_FALSE(hasState(TaskState::TASK_KILLED));
}

TEST_F(CommandExecutorTest, KillSendsSigtermAndReportsKilling) {
  registered({FrameworkCapability::TASK_KILLING_STATE});
  launch(commandTask("t1", "exec sleep 1000"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  EXPECT_TRUE(hasState(TaskState::TASK_KILLING));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGTERM));
  EXPECT_EQ(states(), (std::vector<TaskState>{TaskState::TASK_STARTING, TaskState::TASK_RUNNING,
                                              TaskState::TASK_KILLING, TaskState::TASK_KILLED}));
}

TEST_F(CommandExecutorTest, KillingStateOnlyForFrameworksThatAskForIt) {
  registered();
  launch(commandTask("t1", "exec sleep 1000"));
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_FALSE(hasState(TaskState::TASK_KILLING));
}

TEST_F(CommandExecutorTest, KillEscalatesToSigkillAfterTheGracePeriod) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{2s});
  loop_.settle();
  advance(1900ms);
  EXPECT_TRUE(processExists(pid));
  EXPECT_FALSE(hasState(TaskState::TASK_KILLED));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGKILL));
  EXPECT_FALSE(processExists(pid));
}

TEST_F(CommandExecutorTest, KillWithoutAPolicyUsesTheTasksOwnPolicy) {
  registered();
  launch(stubbornTask("t1", KillPolicy{1s}));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  advance(900ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
}

TEST_F(CommandExecutorTest, KillWithoutAnyPolicyWaitsThreeSeconds) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), std::nullopt);
  loop_.settle();
  advance(executor::CommandExecutor::kDefaultGracePeriod - 100ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
}

TEST_F(CommandExecutorTest, ASecondKillWithoutGraceEscalatesAtOnce) {
  registered();
  launch(stubbornTask("t1"));
  ASSERT_GT(stubbornPid("t1"), 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{30s});
  loop_.settle();
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{0s});
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  EXPECT_TRUE(killedBy(lastUpdate()->exitStatus, SIGKILL));
}

TEST_F(CommandExecutorTest, ShutdownKillsTheTaskWithinTheGracePeriodThenEnds) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->shutdown(&driver_, 5s);  // a second is kept for the executor's own exit
  loop_.settle();
  advance(3900ms);
  EXPECT_TRUE(processExists(pid));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  driver_.unacked = 0;
  advance(1s);
  EXPECT_EQ(done_, 1);
}

TEST_F(CommandExecutorTest, ShutdownBeforeAnyTaskEndsAtOnce) {
  registered();
  executor_->shutdown(&driver_, 5s);
  loop_.settle();
  EXPECT_EQ(done_, 1);
  EXPECT_TRUE(driver_.updates.empty());
}

TEST_F(CommandExecutorTest, BugASecondKillWithAShorterGracePeriodEscalates) {
  registered();
  launch(stubbornTask("t1"));
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{30s});
  loop_.settle();
  advance(1s);
  executor_->killTask(&driver_, TaskID("t1"), KillPolicy{1s});
  loop_.settle();
  advance(1s);
  EXPECT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); },
                        std::chrono::seconds(2)))
      << "still alive 1s after a kill with a 1s grace period";
}

// error() kills and ends at once; done_ is loop.stop() in tutti-executor.
// The SIGKILL escalation (a zero-delay timer) still runs because Loop runs a
// timer that is due when runDueTimers() starts, even one armed by a posted
// closure of the same round after stop(). This test keeps that dependency
// visible.
TEST_F(CommandExecutorTest, ErrorKillsTheTaskBeforeTheLoopStops) {
  int ended = 0;
  executor::CommandExecutor ex(loop_, [&] {
    ++ended;
    loop_.stop();
  });
  ex.setDriver(&driver_);
  ex.registered(&driver_, ExecutorInfo(), frameworkInfo(), AgentInfo());
  loop_.settle();
  ex.launchTask(&driver_, stubbornTask("t1"));
  loop_.settle();
  pid_t pid = stubbornPid("t1");
  ASSERT_GT(pid, 0);
  ex.error(&driver_, "the agent said no");
  loop_.run();  // as tutti-executor's main(): returns once done_ stopped it
  ASSERT_EQ(ended, 1);
  EXPECT_TRUE(pollFor([&] { return !processExists(pid); }))
      << "task " << pid << " survived its executor's end";
}

TEST_F(CommandExecutorTest, BugShutdownEndsTheExecutorEvenWithoutAcknowledgements) {
  registered();
  launch(commandTask("t1", "exec sleep 1000"));
  ASSERT_TRUE(hasState(TaskState::TASK_RUNNING));
  executor_->shutdown(&driver_, 3s);
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_KILLED); }));
  advanceInSteps(5s, 50ms);
  EXPECT_EQ(done_, 1) << "still waiting for acknowledgements 5s after a 3s shutdown";
}

TEST_F(CommandExecutorTest, BugShutdownAfterTheDriverGaveUpEndsTheExecutor) {
  registered();
  launch(commandTask("t1", "exit 0"));
  ASSERT_TRUE(waitUntil([&] { return hasState(TaskState::TASK_FINISHED); }));
  // The agent is gone: the driver gives up.
  driver_.status = DriverStatus::DRIVER_ABORTED;
  executor_->shutdown(&driver_, Duration(0));
  loop_.settle();
  advanceInSteps(5s, 50ms);
  EXPECT_EQ(done_, 1);
}

// ---- cgroups isolation (real cgroups; skipped without a writable hierarchy) ----

class AgentCgroupsTest : public AgentTest {
 protected:
  void SetUp() override {
    AgentTest::SetUp();
    static int n = 0;
    options_.isolation = "cgroups/cpu,cgroups/mem";
    options_.cgroupsRoot = "tutti-unit-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    auto layout = detectHostCgroups({"cpu", "cpuacct", "memory"}, options_.cgroupsRoot);
    if (::geteuid() != 0 || !layout.ok() || !layout->has("memory") || !layout->has("cpu")) {
      GTEST_SKIP() << "no writable cgroup hierarchy";
    }
    layout_ = *layout;
  }
  void TearDown() override {
    AgentTest::TearDown();
    if (!layout_) return;
    for (const auto& c : listContainerCgroups(*layout_)) (void)destroyContainerCgroups(*layout_, c);
    for (const auto& [_, d] : layout_->roots) ::rmdir(d.c_str());
  }
  std::string control(const std::string& controller, const std::string& executorId,
                      const std::string& file) {
    const ExecutorRecord* e = executor(executorId);
    if (!e) return "";
    auto text = ::tutti::readFile(layout_->dir(controller, e->containerId.value) + "/" + file);
    if (!text.ok()) return "";
    std::string v = *text;
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
  }
  std::optional<CgroupLayout> layout_;
};

TEST_F(AgentCgroupsTest, ExecutorStartsInItsCgroupsAndLimitsFollowItsTasks) {
  registerAgent();
  ASSERT_NE(agent_->isolator(), nullptr);
  runTask(customTask("a", "e1"));  // executor 0.1 cpus / 32 MB, task the same
  ASSERT_TRUE(waitForPid("e1"));
  pid_t pid = executor("e1")->pid;
  EXPECT_NE(control("memory", "e1", "cgroup.procs").find(std::to_string(pid)), std::string::npos);
  EXPECT_NE(control("cpu", "e1", "cgroup.procs").find(std::to_string(pid)), std::string::npos);
  EXPECT_EQ(control("memory", "e1", "memory.limit_in_bytes"), std::to_string(64ull << 20));
  EXPECT_EQ(control("cpu", "e1", "cpu.shares"), "204");
  subscribe("conn-1", "e1");
  ASSERT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  // A task added to the running executor raises its limits.
  runTask(customTask("b", "e1"));
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  EXPECT_EQ(control("memory", "e1", "memory.limit_in_bytes"), std::to_string(96ull << 20));
  EXPECT_EQ(control("cpu", "e1", "cpu.shares"), "307");
  // Its end removes the cgroups.
  const std::string dir = layout_->dir("memory", executor("e1")->containerId.value);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("e1"));
  // Removal is retried on the loop's (manual) clock while processes exit.
  EXPECT_TRUE(waitUntil([&] {
    clock_.advance(50ms);
    return !fs::exists(dir);
  }));
}

TEST_F(AgentCgroupsTest, TasksWaitUntilTheExecutorIsInItsCgroups) {
  registerAgent();
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  executors_.inject("conn-1", wire::ExecutorSubscribeCall{kFw, ExecutorID("t1"), {}, {}});
  ASSERT_EQ(executor("t1")->pid, -1);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  // Held: the launcher has not reported the executor inside its cgroups yet.
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 0u);
  ASSERT_TRUE(waitForPid("t1"));
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  EXPECT_TRUE(executor("t1")->queued.empty());
}

TEST_F(AgentCgroupsTest, ExecutorTaskFailedBecomesTheMemoryLimitationOnceTheContainerWasOomKilled) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  // The OOM killer acts in the container: a process over the limit there.
  const ExecutorRecord* e = executor("t1");
  const std::string dir = layout_->dir("memory", e->containerId.value);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo $$ > " + dir + "/cgroup.procs && head -c 300M /dev/zero | tail"};
  auto hog = spawnProcess(o);
  ASSERT_TRUE(hog.ok()) << hog.error();
  int st = 0;
  ASSERT_EQ(::waitpid(*hog, &st, 0), *hog);
  EXPECT_NE(st, 0);
  ASSERT_GT(oomKillCount(*layout_, e->containerId.value), 0u);
  // Whichever comes first, the executor's TASK_FAILED carries the limitation.
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FAILED, 7));
  bool found = false;
  for (const auto& u : updatesToMaster()) {
    if (u.status.taskId != TaskID("t1") || u.status.state != TaskState::TASK_FAILED) continue;
    found = true;
    EXPECT_EQ(u.status.reason, Reason::REASON_CONTAINER_LIMITATION_MEMORY);
    EXPECT_NE(u.status.message.find("Memory limit exceeded: limit 32 MB"), std::string::npos)
        << u.status.message;
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace agent
}  // namespace tutti
