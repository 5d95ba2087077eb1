// Unit tests for the Envelope codec (common/codec/envelope_codec.hpp): a
// round trip of every wire message, fully populated and default-constructed,
// and the decode boundary's handling of malformed, truncated, oversized and
// invalid input (DESIGN §5, §6).
#include "common/codec/envelope_codec.hpp"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/wire.hpp"
#include "proto/envelope.capnp.h"
#include "tutti/types.hpp"

namespace tutti {
namespace {

namespace w = tutti::wire;
namespace p = tutti::proto;
using codec::decodeEnvelope;
using codec::DecodeLimits;
using codec::encodeEnvelope;
using namespace std::chrono_literals;

constexpr size_t kPayloadTypes = std::variant_size_v<w::Payload>;

::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << haystackExpr << " (\"" << haystack << "\") does not contain " << needleExpr << " (\""
         << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)

Result<w::Payload> decodeFrame(const std::string& frame, const DecodeLimits& limits = {}) {
  return decodeEnvelope(frame.data(), frame.size(), limits);
}

// ---- sample values: every field set to something other than its default ----

std::string bytesOf(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// 16 bytes, including NUL and high bytes.
std::string sampleUuid(int seed) {
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back(static_cast<char>((seed * 37 + i * 53) & 0xff));
  out[3] = '\0';
  out[9] = static_cast<char>(0xff);
  return out;
}

Labels sampleLabels(const std::string& tag) {
  return {Label{"owner-" + tag, "team a"}, Label{"empty-value", ""}, Label{"k", "v=" + tag}};
}

Resources sampleResources() {
  Resource cpus;
  cpus.name = "cpus";
  cpus.scalarMillis = 1500;
  cpus.allocationRole = "eng/dev";

  Resource mem;
  mem.name = "mem";
  mem.scalarMillis = 2048'250;
  mem.reservations = {ReservationInfo{ReservationInfo::Type::STATIC, "eng", "", {}}};
  mem.allocationRole = "eng";

  Resource ports;
  ports.name = "ports";
  ports.type = Resource::Type::RANGES;
  ports.ranges = {Range{31000, 31999}, Range{33000, 33010}};
  ports.reservations = {ReservationInfo{ReservationInfo::Type::STATIC, "eng", "", {}},
                        ReservationInfo{ReservationInfo::Type::DYNAMIC,
                                        "eng/dev",
                                        "alice",
                                        {Label{"reason", "ci"}, Label{"ticket", "T-1"}}}};
  ports.allocationRole = "eng/dev";

  Resource bugs;
  bugs.name = "bugs";
  bugs.type = Resource::Type::SET;
  bugs.set = {"a", "b", "zeta"};

  Resource disk;
  disk.name = "disk";
  disk.scalarMillis = 10'000'001;  // 10000.001 MB

  Resource volume = persistentVolume(
      64.5, {ReservationInfo{ReservationInfo::Type::DYNAMIC, "eng", "alice", {}}}, "db-1",
      "data/db", "alice");
  volume.allocationRole = "eng";

  auto r = Resources::fromList({cpus, mem, ports, bugs, disk, volume});
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.ok() ? r->size() : 0u, 6u);
  return r.ok() ? *r : Resources();
}

CommandInfo sampleCommand(const std::string& tag) {
  CommandInfo c;
  c.shell = false;
  c.value = "/usr/bin/" + tag;
  c.arguments = {tag, "--flag=1", ""};
  c.environment = {EnvironmentVariable{"PATH", "/bin:/usr/bin"}, EnvironmentVariable{"EMPTY", ""}};
  c.user = "nobody";
  CommandURI plain;
  plain.value = "http://example.test/" + tag + ".tgz";
  CommandURI all;
  all.value = "/opt/" + tag;
  all.executable = true;
  all.extract = false;
  all.cache = true;
  all.outputFile = "bin/" + tag;
  c.uris = {plain, all};
  return c;
}

KillPolicy sampleKillPolicy() { return KillPolicy{std::chrono::nanoseconds(3'000'000'007)}; }

ExecutorInfo sampleExecutor(const std::string& tag) {
  ExecutorInfo e;
  e.executorId = ExecutorID("executor-" + tag);
  e.frameworkId = FrameworkID("framework-1");
  e.name = "Executor " + tag;
  e.command = sampleCommand("exec-" + tag);
  e.resources = sampleResources();
  e.type = ExecutorInfo::Type::DEFAULT;  // the default value is CUSTOM
  return e;
}

TaskInfo sampleTask(const std::string& tag) {
  TaskInfo t;
  t.name = "task " + tag;
  t.taskId = TaskID("task-" + tag);
  t.agentId = AgentID("agent-1");
  t.resources = sampleResources();
  t.command = sampleCommand("cmd-" + tag);
  t.executor = sampleExecutor(tag);
  t.labels = sampleLabels(tag);
  t.killPolicy = sampleKillPolicy();
  t.data = bytesOf({0, 1, 2, 0xfe, 0xff, 'x'});
  t.container = ContainerInfo{Image{Image::Type::DOCKER, "127.0.0.1:5000/busybox:" + tag, false},
                              {{"RLMT_NOFILE", 64, 128}, {"RLMT_CORE", std::nullopt, std::nullopt}}};
  return t;
}

TaskStatus sampleStatus(const std::string& tag, bool healthy = false) {
  TaskStatus s;
  s.taskId = TaskID("task-" + tag);
  s.state = TaskState::TASK_RUNNING;
  s.message = "running " + tag;
  s.source = Source::SOURCE_EXECUTOR;
  s.reason = Reason::REASON_TASK_HEALTH_CHECK_STATUS_UPDATED;
  s.data = bytesOf({0, 'd', 0x80});
  s.agentId = AgentID("agent-1");
  s.executorId = ExecutorID("executor-" + tag);
  s.timestamp = 1767225600.25;
  s.uuid = sampleUuid(static_cast<int>(tag.size()));
  s.healthy = healthy;  // set, even when false
  s.labels = sampleLabels(tag);
  s.exitStatus = 256;
  return s;
}

FrameworkInfo sampleFramework() {
  FrameworkInfo f;
  f.user = "root";
  f.name = "marathon";
  f.id = FrameworkID("framework-1");
  f.failoverTimeoutSecs = 604800.5;
  f.checkpoint = true;
  f.roles = {"eng", "eng/dev"};
  f.hostname = "sched.example.com";
  f.principal = "marathon-principal";
  f.webuiUrl = "http://sched.example.com:8080";
  f.capabilities = {FrameworkCapability::MULTI_ROLE, FrameworkCapability::PARTITION_AWARE,
                    FrameworkCapability::REGION_AWARE, FrameworkCapability::UNKNOWN};
  f.labels = sampleLabels("fw");
  return f;
}

AgentInfo sampleAgent() {
  AgentInfo a;
  a.hostname = "agent1.example.com";
  a.port = 5051;
  a.id = AgentID("agent-1");
  a.resources = sampleResources();
  a.attributes = {Attribute{"rack", "r1"}, Attribute{"zone", "a"}};
  a.ip = "10.0.0.7";
  return a;
}

MasterInfo sampleMaster() {
  MasterInfo m;
  m.id = MasterID("master-1");
  m.ip = "10.0.0.1";
  m.port = 5050;
  m.hostname = "master.example.com";
  m.version = "0.1.0";
  m.messageAddress = "tcp://10.0.0.1:5060";
  return m;
}

Offer sampleOffer(const std::string& tag) {
  Offer o;
  o.id = OfferID("offer-" + tag);
  o.frameworkId = FrameworkID("framework-1");
  o.agentId = AgentID("agent-1");
  o.hostname = "agent1.example.com";
  o.resources = sampleResources();
  o.attributes = {Attribute{"rack", "r1"}};
  o.executorIds = {ExecutorID("executor-a"), ExecutorID("executor-b")};
  o.allocationRole = "eng/dev";
  o.url = "http://agent1.example.com:5051";
  // Maintenance: an open-ended unavailability, one with a duration, none.
  if (tag == "1") {
    o.unavailability = Unavailability{std::chrono::nanoseconds(1700000000123456789), std::nullopt};
  } else if (tag == "2") {
    o.unavailability = Unavailability{std::chrono::nanoseconds(-5), std::chrono::hours(2)};
  }
  return o;
}

std::vector<Offer::Operation> sampleOperations() {
  using T = Offer::Operation::Type;
  std::vector<Offer::Operation> ops;
  ops.push_back(Offer::Operation::launch({sampleTask("l1"), sampleTask("l2")}));
  for (T type : {T::RESERVE, T::UNRESERVE, T::CREATE, T::DESTROY}) {
    Offer::Operation op;
    op.type = type;
    op.resources = sampleResources();
    ops.push_back(op);
  }
  ops.push_back(Offer::Operation{});  // UNKNOWN
  ExecutorInfo group = sampleExecutor("group");
  group.command.reset();
  ops.push_back(Offer::Operation::launchGroup(group, {sampleTask("g1"), sampleTask("g2")}));
  return ops;
}

Task sampleStoredTask(const std::string& tag) {
  Task t;
  t.taskId = TaskID("task-" + tag);
  t.name = "task " + tag;
  t.frameworkId = FrameworkID("framework-1");
  t.executorId = ExecutorID("executor-" + tag);
  t.agentId = AgentID("agent-1");
  t.state = TaskState::TASK_KILLING;
  t.resources = sampleResources();
  t.statuses = {sampleStatus(tag, true), sampleStatus(tag + "-2", false)};
  t.labels = sampleLabels(tag);
  t.statusUpdateState = TaskState::TASK_FINISHED;
  t.statusUpdateUuid = sampleUuid(7);
  return t;
}

// One fully populated value of every Payload alternative.
std::vector<w::Payload> fullSamples() {
  std::vector<w::Payload> out;
  const FrameworkID fw("framework-1");
  const AgentID agent("agent-1");

  out.push_back(w::SubscribeCall{sampleFramework(), {"eng", "ops"}});
  out.push_back(
      w::AcceptCall{fw, {OfferID("o1"), OfferID("o2")}, sampleOperations(), Filters{12.5}});
  out.push_back(w::DeclineCall{fw, {OfferID("o3")}, Filters{0.25}});
  out.push_back(w::ReviveCall{fw, {"eng", "eng/dev"}});
  out.push_back(w::SuppressCall{fw, {"ops"}});
  out.push_back(w::KillCall{fw, TaskID("t1"), agent, sampleKillPolicy()});
  out.push_back(w::AcknowledgeCall{fw, agent, TaskID("t1"), sampleUuid(1)});
  out.push_back(w::ReconcileCall{fw, {{TaskID("t1"), agent}, {TaskID("t2"), AgentID("agent-2")}}});
  out.push_back(w::MessageCall{fw, agent, ExecutorID("e1"), bytesOf({0, 'h', 'i', 0xff})});
  out.push_back(w::TeardownCall{fw});
  out.push_back(w::SubscribedEvent{fw, 7.5, sampleMaster()});
  out.push_back(w::OffersEvent{{sampleOffer("1"), sampleOffer("2"), sampleOffer("3")}});
  out.push_back(w::RescindEvent{OfferID("o9")});
  out.push_back(w::UpdateEvent{sampleStatus("u")});
  out.push_back(w::MessageEvent{agent, ExecutorID("e1"), bytesOf({'m', 0, 's'})});
  out.push_back(w::FailureEvent{agent, ExecutorID("e1"), 9});
  out.push_back(w::ErrorEvent{"framework has been removed"});
  out.push_back(w::HeartbeatEvent{});
  out.push_back(w::ExecutorSubscribeCall{fw,
                                         ExecutorID("e1"),
                                         {sampleTask("a"), sampleTask("b")},
                                         {sampleStatus("a"), sampleStatus("b", true)}});
  out.push_back(w::ExecutorUpdateCall{fw, ExecutorID("e1"), sampleStatus("x", true)});
  out.push_back(w::ExecutorMessageCall{fw, ExecutorID("e1"), bytesOf({1, 2, 3, 0})});
  out.push_back(w::ExecutorSubscribedEvent{sampleExecutor("s"), sampleFramework(), sampleAgent(),
                                           ContainerID("container-1")});
  out.push_back(w::LaunchEvent{sampleTask("launch")});
  out.push_back(w::KillEvent{TaskID("t1"), sampleKillPolicy()});
  out.push_back(w::AcknowledgedEvent{TaskID("t1"), sampleUuid(2)});
  out.push_back(w::ExecutorMessageEvent{bytesOf({'x', 0, 'y'})});
  out.push_back(w::ShutdownEvent{5s + 1ns});
  out.push_back(w::ExecutorErrorEvent{"executor failed"});
  out.push_back(w::ExecutorHeartbeatEvent{});
  out.push_back(w::RegisterAgentMessage{sampleAgent(), "0.1.0"});
  out.push_back(w::AgentRegisteredMessage{agent, 75s});
  out.push_back(w::ReregisterAgentMessage{sampleAgent(),
                                          "0.1.1",
                                          {sampleStoredTask("r1"), sampleStoredTask("r2")},
                                          {sampleExecutor("r1"), sampleExecutor("r2")},
                                          {sampleFramework()}});
  out.push_back(w::AgentReregisteredMessage{agent, 90s + 5ms});
  out.push_back(w::PingMessage{agent, false});  // the default is true
  out.push_back(w::PongMessage{agent});
  out.push_back(w::RunTaskMessage{sampleFramework(), sampleTask("run"), agent});
  out.push_back(w::KillTaskMessage{fw, TaskID("t1"), agent, sampleKillPolicy()});
  out.push_back(w::StatusUpdateMessage{fw, agent, sampleStatus("su"), TaskState::TASK_FAILED});
  out.push_back(w::StatusUpdateAckMessage{agent, fw, TaskID("t1"), sampleUuid(3)});
  out.push_back(w::ShutdownFrameworkMessage{agent, fw});
  out.push_back(w::ShutdownAgentMessage{agent, "removed by operator"});
  out.push_back(w::FrameworkToExecutorMessage{agent, fw, ExecutorID("e1"), bytesOf({0, 0, 7})});
  out.push_back(w::ExecutorToFrameworkMessage{agent, fw, ExecutorID("e1"), bytesOf({9, 0})});
  out.push_back(w::UnregisterAgentMessage{agent});
  out.push_back(w::CheckpointResourcesMessage{agent, sampleResources()});
  out.push_back(w::ExitedExecutorMessage{agent, fw, ExecutorID("ex-1"), 9});
  out.push_back(w::RunTaskGroupMessage{sampleFramework(), sampleExecutor("rg"),
                                       {sampleTask("rg1"), sampleTask("rg2")}, agent});
  out.push_back(w::LaunchGroupEvent{{sampleTask("lg1"), sampleTask("lg2")}});
  return out;
}

const w::Payload* sampleOfIndex(const std::vector<w::Payload>& samples, size_t index) {
  for (const auto& s : samples) {
    if (s.index() == index) return &s;
  }
  return nullptr;
}

template <size_t... I>
std::vector<w::Payload> defaultPayloads(std::index_sequence<I...>) {
  return {w::Payload(std::in_place_index<I>)...};
}

// The names payloadName() must give, in variant order.
// clang-format off
const char* const kExpectedNames[] = {
    "SubscribeCall", "AcceptCall", "DeclineCall", "ReviveCall", "SuppressCall", "KillCall",
    "AcknowledgeCall", "ReconcileCall", "MessageCall", "TeardownCall", "SubscribedEvent",
    "OffersEvent", "RescindEvent", "UpdateEvent", "MessageEvent", "FailureEvent", "ErrorEvent",
    "HeartbeatEvent", "ExecutorSubscribeCall", "ExecutorUpdateCall", "ExecutorMessageCall",
    "ExecutorSubscribedEvent", "LaunchEvent", "KillEvent", "AcknowledgedEvent",
    "ExecutorMessageEvent", "ShutdownEvent", "ExecutorErrorEvent", "ExecutorHeartbeatEvent",
    "RegisterAgentMessage", "AgentRegisteredMessage", "ReregisterAgentMessage",
    "AgentReregisteredMessage", "PingMessage", "PongMessage", "RunTaskMessage",
    "KillTaskMessage", "StatusUpdateMessage", "StatusUpdateAckMessage",
    "ShutdownFrameworkMessage", "ShutdownAgentMessage", "FrameworkToExecutorMessage",
    "ExecutorToFrameworkMessage", "UnregisterAgentMessage", "CheckpointResourcesMessage",
    "ExitedExecutorMessage", "RunTaskGroupMessage", "LaunchGroupEvent"};
// clang-format on
static_assert(sizeof(kExpectedNames) / sizeof(kExpectedNames[0]) == kPayloadTypes);

// ---- raw Cap'n Proto envelopes, for input the C++ encoder never produces ----

std::string flatBytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string rawEnvelope(const std::function<void(p::Envelope::Builder)>& fill,
                        uint32_t version = p::K_WIRE_VERSION) {
  capnp::MallocMessageBuilder message;
  auto env = message.initRoot<p::Envelope>();
  env.setVersion(version);
  fill(env);
  return flatBytes(message);
}

capnp::Text::Reader txt(const char* s) { return capnp::Text::Reader(s); }

// A valid TaskStatus, for tests that then break one field.
void fillStatus(p::TaskStatus::Builder s) {
  s.setTaskId(txt("t1"));
  s.setState(p::TaskState::RUNNING);
  s.setAgentId(txt("agent-1"));
}

// A StatusUpdateMessage whose status is valid except for what `breakIt` does.
std::string rawStatusUpdate(const std::function<void(p::TaskStatus::Builder)>& breakIt) {
  return rawEnvelope([&](p::Envelope::Builder env) {
    auto m = env.initStatusUpdateMessage();
    m.setFrameworkId(txt("framework-1"));
    m.setAgentId(txt("agent-1"));
    auto s = m.initStatus();
    fillStatus(s);
    breakIt(s);
  });
}

// A RegisterAgentMessage whose AgentInfo has resources filled by `fill`.
std::string rawAgentResources(size_t count,
                              const std::function<void(capnp::List<p::Resource>::Builder)>& fill) {
  return rawEnvelope([&](p::Envelope::Builder env) {
    auto m = env.initRegisterAgentMessage();
    m.setVersion(txt("0.1.0"));
    auto info = m.initAgentInfo();
    info.setHostname(txt("agent1"));
    info.setPort(5051);
    fill(info.initResources(static_cast<unsigned>(count)));
  });
}

// =============================================================================
// Round trips
// =============================================================================

class CodecRoundTripTest : public ::testing::TestWithParam<size_t> {};

TEST_P(CodecRoundTripTest, FullyPopulatedValueRoundTrips) {
  const size_t index = GetParam();
  const auto samples = fullSamples();
  const w::Payload* sample = sampleOfIndex(samples, index);
  ASSERT_NE(sample, nullptr) << "no sample for " << kExpectedNames[index];
  ASSERT_STREQ(w::payloadName(*sample), kExpectedNames[index]);

  std::string frame = encodeEnvelope(*sample);
  ASSERT_FALSE(frame.empty());
  EXPECT_EQ(frame.size() % 8, 0u);
  auto decoded = decodeFrame(frame);
  ASSERT_TRUE(decoded.ok()) << kExpectedNames[index] << ": " << decoded.error();
  EXPECT_EQ(decoded->index(), index);
  EXPECT_TRUE(*decoded == *sample) << kExpectedNames[index] << " changed in a round trip";
  // Encoding is deterministic: the decoded value gives the same bytes.
  EXPECT_EQ(encodeEnvelope(*decoded), frame) << kExpectedNames[index];
}

TEST_P(CodecRoundTripTest, DefaultValueRoundTrips) {
  const size_t index = GetParam();
  const auto defaults = defaultPayloads(std::make_index_sequence<kPayloadTypes>());
  const w::Payload& value = defaults[index];
  ASSERT_EQ(value.index(), index);
  auto decoded = decodeFrame(encodeEnvelope(value));
  ASSERT_TRUE(decoded.ok()) << kExpectedNames[index] << ": " << decoded.error();
  EXPECT_TRUE(*decoded == value) << "default " << kExpectedNames[index]
                                 << " changed in a round trip";
}

TEST_P(CodecRoundTripTest, DecodesFromAMisalignedBuffer) {
  const size_t index = GetParam();
  const auto samples = fullSamples();
  const w::Payload* sample = sampleOfIndex(samples, index);
  ASSERT_NE(sample, nullptr);
  std::string frame = encodeEnvelope(*sample);
  // The heap buffer is 16-byte aligned, so the frame starts 1 byte off.
  const std::string buffer = "x" + frame;
  const char* misaligned = buffer.data() + 1;
  ASSERT_NE(reinterpret_cast<uintptr_t>(misaligned) % 8, 0u);
  auto decoded = decodeEnvelope(misaligned, frame.size());
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(*decoded == *sample) << kExpectedNames[index];
}

INSTANTIATE_TEST_SUITE_P(AllPayloads, CodecRoundTripTest,
                         ::testing::Range<size_t>(0, kPayloadTypes),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(kExpectedNames[info.param]);
                         });

TEST(CodecTest, SamplesCoverEveryPayloadTypeOnce) {
  const auto samples = fullSamples();
  std::set<size_t> seen;
  for (const auto& s : samples) {
    EXPECT_TRUE(seen.insert(s.index()).second) << "two samples of " << w::payloadName(s);
  }
  EXPECT_EQ(seen.size(), kPayloadTypes);
  EXPECT_EQ(samples.size(), kPayloadTypes);
}

TEST(CodecTest, PayloadNames) {
  EXPECT_STREQ(w::payloadName(w::SubscribeCall{}), "SubscribeCall");
  EXPECT_STREQ(w::payloadName(w::HeartbeatEvent{}), "HeartbeatEvent");
  EXPECT_STREQ(w::payloadName(w::ExecutorHeartbeatEvent{}), "ExecutorHeartbeatEvent");
  EXPECT_STREQ(w::payloadName(w::StatusUpdateAckMessage{}), "StatusUpdateAckMessage");
  EXPECT_STREQ(w::payloadName(w::UnregisterAgentMessage{}), "UnregisterAgentMessage");
  const auto defaults = defaultPayloads(std::make_index_sequence<kPayloadTypes>());
  for (size_t i = 0; i < kPayloadTypes; ++i) {
    EXPECT_STREQ(w::payloadName(defaults[i]), kExpectedNames[i]) << "index " << i;
  }
}

TEST(CodecTest, UnionTagIsTheVariantIndex) {
  // The variant order matches the Envelope union (wire.hpp): check the tag
  // that a reader of the raw message sees.
  const auto defaults = defaultPayloads(std::make_index_sequence<kPayloadTypes>());
  for (size_t i = 0; i < kPayloadTypes; ++i) {
    std::string frame = encodeEnvelope(defaults[i]);
    kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(frame.data()),
                                          frame.size() / sizeof(capnp::word));
    capnp::FlatArrayMessageReader reader(words);
    auto env = reader.getRoot<p::Envelope>();
    EXPECT_EQ(static_cast<size_t>(env.which()), i) << kExpectedNames[i];
    EXPECT_EQ(env.getVersion(), p::K_WIRE_VERSION);
  }
}

TEST(CodecTest, OptionalFieldsUnsetStayUnset) {
  TaskStatus status = sampleStatus("opt");
  status.reason.reset();
  status.healthy.reset();
  status.exitStatus.reset();
  status.uuid.clear();
  TaskInfo task = sampleTask("opt");
  task.command.reset();
  task.killPolicy.reset();
  task.executor->command.reset();
  FrameworkInfo framework = sampleFramework();
  framework.id.reset();
  w::Payload payload =
      w::ExecutorSubscribeCall{FrameworkID("f"), ExecutorID("e"), {task}, {status}};
  auto decoded = decodeFrame(encodeEnvelope(payload));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(*decoded == payload);

  w::Payload subscribe = w::SubscribeCall{framework, {}};
  decoded = decodeFrame(encodeEnvelope(subscribe));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_FALSE(std::get<w::SubscribeCall>(*decoded).frameworkInfo.id.has_value());

  w::Payload kill = w::KillCall{FrameworkID("f"), TaskID("t"), AgentID("a"), std::nullopt};
  decoded = decodeFrame(encodeEnvelope(kill));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_FALSE(std::get<w::KillCall>(*decoded).killPolicy.has_value());

  // A zero grace period is a set policy, not an absent one.
  w::Payload killZero = w::KillEvent{TaskID("t"), KillPolicy{0ns}};
  decoded = decodeFrame(encodeEnvelope(killZero));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  ASSERT_TRUE(std::get<w::KillEvent>(*decoded).killPolicy.has_value());
  EXPECT_EQ(std::get<w::KillEvent>(*decoded).killPolicy->gracePeriod, 0ns);
}

TEST(CodecTest, EveryTaskStateAndReasonRoundTrips) {
  for (int s = 0; s <= static_cast<int>(TaskState::TASK_UNKNOWN); ++s) {
    TaskStatus status = sampleStatus("s");
    status.state = static_cast<TaskState>(s);
    w::Payload payload = w::UpdateEvent{status};
    auto decoded = decodeFrame(encodeEnvelope(payload));
    ASSERT_TRUE(decoded.ok()) << "state " << s << ": " << decoded.error();
    EXPECT_EQ(std::get<w::UpdateEvent>(*decoded).status.state, status.state) << "state " << s;
  }
  for (int r = 0; r < kReasonCount; ++r) {
    TaskStatus status = sampleStatus("r");
    status.reason = static_cast<Reason>(r);
    w::Payload payload = w::UpdateEvent{status};
    auto decoded = decodeFrame(encodeEnvelope(payload));
    ASSERT_TRUE(decoded.ok()) << "reason " << r << ": " << decoded.error();
    EXPECT_EQ(std::get<w::UpdateEvent>(*decoded).status.reason, status.reason) << "reason " << r;
  }
}

// =============================================================================
// Malformed frames
// =============================================================================

TEST(CodecDecodeTest, RejectsAnEmptyFrame) {
  auto decoded = decodeEnvelope(nullptr, 0);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidArgument);
  EXPECT_HAS_SUBSTR(decoded.error(), "empty");
}

TEST(CodecDecodeTest, RejectsAFrameThatIsNotWholeWords) {
  std::string frame = encodeEnvelope(w::PongMessage{AgentID("agent-1")});
  for (size_t extra : {1u, 3u, 7u}) {
    std::string longer = frame + std::string(extra, '\0');
    auto decoded = decodeFrame(longer);
    ASSERT_FALSE(decoded.ok()) << "extra " << extra;
    EXPECT_HAS_SUBSTR(decoded.error(), "not a whole number of words");
  }
  auto decoded = decodeFrame(std::string(5, 'x'));
  EXPECT_FALSE(decoded.ok());
}

TEST(CodecDecodeTest, RejectsRandomGarbage) {
  size_t rejected = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed);
    // Mostly whole words, so that the bytes reach Cap'n Proto.
    size_t words = std::uniform_int_distribution<size_t>(1, 64)(rng);
    size_t size = words * 8 - (seed % 5 == 0 ? seed % 8 : 0);
    std::string bytes(size, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    auto decoded = decodeFrame(bytes);
    if (!decoded.ok()) {
      ++rejected;
      EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidArgument);
      EXPECT_FALSE(decoded.error().empty());
    }
  }
  // A random segment table almost never describes the bytes that follow.
  EXPECT_EQ(rejected, 3000u);
}

