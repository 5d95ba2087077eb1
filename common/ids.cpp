#include "common/ids.hpp"

#include <random>

namespace tutti {

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  return gen;
}
}  // namespace

std::string randomUuidBytes() {
  std::string out(16, '\0');
  uint64_t a = rng()();
  uint64_t b = rng()();
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((a >> (i * 8)) & 0xff);
    out[8 + i] = static_cast<char>((b >> (i * 8)) & 0xff);
  }
  out[6] = static_cast<char>((out[6] & 0x0f) | 0x40);  // version 4
  out[8] = static_cast<char>((out[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return out;
}

std::string toHex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string uuidToString(std::string_view bytes) {
  std::string hex = toHex(bytes);
  if (hex.size() != 32) return hex;
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

std::string newUuid() { return uuidToString(randomUuidBytes()); }

Status validateId(std::string_view kind, std::string_view id) {
  if (id.empty()) return Status::InvalidArgument(std::string(kind) + " must not be empty");
  if (id.size() > 255) {
    return Status::InvalidArgument(std::string(kind) + " is longer than 255 bytes");
  }
  if (id == "." || id == "..") {
    return Status::InvalidArgument(std::string(kind) + " '" + std::string(id) +
                                   "' is not allowed");
  }
  for (unsigned char c : id) {
    if (c == '/' || c <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(kind) + " '" + std::string(id) +
                                     "' contains '/', whitespace or a control character");
    }
  }
  return Status::OK();
}

}  // namespace tutti
