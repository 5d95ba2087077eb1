// Id generation and validation.
//
// Ids that name directories (framework, executor, task, agent ids) are
// validated before use: no `/`, no whitespace or control characters, not
// `.` or `..`, at most 255 bytes.
#pragma once

#include <string>
#include <string_view>

#include "tutti/status.hpp"

namespace tutti {

// 16 random bytes (a version-4 UUID).
std::string randomUuidBytes();
// Canonical text form of a UUID: 8-4-4-4-12 lowercase hex.
std::string uuidToString(std::string_view bytes);
// A new random UUID in text form.
std::string newUuid();

Status validateId(std::string_view kind, std::string_view id);

// Lower-case hex of arbitrary bytes.
std::string toHex(std::string_view bytes);

}  // namespace tutti