TEST(CodecDecodeTest, SurvivesGarbageBehindAValidSegmentTable) {
  // One segment of the right size, random content: Cap'n Proto follows random
  // pointers. Any outcome but a crash (or an exception) is acceptable.
  size_t rejected = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed);
    uint32_t words = std::uniform_int_distribution<uint32_t>(1, 48)(rng);
    std::string bytes((words + 1) * 8, '\0');
    uint32_t header[2] = {0, words};
    std::memcpy(bytes.data(), header, sizeof(header));
    for (size_t i = 8; i < bytes.size(); ++i) bytes[i] = static_cast<char>(rng());
    auto decoded = decodeFrame(bytes);
    if (!decoded.ok()) ++rejected;
  }
  EXPECT_GT(rejected, 0u);
}

TEST(CodecDecodeTest, SurvivesMutationsOfAValidFrame) {
  const std::string frame = encodeEnvelope(*sampleOfIndex(fullSamples(), 31));  // reregister
  ASSERT_GT(frame.size(), 1000u);
  size_t rejected = 0, accepted = 0;
  std::mt19937 rng(42);
  for (int i = 0; i < 4000; ++i) {
    std::string mutated = frame;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    auto decoded = decodeFrame(mutated);
    if (decoded.ok()) {
      ++accepted;
      // Whatever decoded is a value that encodes again.
      EXPECT_FALSE(encodeEnvelope(*decoded).empty());
    } else {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u);  // most flips hit text bytes
}

TEST(CodecDecodeTest, RejectsEveryTruncationOfAValidFrame) {
  const std::string frame = encodeEnvelope(*sampleOfIndex(fullSamples(), 35));  // run task
  ASSERT_GT(frame.size(), 64u);
  for (size_t len = 0; len < frame.size(); ++len) {
    std::string prefix = frame.substr(0, len);
    auto decoded = decodeFrame(prefix);
    // The segment table gives the full length, so every prefix is short.
    EXPECT_FALSE(decoded.ok()) << "prefix of " << len << " of " << frame.size() << " bytes";
  }
  EXPECT_TRUE(decodeFrame(frame).ok());
}

TEST(CodecDecodeTest, RejectsVersionZero) {
  std::string frame = rawEnvelope(
      [](p::Envelope::Builder env) { env.initPongMessage().setAgentId(txt("agent-1")); }, 0);
  auto decoded = decodeFrame(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "version");
  // The same message with a version decodes.
  frame = rawEnvelope(
      [](p::Envelope::Builder env) { env.initPongMessage().setAgentId(txt("agent-1")); });
  decoded = decodeFrame(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::PongMessage>(*decoded).agentId, AgentID("agent-1"));
}

TEST(CodecDecodeTest, AcceptsAFutureVersionNumber) {
  // Only 0 (unset) is rejected; newer peers add fields, not new versions.
  std::string frame = rawEnvelope([](p::Envelope::Builder env) { env.initHeartbeatEvent(); }, 7);
  auto decoded = decodeFrame(frame);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(std::holds_alternative<w::HeartbeatEvent>(*decoded));
}

TEST(CodecDecodeTest, RejectsAnUnknownUnionTag) {
  // How the discriminant is found: HeartbeatEvent (tag 17) and
  // ExecutorHeartbeatEvent (tag 28) are both empty structs, so their frames
  // differ only in the Envelope's union discriminant. Cap'n Proto layout
  // agrees: an 8-byte segment table, an 8-byte root pointer, then the
  // Envelope's data section, where `version` (UInt32) takes bytes 0-3 and the
  // UInt16 discriminant the next free slot, bytes 4-5 (envelope.capnp.h reads
  // it as data field 2 in 16-bit units). So the tag is at bytes 20-21
  // (little-endian).
  std::string a = rawEnvelope([](p::Envelope::Builder env) { env.initHeartbeatEvent(); });
  std::string b = rawEnvelope([](p::Envelope::Builder env) { env.initExecutorHeartbeatEvent(); });
  ASSERT_EQ(a.size(), b.size());
  std::vector<size_t> diff;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) diff.push_back(i);
  }
  constexpr size_t kTagOffset = 8 + 8 + 4;
  ASSERT_EQ(diff, std::vector<size_t>{kTagOffset});
  EXPECT_EQ(static_cast<uint8_t>(a[kTagOffset]), 17u);
  EXPECT_EQ(static_cast<uint8_t>(b[kTagOffset]), 28u);

  for (uint16_t tag : {uint16_t{48}, uint16_t{49}, uint16_t{1000}, uint16_t{0xffff}}) {
    std::string frame = a;
    frame[kTagOffset] = static_cast<char>(tag & 0xff);
    frame[kTagOffset + 1] = static_cast<char>(tag >> 8);
    auto decoded = decodeFrame(frame);
    ASSERT_FALSE(decoded.ok()) << "tag " << tag;
    EXPECT_HAS_SUBSTR(decoded.error(), "unknown message type");
    EXPECT_HAS_SUBSTR(decoded.error(), std::to_string(tag));
  }
  // The patched position really is the tag: 43 to 47 are the last known
  // members.
  std::string last = a;
  last[kTagOffset] = 43;
  auto decoded = decodeFrame(last);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(std::holds_alternative<w::UnregisterAgentMessage>(*decoded));
  last[kTagOffset] = 45;
  decoded = decodeFrame(last);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(std::holds_alternative<w::ExitedExecutorMessage>(*decoded));
  last[kTagOffset] = 47;
  decoded = decodeFrame(last);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(std::holds_alternative<w::LaunchGroupEvent>(*decoded));
}

