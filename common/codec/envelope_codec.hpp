// Encodes a wire::Payload into one Envelope frame and decodes it back.
//
// A frame holds one envelope or, since wire version 2, several back to
// back (each a flat Cap'n Proto message, so each starts on a word
// boundary; its segment table says where it ends). Senders pack several
// only for peers that sent them version 2 or later (common/transport.hpp).
//
// decodeEnvelope() is the decode boundary of DESIGN §5: it applies size,
// traversal and nesting limits, converts every field into C++ values, and
// turns any malformed input (bad framing, an unknown union tag, an invalid
// resource, an out-of-range enum) into an error Status. It never throws and
// never crashes on input. Thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/wire.hpp"
#include "tutti/status.hpp"

namespace tutti::codec {

struct DecodeLimits {
  size_t maxBytes = 16u << 20;            // frames above this are rejected unread
  uint64_t traversalLimitWords = 4u << 20;  // words read per message (32 MiB)
  int nestingLimit = 32;                  // struct/list nesting depth
  // Envelopes read from one frame; the rest of a frame holding more is
  // dropped. Senders pack fewer (common/transport.cpp). With the traversal
  // limit per envelope this bounds the work one frame can cause.
  static constexpr size_t kMaxEnvelopesPerFrame = 256;
  // The largest frame of several envelopes a sender builds. Every receiver
  // accepts frames this large: `maxBytes` may not be set below it (the
  // master's --max_message_bytes); a larger message goes alone.
  static constexpr size_t kMaxPackedFrameBytes = 64u << 10;
};

// The Envelope frame for `payload` (a flat Cap'n Proto message).
std::string encodeEnvelope(const wire::Payload& payload);

// The frame's first envelope (what follows it is not read).
Result<wire::Payload> decodeEnvelope(const void* data, size_t size,
                                     const DecodeLimits& limits = DecodeLimits{});

// Every envelope of the frame, in order, each handed to `deliver` as soon
// as it is decoded. The frame's limits (size, whole words) apply to the
// frame; traversal and nesting to each message. The first envelope that
// does not decode ends the frame: the error says why (and after how many
// messages), and whatever followed it is not read, its framing being
// untrustworthy. `version` (when given) is raised to the highest version
// among the decoded envelopes.
Status decodeEnvelopes(const void* data, size_t size, const DecodeLimits& limits,
                       const std::function<void(wire::Payload&&)>& deliver, uint32_t* version);

}  // namespace tutti::codec
