#include "tests/bench/agent_emulator.hpp"

#include <glog/logging.h>

#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "agent/status_updates/status_update_manager.hpp"
#include "common/ids.hpp"
#include "common/loop.hpp"
#include "common/master_detector.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "common/version.hpp"
#include "tests/bench/hop_trace.hpp"

namespace tutti::bench {

int64_t steadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {
constexpr Duration kPumpInterval = 5ms;  // while (re-)registrations wait for a connection

struct EmulatedTask {
  Task task;
  Loop::TimerId finishTimer = 0;
};

struct EmulatedAgent {
  AgentInfo info;
  size_t conn = 0;
  bool registered = false;  // with the current leader
  int64_t sentAt = 0;       // steady ns of the latest re-registration sent
  std::unique_ptr<agent::StatusUpdateManager> updates;
  std::unordered_map<TaskID, EmulatedTask> tasks;  // until the terminal update is acknowledged
  std::map<FrameworkID, FrameworkInfo> frameworks;
};
}  // namespace

class AgentEmulator::Shard {
 public:
  Shard(const AgentEmulatorOptions& options, int connections)
      : options_(options), loop_(RealClock::instance(), Loop::Options{"agent-emulator", 1s}) {
    conns_.resize(static_cast<size_t>(connections));
    resources_ = *Resources::parse(options.resources);
  }

  ~Shard() { stop(); }

  void addAgent(int index) {
    auto a = std::make_unique<EmulatedAgent>();
    a->info.hostname = options_.hostnamePrefix + std::to_string(index);
    a->info.port = 5051;
    a->info.resources = resources_;
    a->info.attributes = {{"rack", "r" + std::to_string(index % std::max(1, options_.racks))}};
    a->conn = agents_.size() % conns_.size();
    agent::StatusUpdateManager::Options o{options_.statusUpdateRetryMin,
                                          options_.statusUpdateRetryMax};
    EmulatedAgent* raw = a.get();
    a->updates = std::make_unique<agent::StatusUpdateManager>(
        loop_, o, [this, raw](const wire::StatusUpdateMessage& m) {
          updatesSent_.fetch_add(1, std::memory_order_relaxed);
          // Queued with the round's other updates, as a real agent's are:
          // a loss is retried by the status update manager.
          conns_[raw->conn].transport->sendSoon("", m);
          return true;
        });
    agents_.push_back(std::move(a));
  }

  Status start(const std::string& master) {
    for (auto& c : conns_) {
      c.transport = std::make_unique<ZmqDealerTransport>(loop_, metrics_, TransportOptions{});
      Conn* cp = &c;
      c.transport->setHandler(
          [this, cp](const ConnectionId&, wire::Payload&& m) { onMessage(*cp, std::move(m)); });
    }
    if (master.rfind("zk://", 0) == 0) {
      auto detector = MasterDetector::create(
          loop_, master, [this](const std::optional<MasterInfo>& leader) { onLeader(leader); });
      if (!detector.ok()) return detector.status();
      detector_ = std::move(detector).value();
    } else {
      auto endpoint = toZmqEndpoint(master);
      if (!endpoint.ok()) return endpoint.status();
      endpoint_ = *endpoint;
    }
    thread_ = std::thread([this] {
      loop_.adoptCurrentThread();
      if (detector_) {
        Status s = detector_->start();
        if (!s.ok()) LOG(ERROR) << "agent emulator: " << s;
      } else {
        connectAll(endpoint_);
      }
      loop_.run();
    });
    return Status::OK();
  }

  void stop() {
    if (!thread_.joinable()) return;
    loop_.stop();
    thread_.join();
    loop_.adoptCurrentThread();
    detector_.reset();
    for (auto& a : agents_) a->updates.reset();  // cancels their timers
    for (auto& c : conns_) {
      if (c.transport) c.transport->close();
    }
  }

