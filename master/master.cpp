#include "master/master.hpp"

#include <glog/logging.h>

#include <sstream>
#include <type_traits>

namespace tutti::master {

namespace {
template <typename T, typename V>
struct VariantIndex;
template <typename T, typename... Ts>
struct VariantIndex<T, std::variant<Ts...>> {
  static constexpr size_t value = [] {
    size_t i = 0;
    bool found = false;
    ((found = found || std::is_same_v<T, Ts>, i += found ? 0 : 1), ...);
    return i;
  }();
};

std::vector<Resources> parseMinAllocatable(const std::string& text) {
  std::vector<Resources> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '|')) {
    auto r = Resources::parse(part);
    if (r.ok() && !r->empty()) out.push_back(*r);
  }
  return out;
}
}  // namespace

Master::Master(MasterOptions options, MasterInfo info, Loop& loop, Transport& transport,
               Metrics& metrics, std::unique_ptr<Allocator> allocator,
               std::unique_ptr<Registry> registry)
    : options_(std::move(options)),
      info_(std::move(info)),
      loop_(loop),
      transport_(transport),
      metrics_(metrics),
      allocator_(std::move(allocator)),
      unexpectedMessages_(metrics.counter("master/messages_unexpected")),
      droppedEarly_(metrics.counter("master/messages_dropped_recovering")),
      allocatorOffers_(metrics.counter("allocator/offers")),
      allocationRuns_(metrics.counter("allocator/allocation_runs")),
      allocationRunMs_(metrics.histogram("allocator/allocation_run_ms")) {
  agents_ = std::make_unique<AgentManager>(*this);
  frameworks_ = std::make_unique<FrameworkManager>(*this);
  offers_ = std::make_unique<OfferManager>(*this);
  tasks_ = std::make_unique<TaskManager>(*this);
  roles_ = std::make_unique<RoleManager>(*this);
  maintenance_ = std::make_unique<MaintenanceManager>(*this);
  registry_ = registry ? std::move(registry) : makeInMemoryRegistry(loop_);
  registry_->onFailure([this](const Status& s) {
    LOG(ERROR) << "The registry refused a write (" << s << "); this master must step down";
    if (onFatal_) onFatal_("registry write failed: " + s.message());
  });
  handlers_.resize(std::variant_size_v<wire::Payload>);
  handlerStats_.resize(std::variant_size_v<wire::Payload>);

  on(frameworks_.get(), &FrameworkManager::onSubscribe);
  on(frameworks_.get(), &FrameworkManager::onTeardown);
  on(frameworks_.get(), &FrameworkManager::onRevive);
  on(frameworks_.get(), &FrameworkManager::onSuppress);
  on(offers_.get(), &OfferManager::onDecline);
  on(tasks_.get(), &TaskManager::onAccept);
  on(tasks_.get(), &TaskManager::onKill);
  on(tasks_.get(), &TaskManager::onAcknowledge);
  on(tasks_.get(), &TaskManager::onReconcile);
  on(tasks_.get(), &TaskManager::onMessage);
  on(tasks_.get(), &TaskManager::onStatusUpdate);
  on(tasks_.get(), &TaskManager::onExecutorToFramework);
  on(tasks_.get(), &TaskManager::onExitedExecutor);
  on(agents_.get(), &AgentManager::onRegisterAgent);
  on(agents_.get(), &AgentManager::onReregisterAgent);
  on(agents_.get(), &AgentManager::onPong);
  on(agents_.get(), &AgentManager::onUnregisterAgent);

  AllocatorOptions allocatorOptions;
  allocatorOptions.allocationInterval = options_.allocationInterval;
  allocatorOptions.maxAgentsPerRun = options_.allocationMaxAgentsPerRun;
  allocatorOptions.minAllocatableResources = parseMinAllocatable(options_.minAllocatableResources);
  allocatorOptions.fairSharingExcludedResourceNames = options_.fairSharingExcludedResourceNames;
  allocator_->initialize(allocatorOptions, loop_.clock(),
                         [this](const FrameworkID& fw, const auto& resources) {
                           size_t n = 0;
                           for (const auto& [_, agents] : resources) n += agents.size();
                           allocatorOffers_.inc(n);
                           offers_->onAllocation(fw, resources);
                         });
  registerMetrics();
}

