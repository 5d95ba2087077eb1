// Byte sizes as Mesos's flags write them ("2GB", "512MB", "64KB", "100B",
// or a bare number of bytes; units are powers of 1024, case-insensitive).
// Any thread.
#pragma once

#include <cstdint>
#include <string>

#include "tutti/status.hpp"

namespace tutti {

// InvalidArgument for anything else (negative, fractional, unknown unit,
// above 2^63).
Result<uint64_t> parseBytes(const std::string& text);

}  // namespace tutti
