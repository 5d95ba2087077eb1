#include "agent/checkpoint/checkpoint.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/codec/flat_message.hpp"
#include "common/codec/types_codec.hpp"
#include "common/files.hpp"
#include "proto/checkpoint.capnp.h"

namespace tutti::agent {

namespace p = tutti::proto;
using codec::decode;
using codec::encode;

namespace {
capnp::Text::Reader text(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }
}  // namespace

Checkpointer::Checkpointer(std::string workDir) : meta_(std::move(workDir) + "/meta") {}

std::string Checkpointer::executorPath(const FrameworkID& framework,
                                       const ExecutorID& executor) const {
  return meta_ + "/executors/" + framework.value + "/" + executor.value;
}

std::string Checkpointer::encodeAgent(const AgentCheckpointState& state) {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<p::AgentCheckpoint>();
  encode(state.info, b.initInfo());
  codec::encodeResources(state.flagResources, b.initFlagResources(state.flagResources.size()));
  b.setExecutorEndpoint(text(state.executorEndpoint));
  b.setBootId(text(state.bootId));
  return codec::toBytes(message);
}

Result<AgentCheckpointState> Checkpointer::decodeAgent(const std::string& bytes) {
  AgentCheckpointState state;
  Status s =
      codec::readRoot<p::AgentCheckpoint>(bytes, "checkpoint", [&](p::AgentCheckpoint::Reader r) {
        state.info = decode(r.getInfo());
        if (!state.info.id) throw codec::CodecError("agent checkpoint without an id");
        state.flagResources = codec::decodeResources(r.getFlagResources());
        state.executorEndpoint = codec::toStd(r.getExecutorEndpoint());
        state.bootId = codec::toStd(r.getBootId());
      });
  if (!s.ok()) return s;
  return state;
}

std::string Checkpointer::encodeExecutor(const ExecutorCheckpointState& st) {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<p::ExecutorCheckpoint>();
  encode(st.framework, b.initFramework());
  encode(st.executor, b.initExecutor());
  b.setContainerId(text(st.containerId.value));
  b.setDirectory(text(st.directory));
  b.setCommandExecutor(st.commandExecutor);
  if (st.taskUid) {
    b.setHasTaskUid(true);
    b.setTaskUid(*st.taskUid);
  }
  b.setPid(st.pid);
  b.setPidStartTicks(st.pidStartTicks);
  b.setStartTime(st.startTime);
  codec::encodeList(st.queued, b.initQueued(st.queued.size()));
  auto groups = b.initQueuedGroups(st.queuedGroups.size());
  for (size_t i = 0; i < st.queuedGroups.size(); ++i) {
    auto ids = groups.init(i, st.queuedGroups[i].size());
    for (size_t j = 0; j < st.queuedGroups[i].size(); ++j) ids.set(j, text(st.queuedGroups[i][j].value));
  }
  codec::encodeList(st.launched, b.initLaunched(st.launched.size()));
  codec::encodeList(st.launchedInfos, b.initLaunchedInfos(st.launchedInfos.size()));
  codec::encodeList(st.pendingUpdates, b.initPendingUpdates(st.pendingUpdates.size()));
  auto acked = b.initAckedUuids(st.ackedUuids.size());
  for (size_t i = 0; i < st.ackedUuids.size(); ++i) acked.set(i, codec::dataOf(st.ackedUuids[i]));
  b.setShutdownRequested(st.shutdownRequested);
  b.setTerminated(st.terminated);
  return codec::toBytes(message);
}

Result<ExecutorCheckpointState> Checkpointer::decodeExecutor(const std::string& bytes) {
  ExecutorCheckpointState st;
  Status s = codec::readRoot<p::ExecutorCheckpoint>(
      bytes, "checkpoint", [&](p::ExecutorCheckpoint::Reader r) {
        st.framework = decode(r.getFramework());
        if (!st.framework.id) throw codec::CodecError("executor checkpoint without a framework id");
        st.executor = decode(r.getExecutor());
        if (st.executor.executorId.value.empty()) {
          throw codec::CodecError("executor checkpoint without an executor id");
        }
        st.containerId = ContainerID(codec::toStd(r.getContainerId()));
        st.directory = codec::toStd(r.getDirectory());
        st.commandExecutor = r.getCommandExecutor();
        if (r.getHasTaskUid()) st.taskUid = r.getTaskUid();
        st.pid = r.getPid();
        st.pidStartTicks = r.getPidStartTicks();
        st.startTime = r.getStartTime();
        for (auto t : r.getQueued()) st.queued.push_back(decode(t));
        for (auto g : r.getQueuedGroups()) {
          auto& ids = st.queuedGroups.emplace_back();
          for (auto id : g) ids.emplace_back(codec::toStd(id));
        }
        for (auto t : r.getLaunched()) st.launched.push_back(decode(t));
        for (auto t : r.getLaunchedInfos()) st.launchedInfos.push_back(decode(t));
        for (auto u : r.getPendingUpdates()) st.pendingUpdates.push_back(decode(u));
        for (auto a : r.getAckedUuids()) st.ackedUuids.push_back(codec::toStd(a));
        st.shutdownRequested = r.getShutdownRequested();
        st.terminated = r.getTerminated();
      });
  if (!s.ok()) return s;
  return st;
}

Status Checkpointer::writeAgent(const AgentCheckpointState& state) {
  Status s = makeDirectories(meta_);
  if (!s.ok()) return s;
  // Written rarely (registration, reservations): synced, so that a power
  // loss never leaves a torn agent file that would stop the agent starting.
  return writeFileAtomically(meta_ + "/agent", encodeAgent(state), /*sync=*/true);
}

Result<std::optional<AgentCheckpointState>> Checkpointer::readAgent() const {
  auto bytes = readFile(meta_ + "/agent");
  if (!bytes.ok()) {
    if (bytes.status().code() == Status::Code::kNotFound) {
      return std::optional<AgentCheckpointState>();
    }
    return bytes.status();
  }
  auto state = decodeAgent(*bytes);
  if (!state.ok()) {
    return Status::InvalidArgument(meta_ + "/agent: " + state.status().message());
  }
  return std::optional<AgentCheckpointState>(std::move(state).value());
}

Status Checkpointer::writeExecutor(const ExecutorCheckpointState& state) {
  std::string path = executorPath(*state.framework.id, state.executor.executorId);
  Status s = makeDirectories(path.substr(0, path.rfind('/')));
  if (!s.ok()) return s;
  return writeFileAtomically(path, encodeExecutor(state), /*sync=*/false);
}

Status Checkpointer::removeExecutor(const FrameworkID& framework, const ExecutorID& executor) {
  std::string path = executorPath(framework, executor);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::IoError("unlink " + path + ": " + std::strerror(errno));
  }
  // The framework's directory goes with its last executor.
  ::rmdir(path.substr(0, path.rfind('/')).c_str());
  return Status::OK();
}

