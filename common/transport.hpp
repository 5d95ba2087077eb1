// Transport: sends and receives Envelope frames (DESIGN §5).
//
// A server binds a ZeroMQ ROUTER (ZmqRouterTransport); each client connects a
// DEALER (ZmqDealerTransport). Inbound frames are decoded at this boundary
// (common/codec/envelope_codec.hpp): a frame that fails to decode is dropped,
// counted in `<prefix>/messages_dropped`, logged at most once per peer per
// minute, and never reaches a handler. FakeTransport (tests/fixtures) gives
// unit tests the same interface without sockets.
//
// Sending: send() hands the message to ZeroMQ at once and says whether it
// could. sendSoon() queues it behind what was queued before; the queue goes
// to ZeroMQ when the loop's round ends (Loop::addBeforeWait), when
// kSendSoonBatch messages wait, or before the next send(), so order per peer
// is kept. A round's burst then wakes ZeroMQ's I/O thread once per peer
// instead of once per message (most of a message's cost on a VM, see
// docs/architecture.md), and a peer that speaks wire version 2 or later
// (seen in any envelope it sent us) gets the round's messages for it in
// one frame, several envelopes back to back (codec::decodeEnvelopes), up to
// 64 KiB: one ZeroMQ message to hand over, carry and receive instead of
// one per envelope. Peers not heard from yet get one envelope per frame. Hot paths whose losses the protocol already covers
// (status updates, acknowledgements, launches, calls) use sendSoon().
//
// Threads: every method runs on the owning Loop's thread, except setFilter(),
// which tests may call from any thread. A transport is destroyed on that
// thread or once its loop no longer runs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/codec/envelope_codec.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "tutti/status.hpp"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace tutti {

// The peer a message came from: the ROUTER routing id of its connection.
// Empty for a DEALER's single upstream peer.
using ConnectionId = std::string;

struct TransportOptions {
  std::string metricPrefix = "transport";  // e.g. "master" gives master/messages_dropped
  codec::DecodeLimits limits;
  int sendHighWaterMark = 100'000;  // messages queued per peer before sends fail
  // sendSoon() queues until the round ends; false: it sends at once (unit
  // tests that look at what was sent right after a handler ran).
  bool coalesceSends = true;
  // Messages larger than this are not sent (0: no limit): send() and
  // sendSoon() return InvalidArgument, counted in messages_too_large. For a
  // sender that knows its peer's limit (the scheduler driver: a master's
  // default --max_message_bytes); agents leave it 0, so that a master whose
  // limit was raised still reads what they send.
  size_t maxSendBytes = 0;
};

class Transport {
 public:
  enum class Direction { kInbound, kOutbound };
  enum class FilterAction { kDeliver, kDrop };
  using Handler = std::function<void(const ConnectionId& from, wire::Payload&& message)>;
  // Sees every decoded message in both directions before it is delivered or
  // sent; kDrop discards it as a lossy network would. Tests use it to await
  // or drop messages. Runs on the loop thread.
  using Filter =
      std::function<FilterAction(Direction, const ConnectionId& peer, const wire::Payload&)>;

  // Why a message queued by sendSoon() did not go out (its peer is gone, or
  // its queue is full). Runs on the loop thread once per run of queued
  // messages to that peer, after the flush has handed over the rest.
  using SendFailedHandler = std::function<void(const ConnectionId& to, const Status& why)>;

  Transport(Loop& loop, Metrics& metrics, TransportOptions options);
  virtual ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  void setHandler(Handler handler) { handler_ = std::move(handler); }
  void setFilter(Filter filter);

  // Encodes and queues `message` for `to`. Unavailable when the peer is not
  // connected (or its queue is full); the message is then lost and the
  // caller decides whether to retry. InvalidArgument, and nothing sent, for
  // a message over options.maxSendBytes.
  Status send(const ConnectionId& to, const wire::Payload& message);
  // Encodes and queues `message` for `to` (see the top of this file). What
  // cannot be handed over later is counted in `<prefix>/messages_send_failed`
  // and reported to the send-failed handler; as on a lossy network, the
  // caller's retries cover it. Returns an error (InvalidArgument) only for a
  // message too large to send, as send() does; nothing is queued then.
  Status sendSoon(const ConnectionId& to, const wire::Payload& message);
  // Hands everything sendSoon() queued to ZeroMQ, in order.
  void flush();
  void setSendFailedHandler(SendFailedHandler handler) { sendFailedHandler_ = std::move(handler); }

  // Decodes a received frame and dispatches it (also used by fakes/tests).
  void onFrame(const ConnectionId& from, const void* data, size_t size);

  Loop& loop() { return loop_; }
  const TransportOptions& options() const { return options_; }

