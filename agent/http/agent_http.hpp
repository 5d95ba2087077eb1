// The agent's HTTP endpoints, shaped as Mesos's: /state (also
// /slave(1)/state), /files/read, /files/browse, /files/download, /health,
// /flags, /metrics/snapshot, /metrics, /version.
//
// Handlers run on HTTP threads and read agent state through the loop.
#pragma once

#include <map>
#include <string>

#include "agent/agent.hpp"
#include "common/http.hpp"

namespace tutti::agent {

void installAgentRoutes(HttpServer& server, Agent& agent, Loop& loop, Metrics& metrics,
                        std::map<std::string, std::string> flags);

}  // namespace tutti::agent