  void addStats(AgentEmulatorStats& s) const {
    s.registered += registered_.load();
    s.reregistered += reregistered_.load();
    s.registeredNow += registeredNow_.load();
    s.leaderChanges = std::max(s.leaderChanges, leaderChanges_.load());
    s.pongs += pongs_.load();
    s.tasksLaunched += tasksLaunched_.load();
    s.tasksActive += tasksLaunched_.load() - tasksEnded_.load();
    s.tasksEnded += tasksEnded_.load();
    s.updatesSent += updatesSent_.load();
    s.acks += acks_.load();
    s.refused += refused_.load();
    s.lastRegisteredNs = std::max(s.lastRegisteredNs, lastRegisteredNs_.load());
  }

 private:
  struct Conn {
    std::unique_ptr<ZmqDealerTransport> transport;
    std::deque<EmulatedAgent*> todo;      // to (re-)register with the current leader
    std::deque<EmulatedAgent*> inFlight;  // registrations sent, answered in order
    size_t reregistering = 0;             // re-registrations sent, not yet answered
  };

  // ---- (re-)registration ----

  void connectAll(const std::string& endpoint) {
    for (auto& c : conns_) {
      Status s = c.transport->connect(endpoint);
      if (!s.ok()) LOG(ERROR) << "agent emulator: " << s;
      c.todo.clear();
      c.inFlight.clear();
      c.reregistering = 0;
    }
    registeredNow_ = 0;
    for (auto& a : agents_) {
      a->registered = false;
      conns_[a->conn].todo.push_back(a.get());
    }
    pumpAll();
  }

  void onLeader(const std::optional<MasterInfo>& leader) {
    if (!leader) return;  // keep everything until a new one is elected
    leaderChanges_.fetch_add(1);
    LOG(INFO) << "agent emulator: leader is " << leader->messageAddress;
    connectAll(leader->messageAddress);
  }

  void pumpAll() {
    bool waiting = false;
    for (auto& c : conns_) waiting = pump(c) || waiting;
    int64_t now = steadyNowNs();
    if (waiting && now - lastRetryScan_ > 1'000'000'000) {
      lastRetryScan_ = now;
      retryStale(now);
    }
    if (waiting && !pumpTimer_) {
      pumpTimer_ = loop_.after(kPumpInterval, "emulator.pump", [this] {
        pumpTimer_ = 0;
        pumpAll();
      });
    }
  }

  // Sends what the window allows; true while some agent still waits to be
  // sent, or answered (re-registrations, which are retried).
  bool pump(Conn& c) {
    while (c.inFlight.size() + c.reregistering < options_.registrationWindow && !c.todo.empty()) {
      EmulatedAgent* a = c.todo.front();
      if (a->registered) {
        c.todo.pop_front();
        continue;
      }
      Status s;
      if (a->info.id) {
        wire::ReregisterAgentMessage m;
        m.agentInfo = a->info;
        m.version = tuttiVersion();
        for (const auto& [_, t] : a->tasks) m.tasks.push_back(t.task);
        for (const auto& [_, fw] : a->frameworks) m.frameworks.push_back(fw);
        s = c.transport->send("", m);
        if (s.ok()) {
          a->sentAt = steadyNowNs();
          ++c.reregistering;
        }
      } else {
        s = c.transport->send("", wire::RegisterAgentMessage{a->info, tuttiVersion()});
        if (s.ok()) c.inFlight.push_back(a);
      }
      if (!s.ok()) break;  // not connected yet, or the queue is full: later
      c.todo.pop_front();
    }
    return !c.todo.empty() || c.reregistering > 0;
  }

  // Re-registrations unanswered for too long go again (a master that was
  // still recovering may have dropped them). O(agents): at most once a second.
  void retryStale(int64_t now) {
    int64_t retry =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.reregisterRetry).count();
    for (auto& a : agents_) {
      if (a->registered || a->sentAt == 0 || now - a->sentAt <= retry) continue;
      Conn& c = conns_[a->conn];
      a->sentAt = 0;
      if (c.reregistering > 0) --c.reregistering;
      c.todo.push_back(a.get());
    }
  }

