// allocator: the HierarchicalAllocator alone, no master, no sockets.
//
// A agents (cpus:16;mem:65536;disk:1000000;ports:[31000-32000]) and F
// frameworks spread over 10 roles ("role0".."role9") that accept nothing:
// they keep every offer until the benchmark gives it back. Measured, with a
// steady clock, around the allocator calls only:
//   add_agents_ms   adding the A agents (F frameworks already subscribed);
//   full_cycle_ms   allocate(kAll) with every agent's resources free (the
//                   benchmark first recovers all outstanding offers, not
//                   timed): one placement per agent; median of several;
//   event_cycle_ms  one agent's offer recovered plus allocate(kChanged),
//                   what an event costs (the recovery is timed too); median
//                   of many, rotating over agents;
//   offers          offers (framework × agent) made by the last full cycle.
// The minimum allocatable resources are the master's default
// (cpus:0.01|mem:32). Exit code 0 unless the allocator offered nothing or
// placed an agent twice.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "master/allocator/hierarchical_allocator.hpp"
#include "tests/bench/bench.hpp"
#include "tests/bench/report.hpp"

namespace tutti::bench {

namespace {

using Steady = std::chrono::steady_clock;


double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// What a framework holds on an agent: usually the whole agent in its role
// (a pointer to the one Resources per role, so that recording an offer
// costs the benchmark next to nothing), else a copy.
struct Held {
  FrameworkID framework;
  const Resources* whole = nullptr;
  Resources part;
  const Resources& resources() const { return whole ? *whole : part; }
};

}  // namespace

int runAllocator(const AllocatorOptions& options) {
  const int agents = std::max(1, options.agents);
  const int frameworks = std::max(1, options.frameworks);
  constexpr int kRoles = 10;

  ManualClock clock;
  master::HierarchicalAllocator allocator;
  master::AllocatorOptions allocatorOptions;
  allocatorOptions.minAllocatableResources = {*Resources::parse("cpus:0.01"),
                                              *Resources::parse("mem:32")};

  Resources total = *Resources::parse("cpus:16;mem:65536;disk:1000000;ports:[31000-32000]");
  std::map<std::string, Resources> wholeAgent;  // by role: all of an agent, allocated
  for (int r = 0; r < kRoles; ++r) {
    std::string role = "role" + std::to_string(r);
    wholeAgent[role] = total.allocate(role);
  }

  // What each agent's frameworks hold, by agent index ("agent-<index>").
  std::vector<std::vector<Held>> held(agents);
  long offers = 0;
  bool doubled = false;
  using ByRole = std::map<std::string, std::map<AgentID, Resources>>;
  allocator.initialize(
      allocatorOptions, clock, [&](const FrameworkID& fw, const ByRole& byRole) {
        for (const auto& [role, byAgent] : byRole) {
          const Resources& whole = wholeAgent.at(role);
          for (const auto& [agent, resources] : byAgent) {
            size_t index = std::stoul(agent.value.substr(6));
            // Everything is always given back at once: an agent offered
            // while something of it is held was offered twice.
            doubled = doubled || !held[index].empty();
            if (resources == whole) {
              held[index].push_back({fw, &whole, {}});
            } else {
              held[index].push_back({fw, nullptr, resources});
            }
            ++offers;
          }
        }
      });

  for (int i = 0; i < frameworks; ++i) {
    FrameworkInfo info;
    info.name = "framework-" + std::to_string(i);
    info.roles = {"role" + std::to_string(i % kRoles)};
    allocator.addFramework(FrameworkID(info.name), info, {}, true, {});
  }

  std::vector<AgentID> ids;
  std::vector<AgentInfo> infos;
  for (int i = 0; i < agents; ++i) {
    ids.emplace_back("agent-" + std::to_string(i));
    AgentInfo info;
    info.hostname = ids.back().value + ".example";
    info.id = ids.back();
    info.resources = total;
    infos.push_back(std::move(info));
  }
  auto start = Steady::now();
  for (int i = 0; i < agents; ++i) allocator.addAgent(ids[i], infos[i], total, {});
  double addAgentsMs = msSince(start);

  auto recover = [&](int index) {
    for (const auto& h : held[index]) {
      allocator.recoverResources(h.framework, ids[index], h.resources(), std::nullopt);
    }
    held[index].clear();
  };

  // The first cycle places the fresh agents; then full cycles from scratch.
  allocator.allocate(master::AllocationScope::kAll);
  std::vector<double> full;
  long lastFullOffers = 0;
  const int fullCycles = agents >= 20000 ? 5 : 9;
  for (int c = 0; c < fullCycles; ++c) {
    for (int i = 0; i < agents; ++i) recover(i);
    long before = offers;
    start = Steady::now();
    allocator.allocate(master::AllocationScope::kAll);
    full.push_back(msSince(start));
    lastFullOffers = offers - before;
  }

  std::vector<double> event;
  const int eventCycles = 201;
  for (int c = 0; c < eventCycles; ++c) {
    int index = static_cast<int>((static_cast<long>(c) * 7919) % agents);
    start = Steady::now();
    recover(index);
    allocator.allocate(master::AllocationScope::kChanged);
    event.push_back(msSince(start));
  }

  std::printf(
      "allocator agents=%d frameworks=%d add_agents_ms=%.1f full_cycle_ms=%.2f "
      "event_cycle_ms=%.4f offers=%ld\n",
      agents, frameworks, addAgentsMs, median(full), median(event), lastFullOffers);
  if (doubled) std::fprintf(stderr, "allocator: an agent was offered while still held\n");
  return offers > 0 && !doubled ? 0 : 1;
}

}  // namespace tutti::bench