TEST(CodecDecodeTest, RejectsAFrameAboveMaxBytesUnread) {
  const std::string frame = encodeEnvelope(*sampleOfIndex(fullSamples(), 31));
  DecodeLimits limits;
  limits.maxBytes = frame.size() - 8;
  auto decoded = decodeFrame(frame, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "exceeds");
  EXPECT_HAS_SUBSTR(decoded.error(), std::to_string(frame.size()));
  limits.maxBytes = frame.size();
  EXPECT_TRUE(decodeFrame(frame, limits).ok());

  // Checked before anything is read: a huge size with a tiny buffer is safe.
  std::string tiny(8, '\0');
  limits.maxBytes = 1024;
  decoded = decodeEnvelope(tiny.data(), size_t{1} << 40, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "exceeds");
}

TEST(CodecDecodeTest, EnforcesTheTraversalLimit) {
  w::Payload big = w::ExecutorMessageEvent{std::string(64 * 1024, 'z')};
  const std::string frame = encodeEnvelope(big);
  DecodeLimits limits;
  limits.traversalLimitWords = 1024;  // 8 KiB, the data is 64 KiB
  auto decoded = decodeFrame(frame, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "traversal limit");
  limits.traversalLimitWords = 16 * 1024;
  decoded = decodeFrame(frame, limits);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(*decoded == big);
}

