#include "framework-api/src/driver_loop.hpp"

#include <chrono>

#include "common/clock.hpp"

namespace tutti {

DriverLoop::DriverLoop(Loop* shared, const std::string& name) : loop_(shared) {
  if (!shared) {
    own_ = std::make_unique<Loop>(RealClock::instance(),
                                  Loop::Options{name, std::chrono::milliseconds(100)});
    loop_ = own_.get();
  }
}

DriverLoop::~DriverLoop() { close(); }

void DriverLoop::start(std::function<void()> begin) {
  if (shared()) {
    post("driver.start", std::move(begin));
    return;
  }
  thread_ = std::thread([this, begin = std::move(begin)] {
    loop_->adoptCurrentThread();
    begin();
    loop_->run();
  });
}

std::function<void()> DriverLoop::guarded(std::function<void()> fn) {
  return [alive = alive_, fn = std::move(fn)] {
    if (alive->load()) fn();
  };
}

void DriverLoop::post(const char* name, std::function<void()> fn) {
  loop_->post(name, guarded(std::move(fn)));
}

void DriverLoop::onLoop(const char* name, std::function<void()> fn) {
  if (loop_->isLoopThread()) {
    fn();
  } else {
    post(name, std::move(fn));
  }
}

Loop::TimerId DriverLoop::after(Duration delay, const char* name, std::function<void()> fn) {
  return loop_->after(delay, name, guarded(std::move(fn)));
}

void DriverLoop::stopOwn() {
  if (!shared()) loop_->stop();
}

void DriverLoop::close() {
  alive_->store(false);
  if (shared()) return;
  loop_->stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  if (thread_.joinable()) thread_.detach();
  loop_->adoptCurrentThread();
}

}  // namespace tutti
