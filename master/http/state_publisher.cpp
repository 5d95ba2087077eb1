#include "master/http/state_publisher.hpp"

#include <glog/logging.h>

#include <future>

#include "master/state_snapshot.hpp"

namespace tutti::master {

namespace {
constexpr auto kSnapshotWait = std::chrono::seconds(60);
constexpr auto kStopPoll = std::chrono::milliseconds(100);
}  // namespace

StatePublisher::StatePublisher(Master& master, Loop& loop, std::map<std::string, std::string> flags)
    : master_(master), loop_(loop), flags_(std::move(flags)) {
  worker_ = std::thread([this] { run(); });
}

StatePublisher::~StatePublisher() { stop(); }

void StatePublisher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

uint64_t StatePublisher::batches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_;
}

Result<std::shared_ptr<const json::JsonRope>> StatePublisher::get(View view) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("The master is stopping");
  if (!next_) next_ = std::make_shared<Batch>();
  std::shared_ptr<Batch> batch = next_;
  batch->wanted[static_cast<size_t>(view)] = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return batch->done || stopping_; });
  if (!batch->done) return Status::Unavailable("The master is stopping");
  if (!batch->error.ok()) return batch->error;
  return batch->bodies[static_cast<size_t>(view)];
}

void StatePublisher::run() {
  while (true) {
    std::shared_ptr<Batch> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return next_ != nullptr || stopping_; });
      if (stopping_) return;
      batch = std::move(next_);
      next_ = nullptr;
    }
    serve(*batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch->done = true;
      ++batches_;
    }
    cv_.notify_all();
  }
}

void StatePublisher::serve(Batch& batch) {
  // Every request of the batch arrived before this post: the snapshot is
  // fresh for all of them.
  auto promise = std::make_shared<std::promise<std::shared_ptr<const StateSnapshot>>>();
  auto future = promise->get_future();
  loop_.post("http.state_snapshot",
             [this, promise] { promise->set_value(takeStateSnapshot(master_)); });
  auto deadline = std::chrono::steady_clock::now() + kSnapshotWait;
  while (future.wait_for(kStopPoll) != std::future_status::ready) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || std::chrono::steady_clock::now() > deadline) {
      batch.error = Status::Unavailable(stopping_ ? "The master is stopping"
                                                  : "The master's loop did not answer in time");
      return;
    }
  }
  std::shared_ptr<const StateSnapshot> snapshot = future.get();
  for (size_t v = 0; v < kViews; ++v) {
    if (!batch.wanted[v]) continue;
    // The tasks' JSON is referenced from the cache, not copied (json_rope.hpp).
    auto body = std::make_shared<json::JsonRope>();
    // Room for what the previous batch wrote, so the text is not regrown.
    body->text().reserve(textBytes_[v] + textBytes_[v] / 8);
    json::JsonWriter w(body.get());
    switch (static_cast<View>(v)) {
      case View::kState: writeStateJson(w, *snapshot, flags_, false, &cache_); break;
      case View::kStateSummary: writeStateJson(w, *snapshot, flags_, true); break;
      case View::kFrameworks: writeFrameworksJson(w, *snapshot, &cache_); break;
      case View::kSlaves: writeSlavesJson(w, *snapshot); break;
      case View::kTasks: writeTasksJson(w, *snapshot, &cache_); break;
    }
    body->text() += '\n';
    body->seal();
    textBytes_[v] = body->text().size();
    batch.bodies[v] = std::move(body);
  }
  // Tasks no view of this batch listed are gone (or were not asked for).
  if (batch.wanted[static_cast<size_t>(View::kState)] ||
      batch.wanted[static_cast<size_t>(View::kFrameworks)] ||
      batch.wanted[static_cast<size_t>(View::kTasks)]) {
    cache_.sweep();
  }
}

}  // namespace tutti::master
