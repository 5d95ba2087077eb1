#include "master/maintenance.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

namespace tutti::master {

namespace {
// The canonical text form of an IPv4 or IPv6 address, or nothing.
std::optional<std::string> canonicalIp(const std::string& text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  unsigned char buf[sizeof(in6_addr)];
  char out[INET6_ADDRSTRLEN];
  if (::inet_pton(AF_INET, text.c_str(), buf) == 1) {
    if (::inet_ntop(AF_INET, buf, out, sizeof(out))) return std::string(out);
  } else if (::inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    if (::inet_ntop(AF_INET6, buf, out, sizeof(out))) return std::string(out);
  }
  return std::nullopt;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::string toString(const MachineID& id) {
  if (id.hostname.empty()) return id.ip;
  if (id.ip.empty()) return id.hostname;
  return id.hostname + " (" + id.ip + ")";
}

const char* toString(MachineMode mode) {
  switch (mode) {
    case MachineMode::kUp: return "UP";
    case MachineMode::kDraining: return "DRAINING";
    case MachineMode::kDown: return "DOWN";
  }
  return "UNKNOWN";
}

Result<MachineID> makeMachineId(const std::string& hostname, const std::string& ip) {
  if (hostname.empty() && ip.empty()) {
    return Status::InvalidArgument("A machine needs a 'hostname' or an 'ip'");
  }
  MachineID id;
  if (!hostname.empty()) {
    if (hostname.size() > kMaxMachineHostnameLength) {
      return Status::InvalidArgument("Hostname '" + hostname.substr(0, 64) +
                                     "...' is longer than " +
                                     std::to_string(kMaxMachineHostnameLength) + " characters");
    }
    for (char c : hostname) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) {
        return Status::InvalidArgument("Hostname '" + hostname +
                                       "' contains a space or a control character");
      }
    }
    id.hostname = lower(hostname);
  }
  if (!ip.empty()) {
    auto canonical = canonicalIp(ip);
    if (!canonical) {
      return Status::InvalidArgument("'" + ip.substr(0, 64) + "' is not an IP address");
    }
    id.ip = *canonical;
  }
  return id;
}

Status validateUnavailability(const Unavailability& u) {
  if (u.duration && u.duration->count() < 0) {
    return Status::InvalidArgument("An unavailability's duration cannot be negative");
  }
  return Status::OK();
}

Status validateMachineList(const std::vector<MachineID>& ids) {
  if (ids.empty()) return Status::InvalidArgument("The list of machines is empty");
  if (ids.size() > kMaxMaintenanceMachines) {
    return Status::InvalidArgument("At most " + std::to_string(kMaxMaintenanceMachines) +
                                   " machines can be given at once");
  }
  std::set<MachineID> seen;
  for (const auto& id : ids) {
    // Ids made elsewhere (tests, the registry) must be in normal form too.
    auto normal = makeMachineId(id.hostname, id.ip);
    if (!normal.ok()) return normal.status();
    if (*normal != id) {
      return Status::InvalidArgument("Machine '" + toString(id) + "' is not in normal form ('" +
                                     toString(*normal) + "')");
    }
    if (!seen.insert(id).second) {
      return Status::InvalidArgument("Machine '" + toString(id) + "' appears more than once");
    }
  }
  return Status::OK();
}

Status validateSchedule(const MaintenanceSchedule& schedule,
                        const std::map<MachineID, MachineMode>& modes) {
  std::set<MachineID> scheduled;
  for (size_t w = 0; w < schedule.windows.size(); ++w) {
    const auto& window = schedule.windows[w];
    Status s = validateMachineList(window.machineIds);
    if (!s.ok()) {
      return Status::InvalidArgument("Window " + std::to_string(w) + ": " + s.message());
    }
    s = validateUnavailability(window.unavailability);
    if (!s.ok()) {
      return Status::InvalidArgument("Window " + std::to_string(w) + ": " + s.message());
    }
    for (const auto& id : window.machineIds) {
      if (!scheduled.insert(id).second) {
        return Status::InvalidArgument("Machine '" + toString(id) +
                                       "' appears in more than one window");
      }
      if (scheduled.size() > kMaxMaintenanceMachines) {
        return Status::InvalidArgument("A schedule holds at most " +
                                       std::to_string(kMaxMaintenanceMachines) + " machines");
      }
    }
  }
  for (const auto& [id, mode] : modes) {
    if (mode == MachineMode::kDown && !scheduled.count(id)) {
      return Status::InvalidArgument("Machine '" + toString(id) +
                                     "' is DOWN: bring it up (/machine/up) before removing it "
                                     "from the schedule");
    }
  }
  return Status::OK();
}

std::vector<MachineID> machineIdsOf(const AgentInfo& agent) {
  std::vector<MachineID> out;
  std::string host = lower(agent.hostname);
  std::set<std::string> ips;
  if (auto ip = canonicalIp(agent.ip)) ips.insert(*ip);
  if (auto ip = canonicalIp(agent.hostname)) ips.insert(*ip);
  if (!host.empty()) out.push_back(MachineID{host, ""});
  for (const auto& ip : ips) {
    out.push_back(MachineID{"", ip});
    if (!host.empty()) out.push_back(MachineID{host, ip});
  }
  return out;
}

}  // namespace tutti::master
