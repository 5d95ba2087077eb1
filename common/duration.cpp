#include "common/duration.hpp"

#include <cmath>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace tutti {

namespace {
struct Unit {
  const char* name;
  int64_t nanos;
};
// Longest suffixes first so `ms` is not read as `s` with garbage.
constexpr Unit kUnits[] = {
    {"weeks", 7LL * 24 * 3600 * 1'000'000'000LL},
    {"days", 24LL * 3600 * 1'000'000'000LL},
    {"hrs", 3600LL * 1'000'000'000LL},
    {"mins", 60LL * 1'000'000'000LL},
    {"secs", 1'000'000'000LL},
    {"ms", 1'000'000LL},
    {"us", 1'000LL},
    {"ns", 1LL},
};
}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  std::string_view t = text;
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  for (const auto& unit : kUnits) {
    std::string_view name(unit.name);
    if (t.size() <= name.size() || t.substr(t.size() - name.size()) != name) continue;
    std::string number(t.substr(0, t.size() - name.size()));
    if (number.empty() || number[0] == '-' || number[0] == '+') break;
    bool digitsOnly = number.find_first_not_of("0123456789") == std::string::npos;
    if (digitsOnly) {
      // Whole numbers are converted exactly (what formatDuration prints).
      unsigned long long n = 0;
      bool overflow = false;
      for (char c : number) {
        unsigned d = static_cast<unsigned>(c - '0');
        if (n > (static_cast<unsigned long long>(INT64_MAX) - d) / 10) overflow = true;
        n = n * 10 + d;
        if (overflow) break;
      }
      if (overflow || n > static_cast<unsigned long long>(INT64_MAX / unit.nanos)) {
        return Status::InvalidArgument("Duration '" + std::string(text) + "' is too large");
      }
      return Duration(static_cast<int64_t>(n) * unit.nanos);
    }
    // Decimals with an optional exponent (Mesos accepts 1e3secs); no hex,
    // no leading sign, no inf/nan.
    if (number.find_first_not_of("0123456789.eE+-") != std::string::npos ||
        !(std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.')) {
      break;
    }
    char* end = nullptr;
    double v = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(v) || v < 0) break;
    double nanos = v * static_cast<double>(unit.nanos);
    if (nanos > 9.2e18) {
      return Status::InvalidArgument("Duration '" + std::string(text) + "' is too large");
    }
    return Duration(static_cast<int64_t>(std::llround(nanos)));
  }
  return Status::InvalidArgument("Invalid duration '" + std::string(text) +
                                 "': expected a number and a unit (ns, us, ms, secs, mins, "
                                 "hrs, days, weeks), e.g. 10secs");
}

std::string formatDuration(Duration d) {
  int64_t n = d.count();
  if (n == 0) return "0secs";
  for (const auto& unit : kUnits) {
    if (n % unit.nanos == 0) return std::to_string(n / unit.nanos) + unit.name;
  }
  return std::to_string(n) + "ns";
}

}  // namespace tutti
