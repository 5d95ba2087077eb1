// POST /api/v1: the part of Mesos's v1 operator API that has no v0
// endpoint here, in its JSON form (Content-Type: application/json):
//
//   {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": ID}}}
//   {"type": "TEARDOWN", "teardown": {"framework_id": {"value": ID}}}
//   {"type": "GET_HEALTH"}    -> {"type": "GET_HEALTH", "get_health": {"healthy": true}}
//   {"type": "GET_VERSION"}   -> {"type": "GET_VERSION", "get_version": {"version_info": …}}
//
// Changes answer 200 once the registry holds them. A malformed call is 400
// (and counts in master/invalid_http_requests), an unknown id 404, a call
// type this master does not implement 501 with the list of those it does,
// a protobuf body 415.
//
// Threads: an HTTP thread; changes run on the master's loop.
#pragma once

#include "common/http.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "master/master.hpp"

namespace tutti::master {

HttpResponse handleOperatorCall(const HttpRequest& req, Master& master, Loop& loop,
                                Metrics& metrics);

}  // namespace tutti::master
