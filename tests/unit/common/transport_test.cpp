// Unit tests for the ZeroMQ transports (common/transport.hpp) on loopback:
// ROUTER <-> DEALER delivery both ways, sends to unknown peers, the filter
// hook, malformed input from raw sockets (counted in
// `<prefix>/messages_dropped`, never delivered, never fatal) and
// toZmqEndpoint().
//
// Both loops are driven from the test thread with runOnce(), so every
// transport method runs on its loop's thread; waits are for a condition,
// with a deadline.
#include "common/transport.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>
#include <zmq.hpp>

#include "common/clock.hpp"
#include "common/codec/envelope_codec.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti {
namespace {

namespace w = tutti::wire;
using namespace std::chrono_literals;
using Direction = Transport::Direction;
using FilterAction = Transport::FilterAction;

constexpr auto kDeadline = 10s;

struct Received {
  ConnectionId from;
  w::Payload message;
};

struct FilterCall {
  Direction direction;
  ConnectionId peer;
  std::string name;
};

TransportOptions optionsWithPrefix(const std::string& prefix, size_t maxBytes = 16u << 20) {
  TransportOptions o;
  o.metricPrefix = prefix;
  o.limits.maxBytes = maxBytes;
  return o;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    serverLoop_.adoptCurrentThread();
    clientLoop_.adoptCurrentThread();
  }

  // Creates the server (bound to an ephemeral loopback port) and a client
  // connected to it, both recording what they receive.
  void startPair(TransportOptions serverOptions = optionsWithPrefix("master"),
                 TransportOptions clientOptions = optionsWithPrefix("agent")) {
    server_ = std::make_unique<ZmqRouterTransport>(serverLoop_, serverMetrics_, serverOptions);
    auto bound = server_->bind("tcp://127.0.0.1:0");
    ASSERT_TRUE(bound.ok()) << bound.error();
    endpoint_ = *bound;
    ASSERT_EQ(endpoint_.rfind("tcp://127.0.0.1:", 0), 0u) << endpoint_;
    server_->setHandler([this](const ConnectionId& from, w::Payload&& m) {
      serverGot_.push_back({from, std::move(m)});
    });
    client_ = std::make_unique<ZmqDealerTransport>(clientLoop_, clientMetrics_, clientOptions);
    ASSERT_TRUE(client_->connect(endpoint_).ok());
    EXPECT_EQ(client_->endpoint(), endpoint_);
    client_->setHandler([this](const ConnectionId& from, w::Payload&& m) {
      clientGot_.push_back({from, std::move(m)});
    });
  }

  // Runs both loops until `done` holds; false after the deadline.
  bool pumpUntil(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      serverLoop_.runOnce(2ms);
      clientLoop_.runOnce(2ms);
    }
    return true;
  }

  // Sends from the client, retrying while the connection is being set up
  // (the DEALER only queues on completed connections), until the server
  // has received `count` messages in all.
  void clientSendUntilReceived(const w::Payload& message, size_t count) {
    bool sent = false;
    ASSERT_TRUE(pumpUntil([&] {
      if (!sent) sent = client_->send("", message).ok();
      return serverGot_.size() >= count;
    })) << "the server did not receive "
        << w::payloadName(message);
  }

  // The server's ConnectionId for the client, learnt from a first message.
  ConnectionId handshake() {
    clientSendUntilReceived(w::PongMessage{AgentID("hello")}, serverGot_.size() + 1);
    return serverGot_.empty() ? ConnectionId() : serverGot_.back().from;
  }

  int64_t counter(Metrics& metrics, const std::string& name) {
    return metrics.counter(name).value();
  }

  // Queues ErrorEvents "<prefix>0".."<prefix>n-1" on the client as one round
  // and hands them over; returns the frames they took.
  int64_t clientRound(const std::string& prefix, int n) {
    const int64_t before = counter(clientMetrics_, "agent/frames_sent");
    for (int i = 0; i < n; ++i) client_->sendSoon("", w::ErrorEvent{prefix + std::to_string(i)});
    client_->flush();
    return counter(clientMetrics_, "agent/frames_sent") - before;
  }
  // got[first..first+n) are those ErrorEvents, in order.
  static void expectErrorEvents(const std::vector<Received>& got, size_t first,
                                const std::string& prefix, int n) {
    ASSERT_GE(got.size(), first + n);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(std::get<w::ErrorEvent>(got[first + i].message).message, prefix + std::to_string(i));
    }
  }

  Loop serverLoop_{RealClock::instance(), Loop::Options{"server", 100ms}};
  Loop clientLoop_{RealClock::instance(), Loop::Options{"client", 100ms}};
  Metrics serverMetrics_;
  Metrics clientMetrics_;
  std::unique_ptr<ZmqRouterTransport> server_;
  std::unique_ptr<ZmqDealerTransport> client_;
  std::string endpoint_;
  std::vector<Received> serverGot_;
  std::vector<Received> clientGot_;
};