TEST(CodecDecodeTest, EnforcesTheNestingLimit) {
  // Envelope > ReregisterAgentMessage > tasks > Task > statuses > TaskStatus >
  // labels > Label > text: deeper than a nesting limit of 4.
  const std::string frame = encodeEnvelope(*sampleOfIndex(fullSamples(), 31));
  DecodeLimits limits;
  limits.nestingLimit = 4;
  auto decoded = decodeFrame(frame, limits);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "malformed message");
  limits.nestingLimit = 1;
  EXPECT_FALSE(decodeFrame(frame, limits).ok());
  limits.nestingLimit = 32;
  EXPECT_TRUE(decodeFrame(frame, limits).ok());
}

// =============================================================================
// Structurally valid Cap'n Proto, invalid values
// =============================================================================

TEST(CodecDecodeTest, RejectsANegativeScalarNamingTheResource) {
  std::string frame = rawAgentResources(2, [](capnp::List<p::Resource>::Builder list) {
    list[0].setName(txt("mem"));
    list[0].setScalar(1024);
    list[1].setName(txt("cpus"));
    list[1].setScalar(-500);
  });
  auto decoded = decodeFrame(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidArgument);
  EXPECT_HAS_SUBSTR(decoded.error(), "'cpus'");
  EXPECT_HAS_SUBSTR(decoded.error(), "negative");
}

