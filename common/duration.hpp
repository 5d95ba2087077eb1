// Durations in Mesos's text form: `500ms`, `10secs`, `2mins`, `1hrs`,
// `1days`, also `ns`, `us`, `weeks`, and fractions (`1.5secs`).
#pragma once

#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "tutti/status.hpp"

namespace tutti {

// Parses a duration; rejects missing or unknown units, negatives and
// overflow with a message that names the text.
Result<Duration> parseDuration(std::string_view text);

// Prints the largest unit that keeps the value whole, e.g. `15secs`,
// `1500ms`, `2mins`.
std::string formatDuration(Duration d);

}  // namespace tutti