  void registeredWith(EmulatedAgent& a) {
    if (a.registered) return;
    a.registered = true;
    registeredNow_.fetch_add(1);
    lastRegisteredNs_.store(steadyNowNs());
  }

  // ---- messages ----

  EmulatedAgent* find(const AgentID& id) {
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : it->second;
  }

  void onMessage(Conn& c, wire::Payload&& message) {
    std::visit([&](auto& m) { handle(c, m); }, message);
  }

  void handle(Conn& c, wire::AgentRegisteredMessage& m) {
    if (c.inFlight.empty()) return;
    EmulatedAgent* a = c.inFlight.front();
    c.inFlight.pop_front();
    a->info.id = m.agentId;
    a->updates->setAgentId(m.agentId);
    byId_[m.agentId] = a;
    registered_.fetch_add(1, std::memory_order_relaxed);
    registeredWith(*a);
    pumpAll();
  }

  void handle(Conn& c, wire::AgentReregisteredMessage& m) {
    EmulatedAgent* a = find(m.agentId);
    if (!a || a->registered) return;
    Conn& mine = conns_[a->conn];
    if (a->sentAt != 0 && mine.reregistering > 0) --mine.reregistering;
    a->sentAt = 0;
    reregistered_.fetch_add(1, std::memory_order_relaxed);
    registeredWith(*a);
    a->updates->resendAll();  // as the real agent does with a new master
    pumpAll();
  }

  void handle(Conn& c, wire::PingMessage& m) {
    if (!find(m.agentId)) return;
    c.transport->sendSoon("", wire::PongMessage{m.agentId});
    pongs_.fetch_add(1, std::memory_order_relaxed);
  }

  void handle(Conn&, wire::RunTaskMessage& m) {
    EmulatedAgent* a = find(m.agentId);
    if (!a || !m.frameworkInfo.id) return;
    const FrameworkID& fw = *m.frameworkInfo.id;
    if (a->tasks.count(m.task.taskId)) return;  // a duplicate launch
    tasksLaunched_.fetch_add(1, std::memory_order_relaxed);
    if (options_.hops) options_.hops->mark(HopTrace::kLaunchedAtAgent, m.task.taskId, steadyNowNs());
    a->frameworks[fw] = m.frameworkInfo;
    EmulatedTask& t = a->tasks[m.task.taskId];
    t.task.taskId = m.task.taskId;
    t.task.name = m.task.name;
    t.task.frameworkId = fw;
    t.task.executorId = executorIdOf(m.task);
    t.task.agentId = m.agentId;
    t.task.state = TaskState::TASK_STAGING;
    t.task.resources = m.task.resources;
    // The command executor reports both at once; the stream keeps RUNNING
    // behind STARTING until STARTING is acknowledged.
    update(*a, t, TaskState::TASK_STARTING);
    update(*a, t, TaskState::TASK_RUNNING);
  }

  void handle(Conn&, wire::KillTaskMessage& m) {
    EmulatedAgent* a = find(m.agentId);
    if (!a) return;
    auto it = a->tasks.find(m.taskId);
    if (it == a->tasks.end() || isTerminal(it->second.task.state)) return;
    update(*a, it->second, TaskState::TASK_KILLED);
  }

  void handle(Conn&, wire::ShutdownFrameworkMessage& m) {
    EmulatedAgent* a = find(m.agentId);
    if (!a) return;
    for (auto& [_, t] : a->tasks) {
      if (t.task.frameworkId == m.frameworkId && !isTerminal(t.task.state)) {
        update(*a, t, TaskState::TASK_KILLED);
      }
    }
  }

