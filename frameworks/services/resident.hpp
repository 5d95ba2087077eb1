// Resident apps (apps with persistent volumes): the resources of a
// ResidentSlot as the master sees them, and the operations that make and
// release them. A slot's reservation is dynamic, for the framework's role,
// in its principal's name, and labelled with the framework and slot ids, so
// that offers show which reserved resources belong to which slot and
// reservations nobody knows any more can be told apart from others'.
// Pure: no I/O, no threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "frameworks/services/app.hpp"
#include "frameworks/services/app_record.hpp"
#include "tutti/types.hpp"

namespace tutti::services {

// Reservation labels.
inline constexpr const char* kFrameworkLabel = "tutti_services_framework";
inline constexpr const char* kSlotLabel = "tutti_services_reservation";

// A new slot for `app` on the offer's agent (nothing reserved yet).
ResidentSlot newSlot(const AppDefinition& app, const Offer& offer, const std::string& role,
                     const std::string& principal, const std::string& frameworkId, double now);

// What RESERVE takes: cpus, mem and disk (the app's disk plus the volumes')
// with the slot's reservation, without an allocation role.
Resources slotReservation(const ResidentSlot& slot);
// What CREATE takes: the slot's persistent volumes.
Resources slotVolumes(const ResidentSlot& slot);
// What a task in the slot uses: the reserved cpus, mem and disk with the
// volumes in place of their share of the disk.
Resources slotTaskResources(const ResidentSlot& slot);

// The reserved resources of `offered` that carry this framework's slot
// labels, by slot id.
std::map<std::string, Resources> reservationsBySlot(const Resources& offered,
                                                    const std::string& frameworkId);

// The id under which a slot with no task is listed (as a TASK_RESERVED
// task) and can be wiped: "<safe app id>.<slot id>".
std::string reservedTaskId(const std::string& appId, const std::string& slotId);

// DESTROY of the volumes among `reserved` (when there are any), then
// UNRESERVE of all of it: what gives a slot's resources back.
std::vector<Offer::Operation> releaseOperations(const Resources& reserved);

}  // namespace tutti::services