// =============================================================================
// Delivery
// =============================================================================

TEST_F(TransportTest, MessagesGoBothWays) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const w::Payload ping = w::PingMessage{AgentID("agent-1"), false};
  ASSERT_NO_FATAL_FAILURE(clientSendUntilReceived(ping, 1));
  ASSERT_EQ(serverGot_.size(), 1u);
  EXPECT_TRUE(serverGot_[0].message == ping);
  const ConnectionId from = serverGot_[0].from;
  EXPECT_FALSE(from.empty());

  const w::Payload pong = w::PongMessage{AgentID("agent-1")};
  Status s = server_->send(from, pong);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
  ASSERT_EQ(clientGot_.size(), 1u);
  EXPECT_TRUE(clientGot_[0].message == pong);
  EXPECT_EQ(clientGot_[0].from, "");  // a DEALER's only peer

  // More messages on the same connection keep their order and sender.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client_->send("", w::ErrorEvent{"m" + std::to_string(i)}).ok());
  }
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 21; }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(serverGot_[1 + i].from, from);
    EXPECT_EQ(std::get<w::ErrorEvent>(serverGot_[1 + i].message).message, "m" + std::to_string(i));
  }

  EXPECT_EQ(counter(serverMetrics_, "master/messages_received"), 21);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 1);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_dropped"), 0);
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_received"), 1);
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_sent"), 21);
}

// More frames than one read takes (512): the rest are read in later rounds
// although no new signal announces them; and replies sent from a posted
// closure (outside the read handler) do not hide the client's next messages.
TEST_F(TransportTest, AMessageOverTheLimitIsNotSentAndSaysSo) {
  TransportOptions client = optionsWithPrefix("agent");
  client.maxSendBytes = 16u << 20;
  ASSERT_NO_FATAL_FAILURE(startPair(optionsWithPrefix("master"), client));
  ASSERT_NO_FATAL_FAILURE(clientSendUntilReceived(w::PingMessage{AgentID("a"), false}, 1));
  const w::Payload huge = w::ErrorEvent{std::string((16u << 20) + 1, 'x')};
  for (bool soon : {false, true}) {
    Status s = soon ? client_->sendSoon("", huge) : client_->send("", huge);
    ASSERT_EQ(s.code(), Status::Code::kInvalidArgument) << s;
    EXPECT_NE(s.message().find("-byte message limit"), std::string::npos) << s;
  }
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_too_large"), 2);
  // The connection goes on.
  ASSERT_NO_FATAL_FAILURE(clientSendUntilReceived(w::PingMessage{AgentID("b"), false}, 2));
}

TEST_F(TransportTest, ABurstLargerThanOneReadArrivesWholeAndInOrder) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  ConnectionId from = handshake();
  ASSERT_FALSE(from.empty());
  constexpr int kBurst = 3000;
  for (int i = 0; i < kBurst; ++i) {
    ASSERT_TRUE(client_->send("", w::ErrorEvent{"b" + std::to_string(i)}).ok());
  }
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 1u + kBurst; }))
      << "the server has " << serverGot_.size() - 1 << " of " << kBurst;
  for (int i = 0; i < kBurst; ++i) {
    EXPECT_EQ(std::get<w::ErrorEvent>(serverGot_[1 + i].message).message, "b" + std::to_string(i));
  }

  for (int round = 0; round < 200; ++round) {
    serverLoop_.post("test.reply", [&] { (void)server_->send(from, w::ErrorEvent{"r"}); });
    ASSERT_TRUE(client_->send("", w::ErrorEvent{"q"}).ok());
    size_t want = 1u + kBurst + round + 1;
    ASSERT_TRUE(pumpUntil([&] {
      return serverGot_.size() == want && clientGot_.size() == static_cast<size_t>(round + 1);
    })) << "round " << round;
  }
}

