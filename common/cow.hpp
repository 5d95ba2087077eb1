// Cow<T>: a value shared copy-on-write with readers on other threads.
//
// The owner (one thread: a component's loop) reads through `*` and `->` and
// changes the value through mut(), which first copies it when a reader still
// holds it; share() hands a reader an immutable reference that stays valid
// and unchanged for as long as the reader keeps it. This is how the master
// publishes state snapshots without copying every task each time
// (master/state_snapshot.hpp).
//
// Threads: every method on the owner's thread only; the pointers share()
// returns may be read and dropped on any thread.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace tutti {

template <typename T>
class Cow {
 public:
  Cow() : value_(std::make_shared<T>()) {}
  explicit Cow(T value) : value_(std::make_shared<T>(std::move(value))) {}

  const T& operator*() const { return *value_; }
  const T* operator->() const { return value_.get(); }

  T& mut() {
    // use_count() is exact enough here: only the owner's thread makes new
    // references (through share()), so 1 means nobody else holds it; the
    // fence pairs with the release in the readers' last decrement.
    if (value_.use_count() != 1) {
      value_ = std::make_shared<T>(*value_);
    } else {
      std::atomic_thread_fence(std::memory_order_acquire);
    }
    return *value_;
  }

  std::shared_ptr<const T> share() const { return value_; }

 private:
  std::shared_ptr<T> value_;
};

}  // namespace tutti
