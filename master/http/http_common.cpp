#include "master/http/http_common.hpp"

#include <chrono>
#include <future>
#include <memory>

namespace tutti::master {

namespace {
// How long an operator request waits for the registry to store its change.
constexpr std::chrono::seconds kDurableWait{30};
}  // namespace

int httpStatusFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return 200;
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kFailedPrecondition: return 409;
    case Status::Code::kPermissionDenied: return 403;
    case Status::Code::kUnavailable: return 503;
    default: return 500;
  }
}

bool isClientError(const Status& s) {
  int code = httpStatusFor(s);
  return code >= 400 && code < 500;
}

HttpResponse statusResponse(const Status& s, int okStatus) {
  if (s.ok()) return HttpResponse::json("{}\n", okStatus);
  return HttpResponse::error(httpStatusFor(s), s.message());
}

Result<json::Json> parseBody(const HttpRequest& req) {
  return json::parseChecked(req.body, "The request body");
}

Status changeDurably(Loop& loop, Master& master, const char* name,
                     std::function<Status(Registry::Done)> change) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  loop.post(name, [&master, promise, change = std::move(change)] {
    if (!master.serving()) {
      promise->set_value(
          Status::Unavailable("The master is recovering its registry; retry shortly"));
      return;
    }
    auto answered = std::make_shared<bool>(false);
    auto answer = [promise, answered](Status s) {
      if (*answered) return;  // on the loop: no race
      *answered = true;
      promise->set_value(std::move(s));
    };
    Status s = change(answer);
    if (!s.ok()) answer(s);
  });
  if (future.wait_for(kDurableWait) != std::future_status::ready) {
    return Status::Unavailable("Timed out waiting for the registry to store the change");
  }
  try {
    return future.get();
  } catch (const std::future_error&) {  // the loop went away with the request
    return Status::Unavailable("The master is stopping");
  }
}

}  // namespace tutti::master