// sendSoon() queues until the server's loop starts its next round; a send()
// in between goes out after what was queued, so each peer sees one order.
TEST_F(TransportTest, SendSoonWaitsForTheRoundEndAndKeepsOrderWithSend) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  ASSERT_FALSE(from.empty());
  server_->sendSoon(from, w::ErrorEvent{"a"});
  server_->sendSoon(from, w::ErrorEvent{"b"});
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 0);  // still queued
  for (int i = 0; i < 20; ++i) clientLoop_.runOnce(1ms);
  EXPECT_TRUE(clientGot_.empty());

  ASSERT_TRUE(server_->send(from, w::ErrorEvent{"c"}).ok());  // takes a and b along
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 3);
  server_->sendSoon(from, w::ErrorEvent{"d"});
  serverLoop_.runOnce(0ms);  // a round starts: the queue goes out
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 4);
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 4; }));
  std::string order;
  for (const auto& r : clientGot_) order += std::get<w::ErrorEvent>(r.message).message;
  EXPECT_EQ(order, "abcd");
}

// A long burst does not wait for the round to end: every 64 queued
// messages go out at once.
TEST_F(TransportTest, SendSoonHandsOverALongBurstInBatches) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  ASSERT_NO_FATAL_FAILURE(handshake());
  for (int i = 0; i < 63; ++i) client_->sendSoon("", w::ErrorEvent{"s" + std::to_string(i)});
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_sent"), 1);  // the handshake's
  client_->sendSoon("", w::ErrorEvent{"s63"});
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_sent"), 65);
  client_->sendSoon("", w::ErrorEvent{"s64"});
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 66; }));
  for (int i = 0; i <= 64; ++i) {
    EXPECT_EQ(std::get<w::ErrorEvent>(serverGot_[1 + i].message).message, "s" + std::to_string(i));
  }
}

// A queued message the socket refuses is counted and reported once per run
// of messages to that peer; the others still go out.
TEST_F(TransportTest, SendSoonReportsAPeerThatIsGone) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  std::vector<std::pair<ConnectionId, Status>> failed;
  server_->setSendFailedHandler(
      [&](const ConnectionId& to, const Status& why) { failed.emplace_back(to, why); });
  server_->sendSoon("no-such-peer", w::HeartbeatEvent{});
  server_->sendSoon("no-such-peer", w::HeartbeatEvent{});
  server_->sendSoon(from, w::ErrorEvent{"still here"});
  server_->flush();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, "no-such-peer");
  EXPECT_EQ(failed[0].second.code(), Status::Code::kUnavailable) << failed[0].second;
  EXPECT_EQ(counter(serverMetrics_, "master/messages_send_failed"), 2);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 1);
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 1; }));
  EXPECT_EQ(std::get<w::ErrorEvent>(clientGot_[0].message).message, "still here");
}

// A round's messages for a peer that speaks wire version 2 (it sent us
// one) travel in one frame, in order; both directions.
TEST_F(TransportTest, SendSoonPacksARoundForOnePeerIntoOneFrame) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();  // the client spoke: version 2
  const int64_t frames0 = counter(serverMetrics_, "master/frames_sent");
  for (int i = 0; i < 10; ++i) server_->sendSoon(from, w::ErrorEvent{"m" + std::to_string(i)});
  server_->flush();
  EXPECT_EQ(counter(serverMetrics_, "master/frames_sent"), frames0 + 1);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 10);
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 10; }));
  expectErrorEvents(clientGot_, 0, "m", 10);
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_received"), 10);

  // The client heard version 2 from the server: its round goes as one frame too.
  EXPECT_EQ(clientRound("c", 5), 1);
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 6; }));
  expectErrorEvents(serverGot_, 1, "c", 5);
}

// A client that reconnects (the other end may be another build now) sends
// one envelope per frame until it hears version 2 again.
TEST_F(TransportTest, AClientForgetsPackingWhenItReconnects) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  ASSERT_TRUE(server_->send(from, w::HeartbeatEvent{}).ok());  // the client hears version 2
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 1; }));
  EXPECT_EQ(clientRound("p", 3), 1);
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 4; }));

  ASSERT_TRUE(client_->connect(endpoint_).ok());
  ASSERT_NO_FATAL_FAILURE(clientSendUntilReceived(w::ErrorEvent{"again"}, 5));
  EXPECT_EQ(clientRound("u", 3), 3);  // one each
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 8; }));
  expectErrorEvents(serverGot_, 5, "u", 3);
}

