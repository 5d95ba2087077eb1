// Helpers shared by the master's HTTP handlers: Status to HTTP status,
// JSON bodies, and operator changes that answer once the registry holds
// them.
//
// Threads: called on HTTP threads; changeDurably() posts to the master's
// loop and blocks the calling HTTP thread until the answer.
#pragma once

#include <functional>

#include "common/http.hpp"
#include "common/json.hpp"
#include "common/loop.hpp"
#include "tutti/status.hpp"
#include "master/master.hpp"

namespace tutti::master {

// InvalidArgument 400, NotFound 404, FailedPrecondition 409,
// PermissionDenied 403, Unavailable 503, anything else 500.
int httpStatusFor(const Status& s);
bool isClientError(const Status& s);

// `{}` with `okStatus`, or the error's status and message.
HttpResponse statusResponse(const Status& s, int okStatus = 200);

// A JSON request body, or InvalidArgument that says why not.
Result<json::Json> parseBody(const HttpRequest& req);

// Runs `change` on the loop. It returns a validation error at once, or OK
// and calls its `durable` callback once the registry holds the change; the
// answer waits for that, so that a 200 means "stored". Unavailable while
// the master is still recovering its registry (the change would be lost),
// or when the registry does not answer within 30 s.
Status changeDurably(Loop& loop, Master& master, const char* name,
                     std::function<Status(Registry::Done)> change);

}  // namespace tutti::master
