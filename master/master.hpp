// Master: the leader that holds cluster state and makes offers (DESIGN §7).
//
// The Master wires four managers — agents, frameworks, offers, tasks — to
// one Transport, one Allocator and one Loop (plus the operator-state
// managers for roles and maintenance), and dispatches each inbound
// message to the handler named after it through a table keyed by the
// envelope's union tag. It owns no threads: every method runs on the loop
// thread. MasterDaemon (master_daemon.hpp) adds the thread, sockets and HTTP.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/transport.hpp"
#include "master/agent_manager.hpp"
#include "master/allocator/allocator.hpp"
#include "master/framework_manager.hpp"
#include "master/maintenance_manager.hpp"
#include "master/offer_manager.hpp"
#include "master/options.hpp"
#include "master/registry/registry.hpp"
#include "master/role_manager.hpp"
#include "master/task_manager.hpp"

namespace tutti::master {

class Master {
 public:
  // `registry` defaults to an in-memory one.
  Master(MasterOptions options, MasterInfo info, Loop& loop, Transport& transport,
         Metrics& metrics, std::unique_ptr<Allocator> allocator,
         std::unique_ptr<Registry> registry = nullptr);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // This master leads from now on: recovers the registry (agents it lists
  // wait --agent_reregister_timeout to re-register; frameworks to
  // re-subscribe), then installs the message handler and starts allocating.
  void start();
  bool started() const { return started_; }
  // True once the registry is recovered and messages are handled.
  bool serving() const { return serving_; }
  Registry& registry() { return *registry_; }
  // Called when this master must stop leading (the registry refused a
  // write): it must not diverge from what is stored.
  void onFatal(std::function<void(const std::string&)> fn) { onFatal_ = std::move(fn); }

  const MasterOptions& options() const { return options_; }
  const MasterInfo& info() const { return info_; }
  double startTime() const { return startTime_; }
  Loop& loop() { return loop_; }
  Transport& transport() { return transport_; }
  Metrics& metrics() { return metrics_; }
  Allocator& allocator() { return *allocator_; }
  AgentManager& agents() { return *agents_; }
  FrameworkManager& frameworks() { return *frameworks_; }
  OfferManager& offers() { return *offers_; }
  TaskManager& tasks() { return *tasks_; }
  RoleManager& roles() { return *roles_; }
  const RoleManager& roles() const { return *roles_; }
  MaintenanceManager& maintenance() { return *maintenance_; }
  const MaintenanceManager& maintenance() const { return *maintenance_; }
  const AgentManager& agents() const { return *agents_; }
  const FrameworkManager& frameworks() const { return *frameworks_; }
  const OfferManager& offers() const { return *offers_; }
  const TaskManager& tasks() const { return *tasks_; }

  // Asks for an event-triggered allocation soon; many requests before it
  // runs coalesce into one run over what changed.
  void requestAllocation();

  // Handles one inbound message (the transport's handler).
  void dispatch(const ConnectionId& from, wire::Payload&& message);

  // Count and time of the handlers per message type (index: the payload's
  // variant index), for /metrics/snapshot (`master/handlers/<Message>/...`).
  const std::vector<LoopHandlerStats>& handlerStats() const { return handlerStats_; }

 private:
  // Registers the handler of one message type; `Param` is `const M&`, or
  // `M&&` for handlers that keep parts of the message.
  template <typename Param, typename Owner>
  void on(Owner* owner, void (Owner::*handler)(const ConnectionId&, Param));
  void allocationTick();
  void armFilterExpiry();
  // Runs the allocator and records allocator/allocation_runs and _run_ms.
  void runAllocation(AllocationScope scope);
  void recovered(const RegistryState& state);
  void registerMetrics();

  MasterOptions options_;
  MasterInfo info_;
  Loop& loop_;
  Transport& transport_;
  Metrics& metrics_;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<AgentManager> agents_;
  std::unique_ptr<FrameworkManager> frameworks_;
  std::unique_ptr<OfferManager> offers_;
  std::unique_ptr<TaskManager> tasks_;
  std::unique_ptr<RoleManager> roles_;
  std::unique_ptr<MaintenanceManager> maintenance_;
  std::unique_ptr<Registry> registry_;
  std::function<void(const std::string&)> onFatal_;
  bool serving_ = false;
  std::vector<std::function<void(const ConnectionId&, wire::Payload&&)>> handlers_;
  std::vector<LoopHandlerStats> handlerStats_;
  bool allocationPending_ = false;
  Loop::TimerId allocationTimer_ = 0;
  // Runs an allocation when the earliest refuse filter expires.
  Loop::TimerId filterTimer_ = 0;
  TimePoint filterTimerAt_{};
  double startTime_ = 0;
  bool started_ = false;
  Counter& unexpectedMessages_;
  // Messages that arrive while the registry is being recovered (agents and
  // schedulers follow the election as fast as the new leader does); they
  // are handled in order once recovery is done. Bounded: beyond
  // kMaxEarlyMessages they are dropped (and counted) and their senders retry.
  static constexpr size_t kMaxEarlyMessages = 100'000;
  std::vector<std::pair<ConnectionId, wire::Payload>> early_;
  Counter& droppedEarly_;
  Counter& allocatorOffers_;
  Counter& allocationRuns_;       // full and event-triggered runs
  Histogram& allocationRunMs_;  // allocator/offers: (framework, role, agent) offers made
};

}  // namespace tutti::master
