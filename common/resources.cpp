// Resources: canonical multiset of Resource with Mesos's text form.
//
// Invariants of the entries (Resources::list_, the canonical form): one entry per kind,
// entries sorted by kindLess, no empty entries (zero or negative scalars,
// no ranges, no set items), ranges coalesced. Every mutation goes through
// addUnchecked or operator-=(const Resource&), so the invariant has two owners
// and filter() may copy entries as they are.
//
// Text form grammar (what toString prints and parse accepts):
//   resources   := entry (';' entry)*          empty entries are ignored
//   entry       := name group* ':' value
//   group       := '(' role ')'                 static reservation ('*': none)
//                | '(' 'allocated:' role ')'
//                | '(' 'reservations:' '[' [resv (',' resv)*] ']' ')'
//                | '(' 'volume:' id ',' path [',' principal] ')'   persistent volume
//   resv        := '(' ('STATIC'|'DYNAMIC') ',' role [',' principal] ')'
//   value       := scalar | '[' [begin '-' end (',' begin '-' end)*] ']'
//                | '{' [item (',' item)*] '}'
// Reservation labels have no text form: toString omits them, so only
// resources without labels round-trip through text.
#include "tutti/resources.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <iterator>
#include <limits>
#include <utility>

namespace tutti {

namespace {

// Scalars are capped so that every value (in thousandths) is exactly
// representable as a double and a handful of sums cannot overflow int64.
constexpr int64_t kMaxScalarMillis = int64_t{1} << 53;

const std::string kUnreservedRole = "*";

// Characters that structure the text form; names, roles, principals and set
// items must not contain them or toString could not be parsed back.
constexpr std::string_view kNameSpecials = "()[]{}:;,";
constexpr std::string_view kSetItemSpecials = "{};,";

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool isControlOrSpace(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

const char* typeName(Resource::Type type) {
  switch (type) {
    case Resource::Type::SCALAR: return "scalar";
    case Resource::Type::RANGES: return "ranges";
    case Resource::Type::SET: return "set";
  }
  return "unknown";
}

int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return sum;
}

// `ancestor` is `role` itself or one of its parents in the `/` hierarchy.
bool isSelfOrAncestor(std::string_view ancestor, std::string_view role) {
  if (role == ancestor) return true;
  return role.size() > ancestor.size() && startsWith(role, ancestor) &&
         role[ancestor.size()] == '/';
}

// ---- Ordering of kinds ------------------------------------------------------

template <typename T>
int compare3(const T& a, const T& b) {
  if (a < b) return -1;
  if (b < a) return 1;
  return 0;
}

int compareLabels(const Labels& a, const Labels& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = compare3(a[i].key, b[i].key)) return c;
    if (int c = compare3(a[i].value, b[i].value)) return c;
  }
  return compare3(a.size(), b.size());
}

int compareReservation(const ReservationInfo& a, const ReservationInfo& b) {
  if (int c = compare3(static_cast<int>(a.type), static_cast<int>(b.type))) return c;
  if (int c = compare3(a.role, b.role)) return c;
  if (int c = compare3(a.principal, b.principal)) return c;
  return compareLabels(a.labels, b.labels);
}

int compareReservations(const std::vector<ReservationInfo>& a,
                        const std::vector<ReservationInfo>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = compareReservation(a[i], b[i])) return c;
  }
  return compare3(a.size(), b.size());
}

// Total order on kinds: name, type, reservations, allocation role (absent
// first), volume (absent first). Two resources compare equal exactly when
// sameKind() holds.
int compareDisk(const HeapOptional<DiskInfo>& a, const HeapOptional<DiskInfo>& b) {
  if (a.has_value() != b.has_value()) return a.has_value() ? 1 : -1;
  if (!a) return 0;
  if (int c = compare3(a->persistenceId, b->persistenceId)) return c;
  if (int c = compare3(a->containerPath, b->containerPath)) return c;
  return compare3(a->principal, b->principal);
}

bool kindLess(const Resource& a, const Resource& b) {
  if (int c = compare3(a.name, b.name)) return c < 0;
  if (int c = compare3(static_cast<int>(a.type), static_cast<int>(b.type))) return c < 0;
  if (int c = compareReservations(a.reservations, b.reservations)) return c < 0;
  if (a.allocationRole != b.allocationRole) return a.allocationRole < b.allocationRole;
  return compareDisk(a.disk, b.disk) < 0;
}

// ---- Range arithmetic (inputs canonical) -----------------------------------

std::vector<Range> subtractRanges(const std::vector<Range>& from, const std::vector<Range>& what) {
  std::vector<Range> out;
  size_t j = 0;
  for (Range r : from) {
    // Skip subtrahends that end before this range starts; they cannot
    // overlap any later range of `from` either, as both lists are sorted.
    while (j < what.size() && what[j].end < r.begin) ++j;
    size_t k = j;
    bool gone = false;
    while (k < what.size() && what[k].begin <= r.end) {
      const Range& w = what[k];
      if (w.begin > r.begin) out.push_back({r.begin, w.begin - 1});
      if (w.end >= r.end) {
        gone = true;
        break;
      }
      r.begin = w.end + 1;  // w.end < r.end, so this cannot overflow
      ++k;
    }
    if (!gone) out.push_back(r);
  }
  return out;
}

