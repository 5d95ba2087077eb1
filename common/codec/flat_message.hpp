// Whole Cap'n Proto messages as byte strings, for on-disk and stored
// records (the master's registry, the agent's checkpoint). Any thread.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <string>

#include "common/codec/types_codec.hpp"
#include "tutti/status.hpp"

namespace tutti::codec {

// The message in the flat (unpacked, single-segment-table) form.
inline std::string toBytes(capnp::MallocMessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Runs `fn` on the root of `bytes` (a `what`, e.g. "registry record"),
// bounding the traversal by the input's size and turning any decoding
// error (CodecError from our decoders, kj::Exception from Cap'n Proto) into
// InvalidArgument naming `what`.
template <typename Root, typename Fn>
Status readRoot(const std::string& bytes, const char* what, Fn fn) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return Status::InvalidArgument(std::string("not a ") + what + " (size " +
                                   std::to_string(bytes.size()) + ")");
  }
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 4 + 1024;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    fn(reader.getRoot<Root>());
    return Status::OK();
  } catch (const CodecError& e) {
    return Status::InvalidArgument(std::string("invalid ") + what + ": " + e.what());
  } catch (const kj::Exception& e) {
    return Status::InvalidArgument(std::string("malformed ") + what + ": " +
                                   e.getDescription().cStr());
  }
}

}  // namespace tutti::codec
