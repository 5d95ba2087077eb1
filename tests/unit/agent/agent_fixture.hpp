// The fixture of the agent's unit tests (agent_*_test.cpp,
// command_executor_test.cpp): agent::Agent (DESIGN §8, docs/architecture.md
// "The agent") and the built-in command executor (agent/executor/).
// Include from test files only.
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
#pragma once

#include "common/host.hpp"
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

namespace agent_test {

namespace fs = std::filesystem;
using ::tutti::testing::FakeTransport;
using ::tutti::testing::TempDir;


inline const AgentID kAgent("agent-1");
inline const FrameworkID kFw("fw-1");
const char kExecutorEndpoint[] = "tcp://127.0.0.1:16051";

inline Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

// A 16-byte status update uuid, distinct per `n`.
inline std::string uuid(int n) {
  std::string u(16, 'u');
  u[14] = static_cast<char>(n / 256);
  u[15] = static_cast<char>(n % 256);
  return u;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline bool killedBy(const std::optional<int>& status, int signal) {
  return status && WIFSIGNALED(*status) && WTERMSIG(*status) == signal;
}

// Polls `condition` every few milliseconds of real time, without running any
// loop, until it holds or `timeout` passes.
inline bool pollFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline FrameworkInfo frameworkInfo(const FrameworkID& id = kFw,
                            std::vector<FrameworkCapability> capabilities = {}) {
  FrameworkInfo f;
  f.user = currentUserName();
  f.name = "framework " + id.value;
  f.id = id;
  f.capabilities = std::move(capabilities);
  return f;
}

inline TaskInfo commandTask(const std::string& id, const std::string& command = "sleep 1000") {
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
inline TaskInfo customTask(const std::string& id, const std::string& executorId,
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

inline TaskStatus executorStatus(const std::string& task, TaskState state, int uuidNumber,
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

}  // namespace agent_test
}  // namespace agent
}  // namespace tutti
