// Encodes a wire::Payload into one Envelope frame and decodes it back.
//
// decodeEnvelope() is the decode boundary of DESIGN §5: it applies size,
// traversal and nesting limits, converts every field into C++ values, and
// turns any malformed input (bad framing, an unknown union tag, an invalid
// resource, an out-of-range enum) into an error Status. It never throws and
// never crashes on input. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/wire.hpp"
#include "tutti/status.hpp"

namespace tutti::codec {

struct DecodeLimits {
  size_t maxBytes = 16u << 20;            // frames above this are rejected unread
  uint64_t traversalLimitWords = 4u << 20;  // words read per message (32 MiB)
  int nestingLimit = 32;                  // struct/list nesting depth
};

// The Envelope frame for `payload` (a flat Cap'n Proto message).
std::string encodeEnvelope(const wire::Payload& payload);

Result<wire::Payload> decodeEnvelope(const void* data, size_t size,
                                     const DecodeLimits& limits = DecodeLimits{});

}  // namespace tutti::codec