bool rangesContain(const std::vector<Range>& outer, const std::vector<Range>& inner) {
  // Canonical ranges are disjoint and non-adjacent, so each inner range must
  // sit inside a single outer range.
  for (const Range& r : inner) {
    auto it = std::upper_bound(outer.begin(), outer.end(), r.begin,
                               [](uint64_t v, const Range& o) { return v < o.begin; });
    if (it == outer.begin()) return false;
    --it;
    if (it->end < r.end) return false;
  }
  return true;
}

// Brings a resource's value into canonical shape (coalesced ranges).
Resource canonical(Resource r) {
  if (r.type == Resource::Type::RANGES) r.ranges = coalesceRanges(std::move(r.ranges));
  return r;
}

// ---- Formatting -------------------------------------------------------------

std::string formatReservation(const ReservationInfo& r) {
  std::string out = "(";
  out += r.type == ReservationInfo::Type::STATIC ? "STATIC" : "DYNAMIC";
  out += ",";
  out += r.role;
  if (!r.principal.empty()) {
    out += ",";
    out += r.principal;
  }
  out += ")";
  return out;
}

std::string formatResource(const Resource& r) {
  std::string out = r.name;
  const auto& resv = r.reservations;
  bool plainStatic = !r.allocationRole && resv.size() == 1 &&
                     resv[0].type == ReservationInfo::Type::STATIC &&
                     resv[0].principal.empty() && resv[0].labels.empty();
  if (plainStatic) {
    out += "(" + resv[0].role + ")";
  } else {
    if (r.allocationRole) out += "(allocated: " + *r.allocationRole + ")";
    if (!resv.empty()) {
      out += "(reservations: [";
      for (size_t i = 0; i < resv.size(); ++i) {
        if (i > 0) out += ",";
        out += formatReservation(resv[i]);
      }
      out += "])";
    }
  }
  if (r.disk) {
    out += "(volume: " + r.disk->persistenceId + "," + r.disk->containerPath;
    if (!r.disk->principal.empty()) out += "," + r.disk->principal;
    out += ")";
  }
  out += ":";
  switch (r.type) {
    case Resource::Type::SCALAR: out += formatScalarMillis(r.scalarMillis); break;
    case Resource::Type::RANGES: out += formatRanges(r.ranges); break;
    case Resource::Type::SET: {
      out += "{";
      bool first = true;
      for (const auto& item : r.set) {  // std::set iterates sorted
        if (!first) out += ",";
        out += item;
        first = false;
      }
      out += "}";
      break;
    }
  }
  return out;
}

// ---- Validation pieces ------------------------------------------------------

Status validateName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("resource name is empty");
  for (char c : name) {
    if (isControlOrSpace(c)) {
      return Status::InvalidArgument("resource name " + quote(name) +
                                     " contains whitespace or a control character");
    }
    if (kNameSpecials.find(c) != std::string_view::npos) {
      return Status::InvalidArgument("resource name " + quote(name) + " contains '" +
                                     std::string(1, c) + "'");
    }
  }
  return Status::OK();
}

Status validatePrincipal(std::string_view principal) {
  for (char c : principal) {
    if (isControlOrSpace(c) || kNameSpecials.find(c) != std::string_view::npos) {
      return Status::InvalidArgument("principal " + quote(principal) +
                                     " contains whitespace, a control character or one of "
                                     "()[]{}:;,");
    }
  }
  return Status::OK();
}

Status validateSetItem(std::string_view item) {
  if (item.empty()) return Status::InvalidArgument("set item is empty");
  if (trim(item) != item) {
    return Status::InvalidArgument("set item " + quote(item) +
                                   " has leading or trailing whitespace");
  }
  for (char c : item) {
    if (kSetItemSpecials.find(c) != std::string_view::npos) {
      return Status::InvalidArgument("set item " + quote(item) + " contains '" +
                                     std::string(1, c) + "'");
    }
  }
  return Status::OK();
}

// A role usable in a reservation or as an allocation role: valid and not "*"
// (which means "no role").
Status validateConcreteRole(std::string_view role, std::string_view what) {
  if (role == "*") {
    return Status::InvalidArgument(std::string(what) + " cannot be '*'");
  }
  Status s = validateRoleName(role);
  if (!s.ok()) return Status::InvalidArgument(std::string(what) + ": " + s.message());
  return Status::OK();
}

// One name must keep one value type across all kinds: `cpus:1;cpus:[1-2]`
// is almost certainly a mistake and would make cpus() meaningless.
class TypeChecker {
 public:
  Status check(const Resource& r) {
    auto [it, inserted] = types_.emplace(r.name, r.type);
    if (!inserted && it->second != r.type) {
      return Status::InvalidArgument("resource " + quote(r.name) + " is used both as " +
                                     typeName(it->second) + " and as " + typeName(r.type));
    }
    return Status::OK();
  }

 private:
  std::map<std::string, Resource::Type> types_;
};

// Sums may exceed the per-value cap even when each input is below it; the
// result would then print as a number parse() rejects.
Status checkTotals(const Resources& resources) {
  for (const auto& r : resources) {
    if (r.type == Resource::Type::SCALAR && r.scalarMillis > kMaxScalarMillis) {
      return Status::InvalidArgument("total of resource " + quote(r.name) + " is too large");
    }
  }
  return Status::OK();
}

