// The registry's Cap'n Proto form (proto/registry.capnp).
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>

#include "common/codec/flat_message.hpp"
#include "common/codec/types_codec.hpp"
#include "master/registry/registry.hpp"
#include "proto/registry.capnp.h"

namespace tutti::master {

namespace p = tutti::proto;
using codec::decode;
using codec::encode;

namespace {

void encodeAgent(const RegistryState::Agent& a, p::RegistryAgent::Builder b) {
  encode(a.info, b.initInfo());
  b.setState(static_cast<p::RegistryAgent::State>(static_cast<uint16_t>(a.state)));
  b.setUnreachableTime(a.unreachableTime);
}

RegistryState::Agent decodeAgent(p::RegistryAgent::Reader r) {
  RegistryState::Agent a;
  a.info = decode(r.getInfo());
  if (!a.info.id) throw codec::CodecError("agent without an id");
  auto raw = static_cast<uint16_t>(r.getState());
  if (raw > 2) throw codec::CodecError("unknown agent state");
  a.state = static_cast<RegistryState::Agent::State>(raw);
  a.unreachableTime = r.getUnreachableTime();
  return a;
}

void encodeRole(const std::string& role, const std::optional<double>& weight,
                const std::optional<Quota>& quota, p::RegistryRole::Builder b) {
  b.setRole(capnp::Text::Reader(role.data(), role.size()));
  if (weight) {
    b.setHasWeight(true);
    b.setWeight(*weight);
  }
  if (quota) {
    b.setHasQuota(true);
    codec::encodeResources(quota->guarantee, b.initGuarantee(quota->guarantee.size()));
    codec::encodeResources(quota->limit, b.initLimit(quota->limit.size()));
  }
}

void decodeRole(p::RegistryRole::Reader r, RegistryState& into) {
  std::string role = codec::toStd(r.getRole());
  if (role.empty()) throw codec::CodecError("role without a name");
  if (r.getHasWeight()) into.weights[role] = r.getWeight();
  if (r.getHasQuota()) {
    into.quotas[role] = Quota{codec::decodeResources(r.getGuarantee()),
                              codec::decodeResources(r.getLimit())};
  }
}

void encodeMachineId(const MachineID& id, p::RegistryMachineId::Builder b) {
  b.setHostname(capnp::Text::Reader(id.hostname.data(), id.hostname.size()));
  b.setIp(capnp::Text::Reader(id.ip.data(), id.ip.size()));
}

MachineID decodeMachineId(p::RegistryMachineId::Reader r) {
  MachineID id{codec::toStd(r.getHostname()), codec::toStd(r.getIp())};
  if (id.hostname.empty() && id.ip.empty()) throw codec::CodecError("machine without a name");
  return id;
}

void encodeMaintenance(const MaintenanceState& m, p::RegistryMaintenance::Builder b) {
  auto windows = b.initWindows(m.schedule.windows.size());
  for (size_t i = 0; i < m.schedule.windows.size(); ++i) {
    const auto& w = m.schedule.windows[i];
    auto ids = windows[i].initMachineIds(w.machineIds.size());
    for (size_t j = 0; j < w.machineIds.size(); ++j) encodeMachineId(w.machineIds[j], ids[j]);
    encode(w.unavailability, windows[i].initUnavailability());
  }
  auto machines = b.initMachines(m.modes.size());
  size_t i = 0;
  for (const auto& [id, mode] : m.modes) {
    encodeMachineId(id, machines[i].initId());
    machines[i++].setMode(static_cast<p::RegistryMachine::Mode>(static_cast<uint16_t>(mode)));
  }
}

MaintenanceState decodeMaintenance(p::RegistryMaintenance::Reader r) {
  MaintenanceState m;
  for (auto w : r.getWindows()) {
    MaintenanceWindow window;
    for (auto id : w.getMachineIds()) window.machineIds.push_back(decodeMachineId(id));
    window.unavailability = decode(w.getUnavailability());
    m.schedule.windows.push_back(std::move(window));
  }
  for (auto machine : r.getMachines()) {
    auto raw = static_cast<uint16_t>(machine.getMode());
    if (raw > 2) throw codec::CodecError("unknown machine mode");
    m.modes[decodeMachineId(machine.getId())] = static_cast<MachineMode>(raw);
  }
  return m;
}

std::set<std::string> rolesOf(const RegistryState& s) {
  std::set<std::string> roles;
  for (const auto& [r, _] : s.weights) roles.insert(r);
  for (const auto& [r, _] : s.quotas) roles.insert(r);
  return roles;
}

template <typename M, typename K>
std::optional<typename M::mapped_type> lookup(const M& m, const K& k) {
  auto it = m.find(k);
  if (it == m.end()) return std::nullopt;
  return it->second;
}
}  // namespace

std::string encodeRegistry(const RegistryState& state) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<p::Registry>();
  auto agents = root.initAgents(state.agents.size());
  size_t i = 0;
  for (const auto& [_, a] : state.agents) encodeAgent(a, agents[i++]);
  auto frameworks = root.initFrameworks(state.frameworks.size());
  i = 0;
  for (const auto& [_, f] : state.frameworks) encode(f, frameworks[i++].initInfo());
  auto roles = rolesOf(state);
  auto list = root.initRoles(roles.size());
  i = 0;
  for (const auto& role : roles) {
    encodeRole(role, lookup(state.weights, role), lookup(state.quotas, role), list[i++]);
  }
  if (!state.maintenance.empty()) encodeMaintenance(state.maintenance, root.initMaintenance());
  return codec::toBytes(message);
}

