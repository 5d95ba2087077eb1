#include "frameworks/services/deployment_plan.hpp"

#include <algorithm>
#include <cmath>

namespace tutti::services {
namespace {

// Instances in the order they should be killed: not ready first, then by
// the kill selection.
std::vector<const InstanceView*> killOrder(std::vector<const InstanceView*> list,
                                           KillSelection selection) {
  std::stable_sort(list.begin(), list.end(), [&](const InstanceView* a, const InstanceView* b) {
    if (a->ready != b->ready) return !a->ready;
    return selection == KillSelection::kYoungestFirst ? a->stagedAt > b->stagedAt
                                                      : a->stagedAt < b->stagedAt;
  });
  return list;
}

}  // namespace

PlanStep planStep(int instances, const UpgradeStrategy& strategy, KillSelection killSelection,
                  const std::vector<InstanceView>& live, bool resident) {
  PlanStep step;
  std::vector<const InstanceView*> fresh, old;
  int freshReady = 0, oldReady = 0, killing = 0;
  for (const auto& i : live) {
    if (i.killing) {
      ++killing;
      continue;
    }
    (i.current ? fresh : old).push_back(&i);
    if (i.ready) ++(i.current ? freshReady : oldReady);
  }
  int n = std::max(instances, 0);
  int freshCount = static_cast<int>(fresh.size());

  if (old.empty()) {
    if (freshCount < n) step.launch = n - freshCount;
    if (freshCount > n) {
      auto order = killOrder(fresh, killSelection);
      for (int i = 0; i < freshCount - n; ++i) step.kill.push_back(order[i]->id);
    }
    step.converged = freshCount == n && freshReady == n && killing == 0;
    return step;
  }

  int minHealthy = static_cast<int>(std::ceil(n * strategy.minimumHealthCapacity - 1e-9));
  int maxCapacity = static_cast<int>(std::floor(n * (1 + strategy.maximumOverCapacity) + 1e-9));
  if (maxCapacity <= minHealthy && resident) {
    minHealthy = maxCapacity - 1;
  } else if (maxCapacity <= minHealthy) {
    maxCapacity = minHealthy + 1;
  }
  int budget = std::max(0, oldReady + freshReady - minHealthy);
  int oldLeft = 0;
  for (const InstanceView* i : killOrder(old, killSelection)) {
    if (!i->ready) {
      step.kill.push_back(i->id);
    } else if (budget > 0) {
      step.kill.push_back(i->id);
      --budget;
    } else {
      ++oldLeft;
    }
  }
  int room = maxCapacity - (oldLeft + freshCount);
  step.launch = std::max(0, std::min(n - freshCount, room));
  // Too many new ones (the target shrank mid-way): trim them as a scale does.
  if (freshCount > n) {
    auto order = killOrder(fresh, killSelection);
    for (int i = 0; i < freshCount - n; ++i) step.kill.push_back(order[i]->id);
  }
  return step;
}

}  // namespace tutti::services