TEST(CodecDecodeTest, RejectsAnInvertedRangeNamingTheResource) {
  std::string frame = rawAgentResources(1, [](capnp::List<p::Resource>::Builder list) {
    list[0].setName(txt("ports"));
    auto ranges = list[0].initRanges(2);
    ranges[0].setBegin(1000);
    ranges[0].setEnd(1010);
    ranges[1].setBegin(2000);
    ranges[1].setEnd(1999);
  });
  auto decoded = decodeFrame(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "'ports'");
  EXPECT_HAS_SUBSTR(decoded.error(), "2000-1999");
}

TEST(CodecDecodeTest, RejectsOtherInvalidResources) {
  // Empty name.
  auto decoded = decodeFrame(
      rawAgentResources(1, [](capnp::List<p::Resource>::Builder l) { l[0].setScalar(1); }));
  EXPECT_FALSE(decoded.ok());
  // The same name as a scalar and as ranges.
  decoded = decodeFrame(rawAgentResources(2, [](capnp::List<p::Resource>::Builder l) {
    l[0].setName(txt("ports"));
    l[0].setScalar(1000);
    l[1].setName(txt("ports"));
    l[1].initRanges(1)[0].setEnd(5);
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "'ports'");
  // A reservation of unknown type.
  decoded = decodeFrame(rawAgentResources(1, [](capnp::List<p::Resource>::Builder l) {
    l[0].setName(txt("disk"));
    l[0].setScalar(1000);
    auto res = l[0].initReservations(1);
    res[0].setType(p::ReservationInfo::Type::UNKNOWN);
    res[0].setRole(txt("eng"));
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "'disk'");
  // A reservation for "*".
  decoded = decodeFrame(rawAgentResources(1, [](capnp::List<p::Resource>::Builder l) {
    l[0].setName(txt("disk"));
    l[0].setScalar(1000);
    auto res = l[0].initReservations(1);
    res[0].setType(p::ReservationInfo::Type::STATIC);
    res[0].setRole(txt("*"));
  }));
  EXPECT_FALSE(decoded.ok());
  // A valid list for contrast.
  decoded = decodeFrame(rawAgentResources(1, [](capnp::List<p::Resource>::Builder l) {
    l[0].setName(txt("disk"));
    l[0].setScalar(1000);
  }));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::RegisterAgentMessage>(*decoded).agentInfo.resources.disk(), 1.0);
}

TEST(CodecDecodeTest, RejectsAnOutOfRangeTaskState) {
  auto decoded = decodeFrame(
      rawStatusUpdate([](p::TaskStatus::Builder s) { s.setState(static_cast<p::TaskState>(99)); }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "task state");
  EXPECT_HAS_SUBSTR(decoded.error(), "99");
  // 14 is the first value past TASK_UNKNOWN (13).
  decoded = decodeFrame(
      rawStatusUpdate([](p::TaskStatus::Builder s) { s.setState(static_cast<p::TaskState>(14)); }));
  EXPECT_FALSE(decoded.ok());
  decoded = decodeFrame(
      rawStatusUpdate([](p::TaskStatus::Builder s) { s.setState(static_cast<p::TaskState>(13)); }));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::StatusUpdateMessage>(*decoded).status.state, TaskState::TASK_UNKNOWN);
}

TEST(CodecDecodeTest, RejectsOtherOutOfRangeEnums) {
  // latestState.
  auto decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto m = env.initStatusUpdateMessage();
    fillStatus(m.initStatus());
    m.setHasLatestState(true);
    m.setLatestState(static_cast<p::TaskState>(400));
  }));
  EXPECT_FALSE(decoded.ok());
  // Reason, only read when hasReason is set.
  decoded = decodeFrame(rawStatusUpdate([](p::TaskStatus::Builder s) {
    s.setHasReason(true);
    s.setReason(static_cast<p::Reason>(kReasonCount));
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "reason");
  decoded = decodeFrame(rawStatusUpdate([](p::TaskStatus::Builder s) {
    s.setHasReason(false);
    s.setReason(static_cast<p::Reason>(500));
  }));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_FALSE(std::get<w::StatusUpdateMessage>(*decoded).status.reason.has_value());
  // Source.
  decoded = decodeFrame(
      rawStatusUpdate([](p::TaskStatus::Builder s) { s.setSource(static_cast<p::Source>(3)); }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "source");
  // Executor type.
  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto e = env.initExecutorSubscribedEvent();
    e.initExecutorInfo().setType(static_cast<p::ExecutorInfo::Type>(3));
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "executor type");
  // Task state of a stored task.
  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto m = env.initReregisterAgentMessage();
    m.initAgentInfo().setHostname(txt("agent1"));
    m.initTasks(1)[0].setState(static_cast<p::TaskState>(99));
  }));
  EXPECT_FALSE(decoded.ok());
}

