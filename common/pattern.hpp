// Pattern: a regular expression from untrusted input (LIKE/UNLIKE placement
// constraints in app definitions and job files), matched against a whole
// value. Backed by RE2: matching is linear in the input and compiling uses
// bounded memory and no recursion, so a hostile pattern can neither hang a
// scheduler (catastrophic backtracking) nor overflow its stack (deeply
// nested groups), as std::regex can.
//
// Value type: copies share one immutable compiled program and may be used
// from any thread.
// Errors: compile() gives InvalidArgument naming what is wrong (too long,
// a syntax error, too complex).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tutti/status.hpp"

namespace re2 {
class RE2;
}

namespace tutti {

class Pattern {
 public:
  // Longest pattern accepted, in bytes.
  static constexpr size_t kMaxLength = 4096;

  // RE2 syntax (Perl-like without back-references or look-around).
  static Result<Pattern> compile(const std::string& pattern);

  // Whether all of `value` matches (as Java's String.matches, Marathon's LIKE).
  bool fullMatch(std::string_view value) const;
  const std::string& source() const { return source_; }

  bool operator==(const Pattern& o) const { return source_ == o.source_; }

 private:
  Pattern() = default;
  std::string source_;
  std::shared_ptr<const re2::RE2> re_;
};

}  // namespace tutti
