// libFuzzer target for the JSON bodies of the maintenance endpoints
// (/master/maintenance/schedule, /master/machine/down and /machine/up).
//
// Any input must parse or fail cleanly with a message (no crash, no
// sanitizer report). A schedule that parses prints to JSON that parses back
// to the same schedule, and its machine ids are in normal form; the same
// for lists of machine ids. A violated property calls abort().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "master/http/maintenance_json.hpp"

namespace {

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "maintenance_json_fuzz: %s\n  input: %.*s\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tutti::json::Json;
  using namespace tutti::master;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Json j = Json::parse(input.begin(), input.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  auto schedule = parseMaintenanceSchedule(j);
  if (!schedule.ok()) {
    check(!schedule.error().empty(), "schedule error without a message", input);
  } else {
    std::string printed = tutti::json::dump(maintenanceScheduleJson(*schedule));
    auto again = parseMaintenanceSchedule(Json::parse(printed, nullptr, false));
    check(again.ok() && *again == *schedule, "schedule does not round-trip", input);
    for (const auto& w : schedule->windows) {
      for (const auto& id : w.machineIds) {
        auto normal = makeMachineId(id.hostname, id.ip);
        check(normal.ok() && *normal == id, "machine id not in normal form", input);
      }
    }
    (void)validateSchedule(*schedule, {});  // must not crash either
  }

  auto ids = parseMachineIds(j);
  if (!ids.ok()) {
    check(!ids.error().empty(), "machine list error without a message", input);
  } else {
    Json printed = Json::array();
    for (const auto& id : *ids) printed.push_back(machineIdJson(id));
    auto again = parseMachineIds(printed);
    check(again.ok() && *again == *ids, "machine ids do not round-trip", input);
    (void)validateMachineList(*ids);
  }
  return 0;
}
