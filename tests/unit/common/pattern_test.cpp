// Pattern: regular expressions from untrusted input.
#include "common/pattern.hpp"

#include <gtest/gtest.h>

namespace tutti {
namespace {

TEST(PatternTest, MatchesTheWholeValue) {
  auto p = Pattern::compile("rack-[12]");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->fullMatch("rack-1"));
  EXPECT_TRUE(p->fullMatch("rack-2"));
  EXPECT_FALSE(p->fullMatch("rack-3"));
  EXPECT_FALSE(p->fullMatch("my-rack-1"));  // not a search
  EXPECT_FALSE(p->fullMatch("rack-12"));
  EXPECT_EQ(p->source(), "rack-[12]");
  auto copy = *p;
  EXPECT_TRUE(copy == *p);
  EXPECT_TRUE(copy.fullMatch("rack-1"));
}

TEST(PatternTest, SyntaxErrorsAreExplained) {
  auto p = Pattern::compile("rack-[12");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("'rack-[12' is not a valid regular expression"),
            std::string::npos)
      << p.status().message();
  // Back-references are not supported (they would need backtracking).
  EXPECT_FALSE(Pattern::compile("(a)\\1").ok());
}

TEST(PatternTest, OverlongAndDeeplyNestedPatternsAreRejectedNotFatal) {
  auto longer = Pattern::compile(std::string(Pattern::kMaxLength + 1, 'a'));
  ASSERT_FALSE(longer.ok());
  EXPECT_NE(longer.status().message().find("longer than"), std::string::npos);
  EXPECT_TRUE(Pattern::compile(std::string(Pattern::kMaxLength, 'a')).ok());
  // std::regex overflows its stack on nesting like this; RE2 answers.
  std::string nested = std::string(2000, '(') + "a" + std::string(2000, ')');
  auto deep = Pattern::compile(nested);
  if (deep.ok()) {
    EXPECT_TRUE(deep->fullMatch("a"));
  }
  // A program over the memory budget is refused as too complex.
  auto big = Pattern::compile("((((a{100}){100}){100}){100})");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("not a valid regular expression"), std::string::npos)
      << big.status().message();
}

TEST(PatternTest, MatchingIsLinearOnBacktrackingBait) {
  // Exponential for a backtracking matcher (std::regex): 2^5000 paths.
  auto p = Pattern::compile("(a|aa)*c");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->fullMatch(std::string(5000, 'a')));
  auto q = Pattern::compile("(.*)*x");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->fullMatch(std::string(100000, 'y')));
}

}  // namespace
}  // namespace tutti