// A packed frame stays within 64 KiB: a bigger round goes in several
// frames, in order, and a message above that goes alone.
TEST_F(TransportTest, PackedFramesStayBelowTheirCap) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  const int64_t frames0 = counter(serverMetrics_, "master/frames_sent");
  const std::string body(15'000, 'b');
  for (int i = 0; i < 10; ++i) server_->sendSoon(from, w::ExecutorMessageEvent{body + std::to_string(i)});
  server_->sendSoon(from, w::ExecutorMessageEvent{std::string(100'000, 'L')});  // alone
  server_->sendSoon(from, w::ErrorEvent{"last"});
  server_->flush();
  // Four of ~15 KB fit in 64 KiB: 4 + 4 + 2 + the large one alone + "last".
  EXPECT_EQ(counter(serverMetrics_, "master/frames_sent") - frames0, 5);
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 12; }));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(std::get<w::ExecutorMessageEvent>(clientGot_[i].message).data, body + std::to_string(i));
  }
  EXPECT_EQ(std::get<w::ExecutorMessageEvent>(clientGot_[10].message).data.size(), 100'000u);
  EXPECT_EQ(std::get<w::ErrorEvent>(clientGot_[11].message).message, "last");
}

// A peer that only ever sent version 1 (an older build) gets one envelope
// per frame, which it can read.
TEST_F(TransportTest, AVersionOnePeerGetsOneEnvelopePerFrame) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  zmq::socket_t raw(zmqContext(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 10'000);  // a missing frame fails the test, not hangs it
  raw.connect(endpoint_);
  std::string hello = codec::encodeEnvelope(w::PongMessage{AgentID("old-agent")});
  hello[8 + 8] = 1;  // the envelope's version
  raw.send(zmq::buffer(hello), zmq::send_flags::none);
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 1; }));
  const ConnectionId old = serverGot_[0].from;
  const int64_t frames0 = counter(serverMetrics_, "master/frames_sent");
  for (int i = 0; i < 3; ++i) server_->sendSoon(old, w::ErrorEvent{"e" + std::to_string(i)});
  server_->flush();
  EXPECT_EQ(counter(serverMetrics_, "master/frames_sent"), frames0 + 3);
  for (int i = 0; i < 3; ++i) {
    zmq::message_t frame;
    ASSERT_TRUE(raw.recv(frame, zmq::recv_flags::none));
    auto one = codec::decodeEnvelope(frame.data(), frame.size());
    ASSERT_TRUE(one.ok()) << one.error();
    EXPECT_EQ(std::get<w::ErrorEvent>(*one).message, "e" + std::to_string(i));
    // Nothing follows the envelope in its frame.
    EXPECT_EQ(frame.size(), codec::encodeEnvelope(*one).size());
  }
}

// Without coalescing (unit tests' fakes) sendSoon() is a send() whose
// failure goes to the handler at once.
TEST_F(TransportTest, SendSoonWithoutCoalescingSendsAtOnce) {
  TransportOptions o = optionsWithPrefix("master");
  o.coalesceSends = false;
  ASSERT_NO_FATAL_FAILURE(startPair(o));
  const ConnectionId from = handshake();
  int failures = 0;
  server_->setSendFailedHandler([&](const ConnectionId&, const Status&) { ++failures; });
  server_->sendSoon(from, w::ErrorEvent{"now"});
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 1);
  server_->sendSoon("no-such-peer", w::HeartbeatEvent{});
  EXPECT_EQ(failures, 1);
  ASSERT_TRUE(pumpUntil([&] { return clientGot_.size() == 1; }));
}

TEST_F(TransportTest, LargeMessagesWithinTheLimitArrive) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  ASSERT_FALSE(from.empty());
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131);
  const w::Payload big = w::ExecutorMessageEvent{data};
  ASSERT_TRUE(server_->send(from, big).ok());
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
  EXPECT_TRUE(clientGot_[0].message == big);
}

TEST_F(TransportTest, EachServerSeesEachClientAsItsOwnConnection) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId first = handshake();
  Metrics otherMetrics;
  ZmqDealerTransport other(clientLoop_, otherMetrics, optionsWithPrefix("other"));
  std::vector<w::Payload> otherGot;
  other.setHandler([&](const ConnectionId&, w::Payload&& m) { otherGot.push_back(std::move(m)); });
  ASSERT_TRUE(other.connect(endpoint_).ok());
  bool sent = false;
  ASSERT_TRUE(pumpUntil([&] {
    if (!sent) sent = other.send("", w::PongMessage{AgentID("other")}).ok();
    return serverGot_.size() == 2;
  }));
  const ConnectionId second = serverGot_[1].from;
  EXPECT_NE(first, second);
  EXPECT_EQ(first, client_->routingId());
  EXPECT_EQ(second, other.routingId());

  // Replies go only to the addressed connection.
  ASSERT_TRUE(server_->send(second, w::ErrorEvent{"for other"}).ok());
  ASSERT_TRUE(server_->send(first, w::ErrorEvent{"for client"}).ok());
  ASSERT_TRUE(pumpUntil([&] { return !otherGot.empty() && !clientGot_.empty(); }));
  EXPECT_EQ(std::get<w::ErrorEvent>(otherGot[0]).message, "for other");
  EXPECT_EQ(std::get<w::ErrorEvent>(clientGot_[0].message).message, "for client");
  EXPECT_EQ(otherGot.size(), 1u);
  EXPECT_EQ(clientGot_.size(), 1u);
}