Master::~Master() {
  // The transport outlives this master (its daemon closes it after): a
  // queued send failing then must not reach these managers.
  transport_.setSendFailedHandler(nullptr);
  for (const auto& name : {"master/slaves_active", "master/slaves_unreachable",
                           "master/frameworks_active", "master/frameworks_disconnected",
                           "master/frameworks_completed", "master/outstanding_offers",
                           "master/tasks_staging", "master/tasks_starting",
                           "master/tasks_running", "master/tasks_killing",
                           "master/tasks_unreachable", "master/uptime_secs", "master/elected",
                           "master/cpus_total", "master/cpus_used", "master/mem_total",
                           "master/mem_used", "master/disk_total", "master/disk_used",
                           "master/loop_lag_ms_p99"}) {
    metrics_.removeGauge(name);
  }
}

template <typename Param, typename Owner>
void Master::on(Owner* owner, void (Owner::*handler)(const ConnectionId&, Param)) {
  using M = std::remove_cvref_t<Param>;
  constexpr size_t index = VariantIndex<M, wire::Payload>::value;
  static_assert(index < std::variant_size_v<wire::Payload>);
  // The message is the handler's: one taking `M&&` keeps parts of it, one
  // taking `const M&` reads it.
  handlers_[index] = [owner, handler](const ConnectionId& from, wire::Payload&& message) {
    (owner->*handler)(from, std::get<M>(std::move(message)));
  };
}

void Master::start() {
  if (started_) return;
  started_ = true;
  startTime_ = loop_.clock().wallSeconds();
  LOG(INFO) << "Master " << info_.id << " leads; recovering the registry (" << registry_->name()
            << ")";
  transport_.setHandler([this](const ConnectionId& from, wire::Payload&& message) {
    if (early_.size() >= kMaxEarlyMessages) {
      droppedEarly_.inc();
      return;
    }
    early_.emplace_back(from, std::move(message));
  });
  registry_->recover([this](Result<RegistryState> state) {
    if (!state.ok()) {
      LOG(ERROR) << "Cannot recover the registry: " << state.error();
      if (onFatal_) onFatal_("cannot recover the registry: " + state.error());
      return;
    }
    recovered(*state);
  });
}

void Master::recovered(const RegistryState& state) {
  transport_.setSendFailedHandler([this](const ConnectionId& to, const Status& why) {
    frameworks_->onSendFailed(to, why);
  });
  roles_->restore(state.weights, state.quotas);
  maintenance_->restore(state.maintenance);
  frameworks_->restore(state.frameworks);
  agents_->restore(state.agents);
  transport_.setHandler([this](const ConnectionId& from, wire::Payload&& message) {
    dispatch(from, std::move(message));
  });
  serving_ = true;
  if (!early_.empty()) {
    LOG(INFO) << "Handling " << early_.size() << " messages that arrived during recovery";
    auto early = std::move(early_);
    early_.clear();
    for (auto& [from, message] : early) dispatch(from, std::move(message));
  }
  allocationTimer_ =
      loop_.after(options_.allocationInterval, "master.allocation", [this] { allocationTick(); });
  LOG(INFO) << "Master " << info_.id << " serving on " << info_.messageAddress << " (HTTP port "
            << info_.port << "); recovered " << state.agents.size() << " agents and "
            << state.frameworks.size() << " frameworks from the registry";
}

void Master::dispatch(const ConnectionId& from, wire::Payload&& message) {
  auto& handler = handlers_[message.index()];
  if (!handler) {
    unexpectedMessages_.inc();
    LOG_EVERY_N(WARNING, 100) << "Dropping " << wire::payloadName(message)
                              << ": not a message the master accepts";
    return;
  }
  auto start = std::chrono::steady_clock::now();
  LoopHandlerStats& stats = handlerStats_[message.index()];
  handler(from, std::move(message));
  auto took = std::chrono::steady_clock::now() - start;
  stats.count++;
  stats.total += took;
  stats.max = std::max<Duration>(stats.max, took);
}

