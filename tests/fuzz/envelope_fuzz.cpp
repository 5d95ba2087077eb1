// Fuzz target: decoding arbitrary bytes as an Envelope (or as a frame of
// several) must never crash, and whatever decodes must encode and decode
// again to the same message.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/codec/envelope_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)tutti::codec::decodeEnvelopes(
      data, size, tutti::codec::DecodeLimits{},
      [](tutti::wire::Payload&& m) {
        std::string again = tutti::codec::encodeEnvelope(m);
        auto twice = tutti::codec::decodeEnvelope(again.data(), again.size());
        if (!twice.ok() || !(*twice == m)) std::abort();
      },
      nullptr);
  auto decoded = tutti::codec::decodeEnvelope(data, size);
  if (!decoded.ok()) return 0;
  std::string again = tutti::codec::encodeEnvelope(*decoded);
  auto twice = tutti::codec::decodeEnvelope(again.data(), again.size());
  if (!twice.ok() || !(*twice == *decoded)) std::abort();
  return 0;
}
