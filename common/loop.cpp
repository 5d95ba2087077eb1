#include "common/loop.hpp"

#include <glog/logging.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tutti {

namespace {
constexpr size_t kLagWindow = 1024;
// Upper bound on one settle(): protects tests from a handler that re-posts
// itself forever.
constexpr size_t kSettleLimit = 10'000'000;
// The loop whose round this thread is running, if any (Loop::post).
thread_local const Loop* tDispatching = nullptr;
}  // namespace

Loop::Loop(Clock& clock) : Loop(clock, Options{}) {}

Loop::Loop(Clock& clock, Options options) : clock_(clock), options_(std::move(options)) {
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  PCHECK(wakeFd_ >= 0) << "eventfd";
  clockListener_ = clock_.addListener([this] { wakeup(); });
  lagWindow_.reserve(kLagWindow);
}

Loop::~Loop() {
  clock_.removeListener(clockListener_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
}

void Loop::post(const char* name, std::function<void()> fn) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lock(postMu_);
    wasEmpty = posted_.empty();
    posted_.push_back(Posted{name, std::move(fn), clock_.now()});
  }
  // A post from inside this loop's own round needs no wakeup: the round
  // looks at the queue before it next waits (nextTimeoutMs), and skipping
  // the eventfd write saves a syscall per post. (Not isLoopThread(): the
  // owner recorded by settle() or runOnce() may no longer be the thread
  // that waits.)
  if (wasEmpty && tDispatching != this) wakeup();
}

void Loop::wakeup() {
  uint64_t one = 1;
  ssize_t n = ::write(wakeFd_, &one, sizeof(one));
  (void)n;  // EAGAIN means a wakeup is already pending.
}

void Loop::drainWakeFd() {
  uint64_t value;
  while (::read(wakeFd_, &value, sizeof(value)) > 0) {
  }
}

Loop::TimerId Loop::after(Duration delay, const char* name, std::function<void()> fn) {
  TimerId id = nextTimerId_++;
  if (delay < Duration(0)) delay = Duration(0);
  TimePoint when = clock_.now() + delay;
  timerQueue_.emplace(when, id);
  timers_.emplace(id, Timer{name, std::move(fn), when});
  return id;
}

void Loop::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  // Out of the queue too: busy components arm and cancel many timers (retries,
  // timeouts), and dead entries would pile up until they came due.
  auto [first, last] = timerQueue_.equal_range(it->second.when);
  for (auto q = first; q != last; ++q) {
    if (q->second == id) {
      timerQueue_.erase(q);
      break;
    }
  }
  timers_.erase(it);
}

void Loop::watchSocket(void* socket, const char* name, std::function<void()> onReadable) {
  int fd = -1;
  size_t size = sizeof(fd);
  PCHECK(zmq_getsockopt(socket, ZMQ_FD, &fd, &size) == 0) << "zmq_getsockopt(ZMQ_FD)";
  // Asked at once: messages may be queued already.
  watches_.push_back(Watch{socket, fd, name,
                           std::make_shared<std::function<void()>>(std::move(onReadable)), true});
}

void Loop::recheckSocket(void* socket) {
  for (auto& w : watches_) {
    if (w.socket == socket) {
      w.recheck = true;
      return;
    }
  }
}

void Loop::watchFd(int fd, const char* name, std::function<void()> onReadable) {
  watches_.push_back(
      Watch{nullptr, fd, name, std::make_shared<std::function<void()>>(std::move(onReadable))});
}

void Loop::unwatchSocket(void* socket) {
  std::erase_if(watches_, [&](const Watch& w) { return w.socket == socket; });
}

void Loop::unwatchFd(int fd) {
  std::erase_if(watches_, [&](const Watch& w) { return w.socket == nullptr && w.fd == fd; });
}

bool Loop::isLoopThread() const { return owner_.load() == std::this_thread::get_id(); }

void Loop::adoptCurrentThread() { owner_.store(std::this_thread::get_id()); }

void Loop::stop() {
  stopped_.store(true);
  wakeup();
}

