// StatePublisher: serves the master's state endpoints from snapshots the
// loop publishes, serialized off the loop (DESIGN §7).
//
// Requests are batched: one worker thread takes every request that is
// waiting, asks the loop for one snapshot (takeStateSnapshot(): pointers to
// the copy-on-write tasks and offers, small copies of agents and frameworks),
// then serializes each view asked for once, and answers all of them. So
// concurrent readers share one snapshot and one serialization per view, the
// loop pays one cheap snapshot per batch, and every answer is fresh: its
// snapshot was taken after the request arrived (a test that changed
// something and then reads sees the change). Requests that arrive while a
// batch is being served wait for the next one.
//
// Threads: get() from any thread but the loop's (HTTP threads); stop() from
// the owner. Errors: get() answers Unavailable once stopped, or when the
// loop does not take the snapshot within a minute.
#pragma once

#include <array>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/json_rope.hpp"
#include "common/loop.hpp"
#include "master/master.hpp"
#include "master/state_snapshot.hpp"
#include "tutti/status.hpp"

namespace tutti::master {

class StatePublisher {
 public:
  enum class View { kState, kStateSummary, kFrameworks, kSlaves, kTasks };

  // `flags` are shown in /master/state.
  StatePublisher(Master& master, Loop& loop, std::map<std::string, std::string> flags);
  ~StatePublisher();
  StatePublisher(const StatePublisher&) = delete;
  StatePublisher& operator=(const StatePublisher&) = delete;

  // The JSON body of `view` (with a final newline), sealed.
  Result<std::shared_ptr<const json::JsonRope>> get(View view);
  // Answers waiting requests with Unavailable and joins the worker (idempotent).
  void stop();

  // Batches served so far (tests).
  uint64_t batches() const;

 private:
  static constexpr size_t kViews = 5;
  struct Batch {
    std::array<bool, kViews> wanted{};
    std::array<std::shared_ptr<const json::JsonRope>, kViews> bodies;
    bool done = false;
    Status error;
  };
  void run();
  void serve(Batch& batch);

  Master& master_;
  Loop& loop_;
  const std::map<std::string, std::string> flags_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // a batch to serve, a batch done, or stopping
  std::shared_ptr<Batch> next_;  // collecting requests; guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  uint64_t batches_ = 0;         // guarded by mu_
  TaskJsonCache cache_;  // worker thread only
  std::array<size_t, kViews> textBytes_{};  // worker thread only: per view, the last text size
  std::thread worker_;
};

}  // namespace tutti::master
