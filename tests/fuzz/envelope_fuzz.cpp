// Fuzz target: decoding arbitrary bytes as an Envelope must never crash, and
// whatever decodes must encode and decode again to the same message.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/codec/envelope_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = tutti::codec::decodeEnvelope(data, size);
  if (!decoded.ok()) return 0;
  std::string again = tutti::codec::encodeEnvelope(*decoded);
  auto twice = tutti::codec::decodeEnvelope(again.data(), again.size());
  if (!twice.ok() || !(*twice == *decoded)) std::abort();
  return 0;
}
