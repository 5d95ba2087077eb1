#include "frameworks/services/event_bus.hpp"

#include "common/json.hpp"
#include "frameworks/services/app_record.hpp"  // isoTime
#include "frameworks/services/service_scheduler.hpp"  // nowSeconds

namespace tutti::services {

EventBus::EventBus(Options options, Metrics* metrics) : options_(options), metrics_(metrics) {
  metrics_->gauge("services/event_subscribers",
                  [this] { return static_cast<double>(subscribers()); });
}

EventBus::~EventBus() {
  close();
  metrics_->removeGauge("services/event_subscribers");
}

Result<std::shared_ptr<EventBus::Subscription>> EventBus::subscribe(
    std::set<std::string> types, const std::string& remoteAddress) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return Status::Unavailable("the event stream is closed");
  if (queues_.size() >= options_.maxSubscribers) {
    metrics_->counter("services/event_subscribers_refused").inc();
    return Status::Unavailable("too many event stream subscribers (at most " +
                               std::to_string(options_.maxSubscribers) + ")");
  }
  queues_.push_back(Queue{std::move(types), {}, false});
  auto it = std::prev(queues_.end());
  // Marathon tells every subscriber, the new one first.
  publishLocked("event_stream_attached", {{"remoteAddress", remoteAddress}});
  return std::shared_ptr<Subscription>(new Subscription(this, it, remoteAddress));
}

void EventBus::publish(const std::string& type, nlohmann::json event) {
  std::lock_guard<std::mutex> lock(mu_);
  publishLocked(type, std::move(event));
}

void EventBus::publishLocked(const std::string& type, nlohmann::json event) {
  if (queues_.empty()) return;
  event["eventType"] = type;
  event["timestamp"] = isoTime(nowSeconds());
  std::string text = "event: " + type + "\ndata: " + tutti::json::dump(event) + "\n\n";
  for (auto& q : queues_) {
    if (q.ended || (!q.types.empty() && !q.types.count(type))) continue;
    if (q.events.size() >= options_.maxQueued) {
      q.ended = true;
      q.events.clear();
      metrics_->counter("services/event_subscribers_dropped").inc();
      continue;
    }
    q.events.push_back(text);
  }
  cv_.notify_all();
}

void EventBus::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& q : queues_) q.ended = true;
  cv_.notify_all();
}

size_t EventBus::subscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queues_.size();
}

EventBus::Subscription::~Subscription() {
  std::lock_guard<std::mutex> lock(bus_->mu_);
  bus_->queues_.erase(queue_);
  bus_->publishLocked("event_stream_detached", {{"remoteAddress", remoteAddress_}});
}

bool EventBus::Subscription::next(std::string* out, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(bus_->mu_);
  Queue& q = *queue_;
  bus_->cv_.wait_for(lock, wait, [&] { return q.ended || !q.events.empty(); });
  if (q.ended) return false;
  while (!q.events.empty()) {
    *out += q.events.front();
    q.events.pop_front();
  }
  return true;
}

}  // namespace tutti::services
