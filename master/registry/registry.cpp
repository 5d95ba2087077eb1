#include "master/registry/registry.hpp"

#include <glog/logging.h>

namespace tutti::master {

void Registry::recover(std::function<void(Result<RegistryState>)> done) {
  load([this, done = std::move(done)](Result<RegistryState> state) {
    if (state.ok()) state_ = *state;
    done(std::move(state));
  });
}

void Registry::schedule(Done done) {
  if (done) waiting_.push_back(std::move(done));
  if (flushScheduled_) return;
  flushScheduled_ = true;
  // Everything mutated during this turn of the loop goes out in one write.
  loop_.post("registry.flush", [this] { flush(); });
}

void Registry::flush() {
  flushScheduled_ = false;
  if (storing_) {
    // Another write is on its way; this batch follows when it completes.
    return;
  }
  if (dirty_.empty() && waiting_.empty()) return;
  storing_ = true;
  Dirty dirty = std::move(dirty_);
  dirty_ = Dirty{};
  std::vector<Done> waiting = std::move(waiting_);
  waiting_.clear();
  ++writes_;
  store(state_, dirty, [this, waiting = std::move(waiting)](Status s) {
    storing_ = false;
    if (!s.ok()) LOG(ERROR) << "Registry (" << name() << "): write failed: " << s;
    for (const auto& d : waiting) d(s);
    if (!s.ok() && onFailure_) onFailure_(s);
    if (!dirty_.empty() || !waiting_.empty()) {
      flushScheduled_ = true;
      loop_.post("registry.flush", [this] { flush(); });
    }
  });
}

void Registry::admitAgent(const AgentInfo& info, Done done) {
  auto& a = state_.agents[*info.id];
  const bool unchanged = a.state == RegistryState::Agent::State::kAdmitted &&
                         a.unreachableTime == 0 && a.info == info;
  a.info = info;
  a.state = RegistryState::Agent::State::kAdmitted;
  a.unreachableTime = 0;
  // An agent re-registering as it was (after a master failover, all of
  // them at once) needs no write: `done` still waits for every write
  // already under way, which may be the one that recorded it.
  if (!unchanged) dirty_.agents.insert(*info.id);
  schedule(std::move(done));
}

void Registry::markUnreachable(const AgentID& id, double time, Done done) {
  auto it = state_.agents.find(id);
  if (it != state_.agents.end()) {
    it->second.state = RegistryState::Agent::State::kUnreachable;
    it->second.unreachableTime = time;
    dirty_.agents.insert(id);
  }
  schedule(std::move(done));
}

void Registry::markGone(const AgentID& id, Done done) {
  auto it = state_.agents.find(id);
  if (it != state_.agents.end()) {
    it->second.state = RegistryState::Agent::State::kGone;
    dirty_.agents.insert(id);
  }
  schedule(std::move(done));
}

void Registry::removeAgent(const AgentID& id, Done done) {
  if (state_.agents.erase(id)) dirty_.agents.insert(id);
  schedule(std::move(done));
}

void Registry::addFramework(const FrameworkInfo& info, Done done) {
  state_.frameworks[*info.id] = info;
  dirty_.frameworks.insert(*info.id);
  schedule(std::move(done));
}

void Registry::removeFramework(const FrameworkID& id, Done done) {
  if (state_.frameworks.erase(id)) dirty_.frameworks.insert(id);
  schedule(std::move(done));
}

void Registry::setWeights(const std::map<std::string, double>& weights, Done done) {
  for (const auto& [role, w] : weights) {
    state_.weights[role] = w;
    dirty_.roles.insert(role);
  }
  schedule(std::move(done));
}

void Registry::setQuota(const std::string& role, const std::optional<Quota>& quota, Done done) {
  if (quota) {
    state_.quotas[role] = *quota;
  } else {
    state_.quotas.erase(role);
  }
  dirty_.roles.insert(role);
  schedule(std::move(done));
}

void Registry::setMaintenance(const MaintenanceState& maintenance, Done done) {
  state_.maintenance = maintenance;
  dirty_.maintenance = true;
  schedule(std::move(done));
}

namespace {
class InMemoryRegistry final : public Registry {
 public:
  using Registry::Registry;
  const char* name() const override { return "in_memory"; }

 protected:
  void load(std::function<void(Result<RegistryState>)> done) override {
    loop_.post("registry.load", [done = std::move(done)] { done(RegistryState{}); });
  }
  void store(const RegistryState&, const Dirty&, Done done) override {
    loop_.post("registry.store", [done = std::move(done)] { done(Status::OK()); });
  }
};
}  // namespace

std::unique_ptr<Registry> makeInMemoryRegistry(Loop& loop) {
  return std::make_unique<InMemoryRegistry>(loop);
}

}  // namespace tutti::master
