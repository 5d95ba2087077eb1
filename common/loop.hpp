// Loop: the single thread that owns a component's state (DESIGN §4).
//
// A Loop multiplexes ZeroMQ sockets, file descriptors, timers and closures
// posted from other threads. Everything a component does happens in a handler
// run by its loop, one at a time, so component code needs no locks.
//
// Threads: post(), stop() and wakeup() may be called from any thread. All
// other methods must be called on the loop's thread: the thread inside run(),
// or, when nothing calls run() (unit tests), the thread that calls settle().
//
// Names given to post() and after() must be string literals (they are kept by
// pointer); the loop counts calls and time per name, and warns about handlers
// slower than Options::slowHandlerThreshold.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"

namespace tutti {

struct LoopHandlerStats {
  uint64_t count = 0;
  Duration total{0};
  Duration max{0};
};

struct LoopStats {
  std::map<std::string, LoopHandlerStats> handlers;
  uint64_t slowHandlers = 0;
  // Delay between post() and the start of the posted closure.
  Duration lagLast{0};
  Duration lagMax{0};
  double lagP99Ms = 0;  // over the last 1024 posted closures
  size_t pendingPosts = 0;
  size_t timers = 0;
};

class Loop {
 public:
  struct Options {
    std::string name = "loop";                // for logs, and the thread's name
    Duration slowHandlerThreshold = 100ms;  // handlers slower than this are logged
  };
  using TimerId = uint64_t;

  explicit Loop(Clock& clock);
  Loop(Clock& clock, Options options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  Clock& clock() { return clock_; }
  TimePoint now() const { return clock_.now(); }

  // Any thread: queues `fn` to run on the loop.
  void post(const char* name, std::function<void()> fn);

  // Loop thread: runs `fn` once after `delay` of the loop's clock.
  TimerId after(Duration delay, const char* name, std::function<void()> fn);
  // Loop thread: a timer that was cancelled or already ran is ignored.
  void cancel(TimerId id);

  // Loop thread: calls `onReadable` when the ZeroMQ socket (a void* handle)
  // or the fd may be read. The handler must read until the socket has no
  // more (EAGAIN); one that stops early must call recheckSocket().
  //
  // The loop waits on a ZeroMQ socket's ZMQ_FD with plain poll(2) and asks
  // the socket itself (ZMQ_EVENTS, two syscalls inside libzmq) only when it
  // may hold messages that fd does not announce: ZMQ_FD signals commands,
  // not messages, and any send or receive on the socket may consume that
  // signal. zmq_poll() asks every socket twice per wait instead, which made
  // a loop of a few sockets spend most of its time in syscalls. Only the
  // classic socket types (they have a ZMQ_FD); aborts on any other.
  void watchSocket(void* socket, const char* name, std::function<void()> onReadable);
  // Loop thread: the ZeroMQ socket may be readable without its fd saying so
  // (something sent on it, or its handler left messages for later): the next
  // round asks it. Unwatched sockets are ignored.
  void recheckSocket(void* socket);
  void watchFd(int fd, const char* name, std::function<void()> onReadable);
  void unwatchSocket(void* socket);
  void unwatchFd(int fd);

  // Loop thread: `fn` runs at the start of every round, before the loop
  // asks its sockets and waits: transports send what the last round queued
  // (ZeroMQ transports coalesce a round's sends, see transport.hpp). Returns
  // an id for removeBeforeWait().
  uint64_t addBeforeWait(std::function<void()> fn);
  void removeBeforeWait(uint64_t id);

  // Runs until stop(). Marks the calling thread as the loop's thread.
  void run();
  // Any thread: makes run() return after the current handler.
  void stop();
  // Any thread: wakes the loop up (e.g. after the clock moved).
  void wakeup();

  // Loop thread (tests): runs everything that is ready now — posted closures,
  // due timers, readable sockets — until nothing is left. Never blocks.
  // Returns the number of handlers run.
  size_t settle();
  // Loop thread (tests): like settle(), but waits up to `timeout` of real
  // time for I/O when nothing is ready; returns after the first busy round.
  size_t runOnce(Duration timeout);

  bool isLoopThread() const;
  // Pretend the calling thread is the loop's (for single-threaded tests).
  void adoptCurrentThread();

  // Any thread but the loop's: runs `fn` on the loop and returns its result.
  template <typename F>
  auto call(const char* name, F fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    post(name, [promise, fn = std::move(fn)]() mutable {
      if constexpr (std::is_void_v<R>) {
        fn();
        promise->set_value();
      } else {
        promise->set_value(fn());
      }
    });
    return future.get();
  }

  // Loop thread.
  LoopStats stats() const;

 private:
  struct Timer {
    const char* name;
    std::function<void()> fn;
    TimePoint when;  // its entry in timerQueue_
  };
  struct Posted {
    const char* name;
    std::function<void()> fn;
    TimePoint postedAt;
  };

  // One round: before-wait hooks, then a wait of at most `maxWaitMs` (-1:
  // no bound) and no longer than the next timer or posted closure, then
  // whatever is ready.
  size_t runReady(int maxWaitMs);
  int nextTimeoutMs() const;
  size_t runDueTimers();
  size_t runPosted();
  void runHandler(const char* name, const std::function<void()>& fn);
  void drainWakeFd();

  Clock& clock_;
  Options options_;
  int wakeFd_ = -1;
  uint64_t clockListener_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<std::thread::id> owner_{};

  std::mutex postMu_;
  std::deque<Posted> posted_;

  TimerId nextTimerId_ = 1;
  std::multimap<TimePoint, TimerId> timerQueue_;
  std::unordered_map<TimerId, Timer> timers_;

  struct Watch {
    void* socket = nullptr;
    int fd = -1;  // the socket's ZMQ_FD for a ZeroMQ socket
    const char* name = "io";
    std::shared_ptr<std::function<void()>> fn;
    bool recheck = false;  // ZeroMQ socket: ask ZMQ_EVENTS next round
    bool ready = false;    // this round: the recheck found messages
  };
  std::vector<Watch> watches_;
  std::vector<std::pair<uint64_t, std::function<void()>>> beforeWait_;
  std::vector<std::pair<uint64_t, std::function<void()>>> beforeWaitRun_;  // runReady's copy
  uint64_t nextBeforeWaitId_ = 1;
  std::vector<pollfd> pollFds_;  // runReady's, kept to reuse its memory

  // Stats.
  std::unordered_map<const char*, LoopHandlerStats> handlerStats_;
  uint64_t slowHandlers_ = 0;
  Duration lagLast_{0};
  Duration lagMax_{0};
  std::vector<int64_t> lagWindow_;
  size_t lagWindowPos_ = 0;
};

}  // namespace tutti
