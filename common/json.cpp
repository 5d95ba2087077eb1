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
    if (x.disk) {
      Json persistence = {{"id", x.disk->persistenceId}};
      if (!x.disk->principal.empty()) persistence["principal"] = x.disk->principal;
      j["disk"] = {{"persistence", persistence},
                   {"volume", {{"mode", "RW"}, {"container_path", x.disk->containerPath}}}};
    }
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
  if (!c.uris.empty()) j["uris"] = commandUris(c.uris);
  return j;
}

Json commandUris(const std::vector<CommandURI>& uris) {
  Json list = Json::array();
  for (const auto& u : uris) {
    Json e = {{"value", u.value}, {"executable", u.executable}, {"extract", u.extract},
              {"cache", u.cache}};
    if (u.outputFile) e["output_file"] = *u.outputFile;
    list.push_back(e);
  }
  return list;
}

Json frameworkCapabilities(const FrameworkInfo& f) {
  Json list = Json::array();
  for (auto c : f.capabilities) list.push_back(toString(c));
  return list;
}

namespace {
// Mesos's DiskInfo of a persistent volume: {"persistence": {"id",
// "principal"}, "volume": {"mode": "RW", "container_path"}}.
Result<DiskInfo> parseDiskInfo(const Json& d) {
  auto text = [](const Json& o, const char* key) -> std::optional<std::string> {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string()) return std::nullopt;
    return o[key].get<std::string>();
  };
  if (!d.is_object()) return Status::InvalidArgument("'disk' must be an object");
  if (d.contains("source")) {
    return Status::InvalidArgument("'disk.source' (PATH or MOUNT disks) is not supported");
  }
  if (!d.contains("persistence")) {
    return Status::InvalidArgument("'disk' without 'persistence': only persistent volumes are "
                                   "supported");
  }
  const Json& p = d["persistence"];
  auto id = text(p, "id");
  if (!id) return Status::InvalidArgument("'disk.persistence.id' must be a string");
  DiskInfo out;
  out.persistenceId = *id;
  if (p.contains("principal")) {
    auto principal = text(p, "principal");
    if (!principal) return Status::InvalidArgument("'disk.persistence.principal' must be a string");
    out.principal = *principal;
  }
  if (!d.contains("volume") || !d["volume"].is_object()) {
    return Status::InvalidArgument("'disk.volume' must be an object with a 'container_path'");
  }
  const Json& v = d["volume"];
  auto path = text(v, "container_path");
  if (!path) return Status::InvalidArgument("'disk.volume.container_path' must be a string");
  out.containerPath = *path;
  if (v.contains("mode")) {
    auto mode = text(v, "mode");
    if (!mode || (*mode != "RW" && *mode != "RO")) {
      return Status::InvalidArgument("'disk.volume.mode' must be \"RW\"");
    }
    if (*mode == "RO") {
      return Status::InvalidArgument("read-only persistent volumes are not supported");
    }
  }
  return out;
}

Result<Resource> parseResourceEntry(const Json& e, size_t index) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("resource #" + std::to_string(index) + ": " + why);
  };
  if (!e.is_object()) return fail("not an object");
  if (!e.contains("name") || !e["name"].is_string()) return fail("'name' must be a string");
  Resource r;
  r.name = e["name"].get<std::string>();
  std::string type = "SCALAR";
  if (e.contains("type")) {
    if (!e["type"].is_string()) return fail("'type' must be a string");
    type = e["type"].get<std::string>();
  }
  if (type == "SCALAR") {
    r.type = Resource::Type::SCALAR;
    if (!e.contains("scalar") || !e["scalar"].is_object() || !e["scalar"].contains("value") ||
        !e["scalar"]["value"].is_number()) {
      return fail("'scalar.value' must be a number");
    }
    double v = e["scalar"]["value"].get<double>();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6f", v);
    auto m = parseScalarMillis(buf);
    if (!m.ok()) return fail(m.error());
    r.scalarMillis = *m;
  } else if (type == "RANGES") {
    r.type = Resource::Type::RANGES;
    const Json* list = e.contains("ranges") && e["ranges"].is_object() && e["ranges"].contains("range")
                           ? &e["ranges"]["range"]
                           : nullptr;
    if (!list || !list->is_array()) return fail("'ranges.range' must be an array");
    for (const auto& rg : *list) {
      if (!rg.is_object() || !rg.contains("begin") || !rg.contains("end") ||
          !rg["begin"].is_number_unsigned() || !rg["end"].is_number_unsigned()) {
        return fail("each range needs unsigned 'begin' and 'end'");
      }
      r.ranges.push_back(Range{rg["begin"].get<uint64_t>(), rg["end"].get<uint64_t>()});
    }
  } else if (type == "SET") {
    r.type = Resource::Type::SET;
    const Json* items = e.contains("set") && e["set"].is_object() && e["set"].contains("item")
                            ? &e["set"]["item"]
                            : nullptr;
    if (!items || !items->is_array()) return fail("'set.item' must be an array");
    for (const auto& i : *items) {
      if (!i.is_string()) return fail("set items must be strings");
      r.set.insert(i.get<std::string>());
    }
  } else {
    return fail("unknown type '" + type + "'");
  }
  if (e.contains("reservations")) {
    if (!e["reservations"].is_array()) return fail("'reservations' must be an array");
    for (const auto& ri : e["reservations"]) {
      if (!ri.is_object() || !ri.contains("role") || !ri["role"].is_string()) {
        return fail("each reservation needs a string 'role'");
      }
      ReservationInfo info;
      std::string t = ri.contains("type") && ri["type"].is_string() ? ri["type"].get<std::string>()
                                                                     : "DYNAMIC";
      if (t == "STATIC") {
        info.type = ReservationInfo::Type::STATIC;
      } else if (t == "DYNAMIC") {
        info.type = ReservationInfo::Type::DYNAMIC;
      } else {
        return fail("unknown reservation type '" + t + "'");
      }
      info.role = ri["role"].get<std::string>();
      if (ri.contains("principal") && ri["principal"].is_string()) {
        info.principal = ri["principal"].get<std::string>();
      }
      r.reservations.push_back(std::move(info));
    }
  } else if (e.contains("role") && e["role"].is_string() && e["role"].get<std::string>() != "*") {
    // Mesos's pre-1.4 form: a role alone is a static reservation, a role with
    // "reservation": {"principal"} a dynamic one (its documented
    // /reserve and /create-volumes examples use it).
    ReservationInfo info{ReservationInfo::Type::STATIC, e["role"].get<std::string>(), "", {}};
    if (e.contains("reservation")) {
      const Json& rv = e["reservation"];
      if (!rv.is_object()) return fail("'reservation' must be an object");
      info.type = ReservationInfo::Type::DYNAMIC;
      if (rv.contains("principal")) {
        if (!rv["principal"].is_string()) return fail("'reservation.principal' must be a string");
        info.principal = rv["principal"].get<std::string>();
      }
    }
    r.reservations.push_back(std::move(info));
  }
  if (e.contains("disk")) {
    auto d = parseDiskInfo(e["disk"]);
    if (!d.ok()) return fail(d.error());
    r.disk = std::move(d).value();
  }
  return r;
}
}  // namespace

