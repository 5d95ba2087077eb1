// EventBus: Marathon's event stream as Server-Sent Events text, per
// subscriber filters, the subscriber limit, dropping a subscriber that
// stopped reading, and closing.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "frameworks/services/event_bus.hpp"

namespace tutti::services {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// The events in `text`, as (type, data) pairs.
std::vector<std::pair<std::string, json>> events(const std::string& text) {
  std::vector<std::pair<std::string, json>> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find("\n\n", at);
    if (end == std::string::npos) break;
    std::string block = text.substr(at, end - at);
    size_t nl = block.find('\n');
    // Exactly two lines: "event: T" and one "data: JSON" line.
    EXPECT_EQ(std::count(block.begin(), block.end(), '\n'), 1) << block;
    EXPECT_EQ(block.rfind("event: ", 0), 0u) << block;
    EXPECT_EQ(block.compare(nl + 1, 6, "data: "), 0) << block;
    out.emplace_back(block.substr(7, nl - 7), json::parse(block.substr(nl + 7)));
    at = end + 2;
  }
  return out;
}

TEST(EventBusTest, SubscribersGetTheEventsTheyAskForAsServerSentEvents) {
  Metrics metrics;
  EventBus bus(&metrics);
  auto all = bus.subscribe({}, "10.0.0.1");
  ASSERT_TRUE(all.ok());
  auto some = bus.subscribe({"status_update_event"}, "10.0.0.2");
  ASSERT_TRUE(some.ok());
  bus.publish("status_update_event", {{"taskId", "t1"}, {"taskStatus", "TASK_RUNNING"}});
  bus.publish("deployment_success", {{"id", "d1"}});

  std::string text;
  ASSERT_TRUE((*all)->next(&text, milliseconds(0)));
  auto got = events(text);
  ASSERT_EQ(got.size(), 4u) << text;
  EXPECT_EQ(got[0].first, "event_stream_attached");
  EXPECT_EQ(got[0].second["remoteAddress"], "10.0.0.1");
  EXPECT_EQ(got[1].first, "event_stream_attached");  // the second subscriber's
  EXPECT_EQ(got[2].first, "status_update_event");
  EXPECT_EQ(got[2].second["taskId"], "t1");
  EXPECT_EQ(got[2].second["eventType"], "status_update_event");
  EXPECT_TRUE(got[2].second["timestamp"].is_string());
  EXPECT_EQ(got[3].first, "deployment_success");

  text.clear();
  ASSERT_TRUE((*some)->next(&text, milliseconds(0)));
  got = events(text);
  ASSERT_EQ(got.size(), 1u) << text;
  EXPECT_EQ(got[0].first, "status_update_event");
  // Nothing new: an empty wait, the stream still open.
  text.clear();
  EXPECT_TRUE((*some)->next(&text, milliseconds(0)));
  EXPECT_TRUE(text.empty());

  // Leaving is an event for the others.
  some->reset();
  text.clear();
  ASSERT_TRUE((*all)->next(&text, milliseconds(0)));
  got = events(text);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "event_stream_detached");
  EXPECT_EQ(got[0].second["remoteAddress"], "10.0.0.2");
}

TEST(EventBusTest, SubscribersAreLimitedAndASlowOneIsDropped) {
  Metrics metrics;
  EventBus bus(EventBus::Options{2, 3}, &metrics);
  auto reader = bus.subscribe({"e"}, "reader");
  auto sleeper = bus.subscribe({"e"}, "sleeper");
  ASSERT_TRUE(reader.ok() && sleeper.ok());
  auto third = bus.subscribe({}, "third");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(metrics.counter("services/event_subscribers_refused").value(), 1);

  std::string text;
  for (int i = 0; i < 5; ++i) {
    bus.publish("e", {{"i", i}});
    ASSERT_TRUE((*reader)->next(&text, milliseconds(0)));
  }
  EXPECT_EQ(events(text).size(), 5u);
  // The sleeper let 3 queue up and then missed one: its stream ends.
  text.clear();
  EXPECT_FALSE((*sleeper)->next(&text, milliseconds(0)));
  EXPECT_TRUE(text.empty());
  EXPECT_EQ(metrics.counter("services/event_subscribers_dropped").value(), 1);
  sleeper->reset();
  EXPECT_TRUE(bus.subscribe({}, "again").ok());

  bus.close();
  EXPECT_FALSE((*reader)->next(&text, milliseconds(0)));
  EXPECT_FALSE(bus.subscribe({}, "late").ok());
}

TEST(EventBusTest, AWaitingReaderWakesOnPublishAndOnClose) {
  Metrics metrics;
  EventBus bus(&metrics);
  auto sub = bus.subscribe({"e"}, "r");
  ASSERT_TRUE(sub.ok());
  std::string text;
  bool open = false;
  auto start = std::chrono::steady_clock::now();
  std::thread reader([&] { open = (*sub)->next(&text, std::chrono::seconds(60)); });
  bus.publish("e", {{"n", 1}});
  reader.join();
  EXPECT_TRUE(open);
  // Woken, not timed out (the wait is a minute).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(events(text).size(), 1u) << text;
  std::thread closer([&] { open = (*sub)->next(&text, std::chrono::seconds(60)); });
  bus.close();
  closer.join();
  EXPECT_FALSE(open);
}

TEST(EventBusTest, InvalidUtf8FromAnAgentIsReplacedNotFatal) {
  Metrics metrics;
  EventBus bus(&metrics);
  auto sub = bus.subscribe({}, "r");
  ASSERT_TRUE(sub.ok());
  bus.publish("status_update_event", {{"message", std::string("bad \xff\xfe byte")}});
  std::string text;
  ASSERT_TRUE((*sub)->next(&text, milliseconds(0)));
  auto got = events(text);
  ASSERT_EQ(got.size(), 2u) << text;
  EXPECT_EQ(got[1].second["message"], "bad \xEF\xBF\xBD\xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace tutti::services