void Loop::run() {
  // stopped_ is not cleared on entry: a stop() that lands before the thread
  // reaches run() must still end it. It is consumed on the way out, so that
  // the loop can be run again.
  adoptCurrentThread();
  // A loop on a thread of its own shows its name in `top -H`, `ps -L` and
  // /proc/PID/task/*/comm (the bench finds the master's loop thread that
  // way); the main thread keeps the program's name, which tools match on.
  if (::syscall(SYS_gettid) != ::getpid()) {
    ::pthread_setname_np(::pthread_self(), options_.name.substr(0, 15).c_str());
  }
  while (!stopped_.load()) {
    runReady(-1);
  }
  stopped_.store(false);
}

size_t Loop::settle() {
  if (owner_.load() == std::thread::id()) adoptCurrentThread();
  size_t total = 0;
  while (total < kSettleLimit) {
    size_t n = runReady(0);
    if (n == 0) break;
    total += n;
  }
  return total;
}

size_t Loop::runOnce(Duration timeout) {
  if (owner_.load() == std::thread::id()) adoptCurrentThread();
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  return runReady(ms);
}

int Loop::nextTimeoutMs() const {
  {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(postMu_));
    if (!posted_.empty()) return 0;
  }
  // Skip cancelled timers at the head when computing the deadline.
  for (const auto& [when, id] : timerQueue_) {
    if (!timers_.count(id)) continue;
    Duration left = when - clock_.now();
    if (left <= Duration(0)) return 0;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
    return static_cast<int>(std::min<int64_t>(ms, 60'000));
  }
  return -1;
}

uint64_t Loop::addBeforeWait(std::function<void()> fn) {
  uint64_t id = nextBeforeWaitId_++;
  beforeWait_.emplace_back(id, std::move(fn));
  return id;
}

void Loop::removeBeforeWait(uint64_t id) {
  std::erase_if(beforeWait_, [id](const auto& h) { return h.first == id; });
}

size_t Loop::runReady(int maxWaitMs) {
  // This thread is inside this loop's round until it returns (rounds of
  // different loops may nest on one thread: tests drive several).
  struct Dispatching {
    explicit Dispatching(const Loop* l) : prev(tDispatching) { tDispatching = l; }
    ~Dispatching() { tDispatching = prev; }
    const Loop* prev;
  } dispatching(this);
  if (!beforeWait_.empty()) {
    // A copy (its memory reused): a hook may add or remove hooks; a removed
    // one is not run.
    beforeWaitRun_ = beforeWait_;
    for (auto& [id, fn] : beforeWaitRun_) {
      bool live = std::any_of(beforeWait_.begin(), beforeWait_.end(),
                              [id = id](const auto& h) { return h.first == id; });
      if (live) fn();
    }
  }
  // After the hooks: one may have armed a timer or posted work.
  int pollTimeoutMs = nextTimeoutMs();
  if (pollTimeoutMs < 0 || (maxWaitMs >= 0 && maxWaitMs < pollTimeoutMs)) {
    pollTimeoutMs = maxWaitMs;
  }
  // ZeroMQ sockets that may hold messages their fd does not announce.
  bool anyReady = false;
  for (Watch& w : watches_) {
    w.ready = false;
    if (!w.socket || !w.recheck) continue;
    w.recheck = false;
    uint32_t events = 0;
    size_t size = sizeof(events);
    int rc = zmq_getsockopt(w.socket, ZMQ_EVENTS, &events, &size);
    // A failed question (EINTR) may still have taken the read signal: let
    // the handler's receive find out. A terminated context (ETERM) is over.
    if ((rc == 0 && (events & ZMQ_POLLIN)) || (rc != 0 && zmq_errno() != ETERM)) {
      w.ready = true;
      anyReady = true;
    }
  }

  pollFds_.clear();
  pollFds_.push_back(pollfd{wakeFd_, POLLIN, 0});
  for (const auto& w : watches_) pollFds_.push_back(pollfd{w.fd, POLLIN, 0});
  int rc = ::poll(pollFds_.data(), pollFds_.size(), anyReady ? 0 : pollTimeoutMs);
  if (rc < 0 && errno != EINTR) {
    PLOG(ERROR) << options_.name << ": poll failed";
  }

  size_t ran = 0;
  if (rc > 0 || anyReady) {
    if (rc > 0 && (pollFds_[0].revents & POLLIN)) drainWakeFd();
    // Copy the handlers first: a handler may add or remove watches. Any
    // event on a plain fd (POLLHUP, POLLERR too) runs its handler, which
    // finds out what happened; on a ZeroMQ socket's fd it means commands
    // are waiting, which the handler's receive processes.
    std::vector<std::pair<const char*, std::shared_ptr<std::function<void()>>>> ready;
    for (size_t i = 0; i < watches_.size(); ++i) {
      if (watches_[i].ready || (rc > 0 && pollFds_[i + 1].revents != 0)) {
        ready.emplace_back(watches_[i].name, watches_[i].fn);
      }
    }
    for (auto& [name, fn] : ready) {
      runHandler(name, *fn);
      ++ran;
    }
  }
  ran += runPosted();
  ran += runDueTimers();
  return ran;
}

size_t Loop::runPosted() {
  std::deque<Posted> batch;
  {
    std::lock_guard<std::mutex> lock(postMu_);
    batch.swap(posted_);
  }
  TimePoint now = clock_.now();
  size_t i = 0;
  while (i < batch.size()) {
    Posted& p = batch[i++];
    Duration lag = now - p.postedAt;
    lagLast_ = lag;
    lagMax_ = std::max(lagMax_, lag);
    if (lagWindow_.size() < kLagWindow) {
      lagWindow_.push_back(lag.count());
    } else {
      lagWindow_[lagWindowPos_++ % kLagWindow] = lag.count();
    }
    runHandler(p.name, p.fn);
    if (stopped_.load()) break;
  }
  if (i < batch.size()) {
    // Stopped: keep the rest, in order, for a later run.
    std::lock_guard<std::mutex> lock(postMu_);
    for (size_t j = batch.size(); j-- > i;) posted_.push_front(std::move(batch[j]));
  }
  return i;
}

size_t Loop::runDueTimers() {
  // Only timers due when this round starts run in it; a timer armed by a
  // handler (even with zero delay) waits for the next round, so posted work
  // and sockets get their turn.
  TimePoint now = clock_.now();
  std::vector<TimerId> due;
  for (auto it = timerQueue_.begin(); it != timerQueue_.end() && it->first <= now;) {
    due.push_back(it->second);
    it = timerQueue_.erase(it);
  }
  size_t ran = 0;
  for (size_t i = 0; i < due.size(); ++i) {
    auto it = timers_.find(due[i]);
    if (it == timers_.end()) continue;  // cancelled
    Timer timer = std::move(it->second);
    timers_.erase(it);
    runHandler(timer.name, timer.fn);
    ++ran;
    if (stopped_.load()) {
      // Stopped: the rest stay due for a later run.
      for (size_t j = i + 1; j < due.size(); ++j) {
        auto t = timers_.find(due[j]);
        if (t == timers_.end()) continue;
        t->second.when = now;
        timerQueue_.emplace(now, due[j]);
      }
      break;
    }
  }
  return ran;
}

void Loop::runHandler(const char* name, const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  auto took = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
  auto& s = handlerStats_[name];
  s.count++;
  s.total += took;
  s.max = std::max(s.max, took);
  if (took > options_.slowHandlerThreshold) {
    ++slowHandlers_;
    LOG(WARNING) << options_.name << ": handler '" << name << "' took " << toMillis(took)
                 << " ms";
  }
}

LoopStats Loop::stats() const {
  LoopStats out;
  for (const auto& [name, s] : handlerStats_) {
    auto& agg = out.handlers[name];
    agg.count += s.count;
    agg.total += s.total;
    agg.max = std::max(agg.max, s.max);
  }
  out.slowHandlers = slowHandlers_;
  out.lagLast = lagLast_;
  out.lagMax = lagMax_;
  if (!lagWindow_.empty()) {
    std::vector<int64_t> sorted = lagWindow_;
    size_t idx = std::min(sorted.size() - 1, (sorted.size() * 99) / 100);
    std::nth_element(sorted.begin(), sorted.begin() + idx, sorted.end());
    out.lagP99Ms = static_cast<double>(sorted[idx]) / 1e6;
  }
  {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(postMu_));
    out.pendingPosts = posted_.size();
  }
  out.timers = timers_.size();
  return out;
}

}  // namespace tutti