  void handle(Conn&, wire::StatusUpdateAckMessage& m) {
    acks_.fetch_add(1, std::memory_order_relaxed);
    EmulatedAgent* a = find(m.agentId);
    if (!a) return;
    auto acked = a->updates->acknowledge(m.frameworkId, m.taskId, m.uuid);
    if (!acked) return;
    if (options_.hops && acked->state == TaskState::TASK_STARTING) {
      options_.hops->mark(HopTrace::kStartingAckedAtAgent, m.taskId, steadyNowNs());
    }
    auto it = a->tasks.find(m.taskId);
    if (it == a->tasks.end()) return;
    EmulatedTask& t = it->second;
    if (isTerminal(acked->state)) {
      if (t.finishTimer) loop_.cancel(t.finishTimer);
      a->tasks.erase(it);
      tasksEnded_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (acked->state == TaskState::TASK_RUNNING && options_.taskRunTime >= Duration(0) &&
        !t.finishTimer && !isTerminal(t.task.state)) {
      TaskID id = m.taskId;
      t.finishTimer = loop_.after(options_.taskRunTime, "emulator.task_finished", [this, a, id] {
        auto f = a->tasks.find(id);
        if (f == a->tasks.end()) return;
        f->second.finishTimer = 0;
        if (!isTerminal(f->second.task.state)) update(*a, f->second, TaskState::TASK_FINISHED);
      });
    }
  }

  void handle(Conn&, wire::ShutdownAgentMessage& m) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    LOG_EVERY_N(WARNING, 1000) << "agent emulator: the master shut agent " << m.agentId
                               << " down: " << m.message;
  }

  template <typename M>
  void handle(Conn&, M&) {}

  void update(EmulatedAgent& a, EmulatedTask& t, TaskState state) {
    TaskStatus s;
    s.taskId = t.task.taskId;
    s.state = state;
    s.source = Source::SOURCE_EXECUTOR;
    s.agentId = *a.info.id;
    s.executorId = t.task.executorId;
    s.timestamp = RealClock::instance().wallSeconds();
    s.uuid = randomUuidBytes();
    if (state == TaskState::TASK_FINISHED) s.exitStatus = 0;
    t.task.state = state;
    t.task.statuses.assign(1, s);  // the latest, for re-registration
    a.updates->update(t.task.frameworkId, s);
  }

  const AgentEmulatorOptions& options_;
  Loop loop_;
  Metrics metrics_;
  Resources resources_;
  std::vector<Conn> conns_;
  std::vector<std::unique_ptr<EmulatedAgent>> agents_;
  std::unordered_map<AgentID, EmulatedAgent*> byId_;
  std::string endpoint_;
  std::unique_ptr<MasterDetector> detector_;
  Loop::TimerId pumpTimer_ = 0;
  int64_t lastRetryScan_ = 0;
  std::thread thread_;

  std::atomic<int64_t> registered_{0}, reregistered_{0}, registeredNow_{0}, leaderChanges_{0};
  std::atomic<int64_t> pongs_{0}, tasksLaunched_{0}, tasksEnded_{0}, updatesSent_{0}, acks_{0};
  std::atomic<int64_t> refused_{0}, lastRegisteredNs_{0};
};

AgentEmulator::AgentEmulator(AgentEmulatorOptions options) : options_(std::move(options)) {}

AgentEmulator::~AgentEmulator() { stop(); }

Status AgentEmulator::start(const std::string& master) {
  if (!Resources::parse(options_.resources).ok()) {
    return Status::InvalidArgument("bad emulated agent resources '" + options_.resources + "'");
  }
  int threads = std::max(1, std::min(options_.threads, std::max(1, options_.agents)));
  int connections = std::max(threads, options_.connections);
  for (int s = 0; s < threads; ++s) {
    int mine = connections / threads + (s < connections % threads ? 1 : 0);
    shards_.push_back(std::make_unique<Shard>(options_, mine));
  }
  for (int i = 0; i < options_.agents; ++i) shards_[static_cast<size_t>(i % threads)]->addAgent(i);
  for (auto& s : shards_) {
    Status st = s->start(master);
    if (!st.ok()) return st;
  }
  return Status::OK();
}

void AgentEmulator::stop() {
  for (auto& s : shards_) s->stop();
}

AgentEmulatorStats AgentEmulator::stats() const {
  AgentEmulatorStats out;
  for (const auto& s : shards_) s->addStats(out);
  return out;
}

}  // namespace tutti::bench