// validate() without the "Invalid resource" prefix, so that parse() can
// put the whole entry text in front instead.
Status validateResourceDetail(const Resource& resource) {
  Status s = validateName(resource.name);
  if (!s.ok()) return s;
  switch (resource.type) {
    case Resource::Type::SCALAR:
      if (resource.scalarMillis < 0) return Status::InvalidArgument("negative scalar");
      if (resource.scalarMillis > kMaxScalarMillis) {
        return Status::InvalidArgument("scalar is too large");
      }
      break;
    case Resource::Type::RANGES:
      for (const Range& r : resource.ranges) {
        if (r.begin > r.end) {
          return Status::InvalidArgument("range " + std::to_string(r.begin) + "-" +
                                         std::to_string(r.end) + " has begin > end");
        }
      }
      break;
    case Resource::Type::SET:
      for (const auto& item : resource.set) {
        s = validateSetItem(item);
        if (!s.ok()) return s;
      }
      break;
  }
  for (size_t i = 0; i < resource.reservations.size(); ++i) {
    const ReservationInfo& r = resource.reservations[i];
    s = validateConcreteRole(r.role, "reservation role");
    if (!s.ok()) return s;
    s = validatePrincipal(r.principal);
    if (!s.ok()) return s;
    // As in Mesos, a reservation stack refines: each later reservation is
    // dynamic and for a strict sub-role of the one below it.
    if (i > 0) {
      const std::string& below = resource.reservations[i - 1].role;
      if (r.type != ReservationInfo::Type::DYNAMIC) {
        return Status::InvalidArgument("refined reservation for " + quote(r.role) +
                                       " must be DYNAMIC");
      }
      if (r.role == below || !isSelfOrAncestor(below, r.role)) {
        return Status::InvalidArgument("reservation role " + quote(r.role) +
                                       " does not refine " + quote(below));
      }
    }
  }
  if (resource.disk) {
    if (resource.name != "disk" || resource.type != Resource::Type::SCALAR) {
      return Status::InvalidArgument("only 'disk' scalars can be persistent volumes");
    }
    if (resource.reservations.empty()) {
      return Status::InvalidArgument("a persistent volume must be reserved for a role");
    }
    s = validatePersistenceId(resource.disk->persistenceId);
    if (!s.ok()) return s;
    s = validateContainerPath(resource.disk->containerPath);
    if (!s.ok()) return s;
    s = validatePrincipal(resource.disk->principal);
    if (!s.ok()) return s;
  }
  if (resource.allocationRole) {
    // "*" is a valid allocation role: frameworks in the default role get
    // offers allocated to it (as in Mesos).
    s = validateRoleName(*resource.allocationRole);
    if (!s.ok()) return Status::InvalidArgument("allocation role: " + s.message());
  }
  return Status::OK();
}
// ---- Parsing ------------------------------------------------------------

Result<uint64_t> parseUnsigned(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("missing number");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(quote(text) + " is not a non-negative integer");
    }
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Status::InvalidArgument(quote(text) + " is too large");
    }
    v = v * 10 + digit;
  }
  return v;
}

Result<std::vector<Range>> parseRangesValue(std::string_view value) {
  if (value.back() != ']') {
    return Status::InvalidArgument("ranges " + quote(value) + " are missing the closing ']'");
  }
  std::string_view inner = trim(value.substr(1, value.size() - 2));
  std::vector<Range> ranges;
  if (inner.empty()) return ranges;
  while (true) {
    size_t comma = inner.find(',');
    std::string_view item = trim(inner.substr(0, comma));
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      return Status::InvalidArgument("range " + quote(item) + " is not of the form 'begin-end'");
    }
    auto begin = parseUnsigned(trim(item.substr(0, dash)));
    auto end = parseUnsigned(trim(item.substr(dash + 1)));
    if (!begin.ok() || !end.ok()) {
      std::string why = !begin.ok() ? begin.error() : end.error();
      return Status::InvalidArgument("range " + quote(item) + ": " + why);
    }
    if (*begin > *end) {
      return Status::InvalidArgument("range " + quote(item) + " has begin > end");
    }
    ranges.push_back({*begin, *end});
    if (comma == std::string_view::npos) break;
    inner.remove_prefix(comma + 1);
  }
  return coalesceRanges(std::move(ranges));
}

Result<std::set<std::string>> parseSetValue(std::string_view value) {
  if (value.back() != '}') {
    return Status::InvalidArgument("set " + quote(value) + " is missing the closing '}'");
  }
  std::string_view inner = trim(value.substr(1, value.size() - 2));
  std::set<std::string> items;
  if (inner.empty()) return items;
  while (true) {
    size_t comma = inner.find(',');
    std::string_view item = trim(inner.substr(0, comma));
    Status s = validateSetItem(item);
    if (!s.ok()) return s;
    items.emplace(item);
    if (comma == std::string_view::npos) break;
    inner.remove_prefix(comma + 1);
  }
  return items;
}

Status parseValue(std::string_view value, Resource* r) {
  if (value.front() == '[') {
    auto ranges = parseRangesValue(value);
    if (!ranges.ok()) return ranges.status();
    r->type = Resource::Type::RANGES;
    r->ranges = std::move(ranges).value();
  } else if (value.front() == '{') {
    auto set = parseSetValue(value);
    if (!set.ok()) return set.status();
    r->type = Resource::Type::SET;
    r->set = std::move(set).value();
  } else {
    auto millis = parseScalarMillis(value);
    if (!millis.ok()) return millis.status();
    r->type = Resource::Type::SCALAR;
    r->scalarMillis = *millis;
  }
  return Status::OK();
}

