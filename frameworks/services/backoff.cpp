#include "frameworks/services/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace tutti::services {

double launchDelaySeconds(const AppDefinition& app, int failures) {
  if (failures <= 0) return 0;
  // Past the cap the power only grows: stop early and avoid overflow.
  double delay = app.backoffSeconds;
  for (int i = 1; i < failures && delay < app.maxLaunchDelaySeconds; ++i) {
    delay *= app.backoffFactor;
  }
  return std::min(delay, app.maxLaunchDelaySeconds);
}

int nextFailureCount(int failures, double ranSeconds) {
  if (ranSeconds >= kBackoffResetSeconds) return 1;
  return std::min(failures + 1, 1000000);
}

}  // namespace tutti::services