TEST(CodecDecodeTest, IgnoresUnknownFrameworkCapabilities) {
  // Unlike states, capabilities from newer peers are dropped (as Mesos does).
  auto decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto f = env.initSubscribeCall().initFrameworkInfo();
    f.setUser(txt("root"));
    auto caps = f.initCapabilities(3);
    caps.set(0, p::FrameworkCapability::MULTI_ROLE);
    caps.set(1, static_cast<p::FrameworkCapability>(42));
    caps.set(2, p::FrameworkCapability::REGION_AWARE);
  }));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::SubscribeCall>(*decoded).frameworkInfo.capabilities,
            (std::vector<FrameworkCapability>{FrameworkCapability::MULTI_ROLE,
                                              FrameworkCapability::REGION_AWARE}));
}

TEST(CodecDecodeTest, RejectsAStatusUuidThatIsNot16Bytes) {
  for (size_t size : {5u, 1u, 15u, 17u, 32u}) {
    std::string uuid(size, 'u');
    auto decoded = decodeFrame(rawStatusUpdate([&](p::TaskStatus::Builder s) {
      s.setUuid(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(uuid.data()), size));
    }));
    ASSERT_FALSE(decoded.ok()) << size << " bytes";
    EXPECT_HAS_SUBSTR(decoded.error(), "uuid");
  }
  // Also inside a list: an executor's unacknowledged updates.
  auto decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto m = env.initExecutorSubscribeCall();
    auto s = m.initUnacknowledgedUpdates(1)[0];
    fillStatus(s);
    s.setUuid(capnp::Data::Reader(reinterpret_cast<const kj::byte*>("12345"), 5));
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "uuid");
  // 16 bytes and no uuid are both fine.
  std::string uuid = sampleUuid(5);
  decoded = decodeFrame(rawStatusUpdate([&](p::TaskStatus::Builder s) {
    s.setUuid(capnp::Data::Reader(reinterpret_cast<const kj::byte*>(uuid.data()), 16));
  }));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::StatusUpdateMessage>(*decoded).status.uuid, uuid);
  EXPECT_TRUE(decodeFrame(rawStatusUpdate([](p::TaskStatus::Builder) {})).ok());
}

