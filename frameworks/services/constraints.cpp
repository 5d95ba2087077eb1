#include "frameworks/services/constraints.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "common/pattern.hpp"

namespace tutti::services {
namespace {

std::optional<std::string> fieldOf(const Placement& p, const std::string& field) {
  if (field == "hostname") return p.hostname;
  for (const auto& a : p.attributes) {
    if (a.name == field) return a.value;
  }
  return std::nullopt;
}

bool fullMatch(const std::string& value, const std::string& pattern) {
  // Validated at parse time; a bad pattern never places. Compiled per call:
  // patterns are short and RE2 compiles them in microseconds.
  auto compiled = Pattern::compile(pattern);
  return compiled.ok() && compiled->fullMatch(value);
}

bool meets(const Constraint& c, const Placement& candidate,
           const std::vector<Placement>& existing) {
  using Op = Constraint::Operator;
  auto value = fieldOf(candidate, c.field);
  if (!value) return c.op == Op::kUnlike;
  // Instances per value of the field.
  std::map<std::string, int> counts;
  for (const auto& e : existing) {
    if (auto v = fieldOf(e, c.field)) ++counts[*v];
  }
  int here = counts.count(*value) ? counts[*value] : 0;
  switch (c.op) {
    case Op::kUnique:
      return here == 0;
    case Op::kCluster:
      if (c.value) return *value == *c.value;
      return counts.empty() || (counts.size() == 1 && here > 0);
    case Op::kLike:
      return fullMatch(*value, c.value.value_or(""));
    case Op::kUnlike:
      return !fullMatch(*value, c.value.value_or(""));
    case Op::kMaxPer:
      return here < std::stoi(c.value.value_or("0"));
    case Op::kGroupBy: {
      // Spread evenly: this value must not be ahead of the least used
      // group (groups not yet used count as empty once fewer than the
      // expected number of groups are known).
      size_t groups = c.value ? static_cast<size_t>(std::stoi(*c.value)) : 0;
      int least = here;
      for (const auto& [_, n] : counts) least = std::min(least, n);
      if (counts.size() < groups || counts.count(*value) == 0) least = 0;
      return here <= least;
    }
  }
  return false;
}

}  // namespace

bool meetsConstraints(const std::vector<Constraint>& constraints, const Placement& candidate,
                      const std::vector<Placement>& existing) {
  return std::all_of(constraints.begin(), constraints.end(), [&](const Constraint& c) {
    return meets(c, candidate, existing);
  });
}

}  // namespace tutti::services
