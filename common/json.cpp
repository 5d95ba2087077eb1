#include "common/json.hpp"

#include <cstdlib>

#include "common/ids.hpp"

namespace tutti::json {

Json resources(const Resources& r) {
  Json out = Json::object();
  out["cpus"] = 0.0;
  out["mem"] = 0.0;
  out["disk"] = 0.0;
  out["gpus"] = 0.0;
  std::map<std::string, std::vector<Range>> ranges;
  std::map<std::string, std::set<std::string>> sets;
  for (const auto& x : r) {
    switch (x.type) {
      case Resource::Type::SCALAR:
        out[x.name] = r.scalar(x.name);
        break;
      case Resource::Type::RANGES:
        ranges[x.name].insert(ranges[x.name].end(), x.ranges.begin(), x.ranges.end());
        break;
      case Resource::Type::SET:
        sets[x.name].insert(x.set.begin(), x.set.end());
        break;
    }
  }
  for (auto& [name, list] : ranges) out[name] = formatRanges(coalesceRanges(list));
  for (auto& [name, items] : sets) {
    std::string s = "{";
    bool first = true;
    for (const auto& i : items) {
      if (!first) s += ",";
      s += i;
      first = false;
    }
    out[name] = s + "}";
  }
  return out;
}

Json resourcesFull(const Resources& r) {
  Json out = Json::array();
  for (const auto& x : r) {
    Json j;
    j["name"] = x.name;
    switch (x.type) {
      case Resource::Type::SCALAR:
        j["type"] = "SCALAR";
        j["scalar"] = {{"value", x.scalar()}};
        break;
      case Resource::Type::RANGES: {
        j["type"] = "RANGES";
        Json list = Json::array();
        for (const auto& rg : x.ranges) list.push_back({{"begin", rg.begin}, {"end", rg.end}});
        j["ranges"] = {{"range", list}};
        break;
      }
      case Resource::Type::SET:
        j["type"] = "SET";
        j["set"] = {{"item", Json(std::vector<std::string>(x.set.begin(), x.set.end()))}};
        break;
    }
    j["role"] = x.reservationRole();
    if (!x.reservations.empty()) {
      Json res = Json::array();
      for (const auto& ri : x.reservations) {
        Json rj = {{"type", ri.type == ReservationInfo::Type::STATIC ? "STATIC" : "DYNAMIC"},
                   {"role", ri.role}};
        if (!ri.principal.empty()) rj["principal"] = ri.principal;
        if (!ri.labels.empty()) rj["labels"] = labels(ri.labels);
        res.push_back(rj);
      }
      j["reservations"] = res;
    }
    if (x.allocationRole) j["allocation_info"] = {{"role", *x.allocationRole}};
    out.push_back(j);
  }
  return out;
}

Json labels(const Labels& l) {
  Json list = Json::array();
  for (const auto& x : l) list.push_back({{"key", x.key}, {"value", x.value}});
  return list;
}

Json attributes(const Attributes& a) {
  Json out = Json::object();
  for (const auto& x : a) {
    char* end = nullptr;
    double v = std::strtod(x.value.c_str(), &end);
    if (!x.value.empty() && end == x.value.c_str() + x.value.size()) {
      out[x.name] = v;
    } else {
      out[x.name] = x.value;
    }
  }
  return out;
}

Json taskStatus(const TaskStatus& s) {
  Json j;
  j["state"] = toString(s.state);
  j["timestamp"] = s.timestamp;
  if (!s.message.empty()) j["message"] = s.message;
  j["source"] = toString(s.source);
  if (s.reason) j["reason"] = toString(*s.reason);
  if (s.healthy) j["healthy"] = *s.healthy;
  if (!s.labels.empty()) j["labels"] = labels(s.labels);
  if (!s.uuid.empty()) j["uuid"] = uuidToString(s.uuid);
  if (s.exitStatus) j["exit_status"] = *s.exitStatus;
  return j;
}

Json commandInfo(const CommandInfo& c) {
  Json j;
  j["shell"] = c.shell;
  j["value"] = c.value;
  if (!c.arguments.empty()) j["arguments"] = c.arguments;
  if (!c.environment.empty()) {
    Json vars = Json::array();
    for (const auto& e : c.environment) vars.push_back({{"name", e.name}, {"value", e.value}});
    j["environment"] = {{"variables", vars}};
  }
  if (c.user) j["user"] = *c.user;
  return j;
}

Json frameworkCapabilities(const FrameworkInfo& f) {
  Json list = Json::array();
  for (auto c : f.capabilities) list.push_back(toString(c));
  return list;
}

std::string dump(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tutti::json
