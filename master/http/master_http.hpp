// The master's HTTP endpoints, shaped as Mesos's (DESIGN §7):
// /master/state (also /state), /master/state-summary, /master/frameworks,
// /master/slaves, /master/tasks, /master/roles, /master/flags,
// /master/health, the operator endpoints (/master/weights, /master/quota,
// /master/reserve, /master/unreserve, /master/maintenance/schedule,
// /master/maintenance/status, /master/machine/down, /master/machine/up,
// /master/teardown, /api/v1 (operator_api.hpp)), /metrics/snapshot,
// /metrics (Prometheus text), /version.
//
// Handlers run on HTTP threads. The state endpoints (state, state-summary,
// frameworks, slaves, tasks) answer from snapshots `state` publishes; the
// others build their (small) JSON on the master's loop, one closure per
// request, and serialize it on the HTTP thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/http.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "master/http/state_publisher.hpp"
#include "master/master.hpp"

namespace tutti::master {

// `flags`: the command-line flags to show at /master/flags. `state` must
// outlive the server's handlers. `leaderUrl`
// (thread-safe): nullopt while this master leads; otherwise the leader's
// "http://ip:port", or "" when no leader is known.
void installMasterRoutes(HttpServer& server, Master& master, Loop& loop, Metrics& metrics,
                         StatePublisher& state, std::map<std::string, std::string> flags,
                         std::function<std::optional<std::string>()> leaderUrl = nullptr);

}  // namespace tutti::master