TEST_F(TransportTest, ReconnectKeepsTheRoutingId) {
  // A DEALER transport carries one routing id for all its connections, and
  // the ROUTER lets a reconnection take the id over (ZMQ_ROUTER_HANDOVER).
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId before = handshake();
  EXPECT_EQ(before, client_->routingId());
  EXPECT_EQ(client_->routingId().size(), 33u);  // 'c' and 32 hex digits
  EXPECT_EQ(client_->routingId()[0], 'c');

  ASSERT_TRUE(client_->connect(endpoint_).ok());
  const ConnectionId after = handshake();
  EXPECT_EQ(after, before);
  ASSERT_TRUE(server_->send(after, w::ErrorEvent{"after reconnect"}).ok());
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
  EXPECT_EQ(std::get<w::ErrorEvent>(clientGot_[0].message).message, "after reconnect");

  // Another transport has its own id.
  Metrics otherMetrics;
  ZmqDealerTransport other(clientLoop_, otherMetrics, optionsWithPrefix("other"));
  EXPECT_NE(other.routingId(), client_->routingId());
}

// =============================================================================
// Send failures
// =============================================================================

TEST_F(TransportTest, SendingToAnUnknownConnectionIsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  Status s = server_->send("no-such-peer", w::HeartbeatEvent{});
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s;
  s = server_->send("", w::HeartbeatEvent{});
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s;
  EXPECT_EQ(counter(serverMetrics_, "master/messages_send_failed"), 2);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 0);

  // A known peer still works afterwards.
  const ConnectionId from = handshake();
  EXPECT_TRUE(server_->send(from, w::HeartbeatEvent{}).ok());
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
}

TEST_F(TransportTest, ClosedOrUnconnectedTransportsAreUnavailable) {
  ZmqRouterTransport unbound(serverLoop_, serverMetrics_, optionsWithPrefix("unbound"));
  EXPECT_EQ(unbound.send("x", w::HeartbeatEvent{}).code(), Status::Code::kUnavailable);
  ZmqDealerTransport unconnected(clientLoop_, clientMetrics_, optionsWithPrefix("unconnected"));
  EXPECT_EQ(unconnected.send("", w::HeartbeatEvent{}).code(), Status::Code::kUnavailable);

  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  server_->close();
  server_->close();  // idempotent
  EXPECT_EQ(server_->send(from, w::HeartbeatEvent{}).code(), Status::Code::kUnavailable);
  client_->close();
  EXPECT_EQ(client_->send("", w::HeartbeatEvent{}).code(), Status::Code::kUnavailable);
}

TEST_F(TransportTest, DealerSendFailsWhileTheServerIsAway) {
  // No server listens on this port: the DEALER (ZMQ_IMMEDIATE) refuses to
  // queue instead of piling messages up. The port is held by a socket that
  // is bound but never listens, so no other test can take it meanwhile and
  // every connection attempt is refused.
  tutti::testing::HeldPort held;
  std::string endpoint = held.endpoint();
  ZmqDealerTransport client(clientLoop_, clientMetrics_, optionsWithPrefix("lonely"));
  ASSERT_TRUE(client.connect(endpoint).ok());
  Status s = client.send("", w::HeartbeatEvent{});
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s;
  EXPECT_EQ(counter(clientMetrics_, "lonely/messages_send_failed"), 1);
}

TEST_F(TransportTest, BindFailuresAreReported) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  ZmqRouterTransport second(serverLoop_, serverMetrics_, optionsWithPrefix("second"));
  auto again = second.bind(endpoint_);  // the port is taken
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kUnavailable);
  auto bogus = second.bind("not-an-endpoint");
  EXPECT_FALSE(bogus.ok());
  // The failed transport can still bind elsewhere.
  auto fresh = second.bind("tcp://127.0.0.1:0");
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  EXPECT_NE(*fresh, endpoint_);
}

