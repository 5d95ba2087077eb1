#include "agent/containerizer/session_killer.hpp"

#include <pthread.h>
#include <signal.h>

#include "common/process.hpp"

namespace tutti::agent {

SessionKiller::~SessionKiller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SessionKiller::kill(pid_t sid, std::function<void()> done) {
  if (sid <= 1) {
    if (done) done();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.insert(sid);
    if (done) done_.push_back(std::move(done));
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  cv_.notify_one();
}

uint64_t SessionKiller::passes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return passes_;
}

uint64_t SessionKiller::signalled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return signalled_;
}

void SessionKiller::run() {
  ::pthread_setname_np(::pthread_self(), "session-killer");  // for top -H and profiles
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping, nothing left to kill
    std::set<pid_t> batch;
    batch.swap(pending_);
    std::vector<std::function<void()>> done;
    done.swap(done_);
    lock.unlock();
    size_t n = killSessions(batch, SIGKILL);
    lock.lock();
    ++passes_;
    signalled_ += n;
    lock.unlock();
    for (auto& d : done) d();
    lock.lock();
  }
}

}  // namespace tutti::agent
