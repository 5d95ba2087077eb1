#include "frameworks/services/resident.hpp"

#include "common/ids.hpp"

namespace tutti::services {
namespace {

ReservationInfo reservationOf(const ResidentSlot& slot) {
  ReservationInfo r;
  r.type = ReservationInfo::Type::DYNAMIC;
  r.role = slot.role;
  r.principal = slot.principal;
  r.labels = {{kFrameworkLabel, slot.frameworkId}, {kSlotLabel, slot.id}};
  return r;
}

Resource scalar(const char* name, double value, const ReservationInfo& reservation) {
  Resource r;
  r.name = name;
  r.type = Resource::Type::SCALAR;
  r.scalarMillis = static_cast<int64_t>(value * 1000.0 + 0.5);
  r.reservations = {reservation};
  return r;
}

std::string labelValue(const Labels& labels, const std::string& key) {
  for (const auto& l : labels) {
    if (l.key == key) return l.value;
  }
  return "";
}

}  // namespace

ResidentSlot newSlot(const AppDefinition& app, const Offer& offer, const std::string& role,
                     const std::string& principal, const std::string& frameworkId, double now) {
  ResidentSlot slot;
  slot.id = newUuid();
  slot.agentId = offer.agentId.value;
  slot.host = offer.hostname;
  slot.attributes = offer.attributes;
  slot.role = role;
  slot.principal = principal;
  slot.frameworkId = frameworkId;
  slot.cpus = app.cpus;
  slot.mem = app.mem;
  slot.disk = app.disk;
  for (const auto& v : app.persistentVolumes) {
    slot.volumes.push_back(
        {v.containerPath, safeAppId(app.id) + "." + v.containerPath + "." + slot.id, v.sizeMb});
  }
  slot.createdAt = now;
  return slot;
}

Resources slotReservation(const ResidentSlot& slot) {
  ReservationInfo reservation = reservationOf(slot);
  double disk = slot.disk;
  for (const auto& v : slot.volumes) disk += v.sizeMb;
  Resources r;
  r += scalar("cpus", slot.cpus, reservation);
  r += scalar("mem", slot.mem, reservation);
  if (disk > 0) r += scalar("disk", disk, reservation);
  return r;
}

Resources slotVolumes(const ResidentSlot& slot) {
  ReservationInfo reservation = reservationOf(slot);
  Resources r;
  for (const auto& v : slot.volumes) {
    r += persistentVolume(v.sizeMb, {reservation}, v.persistenceId, v.containerPath,
                          slot.principal);
  }
  return r;
}

Resources slotTaskResources(const ResidentSlot& slot) {
  Resources volumes = slotVolumes(slot);
  return slotReservation(slot) - volumes.stripVolumes() + volumes;
}

std::map<std::string, Resources> reservationsBySlot(const Resources& offered,
                                                    const std::string& frameworkId) {
  std::map<std::string, Resources> out;
  for (const auto& r : offered) {
    if (r.reservations.empty()) continue;
    const ReservationInfo& top = r.reservations.back();
    if (top.type != ReservationInfo::Type::DYNAMIC) continue;
    if (labelValue(top.labels, kFrameworkLabel) != frameworkId) continue;
    std::string slot = labelValue(top.labels, kSlotLabel);
    if (!slot.empty()) out[slot] += r;
  }
  return out;
}

std::string reservedTaskId(const std::string& appId, const std::string& slotId) {
  return safeAppId(appId) + "." + slotId;
}

std::vector<Offer::Operation> releaseOperations(const Resources& reserved) {
  Resources plain = reserved.unallocate();
  std::vector<Offer::Operation> ops;
  Resources volumes = plain.volumes();
  if (!volumes.empty()) ops.push_back(Offer::Operation::destroy(volumes));
  ops.push_back(Offer::Operation::unreserve(plain.stripVolumes()));
  return ops;
}

}  // namespace tutti::services