Result<Resources> parseResources(const Json& j) {
  if (j.is_string()) return Resources::parse(j.get<std::string>());
  std::vector<Resource> list;
  if (j.is_object()) {
    for (const auto& [name, v] : j.items()) {
      if (!v.is_number()) {
        return Status::InvalidArgument("resource '" + name + "': value must be a number");
      }
      auto r = parseResourceEntry(Json{{"name", name}, {"type", "SCALAR"},
                                       {"scalar", {{"value", v}}}},
                                  list.size());
      if (!r.ok()) return r.status();
      list.push_back(*r);
    }
    return Resources::fromList(list);
  }
  if (!j.is_array()) {
    return Status::InvalidArgument("resources must be a string, an array or an object");
  }
  for (const auto& e : j) {
    auto r = parseResourceEntry(e, list.size());
    if (!r.ok()) return r.status();
    list.push_back(*r);
  }
  return Resources::fromList(list);
}

Json masterInfo(const MasterInfo& info) {
  return {{"id", info.id.value},
          {"hostname", info.hostname},
          {"ip", info.ip},
          {"port", info.port},
          {"address", {{"hostname", info.hostname}, {"ip", info.ip}, {"port", info.port}}},
          {"version", info.version},
          {"message_address", info.messageAddress},
          {"pid", "master@" + info.ip + ":" + std::to_string(info.port)}};
}

bool nestedTooDeeply(std::string_view text, size_t maxDepth) {
  size_t depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;  // whatever is escaped cannot end the string
      } else if (c == '"') {
        inString = false;
      }
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

Json parse(std::string_view text, size_t maxDepth) {
  if (nestedTooDeeply(text, maxDepth)) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

Result<Json> parseChecked(std::string_view text, std::string_view what, size_t maxDepth) {
  if (nestedTooDeeply(text, maxDepth)) {
    return Status::InvalidArgument(std::string(what) + " nests arrays or objects more than " +
                                   std::to_string(maxDepth) + " levels deep");
  }
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(std::string(what) + " is not valid JSON");
  return j;
}

Result<MasterInfo> parseMasterInfo(const std::string& text) {
  Json j = parse(text);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("master info is not a JSON object");
  }
  auto str = [&](const char* key) -> std::optional<std::string> {
    if (!j.contains(key) || !j[key].is_string()) return std::nullopt;
    return j[key].get<std::string>();
  };
  MasterInfo info;
  auto id = str("id");
  auto address = str("message_address");
  if (!id || id->empty()) return Status::InvalidArgument("master info has no 'id'");
  if (!address || address->rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument("master info has no 'message_address' (tcp://host:port)");
  }
  info.id = MasterID(*id);
  info.messageAddress = *address;
  info.hostname = str("hostname").value_or("");
  info.ip = str("ip").value_or("");
  info.version = str("version").value_or("");
  if (j.contains("port") && j["port"].is_number_unsigned() && j["port"].get<uint64_t>() < 65536) {
    info.port = j["port"].get<uint32_t>();
  }
  return info;
}

std::string dump(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace tutti::json
