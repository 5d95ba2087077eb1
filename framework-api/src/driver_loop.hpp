// DriverLoop: where a driver's work runs, for both drivers (scheduler and
// executor): a Loop on a thread of the driver's own, or a Loop its caller
// shares and runs (SchedulerDriverOptions::loop, TuttiExecutorDriver(…, loop)).
// Work handed to the loop through it (post, onLoop, after) does nothing once
// close() ran, so a driver destroyed while a shared loop runs on leaves
// nothing behind that uses it.
//
// Threads: the constructor, start() and close() on the driver owner's
// thread; post() and onLoop() on any; after(), stopOwn() on the loop's.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/loop.hpp"

namespace tutti {

class DriverLoop {
 public:
  // `shared` null: the driver gets a loop (and later a thread) of its own,
  // named `name`.
  DriverLoop(Loop* shared, const std::string& name);
  ~DriverLoop();  // close()
  DriverLoop(const DriverLoop&) = delete;
  DriverLoop& operator=(const DriverLoop&) = delete;

  Loop& loop() { return *loop_; }
  bool shared() const { return own_ == nullptr; }

  // Runs `begin` on the loop: first on the driver's own thread, which then
  // runs the loop; or posted to the shared loop.
  void start(std::function<void()> begin);
  void post(const char* name, std::function<void()> fn);
  // Runs `fn` at once on the loop's thread, else posts it.
  void onLoop(const char* name, std::function<void()> fn);
  Loop::TimerId after(Duration delay, const char* name, std::function<void()> fn);
  // Ends the driver's own loop; a shared loop is its owner's to stop.
  void stopOwn();
  // True where join() must not wait: on the thread of a shared loop, which
  // the wait would block.
  bool joinWouldBlockTheLoop() const { return shared() && loop_->isLoopThread(); }
  // From now on nothing handed over runs; the driver's own loop stops, its
  // thread is joined and the calling thread adopts the loop (so that the
  // driver can close its sockets). Idempotent.
  void close();

 private:
  std::function<void()> guarded(std::function<void()> fn);

  std::unique_ptr<Loop> own_;  // null when the loop is the caller's
  Loop* loop_;                 // own_ or the caller's
  std::thread thread_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace tutti
