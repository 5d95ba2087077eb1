#include "common/transport.hpp"

#include <glog/logging.h>

#include <zmq.hpp>

#include <atomic>
#include <cstring>

#include "common/ids.hpp"
#include "common/pid_cache.hpp"

namespace tutti {

namespace {
constexpr Duration kDropLogInterval = 60s;
constexpr int kReceiveBatch = 512;  // frames read per wakeup, for fairness
// sendSoon() flushes at this many queued messages: the first of a long
// burst need not wait for the whole round.
constexpr size_t kSendSoonBatch = 64;
// Peers known to take frames of several envelopes are remembered by
// routing id (random per process: a peer keeps it across reconnections,
// another program never has it). Ids of connections long gone are forgotten
// wholesale past this many; the next message from a live peer tells us
// again.
constexpr size_t kMaxBatchPeers = 1u << 17;
// The first wire version whose receivers read every envelope of a frame.
constexpr uint32_t kBatchVersion = 2;

// A ZeroMQ message that takes the frame's bytes over instead of copying
// them (ZeroMQ frees the string, on whichever thread lets go of it last).
zmq::message_t takeFrame(std::string&& frame) {
  // Small frames: a copy costs less than ZeroMQ's bookkeeping for foreign data.
  if (frame.size() <= 64) return zmq::message_t(frame.data(), frame.size());
  auto* owned = new std::string(std::move(frame));
  return zmq::message_t(
      owned->data(), owned->size(),
      [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
}

// Sets a flag for the life of a scope (a read handler's `reading_`).
class FlagScope {
 public:
  explicit FlagScope(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagScope() { flag_ = false; }
  FlagScope(const FlagScope&) = delete;
  FlagScope& operator=(const FlagScope&) = delete;

 private:
  bool& flag_;
};
}  // namespace

Transport::Transport(Loop& loop, Metrics& metrics, TransportOptions options)
    : loop_(loop),
      options_(std::move(options)),
      received_(metrics.counter(options_.metricPrefix + "/messages_received")),
      sent_(metrics.counter(options_.metricPrefix + "/messages_sent")),
      dropped_(metrics.counter(options_.metricPrefix + "/messages_dropped")),
      sendFailed_(metrics.counter(options_.metricPrefix + "/messages_send_failed")),
      framesSent_(metrics.counter(options_.metricPrefix + "/frames_sent")),
      tooLarge_(metrics.counter(options_.metricPrefix + "/messages_too_large")) {}

Transport::~Transport() {
  // The derived transport flushed in its close(); what is left had no socket.
  if (beforeWait_) loop_.removeBeforeWait(beforeWait_);
}

void Transport::setFilter(Filter filter) {
  std::lock_guard<std::mutex> lock(filterMu_);
  filter_ = filter ? std::make_shared<Filter>(std::move(filter)) : nullptr;
}

Transport::FilterAction Transport::applyFilter(Direction d, const ConnectionId& peer,
                                               const wire::Payload& m) {
  std::shared_ptr<Filter> f;
  {
    std::lock_guard<std::mutex> lock(filterMu_);
    f = filter_;
  }
  return f ? (*f)(d, peer, m) : FilterAction::kDeliver;
}

Status Transport::send(const ConnectionId& to, const wire::Payload& message) {
  if (applyFilter(Direction::kOutbound, to, message) == FilterAction::kDrop) {
    return Status::OK();  // as if lost on the network
  }
  if (!outbox_.empty()) flush();  // what sendSoon() queued goes first
  std::string frame = codec::encodeEnvelope(message);
  if (Status big = checkSize(message, frame.size()); !big.ok()) return big;
  Status s = sendFrame(to, std::move(frame));
  if (s.ok()) {
    sent_.inc();
    framesSent_.inc();
  } else {
    sendFailed_.inc();
    VLOG(1) << options_.metricPrefix << ": failed to send " << wire::payloadName(message)
            << ": " << s;
  }
  return s;
}

Status Transport::checkSize(const wire::Payload& message, size_t bytes) {
  if (options_.maxSendBytes == 0 || bytes <= options_.maxSendBytes) return Status::OK();
  tooLarge_.inc();
  Status s = Status::InvalidArgument(
      std::string(wire::payloadName(message)) + " of " + std::to_string(bytes) +
      " bytes is over the " + std::to_string(options_.maxSendBytes) + "-byte message limit");
  LOG(ERROR) << options_.metricPrefix << ": not sent: " << s.message();
  return s;
}

Status Transport::sendSoon(const ConnectionId& to, const wire::Payload& message) {
  if (!options_.coalesceSends) {
    Status s = send(to, message);
    if (s.code() == Status::Code::kInvalidArgument) return s;  // too large
    if (!s.ok() && sendFailedHandler_) sendFailedHandler_(to, s);
    return Status::OK();
  }
  if (applyFilter(Direction::kOutbound, to, message) == FilterAction::kDrop) return Status::OK();
  std::string frame = codec::encodeEnvelope(message);
  if (Status big = checkSize(message, frame.size()); !big.ok()) return big;
  if (!beforeWait_) beforeWait_ = loop_.addBeforeWait([this] { flush(); });
  outbox_.emplace_back(to, std::move(frame));
  if (outbox_.size() >= kSendSoonBatch) flush();
  return Status::OK();
}

void Transport::flush() {
  if (outbox_.empty()) return;
  std::vector<std::pair<ConnectionId, std::string>> out;
  out.swap(outbox_);
  // One frame per peer that reads several envelopes in one (its messages in
  // their order, several frames past DecodeLimits' packing caps); one per
  // message for the others. Order across peers does not matter.
  struct Frame {
    const ConnectionId* to;
    std::string bytes;
    size_t messages;
  };
  std::vector<Frame> frames;
  frames.reserve(out.size());
  std::unordered_map<std::string_view, size_t> open;  // peer -> its frame being filled
  const size_t cap = std::min(codec::DecodeLimits::kMaxPackedFrameBytes, options_.limits.maxBytes);
  for (auto& [to, bytes] : out) {
    if (!batchPeers_.empty() && batchPeers_.count(to)) {
      auto [it, fresh] = open.try_emplace(std::string_view(to), frames.size());
      if (!fresh) {
        Frame& f = frames[it->second];
        if (f.bytes.size() + bytes.size() <= cap &&
            f.messages < codec::DecodeLimits::kMaxEnvelopesPerFrame) {
          f.bytes += bytes;
          ++f.messages;
          continue;
        }
        it->second = frames.size();  // full: the peer's next frame
      }
    }
    frames.push_back(Frame{&to, std::move(bytes), 1});
  }
  std::vector<std::pair<ConnectionId, Status>> failures;
  const ConnectionId* failedPeer = nullptr;  // skip the rest of a run to a failed peer
  for (auto& f : frames) {
    const ConnectionId& to = *f.to;
    if (failedPeer && *failedPeer == to) {
      sendFailed_.inc(static_cast<int64_t>(f.messages));
      continue;
    }
    Status s = sendFrame(to, std::move(f.bytes));
    if (s.ok()) {
      sent_.inc(static_cast<int64_t>(f.messages));
      framesSent_.inc();
      failedPeer = nullptr;
      continue;
    }
    sendFailed_.inc(static_cast<int64_t>(f.messages));
    failedPeer = &to;
    VLOG(1) << options_.metricPrefix << ": failed to send " << f.messages
            << " queued messages to "
            << (to.empty() ? std::string("the peer") : toHex(to)) << ": " << s;
    failures.emplace_back(to, std::move(s));
  }
  // Only now: a handler may send again, which must not overtake the queue.
  if (sendFailedHandler_) {
    for (const auto& [to, why] : failures) sendFailedHandler_(to, why);
  }
}

void Transport::forgetPeer(const ConnectionId& peer) {
  if (!batchPeers_.empty()) batchPeers_.erase(peer);
}

void Transport::countDropped(const ConnectionId& from, const std::string& why) {
  dropped_.inc();
  TimePoint now = loop_.now();
  auto it = lastDropLog_.find(from);
  if (it != lastDropLog_.end() && now - it->second < kDropLogInterval) return;
  if (lastDropLog_.size() > 10'000) lastDropLog_.clear();  // bound memory under attack
  lastDropLog_[from] = now;
  LOG(WARNING) << options_.metricPrefix << ": dropped a message from connection "
               << toHex(from) << ": " << why << " (logged once a minute per peer)";
}

void Transport::onFrame(const ConnectionId& from, const void* data, size_t size) {
  uint32_t version = 0;
  bool known = false;
  Status s = codec::decodeEnvelopes(
      data, size, options_.limits,
      [&](wire::Payload&& message) {
        // Before the handler runs: its replies may share a frame already.
        if (!known && version >= kBatchVersion) {
          known = true;
          if (batchPeers_.size() >= kMaxBatchPeers) batchPeers_.clear();
          batchPeers_.insert(from);
        }
        received_.inc();
        if (applyFilter(Direction::kInbound, from, message) == FilterAction::kDrop) return;
        if (handler_) handler_(from, std::move(message));
      },
      &version);
  if (!s.ok()) countDropped(from, s.message());
}

zmq::context_t& zmqContext() {
  static zmq::context_t* ctx = [] {
    // libzmq asks getpid() on every wake-up between a socket and its I/O
    // thread: serve it without a system call (pid_cache.hpp).
    installPidCache();
    auto* c = new zmq::context_t(1);
    // Each daemon has one loop thread; more I/O threads only add switching.
    return c;
  }();
  return *ctx;
}

void terminateZmqContext() { zmqContext().close(); }

namespace {
void commonSocketOptions(zmq::socket_t& s, const TransportOptions& o) {
  s.set(zmq::sockopt::linger, 0);
  // Hard cap: ZeroMQ drops a connection that sends a bigger frame. Frames
  // between limits.maxBytes and this cap are read and counted as dropped.
  s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(o.limits.maxBytes) * 4);
  s.set(zmq::sockopt::sndhwm, o.sendHighWaterMark);
  s.set(zmq::sockopt::rcvhwm, o.sendHighWaterMark);
  s.set(zmq::sockopt::heartbeat_ivl, 2000);
  s.set(zmq::sockopt::heartbeat_timeout, 10000);
  s.set(zmq::sockopt::heartbeat_ttl, 10000);
}
}  // namespace

// ---- ROUTER ----

ZmqRouterTransport::ZmqRouterTransport(Loop& loop, Metrics& metrics, TransportOptions options)
    : Transport(loop, metrics, std::move(options)) {}

ZmqRouterTransport::~ZmqRouterTransport() { close(); }

Result<std::string> ZmqRouterTransport::bind(const std::string& endpoint) {
  try {
    socket_ = std::make_unique<zmq::socket_t>(zmqContext(), zmq::socket_type::router);
    commonSocketOptions(*socket_, options_);
    socket_->set(zmq::sockopt::router_mandatory, 1);
    socket_->set(zmq::sockopt::router_handover, 1);
    socket_->bind(endpoint);
    std::string bound = socket_->get(zmq::sockopt::last_endpoint);
    loop_.watchSocket(socket_->handle(), "transport.router", [this] { onReadable(); });
    return bound;
  } catch (const zmq::error_t& e) {
    socket_.reset();
    return Status::Unavailable("cannot bind " + endpoint + ": " + e.what());
  }
}

void ZmqRouterTransport::close() {
  if (!socket_) return;
  flush();
  loop_.unwatchSocket(socket_->handle());
  socket_->close();
  socket_.reset();
}

void ZmqRouterTransport::onReadable() {
  FlagScope reading(reading_);
  for (int i = 0; i < kReceiveBatch && socket_; ++i) {
    zmq::message_t identity;
    try {
      auto got = socket_->recv(identity, zmq::recv_flags::dontwait);
      if (!got) return;
      ConnectionId from(static_cast<const char*>(identity.data()), identity.size());
      if (!identity.more()) {
        countDropped(from, "frame without a body");
        continue;
      }
      zmq::message_t body;
      (void)socket_->recv(body, zmq::recv_flags::none);
      if (body.more()) {
        // Drain the rest of this multipart message: one envelope per frame.
        zmq::message_t extra;
        do {
          (void)socket_->recv(extra, zmq::recv_flags::none);
        } while (extra.more());
        countDropped(from, "message with more than one frame");
        continue;
      }
      onFrame(from, body.data(), body.size());
    } catch (const zmq::error_t& e) {
      LOG(ERROR) << options_.metricPrefix << ": receive failed: " << e.what();
      if (socket_) loop_.recheckSocket(socket_->handle());  // try again next round
      return;
    }
  }
  // Stopped at the batch limit: the rest waits for the next round.
  if (socket_) loop_.recheckSocket(socket_->handle());
}

Status ZmqRouterTransport::sendFrame(const ConnectionId& to, std::string&& frame) {
  if (!socket_) return Status::Unavailable("transport is closed");
  // A send may take the socket's read signal (it processes pending commands).
  if (!reading_) loop_.recheckSocket(socket_->handle());
  try {
    zmq::message_t id(to.data(), to.size());
    if (!socket_->send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Status::Unavailable("send queue to peer is full");
    }
    zmq::message_t body = takeFrame(std::move(frame));
    if (!socket_->send(body, zmq::send_flags::dontwait)) {
      return Status::Unavailable("send queue to peer is full");
    }
    return Status::OK();
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) return Status::Unavailable("peer is not connected");
    return Status::IoError(std::string("send failed: ") + e.what());
  }
}

// ---- DEALER ----

ZmqDealerTransport::ZmqDealerTransport(Loop& loop, Metrics& metrics, TransportOptions options)
    : ClientTransport(loop, metrics, std::move(options)),
      // Routing ids starting with a zero byte are reserved by ZeroMQ.
      routingId_("c" + toHex(randomUuidBytes())) {}

ZmqDealerTransport::~ZmqDealerTransport() { close(); }

Status ZmqDealerTransport::connect(const std::string& endpoint) {
  close();
  forgetPeer("");  // the endpoint may be another program (a new leading master)
  try {
    socket_ = std::make_unique<zmq::socket_t>(zmqContext(), zmq::socket_type::dealer);
    commonSocketOptions(*socket_, options_);
    // Queue only on completed connections: a send while the peer is away
    // fails at once instead of piling up and arriving in a burst later.
    socket_->set(zmq::sockopt::immediate, 1);
    socket_->set(zmq::sockopt::routing_id, routingId_);
    socket_->set(zmq::sockopt::reconnect_ivl, 100);
    socket_->set(zmq::sockopt::reconnect_ivl_max, 2000);
    // Watch the connection itself: ZeroMQ reconnects silently, and we want
    // to know when a peer came back (it may have restarted).
    static std::atomic<uint64_t> monitors{0};
    std::string monitorAddress = "inproc://tutti-monitor-" + std::to_string(monitors++);
    zmq_socket_monitor(socket_->handle(), monitorAddress.c_str(),
                       ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    monitor_ = std::make_unique<zmq::socket_t>(zmqContext(), zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitorAddress);
    loop_.watchSocket(monitor_->handle(), "transport.monitor", [this] { onMonitorEvent(); });
    everConnected_ = false;
    lost_ = false;
    socket_->connect(endpoint);
    endpoint_ = endpoint;
    loop_.watchSocket(socket_->handle(), "transport.dealer", [this] { onReadable(); });
    return Status::OK();
  } catch (const zmq::error_t& e) {
    socket_.reset();
    return Status::InvalidArgument("cannot connect to " + endpoint + ": " + e.what());
  }
}

void ZmqDealerTransport::onMonitorEvent() {
  for (int i = 0; i < 64 && monitor_; ++i) {
    zmq::message_t event;
    try {
      if (!monitor_->recv(event, zmq::recv_flags::dontwait)) return;
      zmq::message_t address;
      if (event.more()) (void)monitor_->recv(address, zmq::recv_flags::none);
    } catch (const zmq::error_t&) {
      if (monitor_) loop_.recheckSocket(monitor_->handle());  // try again next round
      return;
    }
    if (event.size() < sizeof(uint16_t)) continue;
    uint16_t id;
    std::memcpy(&id, event.data(), sizeof(id));
    // What answers a reconnection may be another build: one envelope per
    // frame until it speaks (cleared at both ends of the gap, in case its
    // predecessor's last messages were read after the disconnect).
    if (id == ZMQ_EVENT_DISCONNECTED) {
      lost_ = true;
      forgetPeer("");
      if (onDisconnected_) onDisconnected_();
    } else if (id == ZMQ_EVENT_CONNECTED) {
      forgetPeer("");
      bool again = everConnected_ && lost_;
      everConnected_ = true;
      lost_ = false;
      if (again && onReconnected_) {
        VLOG(1) << options_.metricPrefix << ": reconnected to " << endpoint_;
        onReconnected_();
      }
    } else if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      if (onReady_) onReady_();
    }
  }
  if (monitor_) loop_.recheckSocket(monitor_->handle());  // batch limit reached
}

void ZmqDealerTransport::close(int lingerMs) {
  if (monitor_) {
    loop_.unwatchSocket(monitor_->handle());
    if (socket_) zmq_socket_monitor(socket_->handle(), nullptr, 0);
    monitor_->close();
    monitor_.reset();
  }
  if (!socket_) return;
  flush();
  loop_.unwatchSocket(socket_->handle());
  socket_->set(zmq::sockopt::linger, lingerMs);
  socket_->close();
  socket_.reset();
}

void ZmqDealerTransport::onReadable() {
  FlagScope reading(reading_);
  for (int i = 0; i < kReceiveBatch && socket_; ++i) {
    try {
      zmq::message_t body;
      auto got = socket_->recv(body, zmq::recv_flags::dontwait);
      if (!got) return;
      if (body.more()) {
        zmq::message_t extra;
        do {
          (void)socket_->recv(extra, zmq::recv_flags::none);
        } while (extra.more());
        countDropped("", "message with more than one frame");
        continue;
      }
      onFrame("", body.data(), body.size());
    } catch (const zmq::error_t& e) {
      LOG(ERROR) << options_.metricPrefix << ": receive failed: " << e.what();
      if (socket_) loop_.recheckSocket(socket_->handle());  // try again next round
      return;
    }
  }
  if (socket_) loop_.recheckSocket(socket_->handle());  // batch limit reached
}

Status ZmqDealerTransport::sendFrame(const ConnectionId&, std::string&& frame) {
  if (!socket_) return Status::Unavailable("not connected");
  // A send may take the socket's read signal (it processes pending commands).
  if (!reading_) loop_.recheckSocket(socket_->handle());
  try {
    zmq::message_t body = takeFrame(std::move(frame));
    if (!socket_->send(body, zmq::send_flags::dontwait)) {
      return Status::Unavailable("not connected to " + endpoint_);
    }
    return Status::OK();
  } catch (const zmq::error_t& e) {
    return Status::IoError(std::string("send failed: ") + e.what());
  }
}

Result<std::string> toZmqEndpoint(const std::string& hostPort) {
  std::string s = hostPort;
  if (s.rfind("tcp://", 0) == 0) s = s.substr(6);
  if (s.find("://") != std::string::npos || s.find('/') != std::string::npos) {
    return Status::InvalidArgument("'" + hostPort + "' is not HOST:PORT");
  }
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size()) {
    return Status::InvalidArgument("'" + hostPort + "' is not HOST:PORT");
  }
  std::string port = s.substr(colon + 1);
  for (char c : port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("'" + hostPort + "' has a bad port");
  }
  long p = std::stol(port.size() > 6 ? std::string("999999") : port);
  if (p <= 0 || p > 65535) return Status::InvalidArgument("'" + hostPort + "' has a bad port");
  return "tcp://" + s;
}

}  // namespace tutti