TEST_F(TransportTest, ConnectRejectsABadEndpoint) {
  ZmqDealerTransport client(clientLoop_, clientMetrics_, optionsWithPrefix("bad"));
  Status s = client.connect("not-an-endpoint");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s;
  EXPECT_EQ(client.send("", w::HeartbeatEvent{}).code(), Status::Code::kUnavailable);
}

// =============================================================================
// Filter hook
// =============================================================================

TEST_F(TransportTest, FilterObservesAndDropsInboundMessages) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  std::vector<FilterCall> calls;
  server_->setFilter([&](Direction d, const ConnectionId& peer, const w::Payload& m) {
    calls.push_back({d, peer, w::payloadName(m)});
    return std::holds_alternative<w::PingMessage>(m) ? FilterAction::kDrop : FilterAction::kDeliver;
  });
  ASSERT_TRUE(client_->send("", w::PingMessage{AgentID("a"), true}).ok());
  ASSERT_TRUE(client_->send("", w::ErrorEvent{"after the ping"}).ok());
  // Same connection, in order: once the second is in, the first was handled.
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 2; }));
  EXPECT_TRUE(std::holds_alternative<w::ErrorEvent>(serverGot_[1].message));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].direction, Direction::kInbound);
  EXPECT_EQ(calls[0].peer, from);
  EXPECT_EQ(calls[0].name, "PingMessage");
  EXPECT_EQ(calls[1].name, "ErrorEvent");
  // Filtered messages were received (decoded), just not delivered.
  EXPECT_EQ(counter(serverMetrics_, "master/messages_received"), 3);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_dropped"), 0);

  // Clearing the filter delivers everything again.
  server_->setFilter(nullptr);
  ASSERT_TRUE(client_->send("", w::PingMessage{AgentID("b"), true}).ok());
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == 3; }));
  EXPECT_TRUE(std::holds_alternative<w::PingMessage>(serverGot_[2].message));
  EXPECT_EQ(calls.size(), 2u);
}

TEST_F(TransportTest, FilterObservesAndDropsOutboundMessages) {
  ASSERT_NO_FATAL_FAILURE(startPair());
  const ConnectionId from = handshake();
  std::vector<FilterCall> calls;
  server_->setFilter([&](Direction d, const ConnectionId& peer, const w::Payload& m) {
    calls.push_back({d, peer, w::payloadName(m)});
    return std::holds_alternative<w::ErrorEvent>(m) ? FilterAction::kDrop : FilterAction::kDeliver;
  });
  // A dropped send reports success, as a message lost on the network would.
  EXPECT_TRUE(server_->send(from, w::ErrorEvent{"lost"}).ok());
  EXPECT_TRUE(server_->send(from, w::HeartbeatEvent{}).ok());
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
  ASSERT_EQ(clientGot_.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<w::HeartbeatEvent>(clientGot_[0].message));
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].direction, Direction::kOutbound);
  EXPECT_EQ(calls[0].peer, from);
  EXPECT_EQ(calls[0].name, "ErrorEvent");
  EXPECT_EQ(calls[1].name, "HeartbeatEvent");
  EXPECT_EQ(counter(serverMetrics_, "master/messages_sent"), 1);

  // The client's filter works the same way on its side.
  std::vector<FilterCall> clientCalls;
  client_->setFilter([&](Direction d, const ConnectionId& peer, const w::Payload& m) {
    clientCalls.push_back({d, peer, w::payloadName(m)});
    return std::holds_alternative<w::PongMessage>(m) ? FilterAction::kDrop : FilterAction::kDeliver;
  });
  const size_t before = serverGot_.size();
  EXPECT_TRUE(client_->send("", w::PongMessage{AgentID("dropped")}).ok());
  EXPECT_TRUE(client_->send("", w::PongMessage{AgentID("also dropped")}).ok());
  EXPECT_TRUE(client_->send("", w::PingMessage{AgentID("kept"), true}).ok());
  ASSERT_TRUE(pumpUntil([&] { return serverGot_.size() == before + 1; }));
  EXPECT_EQ(std::get<w::PingMessage>(serverGot_.back().message).agentId, AgentID("kept"));
  ASSERT_EQ(clientCalls.size(), 3u);
  EXPECT_EQ(clientCalls[0].direction, Direction::kOutbound);
  EXPECT_EQ(clientCalls[0].peer, "");
  EXPECT_EQ(clientCalls[2].name, "PingMessage");
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_sent"), 2);  // the handshake and "kept"
}

