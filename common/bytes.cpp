#include "common/bytes.hpp"

#include <cctype>
#include <charconv>

namespace tutti {

Result<uint64_t> parseBytes(const std::string& text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + text + "' is not a size (e.g. 2GB, 512MB, 100B)");
  };
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return bad();
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "KB") {
    shift = 10;
  } else if (unit == "MB") {
    shift = 20;
  } else if (unit == "GB") {
    shift = 30;
  } else if (unit == "TB") {
    shift = 40;
  } else {
    return bad();
  }
  if (n > (uint64_t{1} << (63 - shift))) return bad();
  return n << shift;
}

}  // namespace tutti