Checkpointer::Executors Checkpointer::readExecutors() const {
  Executors out;
  auto frameworks = listDirectory(meta_ + "/executors");
  if (!frameworks.ok()) {
    if (frameworks.status().code() != Status::Code::kNotFound) {
      out.errors.push_back(frameworks.status().message());
    }
    return out;
  }
  for (const auto& fw : *frameworks) {
    auto executors = listDirectory(meta_ + "/executors/" + fw);
    if (!executors.ok()) {
      out.errors.push_back(executors.status().message());
      continue;
    }
    for (const auto& ex : *executors) {
      if (!ex.empty() && ex[0] == '.') continue;  // a temp file of an interrupted write
      std::string path = meta_ + "/executors/" + fw + "/" + ex;
      auto bytes = readFile(path);
      if (!bytes.ok()) {
        out.errors.push_back(bytes.status().message());
        continue;
      }
      auto state = decodeExecutor(*bytes);
      if (!state.ok()) {
        out.errors.push_back(path + ": " + state.status().message());
        continue;
      }
      if (state->framework.id->value != fw || state->executor.executorId.value != ex) {
        out.errors.push_back(path + ": names another executor");
        continue;
      }
      out.executors.push_back(std::move(state).value());
    }
  }
  return out;
}

Status Checkpointer::removeAll() { return removeTree(meta_); }

std::string currentBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::optional<uint64_t> processStartTicks(pid_t pid) {
  if (pid <= 1) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: fields
  // resume after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // Fields 3..21, then 22 (starttime). A zombie (state Z or X) has ended.
  for (int i = 3; i <= 21; ++i) {
    if (!(rest >> field)) return std::nullopt;
    if (i == 3 && (field == "Z" || field == "X")) return std::nullopt;
  }
  uint64_t ticks = 0;
  if (!(rest >> ticks)) return std::nullopt;
  return ticks;
}

}  // namespace tutti::agent