Result<RegistryState> decodeRegistry(const std::string& bytes) {
  RegistryState state;
  Status s = codec::readRoot<p::Registry>(bytes, "registry record", [&](p::Registry::Reader r) {
    for (auto a : r.getAgents()) {
      auto agent = decodeAgent(a);
      state.agents[*agent.info.id] = agent;
    }
    for (auto f : r.getFrameworks()) {
      FrameworkInfo info = decode(f.getInfo());
      if (!info.id) throw codec::CodecError("framework without an id");
      state.frameworks[*info.id] = info;
    }
    for (auto role : r.getRoles()) decodeRole(role, state);
    if (r.hasMaintenance()) state.maintenance = decodeMaintenance(r.getMaintenance());
  });
  if (!s.ok()) return s;
  return state;
}

std::string encodeRegistryAgent(const RegistryState::Agent& agent) {
  capnp::MallocMessageBuilder message;
  encodeAgent(agent, message.initRoot<p::RegistryAgent>());
  return codec::toBytes(message);
}

Result<RegistryState::Agent> decodeRegistryAgent(const std::string& bytes) {
  RegistryState::Agent agent;
  Status s = codec::readRoot<p::RegistryAgent>(
      bytes, "registry record", [&](p::RegistryAgent::Reader r) { agent = decodeAgent(r); });
  if (!s.ok()) return s;
  return agent;
}

std::string encodeRegistryFramework(const FrameworkInfo& info) {
  capnp::MallocMessageBuilder message;
  encode(info, message.initRoot<p::RegistryFramework>().initInfo());
  return codec::toBytes(message);
}

Result<FrameworkInfo> decodeRegistryFramework(const std::string& bytes) {
  FrameworkInfo info;
  Status s = codec::readRoot<p::RegistryFramework>(
      bytes, "registry record", [&](p::RegistryFramework::Reader r) {
        info = decode(r.getInfo());
        if (!info.id) throw codec::CodecError("framework without an id");
      });
  if (!s.ok()) return s;
  return info;
}

std::string encodeRegistryRole(const std::string& role, const std::optional<double>& weight,
                               const std::optional<Quota>& quota) {
  capnp::MallocMessageBuilder message;
  encodeRole(role, weight, quota, message.initRoot<p::RegistryRole>());
  return codec::toBytes(message);
}

Status decodeRegistryRole(const std::string& bytes, RegistryState& into) {
  return codec::readRoot<p::RegistryRole>(bytes, "registry record",
                                          [&](p::RegistryRole::Reader r) { decodeRole(r, into); });
}

std::string encodeRegistryMaintenance(const MaintenanceState& maintenance) {
  capnp::MallocMessageBuilder message;
  encodeMaintenance(maintenance, message.initRoot<p::RegistryMaintenance>());
  return codec::toBytes(message);
}

Result<MaintenanceState> decodeRegistryMaintenance(const std::string& bytes) {
  MaintenanceState maintenance;
  Status s = codec::readRoot<p::RegistryMaintenance>(
      bytes, "registry record",
      [&](p::RegistryMaintenance::Reader r) { maintenance = decodeMaintenance(r); });
  if (!s.ok()) return s;
  return maintenance;
}

}  // namespace tutti::master