// Position of the ')' matching the '(' at `open`, or npos.
size_t matchingParen(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    if (s[i] == ')' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

Result<ReservationInfo> parseReservation(std::string_view text) {
  std::string_view t = trim(text);
  if (t.size() < 2 || t.front() != '(' || t.back() != ')') {
    return Status::InvalidArgument("reservation " + quote(t) +
                                   " is not of the form '(TYPE,role[,principal])'");
  }
  std::string_view inner = t.substr(1, t.size() - 2);
  std::vector<std::string_view> parts;
  while (true) {
    size_t comma = inner.find(',');
    parts.push_back(trim(inner.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    inner.remove_prefix(comma + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) {
    return Status::InvalidArgument("reservation " + quote(t) +
                                   " is not of the form '(TYPE,role[,principal])'");
  }
  ReservationInfo info;
  if (parts[0] == "STATIC") {
    info.type = ReservationInfo::Type::STATIC;
  } else if (parts[0] == "DYNAMIC") {
    info.type = ReservationInfo::Type::DYNAMIC;
  } else {
    return Status::InvalidArgument("reservation type " + quote(parts[0]) +
                                   " is neither STATIC nor DYNAMIC");
  }
  Status s = validateConcreteRole(parts[1], "reservation role");
  if (!s.ok()) return s;
  info.role = std::string(parts[1]);
  if (parts.size() == 3) {
    if (parts[2].empty()) return Status::InvalidArgument("principal is empty");
    info.principal = std::string(parts[2]);
  }
  return info;
}

Result<std::vector<ReservationInfo>> parseReservationList(std::string_view text) {
  std::string_view t = trim(text);
  if (t.size() < 2 || t.front() != '[' || t.back() != ']') {
    return Status::InvalidArgument("reservations " + quote(t) + " must be enclosed in '[' and ']'");
  }
  std::string_view inner = trim(t.substr(1, t.size() - 2));
  std::vector<ReservationInfo> out;
  size_t pos = 0;
  while (pos < inner.size()) {
    if (inner[pos] != '(') {
      return Status::InvalidArgument("expected '(' in reservations " + quote(t));
    }
    size_t close = matchingParen(inner, pos);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("missing ')' in reservations " + quote(t));
    }
    auto info = parseReservation(inner.substr(pos, close - pos + 1));
    if (!info.ok()) return info.status();
    out.push_back(std::move(info).value());
    pos = close + 1;
    while (pos < inner.size() && isSpace(inner[pos])) ++pos;
    if (pos == inner.size()) break;
    if (inner[pos] != ',') {
      return Status::InvalidArgument("expected ',' between reservations in " + quote(t));
    }
    ++pos;
    while (pos < inner.size() && isSpace(inner[pos])) ++pos;
    if (pos == inner.size()) {
      return Status::InvalidArgument("trailing ',' in reservations " + quote(t));
    }
  }
  return out;
}

// `ID,PATH[,PRINCIPAL]` of a `(volume: ...)` group (validated later with
// the whole resource).
Result<DiskInfo> parseVolume(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t comma = text.find(',');
    parts.push_back(trim(text.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) {
    return Status::InvalidArgument("a volume is '(volume: ID,PATH[,PRINCIPAL])'");
  }
  DiskInfo d;
  d.persistenceId = std::string(parts[0]);
  d.containerPath = std::string(parts[1]);
  if (parts.size() == 3) d.principal = std::string(parts[2]);
  return d;
}

// Parses one non-empty, trimmed entry; the caller adds the entry text to
// error messages.
Status parseEntry(std::string_view entry, std::string_view defaultRole, Resource* r) {
  size_t pos = entry.find_first_of("(:");
  std::string_view name = trim(entry.substr(0, pos));
  if (name.empty()) return Status::InvalidArgument("missing resource name");
  Status s = validateName(name);
  if (!s.ok()) return s;
  r->name = std::string(name);

  bool sawGroup = false;
  bool sawRole = false;
  bool sawAllocated = false;
  bool sawReservations = false;
  bool sawVolume = false;
  while (pos < entry.size() && entry[pos] == '(') {
    size_t close = matchingParen(entry, pos);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("missing ')' after " + quote(entry.substr(0, pos + 1)));
    }
    std::string_view group = trim(entry.substr(pos + 1, close - pos - 1));
    if (startsWith(group, "volume:")) {
      // Not a role-like group: the default role still applies.
      if (sawVolume) return Status::InvalidArgument("more than one volume");
      sawVolume = true;
      auto volume = parseVolume(group.substr(7));
      if (!volume.ok()) return volume.status();
      r->disk = std::move(volume).value();
      pos = close + 1;
      while (pos < entry.size() && isSpace(entry[pos])) ++pos;
      continue;
    }
    sawGroup = true;
    if (startsWith(group, "allocated:")) {
      if (sawAllocated) return Status::InvalidArgument("more than one allocation role");
      sawAllocated = true;
      std::string_view role = trim(group.substr(10));
      s = validateRoleName(role);
      if (!s.ok()) return Status::InvalidArgument("allocation role: " + s.message());
      r->allocationRole = std::string(role);
    } else if (startsWith(group, "reservations:")) {
      if (sawReservations || sawRole) {
        return Status::InvalidArgument("more than one reservation given");
      }
      sawReservations = true;
      auto list = parseReservationList(group.substr(13));
      if (!list.ok()) return list.status();
      r->reservations = std::move(list).value();
    } else {
      if (sawReservations || sawRole) {
        return Status::InvalidArgument("more than one reservation given");
      }
      sawRole = true;
      s = validateRoleName(group);
      if (!s.ok()) return s;
      if (group != "*") r->reservations.push_back({ReservationInfo::Type::STATIC,
                                                    std::string(group), "", {}});
    }
    pos = close + 1;
    while (pos < entry.size() && isSpace(entry[pos])) ++pos;
  }
  if (pos >= entry.size() || entry[pos] != ':') {
    if (pos >= entry.size()) return Status::InvalidArgument("missing ':' before the value");
    return Status::InvalidArgument("unexpected " + quote(entry.substr(pos, 1)) +
                                   " before ':'");
  }
  std::string_view value = trim(entry.substr(pos + 1));
  if (value.empty()) return Status::InvalidArgument("missing value");
  s = parseValue(value, r);
  if (!s.ok()) return s;

  // Only entries with no role-like group at all take the default role, so
  // `cpus(*):1` and `cpus(allocated: x):1` stay unreserved under any default.
  if (!sawGroup && defaultRole != "*") {
    r->reservations.push_back({ReservationInfo::Type::STATIC, std::string(defaultRole), "", {}});
  }
  return validateResourceDetail(*r);
}

}  // namespace

// ---- Free functions ---------------------------------------------------------

Status validateRoleName(std::string_view role) {
  // Beyond Mesos's rules, the characters that structure the resources text
  // form are rejected so that every valid role survives toString/parse.
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid role " + quote(role) + ": " + why);
  };
  if (role == "*") return Status::OK();
  if (role.empty()) return bad("role is empty");
  for (char c : role) {
    if (isControlOrSpace(c)) return bad("contains whitespace or a control character");
    if (kNameSpecials.find(c) != std::string_view::npos) {
      return bad("contains '" + std::string(1, c) + "'");
    }
  }
  std::string_view rest = role;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    if (component.empty()) return bad("has an empty '/' component");
    if (component == "." || component == "..") return bad("has a '.' or '..' component");
    if (component == "*") return bad("has a '*' component");
    if (component.front() == '-') return bad("a component starts with '-'");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return Status::OK();
}

Status validatePersistenceId(std::string_view id) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid persistence id " + quote(id) + ": " + why);
  };
  if (id.empty()) return bad("it is empty");
  if (id.size() > 255) return bad("it is longer than 255 characters");
  if (id == "." || id == "..") return bad("it names a directory's self or parent");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return bad("only A-Z, a-z, 0-9, '.', '_' and '-' are allowed");
  }
  return Status::OK();
}

