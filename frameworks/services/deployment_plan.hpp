// The deployment planner: given an app's target (instances, upgrade
// strategy) and its live instances, what to launch and what to kill now.
// One function serves every case: start, scale up and down, replacing lost
// instances, and rolling upgrades (instances of an older config version
// are "old"). Pure: no clock, no I/O; the scheduler calls it after every
// change and applies its answer.
//
// Rolling upgrade (Marathon's TaskReplaceActor): with N instances,
// minHealthy = ceil(N × minimumHealthCapacity) and maxCapacity =
// floor(N × (1 + maximumOverCapacity)) (one more when both are equal, so
// that a 1/0 strategy can still move; for a resident app, whose new
// instances need the reservations the old ones hold, one fewer minHealthy
// instead). Old instances are killed only while
// ready ones (healthy, or running when the app has no health checks) stay
// at or above minHealthy; new ones are launched while the total stays at or
// below maxCapacity. Old instances that are not ready are killed at once.
#pragma once

#include <string>
#include <vector>

#include "frameworks/services/app.hpp"

namespace tutti::services {

struct InstanceView {
  std::string id;
  bool current = true;   // runs the app's current config version
  bool ready = false;    // healthy (or running without health checks)
  bool killing = false;  // a kill was sent
  double stagedAt = 0;   // for killSelection
};

struct PlanStep {
  int launch = 0;                // new instances of the current version
  std::vector<std::string> kill;  // instance ids
  bool converged = false;        // N ready current instances, nothing else alive
};

PlanStep planStep(int instances, const UpgradeStrategy& strategy, KillSelection killSelection,
                  const std::vector<InstanceView>& live, bool resident = false);

}  // namespace tutti::services
