// libFuzzer target for tutti-services' app definitions (the bodies of
// POST /v2/apps and PUT/PATCH /v2/apps/{id}).
//
// Any input must parse or fail cleanly with errors that each name a path and
// say something (no crash, no sanitizer report). An app that parses prints
// to JSON that parses back to the same app. A violated property calls abort().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "frameworks/services/app.hpp"

namespace {

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "services_app_fuzz: %s\n  input: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tutti::services;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto j = nlohmann::json::parse(input.begin(), input.end(), nullptr, false);
  if (j.is_discarded()) return 0;
  ParsedApp parsed = parseApp(j, "/fallback");
  if (!parsed.app) {
    check(!parsed.errors.empty(), "rejected without errors", input);
    for (const auto& e : parsed.errors) {
      check(!e.path.empty() && e.path[0] == '/' && !e.errors.empty(), "error without a path",
            input);
    }
    return 0;
  }
  ParsedApp again = parseApp(toJson(*parsed.app));
  check(again.app && *again.app == *parsed.app, "app does not round-trip", input);
  return 0;
}