Status validateContainerPath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("invalid volume container path " + quote(path) + ": " + why);
  };
  if (path.empty()) return bad("it is empty");
  if (path.size() > 4096) return bad("it is longer than 4096 bytes");
  if (path.front() == '/') return bad("it must be relative to the sandbox");
  for (char c : path) {
    if (isControlOrSpace(c)) return bad("it contains whitespace or a control character");
    if (kNameSpecials.find(c) != std::string_view::npos) {
      return bad("it contains '" + std::string(1, c) + "'");
    }
  }
  std::string_view rest = path;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    if (component.empty()) return bad("it has an empty component");
    if (component == "." || component == "..") return bad("it has a '.' or '..' component");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return Status::OK();
}

Result<int64_t> parseScalarMillis(std::string_view text) {
  // Parsed digit by digit rather than with strtod so that "0.1" is exactly
  // 100 thousandths and locale, exponents, "nan" and "inf" never sneak in.
  std::string_view t = trim(text);
  if (t.empty()) return Status::InvalidArgument("missing number");
  if (t.front() == '-') return Status::InvalidArgument(quote(t) + " is negative");
  bool tooLarge = false;
  bool sawDigit = false;
  bool sawDot = false;
  int64_t whole = 0;
  int64_t fraction = 0;  // first three decimals, in thousandths
  int fractionDigits = 0;
  bool roundUp = false;
  for (char c : t) {
    if (c == '.') {
      if (sawDot) return Status::InvalidArgument(quote(t) + " is not a number");
      sawDot = true;
      continue;
    }
    if (c < '0' || c > '9') return Status::InvalidArgument(quote(t) + " is not a number");
    sawDigit = true;
    int digit = c - '0';
    if (!sawDot) {
      if (whole > kMaxScalarMillis / 1000) {
        tooLarge = true;  // keep scanning: garbage later still says "not a number"
      } else {
        whole = whole * 10 + digit;
      }
    } else if (fractionDigits < 3) {
      fraction = fraction * 10 + digit;
      ++fractionDigits;
    } else if (fractionDigits == 3) {
      roundUp = digit >= 5;  // round half up on the fourth decimal
      ++fractionDigits;
    }
  }
  if (!sawDigit) return Status::InvalidArgument(quote(t) + " is not a number");
  while (fractionDigits < 3) {
    fraction *= 10;
    ++fractionDigits;
  }
  if (tooLarge || whole > kMaxScalarMillis / 1000 + 1) {
    return Status::InvalidArgument(quote(t) + " is too large");
  }
  int64_t millis = whole * 1000 + fraction + (roundUp ? 1 : 0);
  if (millis > kMaxScalarMillis) return Status::InvalidArgument(quote(t) + " is too large");
  return millis;
}

