// /monitor/statistics and /containers (Mesos shapes): per running container,
// its limits and its usage -- from its cgroups under cgroups isolation, else
// summed over the executor's session from /proc (posix isolation).
//
// The list of containers is taken on the agent's loop (loop.call); the
// files are read on the HTTP thread, so a slow /proc never stalls the loop.
#pragma once

#include "agent/agent.hpp"
#include "common/http.hpp"
#include "common/json.hpp"

namespace tutti::agent {

void installMonitorRoutes(HttpServer& server, Agent& agent, Loop& loop);

}  // namespace tutti::agent