 protected:
  virtual Status sendFrame(const ConnectionId& to, std::string&& frame) = 0;
  // OK unless a frame of `bytes` is over maxSendBytes (then logged,
  // counted, and an InvalidArgument that names the message).
  Status checkSize(const wire::Payload& message, size_t bytes);
  void countDropped(const ConnectionId& from, const std::string& why);
  // Sends `peer` one envelope per frame until it speaks version 2 again
  // (a DEALER's connection was lost or replaced: the other end may be
  // another program now).
  void forgetPeer(const ConnectionId& peer);

  Loop& loop_;
  TransportOptions options_;
  Counter& received_;
  Counter& sent_;
  Counter& dropped_;
  Counter& sendFailed_;
  Counter& framesSent_;  // frames handed to ZeroMQ (messages_sent / frames_sent per frame)
  Counter& tooLarge_;

 private:
  FilterAction applyFilter(Direction d, const ConnectionId& peer, const wire::Payload& m);

  Handler handler_;
  SendFailedHandler sendFailedHandler_;
  std::vector<std::pair<ConnectionId, std::string>> outbox_;  // sendSoon()'s queue
  uint64_t beforeWait_ = 0;  // the loop hook that flushes it; 0 until first used
  std::mutex filterMu_;
  std::shared_ptr<Filter> filter_;
  std::unordered_map<ConnectionId, TimePoint> lastDropLog_;
  std::unordered_set<ConnectionId> batchPeers_;  // peers that read several envelopes a frame
};

// The process-wide ZeroMQ context.
zmq::context_t& zmqContext();
// Waits for messages that closed sockets still hold (their linger), then
// ends the context. Call at the very end of main(), after every transport
// is destroyed; no transport may be used afterwards.
void terminateZmqContext();

class ZmqRouterTransport final : public Transport {
 public:
  ZmqRouterTransport(Loop& loop, Metrics& metrics, TransportOptions options);
  ~ZmqRouterTransport() override;
  // Binds, e.g. "tcp://127.0.0.1:6050" ("...:0" picks a free port) and
  // starts receiving. Returns the bound endpoint.
  Result<std::string> bind(const std::string& endpoint);
  // Closes the socket (idempotent).
  void close();

 protected:
  Status sendFrame(const ConnectionId& to, std::string&& frame) override;

 private:
  void onReadable();
  // True inside onReadable(): a send there is followed by its final receive,
  // which processes what the send may have taken, so no recheck is needed.
  bool reading_ = false;
  std::unique_ptr<zmq::socket_t> socket_;
};

// A transport with one upstream peer that it connects to (agents to the
// master, drivers to the master or agent). Messages are sent with an empty
// ConnectionId.
class ClientTransport : public Transport {
 public:
  using Transport::Transport;
  // (Re)connects to `endpoint` ("tcp://host:port").
  virtual Status connect(const std::string& endpoint) = 0;
  virtual const std::string& endpoint() const = 0;
  // Called (on the loop) when the underlying connection comes up again
  // after it was lost — e.g. the peer restarted. A peer that restarted has
  // forgotten us: agents re-register, drivers re-subscribe.
  void onReconnected(std::function<void()> fn) { onReconnected_ = std::move(fn); }
  // Called (on the loop) each time a connection is ready to carry messages
  // (its handshake is done; the first time and after every reconnection):
  // a send that failed because no connection was up would succeed now.
  void onReady(std::function<void()> fn) { onReady_ = std::move(fn); }
  // Called (on the loop) when an established connection is lost: the peer
  // exited, closed it, or missed ZeroMQ's heartbeats for 10 s. The transport
  // keeps reconnecting.
  void onDisconnected(std::function<void()> fn) { onDisconnected_ = std::move(fn); }

 protected:
  std::function<void()> onReconnected_;
  std::function<void()> onReady_;
  std::function<void()> onDisconnected_;
};

class ZmqDealerTransport final : public ClientTransport {
 public:
  ZmqDealerTransport(Loop& loop, Metrics& metrics, TransportOptions options);
  ~ZmqDealerTransport() override;
  // Connects to "tcp://host:port", closing any previous connection. Every
  // connection of this transport carries the same routing id, so the server
  // keeps routing replies to it across reconnections (servers set
  // ZMQ_ROUTER_HANDOVER: a reconnection takes the id over).
  Status connect(const std::string& endpoint) override;
  const std::string& routingId() const { return routingId_; }
  // Closes the socket; messages still queued are sent for up to `lingerMs`
  // in the background (see terminateZmqContext()).
  void close(int lingerMs = 0);
  const std::string& endpoint() const override { return endpoint_; }

 protected:
  // `to` is ignored: a DEALER has one peer.
  Status sendFrame(const ConnectionId& to, std::string&& frame) override;

 private:
  void onReadable();
  void onMonitorEvent();
  bool reading_ = false;  // inside onReadable(), as ZmqRouterTransport's
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::socket_t> monitor_;
  std::string endpoint_;
  std::string routingId_;
  bool everConnected_ = false;
  bool lost_ = false;
};

// "host:port" or "tcp://host:port" to "tcp://host:port"; rejects anything else.
Result<std::string> toZmqEndpoint(const std::string& hostPort);

}  // namespace tutti