TEST(CodecDecodeTest, RejectsNonFiniteAndNegativeNumbers) {
  auto decoded = decodeFrame(rawStatusUpdate(
      [](p::TaskStatus::Builder s) { s.setTimestamp(std::numeric_limits<double>::quiet_NaN()); }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "timestamp");

  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    env.initSubscribeCall().initFrameworkInfo().setFailoverTimeoutSecs(-1);
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "failover");

  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    env.initSubscribeCall().initFrameworkInfo().setFailoverTimeoutSecs(
        std::numeric_limits<double>::infinity());
  }));
  EXPECT_FALSE(decoded.ok());

  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto e = env.initSubscribedEvent();
    e.setHeartbeatIntervalSeconds(std::numeric_limits<double>::quiet_NaN());
    e.initMasterInfo();
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "heartbeat");

  decoded = decodeFrame(rawEnvelope([](p::Envelope::Builder env) {
    auto k = env.initKillEvent();
    k.setHasKillPolicy(true);
    k.initKillPolicy().setGracePeriodNanos(-1);
  }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "grace period");

  decoded = decodeFrame(rawEnvelope(
      [](p::Envelope::Builder env) { env.initShutdownEvent().setGracePeriodNanos(-5); }));
  ASSERT_FALSE(decoded.ok());
  EXPECT_HAS_SUBSTR(decoded.error(), "grace period");
}

