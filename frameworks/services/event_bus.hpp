// EventBus: Marathon's event stream, served as Server-Sent Events by
// GET /v2/events. The scheduler and the API publish events (a type such as
// "status_update_event" and a JSON object, to which "eventType" and
// "timestamp" are added); each subscriber (one HTTP stream) has its own
// queue, read by the worker thread serving it.
//
// A subscriber that falls behind by more than Options::maxQueued events is
// dropped: its stream ends (a client that stopped reading cannot make the
// scheduler hold memory for it; Marathon closes slow consumers too). At
// most Options::maxSubscribers streams are open at once, since each holds
// an HTTP worker thread.
//
// Thread-safe: publish() is called under the scheduler's lock and never
// blocks on subscribers; Subscription::next() blocks its caller only. The
// bus must outlive its subscriptions (stop the HTTP server first).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/metrics.hpp"
#include "tutti/status.hpp"

namespace tutti::services {

class EventBus {
 public:
  struct Options {
    size_t maxSubscribers = 4;
    size_t maxQueued = 10000;
  };

  class Subscription;

  explicit EventBus(Metrics* metrics) : EventBus(Options{}, metrics) {}
  EventBus(Options options, Metrics* metrics);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // A new stream of the events whose type is in `types` (all when empty),
  // starting with its own event_stream_attached. Unavailable when
  // maxSubscribers streams are open.
  Result<std::shared_ptr<Subscription>> subscribe(std::set<std::string> types,
                                                  const std::string& remoteAddress);
  // Queues the event for every subscriber that wants it.
  void publish(const std::string& type, nlohmann::json event);
  // Ends every stream; later subscriptions are refused.
  void close();
  size_t subscribers() const;

 private:
  struct Queue {
    std::set<std::string> types;
    std::deque<std::string> events;  // formatted "event: …\ndata: …\n\n"
    bool ended = false;
  };
  void publishLocked(const std::string& type, nlohmann::json event);

  Options options_;
  Metrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::list<Queue> queues_;
  bool closed_ = false;

 public:
  class Subscription {
   public:
    ~Subscription();
    // Waits up to `wait` for events and appends them to `out`. False once
    // the stream has ended (dropped as too slow, or the bus closed).
    bool next(std::string* out, std::chrono::milliseconds wait);

   private:
    friend class EventBus;
    Subscription(EventBus* bus, std::list<Queue>::iterator queue, std::string remoteAddress)
        : bus_(bus), queue_(queue), remoteAddress_(std::move(remoteAddress)) {}
    EventBus* bus_;
    std::list<Queue>::iterator queue_;
    std::string remoteAddress_;
  };
};

}  // namespace tutti::services
