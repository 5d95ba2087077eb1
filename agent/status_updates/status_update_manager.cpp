#include "agent/status_updates/status_update_manager.hpp"

#include <glog/logging.h>

#include <algorithm>

namespace tutti::agent {

StatusUpdateManager::StatusUpdateManager(Loop& loop, Options options, Forward forward)
    : loop_(loop), options_(options), forward_(std::move(forward)) {}

StatusUpdateManager::~StatusUpdateManager() {
  for (auto& [_, s] : streams_) {
    if (s.timer) loop_.cancel(s.timer);
  }
}

bool StatusUpdateManager::update(const FrameworkID& framework, const TaskStatus& status) {
  Key key{framework, status.taskId};
  Stream& s = streams_[key];
  s.framework = framework;
  s.task = status.taskId;
  if (s.acked.count(status.uuid)) return false;
  for (const auto& u : s.updates) {
    if (u.uuid == status.uuid) return false;
  }
  s.updates.push_back(status);
  if (persist_) persist_(framework, status.executorId);
  if (s.updates.size() == 1) {
    s.backoff = options_.retryMin;
    sendHead(s);
  }
  return true;
}

void StatusUpdateManager::sendHead(Stream& s) {
  if (s.updates.empty()) return;
  if (s.timer) loop_.cancel(s.timer);
  wire::StatusUpdateMessage m;
  m.frameworkId = s.framework;
  m.agentId = agentId_;
  m.status = s.updates.front();
  m.status.agentId = agentId_;
  m.latestState = s.updates.back().state;
  if (!agentId_.empty()) forward_(m);
  Key key{s.framework, s.task};
  s.timer = loop_.after(s.backoff, "agent.status_update_retry", [this, key] { onRetry(key); });
}

void StatusUpdateManager::onRetry(const Key& key) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  s.timer = 0;
  s.backoff = std::min(s.backoff * 2, options_.retryMax);
  VLOG(1) << "Retrying status update for task " << s.task;
  sendHead(s);
}

std::optional<TaskStatus> StatusUpdateManager::acknowledge(const FrameworkID& framework,
                                                           const TaskID& task,
                                                           const std::string& uuid) {
  auto it = streams_.find(Key{framework, task});
  if (it == streams_.end()) return std::nullopt;
  Stream& s = it->second;
  if (s.updates.empty() || s.updates.front().uuid != uuid) return std::nullopt;
  TaskStatus acked = s.updates.front();
  s.updates.pop_front();
  if (s.timer) loop_.cancel(s.timer);
  s.timer = 0;
  if (isTerminal(acked.state)) {
    // Nothing follows a terminal update.
    streams_.erase(it);
    if (persist_) persist_(framework, acked.executorId);
    return acked;
  }
  s.acked.insert(uuid);
  if (persist_) persist_(framework, acked.executorId);
  s.backoff = options_.retryMin;
  sendHead(s);
  return acked;
}

void StatusUpdateManager::restore(const FrameworkID& framework, const TaskID& task,
                                  const std::vector<TaskStatus>& updates,
                                  const std::vector<std::string>& acked) {
  if (updates.empty()) return;  // acknowledged uuids matter only for an open stream
  Stream& s = streams_[Key{framework, task}];
  s.framework = framework;
  s.task = task;
  s.acked.insert(acked.begin(), acked.end());
  for (const auto& u : updates) {
    bool seen = s.acked.count(u.uuid) > 0;
    for (const auto& q : s.updates) seen = seen || q.uuid == u.uuid;
    if (!seen) s.updates.push_back(u);
  }
  s.backoff = options_.retryMin;
}

void StatusUpdateManager::pendingForExecutor(const FrameworkID& framework,
                                             const ExecutorID& executor,
                                             std::vector<TaskStatus>* updates,
                                             std::vector<std::string>* acked) const {
  for (auto it = streams_.lower_bound(Key{framework, TaskID()});
       it != streams_.end() && it->first.first == framework; ++it) {
    const Stream& s = it->second;
    if (s.updates.empty() || s.updates.front().executorId != executor) continue;
    updates->insert(updates->end(), s.updates.begin(), s.updates.end());
    acked->insert(acked->end(), s.acked.begin(), s.acked.end());
  }
}

void StatusUpdateManager::resendAll() {
  for (auto& [_, s] : streams_) {
    s.backoff = options_.retryMin;
    sendHead(s);
  }
}

void StatusUpdateManager::removeFramework(const FrameworkID& framework) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->first.first == framework) {
      if (it->second.timer) loop_.cancel(it->second.timer);
      it = streams_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t StatusUpdateManager::pendingUpdates() const {
  size_t n = 0;
  for (const auto& [_, s] : streams_) n += s.updates.size();
  return n;
}

bool StatusUpdateManager::hasPending(const FrameworkID& framework, const TaskID& task) const {
  auto it = streams_.find(Key{framework, task});
  return it != streams_.end() && !it->second.updates.empty();
}

std::vector<std::pair<FrameworkID, TaskStatus>> StatusUpdateManager::pending() const {
  std::vector<std::pair<FrameworkID, TaskStatus>> out;
  for (const auto& [_, s] : streams_) {
    for (const auto& u : s.updates) out.emplace_back(s.framework, u);
  }
  return out;
}

}  // namespace tutti::agent
