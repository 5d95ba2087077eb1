#include "common/pattern.hpp"

#include <re2/re2.h>

namespace tutti {
namespace {
// Memory for the compiled program; a pattern needing more is "too complex".
constexpr int64_t kMaxProgramBytes = 1 << 20;
}  // namespace

Result<Pattern> Pattern::compile(const std::string& pattern) {
  if (pattern.size() > kMaxLength) {
    return Status::InvalidArgument("regular expression longer than " +
                                   std::to_string(kMaxLength) + " bytes");
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxProgramBytes);
  auto re = std::make_shared<const RE2>(pattern, options);
  if (!re->ok()) {
    std::string why = re->error_code() == RE2::ErrorPatternTooLarge ? "too complex"
                                                                      : re->error();
    return Status::InvalidArgument("'" + pattern + "' is not a valid regular expression: " + why);
  }
  Pattern p;
  p.source_ = pattern;
  p.re_ = std::move(re);
  return p;
}

bool Pattern::fullMatch(std::string_view value) const {
  return re_ && RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *re_);
}

}  // namespace tutti