std::string formatScalarMillis(int64_t millis) {
  std::string sign = millis < 0 ? "-" : "";
  // Via uint64 so that INT64_MIN has a magnitude.
  uint64_t magnitude = millis < 0 ? uint64_t{0} - static_cast<uint64_t>(millis)
                                  : static_cast<uint64_t>(millis);
  std::string out = sign + std::to_string(magnitude / 1000);
  uint64_t fraction = magnitude % 1000;
  if (fraction == 0) return out;
  std::string digits = std::to_string(fraction);
  digits.insert(0, 3 - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

std::vector<Range> coalesceRanges(std::vector<Range> ranges) {
  // Inverted ranges (begin > end) denote nothing and are dropped; validate()
  // rejects them where the caller can be told.
  std::erase_if(ranges, [](const Range& r) { return r.begin > r.end; });
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> out;
  for (const Range& r : ranges) {
    // Merge overlapping and adjacent ranges; compare as `begin - 1 <= end`
    // so that end == UINT64_MAX does not overflow.
    if (!out.empty() && (r.begin == 0 || r.begin - 1 <= out.back().end)) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

std::string formatRanges(const std::vector<Range>& ranges) {
  std::string out = "[";
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ranges[i].begin) + "-" + std::to_string(ranges[i].end);
  }
  return out + "]";
}

std::ostream& operator<<(std::ostream& os, const Resources& r) { return os << r.toString(); }

Resource persistentVolume(double mb, std::vector<ReservationInfo> reservations,
                          std::string persistenceId, std::string containerPath,
                          std::string principal) {
  Resource r;
  r.name = "disk";
  r.type = Resource::Type::SCALAR;
  r.scalarMillis = static_cast<int64_t>(mb * 1000.0 + 0.5);
  r.reservations = std::move(reservations);
  r.disk = DiskInfo{std::move(persistenceId), std::move(principal), std::move(containerPath)};
  return r;
}


// ---- Resource ---------------------------------------------------------------

const std::string& Resource::reservationRole() const {
  return reservations.empty() ? kUnreservedRole : reservations.back().role;
}

bool Resource::isEmpty() const {
  switch (type) {
    // Negative scalars are invalid (validate() rejects them); treating them
    // as empty keeps arithmetic on unvalidated input from going negative.
    case Type::SCALAR: return scalarMillis <= 0;
    case Type::RANGES:
      return std::none_of(ranges.begin(), ranges.end(),
                          [](const Range& r) { return r.begin <= r.end; });
    case Type::SET: return set.empty();
  }
  return true;
}

bool Resource::sameKind(const Resource& other) const {
  return name == other.name && type == other.type && reservations == other.reservations &&
         allocationRole == other.allocationRole && disk == other.disk;
}

// ---- Resources --------------------------------------------------------------

Resources::Resources(std::initializer_list<Resource> list) {
  for (const auto& r : list) addUnchecked(r);
}

Status Resources::validate(const Resource& resource) {
  Status s = validateResourceDetail(resource);
  if (s.ok()) return s;
  return Status::InvalidArgument("Invalid resource " + quote(resource.name) + ": " + s.message());
}

Result<Resources> Resources::fromList(const std::vector<Resource>& list) {
  Resources out;
  TypeChecker types;
  // Sort once and merge neighbours: inserting one by one into the sorted
  // vector would be quadratic, and this runs on input from peers.
  std::vector<Resource> items;
  items.reserve(list.size());
  for (const auto& r : list) {
    Status s = validate(r);
    if (s.ok()) s = types.check(r);
    if (!s.ok()) return s;
    Resource c = canonical(r);
    if (!c.isEmpty()) items.push_back(std::move(c));
  }
  std::stable_sort(items.begin(), items.end(), kindLess);
  std::vector<Resource>& merged = out.mut();
  for (auto& r : items) {
    if (merged.empty() || !merged.back().sameKind(r)) {
      merged.push_back(std::move(r));
      continue;
    }
    Resource& last = merged.back();
    switch (r.type) {
      case Resource::Type::SCALAR:
        last.scalarMillis = saturatingAdd(last.scalarMillis, r.scalarMillis);
        break;
      case Resource::Type::RANGES:
        last.ranges.insert(last.ranges.end(), r.ranges.begin(), r.ranges.end());
        break;
      case Resource::Type::SET: last.set.merge(r.set); break;
    }
  }
  for (auto& r : merged) {
    if (r.type == Resource::Type::RANGES) r.ranges = coalesceRanges(std::move(r.ranges));
  }
  Status s = checkTotals(out);
  if (!s.ok()) return s;
  return out;
}

Result<Resources> Resources::parse(std::string_view text, std::string_view defaultRole) {
  Status s = validateRoleName(defaultRole);
  if (!s.ok()) return Status::InvalidArgument("Invalid default role: " + s.message());
  Resources out;
  TypeChecker types;
  std::string_view rest = text;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view entry = trim(rest.substr(0, semi));
    if (!entry.empty()) {
      Resource r;
      s = parseEntry(entry, defaultRole, &r);
      if (s.ok()) s = types.check(r);
      if (!s.ok()) {
        return Status::InvalidArgument("Invalid resource " + quote(entry) + ": " + s.message());
      }
      out.addUnchecked(r);
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  s = checkTotals(out);
  if (!s.ok()) return Status::InvalidArgument("Invalid resources: " + s.message());
  return out;
}

std::string Resources::toString() const {
  std::string out;
  for (const auto& r : list()) {
    if (!out.empty()) out += ";";
    out += formatResource(r);
  }
  return out;
}

const std::vector<Resource>& Resources::noEntries() {
  static const std::vector<Resource>* const kNone = new std::vector<Resource>();
  return *kNone;
}

// The rule of common/cow.hpp's Cow::mut(), which this public type cannot
// use (framework-api does not include common/), with no list for no entries.
std::vector<Resource>& Resources::mut() {
  if (!list_) {
    list_ = std::make_shared<std::vector<Resource>>();
  } else if (list_.use_count() != 1) {
    list_ = std::make_shared<std::vector<Resource>>(*list_);
  } else {
    // The last other owner may have just let go on another thread: see its
    // reads before writing (its release decrement pairs with this).
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return *list_;
}

void Resources::addUnchecked(const Resource& resource) {
  // Copy first: `resource` may alias an element of the list that insert moves.
  Resource r = canonical(resource);
  if (r.isEmpty()) return;
  std::vector<Resource>& list = mut();
  auto it = std::lower_bound(list.begin(), list.end(), r, kindLess);
  if (it == list.end() || !it->sameKind(r)) {
    list.insert(it, std::move(r));
    return;
  }
  switch (r.type) {
    case Resource::Type::SCALAR:
      it->scalarMillis = saturatingAdd(it->scalarMillis, r.scalarMillis);
      break;
    case Resource::Type::RANGES: {
      std::vector<Range> all = std::move(it->ranges);
      all.insert(all.end(), r.ranges.begin(), r.ranges.end());
      it->ranges = coalesceRanges(std::move(all));
      break;
    }
    case Resource::Type::SET: it->set.merge(r.set); break;
  }
}

Resources& Resources::operator+=(const Resource& r) {
  addUnchecked(r);
  return *this;
}

Resources& Resources::operator+=(const Resources& r) {
  if (empty()) {
    list_ = r.list_;  // canonical already: share it
    return *this;
  }
  if (&r == this) {
    Resources copy = r;
    return *this += copy;
  }
  // `r` may share this list: the first change gives this one its own copy
  // and the loop goes on over the shared one, unchanged.
  for (const auto& resource : r.list()) addUnchecked(resource);
  return *this;
}

Resources& Resources::operator-=(const Resource& resource) {
  Resource r = canonical(resource);
  if (r.isEmpty()) return *this;
  const std::vector<Resource>& shared = list();
  auto found = std::lower_bound(shared.begin(), shared.end(), r, kindLess);
  if (found == shared.end() || !found->sameKind(r)) return *this;  // nothing to copy
  const auto index = found - shared.begin();  // `shared` may be let go by mut()
  std::vector<Resource>& list = mut();
  auto it = list.begin() + index;
  switch (r.type) {
    case Resource::Type::SCALAR:
      it->scalarMillis = std::max<int64_t>(0, it->scalarMillis - r.scalarMillis);
      break;
    case Resource::Type::RANGES: it->ranges = subtractRanges(it->ranges, r.ranges); break;
    case Resource::Type::SET:
      for (const auto& item : r.set) it->set.erase(item);
      break;
  }
  if (it->isEmpty()) list.erase(it);
  return *this;
}

Resources& Resources::operator-=(const Resources& r) {
  if (&r == this || list_ == r.list_) {
    list_.reset();
    return *this;
  }
  for (const auto& resource : r.list()) *this -= resource;
  return *this;
}

Resources Resources::operator+(const Resources& r) const {
  Resources out = *this;
  out += r;
  return out;
}

Resources Resources::operator-(const Resources& r) const {
  Resources out = *this;
  out -= r;
  return out;
}

bool Resources::contains(const Resource& resource) const {
  Resource r = canonical(resource);
  if (r.isEmpty()) return true;
  const std::vector<Resource>& list = this->list();
  auto it = std::lower_bound(list.begin(), list.end(), r, kindLess);
  if (it == list.end() || !it->sameKind(r)) return false;
  switch (r.type) {
    case Resource::Type::SCALAR: return it->scalarMillis >= r.scalarMillis;
    case Resource::Type::RANGES: return rangesContain(it->ranges, r.ranges);
    case Resource::Type::SET:
      return std::includes(it->set.begin(), it->set.end(), r.set.begin(), r.set.end());
  }
  return false;
}

bool Resources::contains(const Resources& r) const {
  if (list_ == r.list_) return true;
  return std::all_of(r.begin(), r.end(),
                     [this](const Resource& resource) { return contains(resource); });
}

std::optional<Resources> Resources::find(const Resources& wanted) const {
  Resources found;
  Resources left = *this;
  for (const Resource& want : wanted) {
    // Candidates of the same name, type and allocation: reserved first.
    std::vector<const Resource*> candidates;
    for (int pass = 0; pass < 2; ++pass) {
      for (const Resource& have : left) {
        // A volume is found only when asked for (and then only itself).
        if (have.name != want.name || have.type != want.type ||
            have.allocationRole != want.allocationRole || have.disk != want.disk ||
            have.isReserved() != (pass == 0)) {
          continue;
        }
        candidates.push_back(&have);
      }
    }
    Resources taken;
    switch (want.type) {
      case Resource::Type::SCALAR: {
        int64_t need = want.scalarMillis;
        for (const Resource* have : candidates) {
          if (need <= 0) break;
          Resource part = *have;
          part.scalarMillis = std::min(need, have->scalarMillis);
          need -= part.scalarMillis;
          taken.addUnchecked(part);
        }
        if (need > 0) return std::nullopt;
        break;
      }
      case Resource::Type::RANGES: {
        std::vector<Range> need = want.ranges;
        for (const Resource* have : candidates) {
          if (need.empty()) break;
          std::vector<Range> outside = subtractRanges(need, have->ranges);
          std::vector<Range> inside = subtractRanges(need, outside);
          if (inside.empty()) continue;
          Resource part = *have;
          part.ranges = inside;
          taken.addUnchecked(part);
          need = std::move(outside);
        }
        if (!need.empty()) return std::nullopt;
        break;
      }
      case Resource::Type::SET: {
        std::set<std::string> need = want.set;
        for (const Resource* have : candidates) {
          Resource part = *have;
          part.set.clear();
          for (auto it = need.begin(); it != need.end();) {
            if (have->set.count(*it)) {
              part.set.insert(*it);
              it = need.erase(it);
            } else {
              ++it;
            }
          }
          if (!part.set.empty()) taken.addUnchecked(part);
        }
        if (!need.empty()) return std::nullopt;
        break;
      }
    }
    left -= taken;
    found += taken;
  }
  return found;
}

Resources Resources::filter(const std::function<bool(const Resource&)>& keep) const {
  // Filtering a canonical list keeps it sorted and merged: push directly.
  if (std::all_of(begin(), end(), keep)) return *this;  // shares the list
  Resources out;
  std::copy_if(begin(), end(), std::back_inserter(out.mut()), keep);
  return out;
}

Resources Resources::reserved(std::string_view role) const {
  return filter(
      [role](const Resource& r) { return r.isReserved() && r.reservationRole() == role; });
}

Resources Resources::reserved() const {
  return filter([](const Resource& r) { return r.isReserved(); });
}

Resources Resources::unreserved() const {
  return filter([](const Resource& r) { return !r.isReserved(); });
}

Resources Resources::allocatableTo(std::string_view role) const {
  return filter([role](const Resource& r) {
    return !r.isReserved() || isSelfOrAncestor(r.reservationRole(), role);
  });
}

Resources Resources::allocate(std::string_view role) const {
  if (std::all_of(begin(), end(), [role](const Resource& r) {
        return r.allocationRole && *r.allocationRole == role;
      })) {
    return *this;  // already so: shares the list
  }
  Resources out;
  for (Resource r : list()) {
    r.allocationRole = std::string(role);
    out.addUnchecked(r);
  }
  return out;
}

Resources Resources::unallocate() const {
  if (std::none_of(begin(), end(), [](const Resource& r) { return r.allocationRole.has_value(); })) {
    return *this;  // already so: shares the list
  }
  Resources out;
  for (Resource r : list()) {
    r.allocationRole.reset();
    out.addUnchecked(r);
  }
  return out;
}

std::set<std::string> Resources::allocationRoles() const {
  std::set<std::string> roles;
  for (const auto& r : list()) {
    if (r.allocationRole) roles.insert(*r.allocationRole);
  }
  return roles;
}

Resources Resources::flatten() const {
  Resources out;
  for (Resource r : list()) {
    r.reservations.clear();
    r.allocationRole.reset();
    r.disk.reset();
    out.addUnchecked(r);
  }
  return out;
}

Resources Resources::volumes() const {
  return filter([](const Resource& r) { return r.disk.has_value(); });
}

Resources Resources::stripVolumes() const {
  if (std::none_of(begin(), end(), [](const Resource& r) { return r.disk.has_value(); })) {
    return *this;
  }
  Resources out;
  for (Resource r : list()) {
    r.disk.reset();
    out.addUnchecked(r);
  }
  return out;
}

Resources Resources::pushReservation(const ReservationInfo& reservation) const {
  Resources out;
  for (Resource r : list()) {
    r.reservations.push_back(reservation);
    out.addUnchecked(r);
  }
  return out;
}

Resources Resources::popReservation() const {
  Resources out;
  for (Resource r : list()) {
    if (!r.reservations.empty()) r.reservations.pop_back();
    out.addUnchecked(r);
  }
  return out;
}

int64_t Resources::scalarMillis(std::string_view name) const {
  int64_t total = 0;
  for (const auto& r : list()) {
    if (r.name == name && r.type == Resource::Type::SCALAR) {
      total = saturatingAdd(total, r.scalarMillis);
    }
  }
  return total;
}

double Resources::scalar(std::string_view name) const {
  return static_cast<double>(scalarMillis(name)) / 1000.0;
}

namespace {
std::optional<double> optionalScalar(const Resources& resources, std::string_view name) {
  bool present = std::any_of(resources.begin(), resources.end(), [name](const Resource& r) {
    return r.name == name && r.type == Resource::Type::SCALAR;
  });
  if (!present) return std::nullopt;
  return resources.scalar(name);
}
}  // namespace

std::optional<double> Resources::cpus() const { return optionalScalar(*this, "cpus"); }
std::optional<double> Resources::mem() const { return optionalScalar(*this, "mem"); }
std::optional<double> Resources::disk() const { return optionalScalar(*this, "disk"); }
std::optional<double> Resources::gpus() const { return optionalScalar(*this, "gpus"); }

std::vector<Range> Resources::ports() const {
  std::vector<Range> all;
  for (const auto& r : list()) {
    if (r.name == "ports" && r.type == Resource::Type::RANGES) {
      all.insert(all.end(), r.ranges.begin(), r.ranges.end());
    }
  }
  return coalesceRanges(std::move(all));
}

std::set<std::string> Resources::names() const {
  std::set<std::string> out;
  for (const auto& r : list()) out.insert(r.name);
  return out;
}

}  // namespace tutti
