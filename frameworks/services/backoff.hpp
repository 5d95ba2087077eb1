// Launch backoff (Marathon's): after the n-th failure of an app's task in a
// row, its next launch waits backoffSeconds × backoffFactor^(n-1), capped at
// maxLaunchDelaySeconds. A task that ran for kBackoffResetSeconds before it
// failed starts the count again. Pure functions.
#pragma once

#include "frameworks/services/app.hpp"

namespace tutti::services {

constexpr double kBackoffResetSeconds = 60;

// The delay before the next launch after `failures` failures in a row (0: none).
double launchDelaySeconds(const AppDefinition& app, int failures);

// The failure count after one more failure of a task that ran `ranSeconds`
// (0 when it never ran).
int nextFailureCount(int failures, double ranSeconds);

}  // namespace tutti::services
