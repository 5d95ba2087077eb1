// libFuzzer target for Resources::parse and the algebra on what it accepts.
//
// Any input must parse or fail cleanly (no crash, no sanitizer report). For
// every successful parse x, under two default roles:
//   parse(toString(x)) == x and toString is a fixed point,
//   x - x is empty, x + x contains x, x contains x,
//   flatten/unallocate/popReservation results round-trip too (when their
//   merged scalars stay within the 2^53-thousandths cap parse enforces).
// A violated property calls abort() so the fuzzer records the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tutti/resources.hpp"

namespace {

void check(bool ok, const char* what, std::string_view input, const std::string& detail) {
  if (ok) return;
  std::fprintf(stderr, "resources_fuzz: %s\n  input: %.*s\n  detail: %s\n", what,
               static_cast<int>(input.size()), input.data(), detail.c_str());
  std::abort();
}

// Derived values must round-trip as well: they are printed in logs and
// HTTP bodies and read back by the CLI. Merging kinds can legitimately push
// a sum past the cap that parse() enforces on text; such values are skipped.
void checkRoundTrip(const tutti::Resources& x, std::string_view input, const char* what) {
  for (const auto& r : x) {
    if (r.type == tutti::Resource::Type::SCALAR && r.scalarMillis > (int64_t{1} << 53)) return;
  }
  std::string text = x.toString();
  auto again = tutti::Resources::parse(text);
  check(again.ok(), what, input, text + " -> " + again.error());
  check(*again == x, what, input, text + " -> " + again->toString());
}

void checkProperties(std::string_view input, std::string_view defaultRole) {
  auto parsed = tutti::Resources::parse(input, defaultRole);
  if (!parsed.ok()) {
    check(!parsed.error().empty(), "error without a message", input, "");
    return;
  }
  const tutti::Resources& x = *parsed;

  std::string text = x.toString();
  auto again = tutti::Resources::parse(text);
  check(again.ok(), "toString output does not parse", input, text + " -> " + again.error());
  check(*again == x, "parse(toString(x)) != x", input, text + " -> " + again->toString());
  check(again->toString() == text, "toString is not a fixed point", input, text);

  check((x - x).empty(), "x - x is not empty", input, (x - x).toString());
  check((x + x).contains(x), "x + x does not contain x", input, (x + x).toString());
  check(x.contains(x), "x does not contain x", input, text);

  checkRoundTrip(x.flatten(), input, "flatten() does not round-trip");
  checkRoundTrip(x.unallocate(), input, "unallocate() does not round-trip");
  checkRoundTrip(x.popReservation(), input, "popReservation() does not round-trip");
  check(x.flatten() == x.unallocate().flatten(), "flatten depends on allocation", input, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  checkProperties(input, "*");
  checkProperties(input, "eng/web");
  return 0;
}
