// Integration: a master sent garbage on its message port keeps serving.
#include <gtest/gtest.h>

#include <cstring>
#include <zmq.hpp>

#include "common/codec/envelope_codec.hpp"
#include "common/transport.hpp"
#include "tests/fixtures/process_fixture.hpp"

namespace tutti::testing {
namespace {

// The byte offset of the Envelope's union tag in an encoded frame: where
// two messages with different tags differ in their first data words.
size_t unionTagOffset() {
  std::string a = codec::encodeEnvelope(wire::HeartbeatEvent{});
  std::string b = codec::encodeEnvelope(wire::ExecutorHeartbeatEvent{});
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return i;
  }
  return std::string::npos;
}

double metric(int port, const std::string& name) {
  auto m = getJson(port, "/metrics/snapshot");
  if (!m.is_object() || !m.contains(name)) return -1;
  return m[name].get<double>();
}

TEST(MalformedInputTest, MasterDropsBadFramesCountsThemAndKeepsServing) {
  TempDir dir;
  // A small message limit so that an "oversized" frame stays below
  // ZeroMQ's hard cap (4x) and reaches the decoder.
  MasterProcess master = startMasterProcess(dir.path(), {"--max_message_bytes=65536"});
  AgentProcess agent = startAgentProcess(master, dir.path());
  ASSERT_EQ(metric(master.httpPort, "master/messages_dropped"), 0);

  zmq::socket_t sock(zmqContext(), zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  sock.connect("tcp://" + master.address());

  std::vector<std::string> frames;
  frames.push_back("this is not a capnp message!!!!!");  // 32 bytes of text
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919) ^ 0x5a);
  frames.push_back(garbage);
  wire::SubscribeCall call;
  call.frameworkInfo.name = "x";
  call.frameworkInfo.user = "y";
  std::string valid = codec::encodeEnvelope(call);
  frames.push_back(valid.substr(0, valid.size() / 2 / 8 * 8));  // truncated
  size_t tag = unionTagOffset();
  ASSERT_NE(tag, std::string::npos);
  std::string unknown = codec::encodeEnvelope(wire::HeartbeatEvent{});
  unknown[tag] = static_cast<char>(0xe7);  // union tag 999
  unknown[tag + 1] = static_cast<char>(0x03);
  frames.push_back(unknown);
  frames.push_back(std::string(200 * 1024, 'A'));  // oversized
  for (auto& f : frames) {
    zmq::message_t m(f.data(), f.size());
    ASSERT_TRUE(sock.send(m, zmq::send_flags::none));
  }
  // A multi-frame message counts once.
  zmq::message_t part1("ab", 2), part2("cdefghij", 8);
  sock.send(part1, zmq::send_flags::sndmore);
  sock.send(part2, zmq::send_flags::none);

  ASSERT_TRUE(waitUntil([&] { return metric(master.httpPort, "master/messages_dropped") >= 6; }))
      << metric(master.httpPort, "master/messages_dropped");
  EXPECT_EQ(metric(master.httpPort, "master/messages_dropped"), 6);

  // The next framework is served as usual.
  auto r = runCommand({binary("tutti-execute"), "--master=" + master.address(),
                       "--name=after-garbage", "--command=true"});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_TRUE(master.process.alive());
  EXPECT_TRUE(agent.process.alive());
  sock.close();
}

}  // namespace
}  // namespace tutti::testing