TEST(CodecDecodeTest, InvalidRefuseSecondsBecomeTheDefault) {
  // Mesos treats a bad refuse_seconds as the default, 5 seconds.
  for (double bad :
       {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    auto decoded = decodeFrame(rawEnvelope([&](p::Envelope::Builder env) {
      auto d = env.initDeclineCall();
      d.setFrameworkId(txt("framework-1"));
      d.initFilters().setRefuseSeconds(bad);
    }));
    ASSERT_TRUE(decoded.ok()) << decoded.error();
    EXPECT_EQ(std::get<w::DeclineCall>(*decoded).filters.refuseSeconds, 5.0) << bad;
  }
}

TEST(CodecDecodeTest, RejectsMessagesMissingTheirRequiredStruct) {
  struct Case {
    const char* name;
    std::function<void(p::Envelope::Builder)> fill;
  };
  std::vector<Case> cases = {
      {"SubscribeCall", [](p::Envelope::Builder e) { e.initSubscribeCall(); }},
      {"UpdateEvent", [](p::Envelope::Builder e) { e.initUpdateEvent(); }},
      {"ExecutorUpdateCall", [](p::Envelope::Builder e) { e.initExecutorUpdateCall(); }},
      {"LaunchEvent", [](p::Envelope::Builder e) { e.initLaunchEvent(); }},
      {"RegisterAgentMessage", [](p::Envelope::Builder e) { e.initRegisterAgentMessage(); }},
      {"ReregisterAgentMessage", [](p::Envelope::Builder e) { e.initReregisterAgentMessage(); }},
      {"RunTaskMessage", [](p::Envelope::Builder e) { e.initRunTaskMessage(); }},
      {"RunTaskGroupMessage", [](p::Envelope::Builder e) { e.initRunTaskGroupMessage(); }},
      {"StatusUpdateMessage", [](p::Envelope::Builder e) { e.initStatusUpdateMessage(); }},
  };
  for (const auto& c : cases) {
    auto decoded = decodeFrame(rawEnvelope(c.fill));
    ASSERT_FALSE(decoded.ok()) << c.name;
    EXPECT_HAS_SUBSTR(decoded.error(), c.name);
  }
}

TEST(CodecDecodeTest, ZeroSizedListElementsDoNotAmplify) {
  // A list of zero-sized structs costs Cap'n Proto one traversal word per
  // element but no bytes on the wire. Decoding must not turn a frame of a few
  // dozen bytes into a million C++ objects.
  constexpr unsigned kClaimed = 1'000'000;
  capnp::MallocMessageBuilder message;
  auto env = message.initRoot<p::Envelope>();
  env.setVersion(p::K_WIRE_VERSION);
  auto info = env.initRegisterAgentMessage().initAgentInfo();
  info.setHostname(txt("agent1"));
  // AgentInfo's pointer section: hostname, id, resources, attributes.
  capnp::toAny(info).getPointerSection()[3].initAs<capnp::List<capnp::Void>>(kClaimed);
  const std::string frame = flatBytes(message);
  ASSERT_LT(frame.size(), 128u);

  auto decoded = decodeFrame(frame);
  if (decoded.ok()) {
    EXPECT_LE(std::get<w::RegisterAgentMessage>(*decoded).agentInfo.attributes.size(), frame.size())
        << "a " << frame.size() << "-byte frame decoded into that many attributes";
  }
}

TEST(CodecDecodeTest, DecodingManyResourcesIsNotQuadratic) {
  constexpr unsigned kCount = 40'000;
  std::string frame = rawAgentResources(kCount, [](capnp::List<p::Resource>::Builder list) {
    for (unsigned i = 0; i < kCount; ++i) {
      std::string name = "r" + std::to_string(10'000'000 - i);  // descending
      list[i].setName(capnp::Text::Reader(name.data(), name.size()));
      list[i].setScalar(1);
    }
  });
  std::clock_t start = std::clock();
  auto decoded = decodeFrame(frame);
  double cpuSeconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(std::get<w::RegisterAgentMessage>(*decoded).agentInfo.resources.size(), kCount);
  // Sorting 40k entries takes milliseconds; allow a wide margin.
  EXPECT_LT(cpuSeconds, 1.0);
}


// ---- frames of several envelopes (wire version 2) ----

constexpr size_t kVersionOffset = 8 + 8;  // segment table, root pointer

struct Unpacked {
  Status status;
  std::vector<w::Payload> messages;
  uint32_t version = 0;
};
Unpacked unpack(const std::string& frame, const DecodeLimits& limits = {}) {
  Unpacked u;
  u.status = decodeEnvelopes(
      frame.data(), frame.size(), limits,
      [&](w::Payload&& m) { u.messages.push_back(std::move(m)); }, &u.version);
  return u;
}

TEST(CodecFrameTest, SeveralEnvelopesBackToBackDecodeInOrder) {
  std::vector<w::Payload> sent = {w::ErrorEvent{"one"}, w::HeartbeatEvent{},
                                  w::ExecutorMessageEvent{std::string(3000, 'x')},
                                  w::PongMessage{AgentID("agent-2")}};
  std::string frame;
  for (const auto& m : sent) frame += encodeEnvelope(m);
  Unpacked u = unpack(frame);
  ASSERT_TRUE(u.status.ok()) << u.status;
  ASSERT_EQ(u.messages.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(u.messages[i] == sent[i]) << i;
  EXPECT_EQ(u.version, 2u);

  // One envelope is a frame too; decodeEnvelope() reads only the first.
  u = unpack(encodeEnvelope(sent[0]));
  ASSERT_TRUE(u.status.ok()) << u.status;
  EXPECT_EQ(u.messages.size(), 1u);
  auto first = decodeEnvelope(frame.data(), frame.size());
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_TRUE(*first == sent[0]);
}

TEST(CodecFrameTest, TheVersionReportedIsTheHighestInTheFrame) {
  std::string old = encodeEnvelope(w::HeartbeatEvent{});
  old[kVersionOffset] = 1;  // what a version-1 peer sends
  Unpacked u = unpack(old + old);
  ASSERT_TRUE(u.status.ok()) << u.status;
  EXPECT_EQ(u.messages.size(), 2u);
  EXPECT_EQ(u.version, 1u);
  u = unpack(old + encodeEnvelope(w::HeartbeatEvent{}));
  EXPECT_EQ(u.version, 2u);
}

// What precedes a bad envelope is delivered; the bad one and whatever
// follows it are not (their framing cannot be trusted), and the error says
// where it stopped.
TEST(CodecFrameTest, ABadEnvelopeEndsTheFrame) {
  const std::string good = encodeEnvelope(w::ErrorEvent{"good"});
  std::string bad = encodeEnvelope(w::ErrorEvent{"bad"});
  bad[kVersionOffset] = 0;  // no version
  Unpacked u = unpack(good + bad + good);
  ASSERT_FALSE(u.status.ok());
  EXPECT_HAS_SUBSTR(u.status.message(), "no version");
  EXPECT_HAS_SUBSTR(u.status.message(), "after 1 messages");
  ASSERT_EQ(u.messages.size(), 1u);
  EXPECT_TRUE(u.messages[0] == w::Payload(w::ErrorEvent{"good"}));

  // A frame cut inside its second envelope.
  std::string cut = good + good.substr(0, good.size() - 8);
  u = unpack(cut);
  ASSERT_FALSE(u.status.ok());
  EXPECT_HAS_SUBSTR(u.status.message(), "runs past the end");
  EXPECT_EQ(u.messages.size(), 1u);

  // A segment table claiming more than the frame holds, first thing.
  std::string claim = good;
  claim[4] = static_cast<char>(0xff);  // the first segment's size in words
  claim[5] = static_cast<char>(0xff);
  u = unpack(claim);
  ASSERT_FALSE(u.status.ok());
  EXPECT_HAS_SUBSTR(u.status.message(), "runs past the end");
  EXPECT_TRUE(u.messages.empty());

  // A trailing word of garbage after two good envelopes.
  u = unpack(good + good + std::string("\xff\xff\xff\x7f garb", 8));
  EXPECT_FALSE(u.status.ok());
  EXPECT_EQ(u.messages.size(), 2u);
}

// At most 256 envelopes are read from one frame: with the traversal limit
// per envelope, that bounds what one frame can cost its reader.
TEST(CodecFrameTest, AFrameOfTooManyEnvelopesIsCut) {
  const std::string one = encodeEnvelope(w::HeartbeatEvent{});
  std::string frame;
  for (int i = 0; i < 300; ++i) frame += one;
  Unpacked u = unpack(frame);
  ASSERT_FALSE(u.status.ok());
  EXPECT_HAS_SUBSTR(u.status.message(), "more than 256 envelopes");
  EXPECT_EQ(u.messages.size(), DecodeLimits::kMaxEnvelopesPerFrame);
  frame.resize(one.size() * 256);
  u = unpack(frame);
  ASSERT_TRUE(u.status.ok()) << u.status;
  EXPECT_EQ(u.messages.size(), 256u);
}

// The frame's size limit covers the whole frame; the traversal limit each
// envelope.
TEST(CodecFrameTest, LimitsApplyToTheFrameAndToEachEnvelope) {
  const std::string one = encodeEnvelope(w::ExecutorMessageEvent{std::string(6000, 'z')});
  DecodeLimits limits;
  limits.traversalLimitWords = 1024;  // 8 KiB: each envelope fits, the three do not
  Unpacked u = unpack(one + one + one, limits);
  ASSERT_TRUE(u.status.ok()) << u.status;
  EXPECT_EQ(u.messages.size(), 3u);
  limits.maxBytes = 2 * one.size();
  u = unpack(one + one + one, limits);
  ASSERT_FALSE(u.status.ok());
  EXPECT_HAS_SUBSTR(u.status.message(), "exceeds");
  EXPECT_TRUE(u.messages.empty());
}

}  // namespace
}  // namespace tutti