void Master::requestAllocation() {
  if (allocationPending_) return;
  allocationPending_ = true;
  loop_.post("master.allocate_changed", [this] {
    allocationPending_ = false;
    if (allocator_->hasPendingChanges()) runAllocation(AllocationScope::kChanged);
    armFilterExpiry();  // a decline may have added a filter
  });
}

void Master::armFilterExpiry() {
  std::optional<TimePoint> next = allocator_->nextFilterExpiry();
  if (!next) return;
  if (filterTimer_ != 0 && filterTimerAt_ <= *next) return;
  if (filterTimer_ != 0) loop_.cancel(filterTimer_);
  filterTimerAt_ = *next;
  Duration delay = std::max<Duration>(Duration::zero(), *next - loop_.clock().now());
  filterTimer_ = loop_.after(delay, "master.filter_expiry", [this] {
    filterTimer_ = 0;
    requestAllocation();
  });
}

void Master::runAllocation(AllocationScope scope) {
  auto start = std::chrono::steady_clock::now();
  allocator_->allocate(scope);
  allocationRuns_.inc();
  allocationRunMs_.record(toMillis(std::chrono::steady_clock::now() - start));
  armFilterExpiry();
  // A run stopped at allocationMaxAgentsPerRun: the rest on the next turn.
  if (allocator_->stoppedEarly()) requestAllocation();
}

void Master::allocationTick() {
  runAllocation(AllocationScope::kAll);
  allocationTimer_ =
      loop_.after(options_.allocationInterval, "master.allocation", [this] { allocationTick(); });
}

void Master::registerMetrics() {
  metrics_.gauge("master/elected", [this] { return started_ ? 1.0 : 0.0; });
  metrics_.gauge("master/uptime_secs",
                 [this] { return loop_.clock().wallSeconds() - startTime_; });
  metrics_.gauge("master/slaves_active",
                 [this] { return static_cast<double>(agents_->registeredCount()); });
  metrics_.gauge("master/slaves_unreachable",
                 [this] { return static_cast<double>(agents_->unreachableCount()); });
  metrics_.gauge("master/frameworks_active", [this] {
    double n = 0;
    for (const auto& [_, f] : frameworks_->all()) n += f.state == FrameworkState::kActive;
    return n;
  });
  metrics_.gauge("master/frameworks_disconnected", [this] {
    double n = 0;
    for (const auto& [_, f] : frameworks_->all()) n += f.state == FrameworkState::kDisconnected;
    return n;
  });
  metrics_.gauge("master/frameworks_completed",
                 [this] { return static_cast<double>(frameworks_->completed().size()); });
  metrics_.gauge("master/outstanding_offers",
                 [this] { return static_cast<double>(offers_->size()); });
  for (auto [name, state] :
       std::initializer_list<std::pair<const char*, TaskState>>{
           {"master/tasks_staging", TaskState::TASK_STAGING},
           {"master/tasks_starting", TaskState::TASK_STARTING},
           {"master/tasks_running", TaskState::TASK_RUNNING},
           {"master/tasks_killing", TaskState::TASK_KILLING}}) {
    metrics_.gauge(name, [this, state] { return static_cast<double>(tasks_->activeCount(state)); });
  }
  metrics_.gauge("master/tasks_unreachable", [this] {
    double n = 0;
    for (const auto& [_, f] : frameworks_->all()) n += f.unreachableTasks.size();
    return n;
  });
  for (const char* res : {"cpus", "mem", "disk"}) {
    std::string r = res;
    metrics_.gauge("master/" + r + "_total", [this, r] { return agents_->registeredTotal(r); });
    // From the frameworks' totals: summing every agent's per-framework use
    // costs Resources arithmetic per agent, too much for a 50,000-agent loop.
    metrics_.gauge("master/" + r + "_used", [this, r] {
      double n = 0;
      for (const auto& [_, f] : frameworks_->all()) n += f.used.scalar(r);
      return n;
    });
  }
  metrics_.gauge("master/loop_lag_ms_p99", [this] { return loop_.stats().lagP99Ms; });
}

}  // namespace tutti::master