TEST_F(TransportTest, FilterDoesNotSeeUndecodableFrames) {
  ZmqRouterTransport transport(serverLoop_, serverMetrics_, optionsWithPrefix("direct"));
  int filterCalls = 0, handled = 0;
  transport.setFilter([&](Direction, const ConnectionId&, const w::Payload&) {
    ++filterCalls;
    return FilterAction::kDeliver;
  });
  transport.setHandler([&](const ConnectionId&, w::Payload&&) { ++handled; });
  const std::string garbage = "not a capnp message";
  transport.onFrame("peer", garbage.data(), garbage.size());
  EXPECT_EQ(filterCalls, 0);
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(counter(serverMetrics_, "direct/messages_dropped"), 1);
  const std::string frame = codec::encodeEnvelope(w::HeartbeatEvent{});
  transport.onFrame("peer", frame.data(), frame.size());
  EXPECT_EQ(filterCalls, 1);
  EXPECT_EQ(handled, 1);
  EXPECT_EQ(counter(serverMetrics_, "direct/messages_received"), 1);
}

// =============================================================================
// Malformed input from raw sockets
// =============================================================================

TEST_F(TransportTest, RouterDropsMalformedFramesAndKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(startPair(optionsWithPrefix("master", 4096)));
  zmq::socket_t raw(zmqContext(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(endpoint_);  // queues until connected: no retry needed

  const std::string valid = codec::encodeEnvelope(w::PongMessage{AgentID("agent-7")});
  // 1: eight bytes of garbage (whole words, so Cap'n Proto reads them).
  raw.send(zmq::buffer(std::string("\xff\xff\xff\x7f garb", 8)), zmq::send_flags::none);
  // 2: not a whole number of words.
  raw.send(zmq::buffer(std::string("abc")), zmq::send_flags::none);
  // 3: an empty frame.
  raw.send(zmq::message_t(), zmq::send_flags::none);
  // 4: two valid envelopes as one two-frame message.
  raw.send(zmq::buffer(valid), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(valid), zmq::send_flags::none);
  // 5: 8 KiB, above maxBytes (4096) but below the socket's hard cap.
  raw.send(zmq::buffer(std::string(8192, '\0')), zmq::send_flags::none);
  // 6: three frames.
  raw.send(zmq::buffer(valid), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(std::string("x")), zmq::send_flags::sndmore);
  raw.send(zmq::buffer(valid), zmq::send_flags::none);
  // 7: finally a valid message, which must still be delivered.
  raw.send(zmq::buffer(valid), zmq::send_flags::none);

  ASSERT_TRUE(pumpUntil([&] { return !serverGot_.empty(); }));
  ASSERT_EQ(serverGot_.size(), 1u);
  EXPECT_TRUE(serverGot_[0].message == w::Payload(w::PongMessage{AgentID("agent-7")}));
  EXPECT_EQ(counter(serverMetrics_, "master/messages_dropped"), 6);
  EXPECT_EQ(counter(serverMetrics_, "master/messages_received"), 1);

  // The transport's own client is unaffected.
  const ConnectionId from = handshake();
  EXPECT_NE(from, serverGot_[0].from);
  EXPECT_TRUE(server_->send(from, w::HeartbeatEvent{}).ok());
  ASSERT_TRUE(pumpUntil([&] { return !clientGot_.empty(); }));
}

TEST_F(TransportTest, RouterSurvivesRandomGarbage) {
  ASSERT_NO_FATAL_FAILURE(startPair(optionsWithPrefix("master", 4096)));
  zmq::socket_t raw(zmqContext(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(endpoint_);
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    std::string frame(8 * (1 + i % 40), '\0');
    for (auto& c : frame) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    raw.send(zmq::buffer(frame), zmq::send_flags::none);
  }
  raw.send(zmq::buffer(codec::encodeEnvelope(w::HeartbeatEvent{})), zmq::send_flags::none);
  ASSERT_TRUE(pumpUntil([&] { return !serverGot_.empty(); }));
  EXPECT_TRUE(std::holds_alternative<w::HeartbeatEvent>(serverGot_.back().message));
  EXPECT_EQ(counter(serverMetrics_, "master/messages_dropped") +
                counter(serverMetrics_, "master/messages_received"),
            301);
  EXPECT_GE(counter(serverMetrics_, "master/messages_dropped"), 299);
}

TEST_F(TransportTest, RouterSurvivesAFrameAboveTheSocketCap) {
  // Frames above 4 x maxBytes are refused by ZeroMQ itself (ZMQ_MAXMSGSIZE),
  // which drops that connection; other peers are served as before.
  ASSERT_NO_FATAL_FAILURE(startPair(optionsWithPrefix("master", 4096)));
  zmq::socket_t raw(zmqContext(), zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(endpoint_);
  raw.send(zmq::buffer(std::string(64 * 1024, 'z')), zmq::send_flags::none);
  const ConnectionId from = handshake();
  ASSERT_FALSE(from.empty());
  ASSERT_EQ(serverGot_.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<w::PongMessage>(serverGot_[0].message));
  EXPECT_EQ(counter(serverMetrics_, "master/messages_received"), 1);
}

TEST_F(TransportTest, DealerDropsMalformedFramesAndKeepsServing) {
  zmq::socket_t raw(zmqContext(), zmq::socket_type::router);
  raw.set(zmq::sockopt::linger, 0);
  raw.set(zmq::sockopt::rcvtimeo, 100);
  raw.bind("tcp://127.0.0.1:0");
  const std::string endpoint = raw.get(zmq::sockopt::last_endpoint);

  ZmqDealerTransport client(clientLoop_, clientMetrics_, optionsWithPrefix("agent", 4096));
  std::vector<w::Payload> got;
  client.setHandler([&](const ConnectionId&, w::Payload&& m) { got.push_back(std::move(m)); });
  ASSERT_TRUE(client.connect(endpoint).ok());

  // The raw ROUTER learns the DEALER's identity from its first message.
  std::string identity;
  bool sent = false;
  ASSERT_TRUE(pumpUntil([&] {
    if (!sent) sent = client.send("", w::PongMessage{AgentID("hi")}).ok();
    if (!sent) return false;
    zmq::message_t id, body;
    if (!raw.recv(id, zmq::recv_flags::dontwait)) return false;
    EXPECT_TRUE(id.more());
    (void)raw.recv(body, zmq::recv_flags::none);
    identity = id.to_string();
    auto decoded = codec::decodeEnvelope(body.data(), body.size());
    EXPECT_TRUE(decoded.ok()) << decoded.error();
    return true;
  }));
  ASSERT_FALSE(identity.empty());

  auto toClient = [&](const std::vector<std::string>& frames) {
    raw.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    for (size_t i = 0; i < frames.size(); ++i) {
      raw.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };
  const std::string valid = codec::encodeEnvelope(w::ErrorEvent{"valid"});
  toClient({std::string(16, '\x7f')});  // garbage
  toClient({std::string("12345")});     // not whole words
  toClient({valid, valid});             // two frames
  toClient({std::string(8192, '\0')});  // above maxBytes
  toClient({valid});

  ASSERT_TRUE(pumpUntil([&] { return !got.empty(); }));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<w::ErrorEvent>(got[0]).message, "valid");
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_dropped"), 4);
  EXPECT_EQ(counter(clientMetrics_, "agent/messages_received"), 1);
}

// =============================================================================
// toZmqEndpoint
// =============================================================================

TEST(ToZmqEndpointTest, AcceptsHostPortForms) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {Case{"127.0.0.1:5050", "tcp://127.0.0.1:5050"},
                        Case{"tcp://127.0.0.1:5050", "tcp://127.0.0.1:5050"},
                        Case{"master.example.com:1", "tcp://master.example.com:1"},
                        Case{"localhost:65535", "tcp://localhost:65535"},
                        Case{"tcp://host:6060", "tcp://host:6060"}}) {
    auto r = toZmqEndpoint(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error();
    EXPECT_EQ(*r, c.out);
  }
}

TEST(ToZmqEndpointTest, RejectsMalformedEndpoints) {
  for (const char* bad : {"host", "host:", ":1", "host:0", "host:70000", "host:65536", "host:12a",
                          "host:-1", "host:+1", "host: 1", "", "tcp://", "tcp://host",
                          "tcp://:5050", "host:99999999999999999999"}) {
    auto r = toZmqEndpoint(bad);
    EXPECT_FALSE(r.ok()) << "\"" << bad << "\" gave " << (r.ok() ? *r : "");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(r.error().find(bad), std::string::npos) << r.error();
    }
  }
}

TEST(ToZmqEndpointTest, RejectsOtherSchemes) {
  for (const char* bad :
       {"http://host:5050", "udp://host:5050", "zk://host:2181", "tcp://tcp://host:1"}) {
    EXPECT_FALSE(toZmqEndpoint(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tutti
