// Unit tests for tutti::Resources: text form, arithmetic, reservations.
#include "tutti/resources.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tutti {

// Readable gtest output for ranges (found by ADL; internal linkage so it
// cannot clash with other test files).
[[maybe_unused]] static void PrintTo(const Range& r, std::ostream* os) {
  *os << r.begin << "-" << r.end;
}

namespace {

// EXPECT_PRED_FORMAT2 helper: prints both strings when `needle` is missing.
::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " (\"" << haystack
                                       << "\") does not contain " << needleExpr << " (\""
                                       << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)
using Type = ReservationInfo::Type;

// Parses text that the test expects to be valid; a failure reports the
// parser's message instead of crashing on value().
Resources parsed(std::string_view text, std::string_view defaultRole = "*") {
  auto r = Resources::parse(text, defaultRole);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

// The error message of a parse the test expects to fail.
std::string parseError(std::string_view text, std::string_view defaultRole = "*") {
  auto r = Resources::parse(text, defaultRole);
  EXPECT_FALSE(r.ok()) << "parse(\"" << text << "\") unexpectedly gave " << r->toString();
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  return r.error();
}

Resource scalar(std::string name, int64_t millis, std::vector<ReservationInfo> reservations = {},
                std::optional<std::string> allocationRole = std::nullopt) {
  Resource r;
  r.name = std::move(name);
  r.type = Resource::Type::SCALAR;
  r.scalarMillis = millis;
  r.reservations = std::move(reservations);
  r.allocationRole = std::move(allocationRole);
  return r;
}

Resource ranges(std::string name, std::vector<Range> value) {
  Resource r;
  r.name = std::move(name);
  r.type = Resource::Type::RANGES;
  r.ranges = std::move(value);
  return r;
}

Resource setOf(std::string name, std::set<std::string> items) {
  Resource r;
  r.name = std::move(name);
  r.type = Resource::Type::SET;
  r.set = std::move(items);
  return r;
}

ReservationInfo staticFor(std::string role) { return {Type::STATIC, std::move(role), "", {}}; }
ReservationInfo dynamicFor(std::string role, std::string principal = "") {
  return {Type::DYNAMIC, std::move(role), std::move(principal), {}};
}

// ---- Scalars ------------------------------------------------------------------

TEST(ScalarMillisTest, ParsesDecimalsToThousandths) {
  EXPECT_EQ(*parseScalarMillis("0.5"), 500);
  EXPECT_EQ(*parseScalarMillis("2048"), 2048000);
  EXPECT_EQ(*parseScalarMillis("0.001"), 1);
  EXPECT_EQ(*parseScalarMillis("0"), 0);
  EXPECT_EQ(*parseScalarMillis("007"), 7000);
  EXPECT_EQ(*parseScalarMillis(".25"), 250);
  EXPECT_EQ(*parseScalarMillis("3."), 3000);
  EXPECT_EQ(*parseScalarMillis(" 1.5 "), 1500);
  EXPECT_EQ(*parseScalarMillis("1234.567"), 1234567);
}

TEST(ScalarMillisTest, RoundsToNearestThousandth) {
  EXPECT_EQ(*parseScalarMillis("0.0004"), 0);
  EXPECT_EQ(*parseScalarMillis("0.0005"), 1);
  EXPECT_EQ(*parseScalarMillis("0.00049999"), 0);
  EXPECT_EQ(*parseScalarMillis("1.9994"), 1999);
  EXPECT_EQ(*parseScalarMillis("1.9995"), 2000);
  EXPECT_EQ(*parseScalarMillis("0.1234999999999999"), 123);
}

TEST(ScalarMillisTest, CapIsTwoToThe53Thousandths) {
  // 2^53 = 9007199254740992 thousandths.
  EXPECT_EQ(*parseScalarMillis("9007199254740.992"), int64_t{1} << 53);
  EXPECT_HAS_SUBSTR(parseScalarMillis("9007199254740.993").error(), "too large");
  EXPECT_HAS_SUBSTR(parseScalarMillis("9007199254741").error(), "too large");
  EXPECT_HAS_SUBSTR(parseScalarMillis("99999999999999999999999999999999").error(), "too large");
}

TEST(ScalarMillisTest, RejectsGarbage) {
  for (const char* bad : {"", " ", "-1", "-0", "- 1", "abc", "nan", "NaN", "inf", "-inf",
                          "infinity", "1e3", "1E3", "1.2.3", "+1", "0x10", "1 2", ".", "1,5",
                          "12abc", "99999999999999999999999x"}) {
    auto r = parseScalarMillis(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "' gave " << (r.ok() ? *r : 0);
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(parseScalarMillis("abc").error(), "'abc' is not a number");
  EXPECT_EQ(parseScalarMillis("-1").error(), "'-1' is negative");
  // Garbage after an over-long number is reported as garbage, not size.
  EXPECT_HAS_SUBSTR(parseScalarMillis("99999999999999999999999x").error(), "not a number");
}

TEST(ScalarMillisTest, FormatsWithoutTrailingZeros) {
  EXPECT_EQ(formatScalarMillis(500), "0.5");
  EXPECT_EQ(formatScalarMillis(2048000), "2048");
  EXPECT_EQ(formatScalarMillis(1), "0.001");
  EXPECT_EQ(formatScalarMillis(10), "0.01");
  EXPECT_EQ(formatScalarMillis(0), "0");
  EXPECT_EQ(formatScalarMillis(1234567), "1234.567");
  EXPECT_EQ(formatScalarMillis(1001), "1.001");
  EXPECT_EQ(formatScalarMillis(-1500), "-1.5");
  EXPECT_EQ(formatScalarMillis(int64_t{1} << 53), "9007199254740.992");
}

TEST(ScalarMillisTest, FormatThenParseIsIdentity) {
  for (int64_t m : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{10}, int64_t{99}, int64_t{100},
                    int64_t{999}, int64_t{1000}, int64_t{123456789}, int64_t{1} << 53}) {
    EXPECT_EQ(*parseScalarMillis(formatScalarMillis(m)), m) << m;
  }
}

// ---- Roles --------------------------------------------------------------------

TEST(RoleNameTest, AcceptsValidRoles) {
  for (const char* role : {"*", "eng", "eng/web", "eng/web/api", "a-b", "a.b", "..a", "a..",
                           "_x", "x*", "role1", "\xc3\xa9quipe"}) {
    EXPECT_TRUE(validateRoleName(role).ok()) << role << ": " << validateRoleName(role);
  }
}

TEST(RoleNameTest, RejectsInvalidRoles) {
  for (const char* role : {"", ".", "..", "-eng", "eng/-web", "/eng", "eng/", "eng//web",
                           "eng/./web", "eng/..", "../eng", "a b", "a\tb", "a\nb", "a\x01",
                           "a\x7f", " eng", "eng/*", "*/eng", "**/", "a(b", "a)b", "a:b", "a,b",
                           "a;b", "a[b", "a}b"}) {
    Status s = validateRoleName(role);
    EXPECT_FALSE(s.ok()) << "'" << role << "' was accepted";
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << role;
  }
  EXPECT_HAS_SUBSTR(validateRoleName("/bad").message(), "'/bad'");
}

// ---- Parsing ------------------------------------------------------------------

TEST(ResourcesParseTest, ParsesTheMesosExample) {
  Resources r = parsed(
      "cpus:4;mem:2048;disk:10000;ports:[31000-32000];gpus:0;cpus(eng):2;bugs:{a,b}");
  // gpus:0 is an empty entry and disappears in canonical form.
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r.cpus(), 6.0);
  EXPECT_EQ(r.mem(), 2048.0);
  EXPECT_EQ(r.disk(), 10000.0);
  EXPECT_EQ(r.gpus(), std::nullopt);
  EXPECT_EQ(r.ports(), (std::vector<Range>{{31000, 32000}}));
  EXPECT_EQ(r.names(), (std::set<std::string>{"bugs", "cpus", "disk", "mem", "ports"}));
  EXPECT_EQ(r.reserved("eng").scalarMillis("cpus"), 2000);
  EXPECT_EQ(r.unreserved().scalarMillis("cpus"), 4000);

  const Resource& bugs = r.list()[0];
  EXPECT_EQ(bugs.name, "bugs");
  EXPECT_EQ(bugs.type, Resource::Type::SET);
  EXPECT_EQ(bugs.set, (std::set<std::string>{"a", "b"}));

  const Resource& engCpus = r.list()[2];
  EXPECT_EQ(engCpus.name, "cpus");
  ASSERT_EQ(engCpus.reservations.size(), 1u);
  EXPECT_EQ(engCpus.reservations[0], staticFor("eng"));
  EXPECT_EQ(engCpus.reservationRole(), "eng");
  EXPECT_FALSE(engCpus.allocationRole.has_value());
}

TEST(ResourcesParseTest, TrimsWhitespaceAndIgnoresEmptyEntries) {
  Resources r = parsed("  cpus : 4 ;\tmem:  2048 ;; ports: [ 5 - 6 , 1-2 ] ; s:{ b , a } ;");
  EXPECT_EQ(r.toString(), "cpus:4;mem:2048;ports:[1-2, 5-6];s:{a,b}");
  EXPECT_EQ(parsed(" cpus ( eng ) : 1 ").toString(), "cpus(eng):1");
  EXPECT_TRUE(parsed("").empty());
  EXPECT_TRUE(parsed(" ; ;; ").empty());
  EXPECT_TRUE(parsed("ports:[];s:{};cpus:0").empty());
}

TEST(ResourcesParseTest, MergesEntriesOfTheSameKind) {
  Resources r = parsed("cpus:1;cpus:2.5;ports:[1-2];ports:[3-4];s:{a};s:{b};cpus(*):1");
  EXPECT_EQ(r.toString(), "cpus:4.5;ports:[1-4];s:{a,b}");
  EXPECT_EQ(r.size(), 3u);
}

TEST(ResourcesParseTest, DefaultRoleAppliesOnlyToEntriesWithoutARole) {
  Resources r = parsed("cpus:1;mem(*):2;disk(ops):3;gpus(allocated: web):1", "eng");
  EXPECT_EQ(r.toString(), "cpus(eng):1;disk(ops):3;gpus(allocated: web):1;mem:2");
  EXPECT_EQ(r.reserved("eng").toString(), "cpus(eng):1");

  EXPECT_HAS_SUBSTR(parseError("cpus:1", "/bad"), "Invalid default role");
  EXPECT_HAS_SUBSTR(parseError("cpus:1", ""), "Invalid default role");
}

TEST(ResourcesParseTest, ParsesReservationStacksAndAllocationRoles) {
  Resources r = parsed(
      "cpus(allocated: eng/web)(reservations: [(STATIC,eng), (DYNAMIC, eng/web, alice)]):4");
  ASSERT_EQ(r.size(), 1u);
  const Resource& cpus = r.list()[0];
  EXPECT_EQ(cpus.scalarMillis, 4000);
  EXPECT_EQ(cpus.allocationRole, "eng/web");
  EXPECT_EQ(cpus.reservations,
            (std::vector<ReservationInfo>{staticFor("eng"), dynamicFor("eng/web", "alice")}));
  EXPECT_EQ(cpus.reservationRole(), "eng/web");

  // Group order does not matter; an empty reservation list means unreserved.
  EXPECT_EQ(parsed("cpus(reservations: [(DYNAMIC,eng)])(allocated: eng):1"),
            parsed("cpus(allocated: eng)(reservations: [(DYNAMIC,eng)]):1"));
  EXPECT_EQ(parsed("cpus(reservations: [])(allocated: eng):1", "ops").toString(),
            "cpus(allocated: eng):1");
  // `(eng)` is shorthand for a one-element static reservation list.
  EXPECT_EQ(parsed("cpus(eng):1"), parsed("cpus(reservations: [(STATIC,eng)]):1"));
}

TEST(ResourcesParseTest, ErrorNamesTheOffendingEntry) {
  EXPECT_EQ(parseError("cpus:abc"), "Invalid resource 'cpus:abc': 'abc' is not a number");
  EXPECT_EQ(parseError("cpus:1; mem:x ;disk:2"), "Invalid resource 'mem:x': 'x' is not a number");
  EXPECT_EQ(parseError("cpus:-1"), "Invalid resource 'cpus:-1': '-1' is negative");
  EXPECT_EQ(parseError("ports:[5-1]"),
            "Invalid resource 'ports:[5-1]': range '5-1' has begin > end");
}

TEST(ResourcesParseTest, RejectsMalformedText) {
  struct Case {
    const char* text;
    const char* expected;  // substring of the message
  };
  const Case cases[] = {
      {"cpus:", "missing value"},
      {"cpus: ", "missing value"},
      {":4", "missing resource name"},
      {"(eng):4", "missing resource name"},
      {"cpus", "missing ':'"},
      {"cpus(eng)", "missing ':'"},
      {"cp us:1", "whitespace"},
      {"cpus]:1", "contains ']'"},
      {"cpus{:1", "contains '{'"},
      {"cpus:nan", "not a number"},
      {"cpus:NaN", "not a number"},
      {"cpus:inf", "not a number"},
      {"cpus:1e3", "not a number"},
      {"cpus:1.2.3", "not a number"},
      {"cpus:4:5", "not a number"},
      {"cpus:99999999999999999999999999", "too large"},
      {"cpus:9007199254741", "too large"},
      {"ports:[1-2", "missing the closing ']'"},
      {"ports:[1-2]x", "missing the closing ']'"},
      {"ports:1-2]", "not a number"},
      {"ports:[5]", "not of the form 'begin-end'"},
      {"ports:[1-2,,3-4]", "not of the form 'begin-end'"},
      {"ports:[1-2,]", "not of the form 'begin-end'"},
      {"ports:[a-b]", "not a non-negative integer"},
      {"ports:[-1-2]", "missing number"},
      {"ports:[1--2]", "not a non-negative integer"},
      {"ports:[1-99999999999999999999999]", "too large"},
      {"ports:[[1-2]]", "not a non-negative integer"},
      {"s:{a,b", "missing the closing '}'"},
      {"s:a,b}", "not a number"},
      {"s:{a,,b}", "set item is empty"},
      {"s:{a,{b}}", "contains '{'"},
      {"cpus(eng:1", "missing ')'"},
      {"cpus(eng(x):1", "missing ')'"},
      {"cpus(eng))", "unexpected ')'"},
      {"cpus(eng)x:1", "unexpected 'x'"},
      {"cpus(eng):1)", "not a number"},
      {"cpus(/bad):1", "invalid role '/bad'"},
      {"cpus():1", "role is empty"},
      {"cpus(eng/*):1", "'*' component"},
      {"cpus(eng)(ops):1", "more than one reservation"},
      {"cpus(allocated: a)(allocated: b):1", "more than one allocation role"},
      {"cpus(allocated: ):1", "role is empty"},
      {"cpus(reservations: (STATIC,eng)):1", "must be enclosed in '[' and ']'"},
      {"cpus(reservations: [(STATIC,eng)):1", "must be enclosed in '[' and ']'"},
      {"cpus(reservations: [(FOO,eng)]):1", "neither STATIC nor DYNAMIC"},
      {"cpus(reservations: [(STATIC)]):1", "not of the form '(TYPE,role[,principal])'"},
      {"cpus(reservations: [(DYNAMIC,eng,a,b)]):1", "not of the form"},
      {"cpus(reservations: [(STATIC,*)]):1", "reservation role cannot be '*'"},
      {"cpus(reservations: [(DYNAMIC,eng,)]):1", "principal is empty"},
      {"cpus(reservations: [(STATIC,eng),]):1", "trailing ','"},
      {"cpus(reservations: [(STATIC,eng) (DYNAMIC,eng/a)]):1", "expected ','"},
      {"cpus(reservations: [(STATIC,eng),(STATIC,eng/web)]):1", "must be DYNAMIC"},
      {"cpus(reservations: [(DYNAMIC,ops),(DYNAMIC,eng)]):1", "does not refine 'ops'"},
      {"cpus(reservations: [(DYNAMIC,eng),(DYNAMIC,eng)]):1", "does not refine 'eng'"},
      {"cpus(reservations: [(DYNAMIC,eng),(DYNAMIC,engine)]):1", "does not refine"},
      {"cpus:1;cpus:[1-2]", "'cpus' is used both as scalar and as ranges"},
      {"cpus(eng):1;cpus:{a}", "'cpus' is used both as scalar and as set"},
      {"ports:[1-2];ports(eng):{a}", "used both as ranges and as set"},
      {"cpus:9007199254740;cpus:9007199254740", "too large"},
  };
  for (const Case& c : cases) {
    EXPECT_HAS_SUBSTR(parseError(c.text), c.expected) << "text: " << c.text;
  }
}

// ---- Printing -----------------------------------------------------------------

TEST(ResourcesPrintTest, PrintsCanonicalText) {
  Resources r = parsed(
      "cpus:4;mem:2048;disk:10000;ports:[31000-32000];gpus:0;cpus(eng):2;bugs:{b,a}");
  // Sorted by name; the unreserved kind sorts before reserved ones.
  EXPECT_EQ(r.toString(), "bugs:{a,b};cpus:4;cpus(eng):2;disk:10000;mem:2048;ports:[31000-32000]");
  std::ostringstream os;
  os << r;
  EXPECT_EQ(os.str(), r.toString());
  EXPECT_EQ(Resources().toString(), "");
}

TEST(ResourcesPrintTest, PrintsRangesSetsAndFractions) {
  EXPECT_EQ(parsed("ports:[33000-33001,31000-32000]").toString(),
            "ports:[31000-32000, 33000-33001]");
  EXPECT_EQ(parsed("s:{c,a,b}").toString(), "s:{a,b,c}");
  EXPECT_EQ(parsed("cpus:0.5;mem:0.0015").toString(), "cpus:0.5;mem:0.002");
  EXPECT_EQ(formatRanges({}), "[]");
  EXPECT_EQ(formatRanges({{1, 10}, {20, 30}}), "[1-10, 20-30]");
}

TEST(ResourcesPrintTest, PrintsReservationStacksAndAllocation) {
  auto r = Resources::fromList({scalar("cpus", 4000,
                                       {staticFor("eng"), dynamicFor("eng/web", "alice")},
                                       "eng/web")});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->toString(),
            "cpus(allocated: eng/web)(reservations: [(STATIC,eng),(DYNAMIC,eng/web,alice)]):4");

  EXPECT_EQ(Resources{scalar("cpus", 1000, {dynamicFor("eng")})}.toString(),
            "cpus(reservations: [(DYNAMIC,eng)]):1");
  EXPECT_EQ(Resources{scalar("cpus", 1000, {}, "eng")}.toString(), "cpus(allocated: eng):1");
  EXPECT_EQ(Resources{scalar("cpus", 1000, {staticFor("eng")}, "eng")}.toString(),
            "cpus(allocated: eng)(reservations: [(STATIC,eng)]):1");
  // A static reservation that names a principal needs the long form.
  EXPECT_EQ(Resources{scalar("cpus", 1000, {{Type::STATIC, "eng", "bob", {}}})}.toString(),
            "cpus(reservations: [(STATIC,eng,bob)]):1");
}

TEST(ResourcesPrintTest, RoundTripsThroughText) {
  for (const char* text : {
           "cpus:4;mem:2048;disk:10000;ports:[31000-32000];gpus:0;cpus(eng):2;bugs:{a,b}",
           "cpus:0.001;mem:1234.567",
           "ports:[0-0, 2-3, 18446744073709551615-18446744073709551615]",
           "cpus(allocated: eng/web)(reservations: [(STATIC,eng),(DYNAMIC,eng/web,alice)]):4",
           "cpus(reservations: [(DYNAMIC,eng)]):1;cpus(allocated: x):2;cpus(eng):3;cpus:4",
           "s(eng/a):{x y,z};s:{q}",
           "cpus(reservations: [(STATIC,eng,bob)]):1",
       }) {
    Resources first = parsed(text);
    std::string printed = first.toString();
    Resources second = parsed(printed);
    EXPECT_EQ(second, first) << text << " -> " << printed << " -> " << second;
    EXPECT_EQ(second.toString(), printed);
  }
}

TEST(ResourcesPrintTest, LabelsAreNotPartOfTheTextForm) {
  ReservationInfo labelled = dynamicFor("eng", "alice");
  labelled.labels = {{"team", "x"}};
  Resources withLabels{scalar("cpus", 1000, {labelled})};
  EXPECT_EQ(withLabels.toString(), "cpus(reservations: [(DYNAMIC,eng,alice)]):1");
  Resources reparsed = parsed(withLabels.toString());
  EXPECT_NE(reparsed, withLabels);
  EXPECT_EQ(reparsed, (Resources{scalar("cpus", 1000, {dynamicFor("eng", "alice")})}));
}

// ---- Arithmetic ---------------------------------------------------------------

TEST(ResourcesArithmeticTest, AddsAndSubtractsScalars) {
  Resources a = parsed("cpus:4;mem:1024");
  Resources b = parsed("cpus:1.5;disk:10");
  EXPECT_EQ((a + b).toString(), "cpus:5.5;disk:10;mem:1024");
  EXPECT_EQ((a - b).toString(), "cpus:2.5;mem:1024");
  // Never below zero; emptied kinds vanish.
  EXPECT_EQ((parsed("cpus:1;mem:5") - parsed("cpus:2")).toString(), "mem:5");
  EXPECT_TRUE((parsed("cpus:1") - parsed("cpus:1")).empty());
}

TEST(ResourcesArithmeticTest, FixedPointIsExact) {
  Resources sum;
  Resources tenth = parsed("cpus:0.1");
  for (int i = 0; i < 10; ++i) sum += tenth;
  EXPECT_EQ(sum, parsed("cpus:1"));
  EXPECT_EQ(sum.scalarMillis("cpus"), 1000);
  EXPECT_EQ(sum.cpus(), 1.0);
  EXPECT_EQ(parsed("cpus:0.1") + parsed("cpus:0.2"), parsed("cpus:0.3"));
  for (int i = 0; i < 10; ++i) sum -= tenth;
  EXPECT_TRUE(sum.empty()) << sum;
}

TEST(ResourcesArithmeticTest, SplitsRangesOnSubtraction) {
  auto minus = [](const char* a, const char* b) {
    return (parsed(std::string("ports:") + a) - parsed(std::string("ports:") + b)).ports();
  };
  using V = std::vector<Range>;
  EXPECT_EQ(minus("[1-10]", "[4-5]"), (V{{1, 3}, {6, 10}}));
  EXPECT_EQ(minus("[1-10]", "[1-10]"), V{});
  EXPECT_EQ(minus("[1-10]", "[0-3]"), (V{{4, 10}}));
  EXPECT_EQ(minus("[1-10]", "[8-20]"), (V{{1, 7}}));
  EXPECT_EQ(minus("[1-10]", "[11-20]"), (V{{1, 10}}));
  EXPECT_EQ(minus("[1-10]", "[2-2, 4-4, 6-6]"), (V{{1, 1}, {3, 3}, {5, 5}, {7, 10}}));
  EXPECT_EQ(minus("[1-3, 5-8]", "[2-6]"), (V{{1, 1}, {7, 8}}));
  EXPECT_EQ(minus("[1-3, 5-8, 10-12]", "[0-0, 3-5, 12-40]"), (V{{1, 2}, {6, 8}, {10, 11}}));
  EXPECT_EQ(minus("[0-18446744073709551615]", "[0-0, 18446744073709551615-18446744073709551615]"),
            (V{{1, 18446744073709551614ULL}}));
  EXPECT_EQ((parsed("ports:[1-10]") - parsed("ports:[4-5]")).toString(), "ports:[1-3, 6-10]");
}

TEST(ResourcesArithmeticTest, UnitesAndCoalescesRanges) {
  using V = std::vector<Range>;
  EXPECT_EQ((parsed("p:[1-2]") + parsed("p:[3-4]")).toString(), "p:[1-4]");
  EXPECT_EQ((parsed("p:[1-5]") + parsed("p:[3-8]")).toString(), "p:[1-8]");
  EXPECT_EQ((parsed("p:[1-2]") + parsed("p:[4-5]")).toString(), "p:[1-2, 4-5]");
  EXPECT_EQ((parsed("p:[1-2, 4-5]") + parsed("p:[3-3]")).toString(), "p:[1-5]");
  // {9, 4} is inverted and dropped; 3 and 5 are not adjacent (4 is missing).
  EXPECT_EQ(coalesceRanges({{5, 6}, {1, 2}, {3, 3}, {9, 4}, {10, 10}}),
            (V{{1, 3}, {5, 6}, {10, 10}}));
  EXPECT_EQ(coalesceRanges({{5, 6}, {1, 2}, {3, 4}}), (V{{1, 6}}));
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(coalesceRanges({{max, max}, {0, 0}, {1, max - 1}}), (V{{0, max}}));
  EXPECT_EQ(coalesceRanges({{0, max}, {0, 0}}), (V{{0, max}}));
  EXPECT_EQ(coalesceRanges({}), V{});
}

TEST(ResourcesArithmeticTest, UnitesAndSubtractsSets) {
  EXPECT_EQ((parsed("s:{a,b}") + parsed("s:{b,c}")).toString(), "s:{a,b,c}");
  EXPECT_EQ((parsed("s:{a,b,c}") - parsed("s:{b,x}")).toString(), "s:{a,c}");
  EXPECT_TRUE((parsed("s:{a}") - parsed("s:{a}")).empty());
}

TEST(ResourcesArithmeticTest, KindsDoNotMix) {
  Resources r = parsed("cpus:4");
  EXPECT_EQ(r - parsed("cpus(eng):1"), r);
  EXPECT_EQ(r - parsed("cpus(allocated: eng):1"), r);
  EXPECT_EQ((r + parsed("cpus(eng):1")).size(), 2u);
}

TEST(ResourcesArithmeticTest, SelfAssignmentOperators) {
  Resources r = parsed("cpus:1;ports:[1-2];s:{a}");
  r += r;
  EXPECT_EQ(r.toString(), "cpus:2;ports:[1-2];s:{a}");
  r -= r;
  EXPECT_TRUE(r.empty());
  Resources q = parsed("cpus:1;mem:2");
  q += q.list()[1];  // the argument aliases an element that may move
  EXPECT_EQ(q.toString(), "cpus:1;mem:4");
}

TEST(ResourcesArithmeticTest, EmptyAndNegativeResourcesAreIgnored) {
  Resources r = parsed("cpus:1");
  r += scalar("mem", 0);
  r += scalar("mem", -5);
  r += ranges("ports", {});
  r += ranges("ports", {{9, 1}});
  r += setOf("s", {});
  EXPECT_EQ(r.toString(), "cpus:1");
  r -= scalar("cpus", -5);
  EXPECT_EQ(r.toString(), "cpus:1");
}

TEST(ResourcesArithmeticTest, NonCanonicalRangesAreCanonicalisedOnAdd) {
  Resources r;
  r += ranges("ports", {{7, 8}, {1, 3}, {2, 6}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.list()[0].ranges, (std::vector<Range>{{1, 8}}));
  r -= ranges("ports", {{5, 5}, {2, 2}});
  EXPECT_EQ(r.ports(), (std::vector<Range>{{1, 1}, {3, 4}, {6, 8}}));
}

TEST(ResourcesArithmeticTest, ScalarSumsSaturateInsteadOfOverflowing) {
  Resources r{scalar("cpus", std::numeric_limits<int64_t>::max())};
  r += scalar("cpus", 1000);
  EXPECT_EQ(r.scalarMillis("cpus"), std::numeric_limits<int64_t>::max());
}

// ---- Containment --------------------------------------------------------------

TEST(ResourcesContainsTest, ScalarsRangesAndSets) {
  Resources r = parsed("cpus:4;mem:1024;ports:[1-10, 20-30];s:{a,b,c}");
  EXPECT_TRUE(r.contains(r));
  EXPECT_TRUE(r.contains(Resources()));
  EXPECT_TRUE(Resources().contains(Resources()));
  EXPECT_FALSE(Resources().contains(parsed("cpus:1")));
  EXPECT_TRUE(r.contains(parsed("cpus:2;mem:1024")));
  EXPECT_FALSE(r.contains(parsed("cpus:4.001")));
  EXPECT_FALSE(r.contains(parsed("cpus:1;disk:1")));
  EXPECT_TRUE(r.contains(parsed("ports:[2-3, 5-6, 20-30]")));
  EXPECT_FALSE(r.contains(parsed("ports:[9-11]")));
  EXPECT_FALSE(r.contains(parsed("ports:[0-1]")));
  EXPECT_FALSE(r.contains(parsed("ports:[31-31]")));
  EXPECT_TRUE(r.contains(parsed("s:{a,c}")));
  EXPECT_FALSE(r.contains(parsed("s:{a,d}")));
  EXPECT_FALSE(parsed("p:[1-3, 5-7]").contains(parsed("p:[3-5]")));
  EXPECT_TRUE(r.contains(ranges("ports", {{6, 7}, {2, 3}})));  // unsorted argument
  EXPECT_TRUE(r.contains(scalar("gpus", 0)));
}

TEST(ResourcesContainsTest, ReservationsAndAllocationAreDistinctKinds) {
  Resources unreserved = parsed("cpus:1");
  Resources reserved = parsed("cpus(eng):1");
  EXPECT_FALSE(unreserved.contains(reserved));
  EXPECT_FALSE(reserved.contains(unreserved));
  EXPECT_FALSE(unreserved.contains(unreserved.allocate("eng")));
  EXPECT_TRUE(unreserved.allocate("eng").contains(parsed("cpus(allocated: eng):0.5")));
}

TEST(ResourcesContainsTest, SumContainsItsParts) {
  Resources a = parsed("cpus:1;ports:[1-5];s:{a}");
  Resources b = parsed("cpus(eng):2;ports:[6-9];s:{b}");
  Resources sum = a + b;
  EXPECT_TRUE(sum.contains(a));
  EXPECT_TRUE(sum.contains(b));
  EXPECT_EQ(sum - b, a);
  // Ranges and sets are sets, not multisets: an overlap is counted once, so
  // subtracting one addend removes it from the other as well.
  Resources overlapping = parsed("ports:[3-7]");
  EXPECT_TRUE((a + overlapping).contains(a));
  EXPECT_EQ((a + overlapping - overlapping).toString(), "cpus:1;ports:[1-2];s:{a}");
}

// ---- Reservations and allocation ---------------------------------------------

TEST(ResourcesRolesTest, ReservedSelectsTheInnermostRole) {
  Resources r = parsed("cpus:8;cpus(eng):4;cpus(eng/web):2;cpus(ops):1;mem(eng/web/api):64");
  EXPECT_EQ(r.reserved("eng").toString(), "cpus(eng):4");
  EXPECT_EQ(r.reserved("eng/web").toString(), "cpus(eng/web):2");
  EXPECT_TRUE(r.reserved("*").empty());
  EXPECT_TRUE(r.reserved("nobody").empty());
  EXPECT_EQ(r.reserved().toString(), "cpus(eng):4;cpus(eng/web):2;cpus(ops):1;mem(eng/web/api):64");
  EXPECT_EQ(r.unreserved().toString(), "cpus:8");

  Resources refined{scalar("cpus", 1000, {staticFor("eng"), dynamicFor("eng/web", "alice")})};
  EXPECT_EQ(refined.reserved("eng/web"), refined);
  EXPECT_TRUE(refined.reserved("eng").empty());
}

TEST(ResourcesRolesTest, AllocatableToFollowsTheRoleHierarchy) {
  Resources r = parsed("cpus:8;cpus(eng):4;cpus(eng/web):2;cpus(ops):1;mem(eng/web/api):64");
  EXPECT_EQ(r.allocatableTo("eng/web").toString(), "cpus:8;cpus(eng):4;cpus(eng/web):2");
  EXPECT_EQ(r.allocatableTo("eng").toString(), "cpus:8;cpus(eng):4");
  EXPECT_EQ(r.allocatableTo("eng/web/api").toString(),
            "cpus:8;cpus(eng):4;cpus(eng/web):2;mem(eng/web/api):64");
  EXPECT_EQ(r.allocatableTo("ops/batch").toString(), "cpus:8;cpus(ops):1");
  // A textual prefix is not an ancestor.
  EXPECT_EQ(r.allocatableTo("engineering").toString(), "cpus:8");
  EXPECT_EQ(r.allocatableTo("en").toString(), "cpus:8");
  EXPECT_EQ(r.allocatableTo("web").toString(), "cpus:8");
}

TEST(ResourcesRolesTest, AllocateAndUnallocate) {
  Resources r = parsed("cpus:2;cpus(eng):1;ports:[1-3]");
  Resources a = r.allocate("eng");
  EXPECT_EQ(a.toString(),
            "cpus(allocated: eng):2;cpus(allocated: eng)(reservations: [(STATIC,eng)]):1;"
            "ports(allocated: eng):[1-3]");
  for (const auto& resource : a) EXPECT_EQ(resource.allocationRole, "eng");
  EXPECT_EQ(a.allocationRoles(), (std::set<std::string>{"eng"}));
  EXPECT_TRUE(r.allocationRoles().empty());
  EXPECT_EQ(a.unallocate(), r);
  EXPECT_EQ(parsed(a.toString()), a);

  // Allocations to different roles are different kinds; unallocating merges.
  Resources two = r.allocate("a") + r.allocate("b");
  EXPECT_EQ(two.size(), 6u);
  EXPECT_EQ(two.allocationRoles(), (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(two.unallocate().toString(), "cpus:4;cpus(eng):2;ports:[1-3]");
  // Re-allocating merges kinds that differed only by allocation role.
  EXPECT_EQ(two.allocate("c").toString(),
            "cpus(allocated: c):4;cpus(allocated: c)(reservations: [(STATIC,eng)]):2;"
            "ports(allocated: c):[1-3]");
}

TEST(ResourcesRolesTest, FlattenDropsRolesAndMerges) {
  Resources r = parsed("cpus:1;cpus(eng):2;cpus(allocated: ops):3;ports:[1-2];ports(eng):[3-4]");
  EXPECT_EQ(r.flatten().toString(), "cpus:6;ports:[1-4]");
  EXPECT_TRUE(r.flatten().reserved().empty());
  EXPECT_TRUE(r.flatten().allocationRoles().empty());
}

TEST(ResourcesRolesTest, PushAndPopReservation) {
  Resources r = parsed("cpus:4;mem(eng):100");
  Resources pushed = r.pushReservation(dynamicFor("eng/web", "alice"));
  ASSERT_EQ(pushed.size(), 2u);
  EXPECT_EQ(pushed.list()[0].reservations,
            (std::vector<ReservationInfo>{dynamicFor("eng/web", "alice")}));
  EXPECT_EQ(pushed.list()[1].reservations,
            (std::vector<ReservationInfo>{staticFor("eng"), dynamicFor("eng/web", "alice")}));
  EXPECT_EQ(pushed.reserved("eng/web").flatten(), r.flatten());
  EXPECT_EQ(pushed.toString(),
            "cpus(reservations: [(DYNAMIC,eng/web,alice)]):4;"
            "mem(reservations: [(STATIC,eng),(DYNAMIC,eng/web,alice)]):100");
  EXPECT_EQ(parsed(pushed.toString()), pushed);
  EXPECT_EQ(pushed.popReservation(), r);
  // Popping merges kinds and leaves unreserved entries alone.
  EXPECT_EQ(parsed("cpus:1;cpus(eng):2").popReservation().toString(), "cpus:3");
  EXPECT_EQ(parsed("mem:5").popReservation().toString(), "mem:5");
}

// ---- Accessors ----------------------------------------------------------------

TEST(ResourcesAccessorsTest, SumsAcrossKinds) {
  Resources r = parsed("cpus:1;cpus(eng):0.5;cpus(allocated: x):2;mem:64;ports:[1-2];"
                       "ports(eng):[3-4, 10-11];disk(eng):7;gpus:1");
  EXPECT_EQ(r.cpus(), 3.5);
  EXPECT_EQ(r.scalar("cpus"), 3.5);
  EXPECT_EQ(r.scalarMillis("cpus"), 3500);
  EXPECT_EQ(r.mem(), 64.0);
  EXPECT_EQ(r.disk(), 7.0);
  EXPECT_EQ(r.gpus(), 1.0);
  EXPECT_EQ(r.scalar("nothing"), 0.0);
  EXPECT_EQ(r.scalar("ports"), 0.0);  // not a scalar
  EXPECT_EQ(r.ports(), (std::vector<Range>{{1, 4}, {10, 11}}));
  EXPECT_EQ(r.names(), (std::set<std::string>{"cpus", "disk", "gpus", "mem", "ports"}));

  Resources none = parsed("bugs:{a}");
  EXPECT_EQ(none.cpus(), std::nullopt);
  EXPECT_EQ(none.mem(), std::nullopt);
  EXPECT_EQ(none.disk(), std::nullopt);
  EXPECT_EQ(none.gpus(), std::nullopt);
  EXPECT_TRUE(none.ports().empty());
}

TEST(ResourcesAccessorsTest, FilterKeepsCanonicalOrder) {
  Resources r = parsed("a:1;b:2;c:3;d(eng):4");
  Resources odd = r.filter([](const Resource& x) { return x.scalarMillis % 2000 != 0; });
  EXPECT_EQ(odd.toString(), "a:1;c:3");
  EXPECT_EQ(odd + parsed("b:2;d(eng):4"), r);
}

TEST(ResourceTest, KindHelpers) {
  Resource plain = scalar("cpus", 1000);
  Resource refined = scalar("cpus", 1000, {staticFor("eng"), dynamicFor("eng/web")});
  EXPECT_EQ(plain.reservationRole(), "*");
  EXPECT_FALSE(plain.isReserved());
  EXPECT_EQ(refined.reservationRole(), "eng/web");
  EXPECT_TRUE(refined.isReserved());
  EXPECT_FALSE(plain.sameKind(refined));
  EXPECT_TRUE(plain.sameKind(scalar("cpus", 5)));
  EXPECT_FALSE(plain.sameKind(scalar("cpus", 1000, {}, "eng")));
  EXPECT_FALSE(plain.sameKind(ranges("cpus", {})));
  EXPECT_TRUE(scalar("x", 0).isEmpty());
  EXPECT_FALSE(scalar("x", 1).isEmpty());
  EXPECT_TRUE(ranges("x", {}).isEmpty());
  EXPECT_FALSE(ranges("x", {{3, 3}}).isEmpty());
  EXPECT_TRUE(setOf("x", {}).isEmpty());
  EXPECT_DOUBLE_EQ(scalar("x", 1500).scalar(), 1.5);
}

// ---- Validation ---------------------------------------------------------------

TEST(ResourcesValidateTest, AcceptsWellFormedResources) {
  EXPECT_TRUE(Resources::validate(scalar("cpus", 0)).ok());
  EXPECT_TRUE(Resources::validate(ranges("ports", {{1, 1}, {5, 9}})).ok());
  EXPECT_TRUE(Resources::validate(setOf("s", {"a", "b c"})).ok());
  EXPECT_TRUE(Resources::validate(scalar("cpus", 1, {staticFor("eng"), dynamicFor("eng/w", "p")},
                                         "eng/w"))
                  .ok());
}

TEST(ResourcesValidateTest, RejectsMalformedResources) {
  struct Case {
    Resource resource;
    const char* expected;
  };
  ReservationInfo badPrincipal = dynamicFor("eng", "a,b");
  const Case cases[] = {
      {scalar("", 1), "resource name is empty"},
      {scalar("a b", 1), "whitespace"},
      {scalar("a:b", 1), "contains ':'"},
      {scalar("a;b", 1), "contains ';'"},
      {scalar("cpus", -1), "negative scalar"},
      {scalar("cpus", (int64_t{1} << 53) + 1), "too large"},
      {ranges("ports", {{1, 2}, {5, 4}}), "range 5-4 has begin > end"},
      {setOf("s", {""}), "set item is empty"},
      {setOf("s", {" a"}), "whitespace"},
      {setOf("s", {"a,b"}), "contains ','"},
      {scalar("cpus", 1, {staticFor("/bad")}), "invalid role '/bad'"},
      {scalar("cpus", 1, {staticFor("*")}), "reservation role cannot be '*'"},
      {scalar("cpus", 1, {}, "-x"), "allocation role"},
      {scalar("cpus", 1, {badPrincipal}), "principal 'a,b'"},
      {scalar("cpus", 1, {dynamicFor("eng"), staticFor("eng/a")}), "must be DYNAMIC"},
      {scalar("cpus", 1, {dynamicFor("eng"), dynamicFor("ops")}), "does not refine 'eng'"},
  };
  for (const Case& c : cases) {
    Status s = Resources::validate(c.resource);
    EXPECT_FALSE(s.ok()) << c.expected;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_HAS_SUBSTR(s.message(), c.expected);
    EXPECT_HAS_SUBSTR(s.message(), "Invalid resource '" + c.resource.name + "'");
    auto list = Resources::fromList({scalar("ok", 1), c.resource});
    EXPECT_FALSE(list.ok()) << c.expected;
    EXPECT_HAS_SUBSTR(list.error(), c.expected);
  }
}

TEST(ResourcesValidateTest, FromListCanonicalises) {
  auto r = Resources::fromList({ranges("ports", {{7, 8}, {1, 3}}), scalar("cpus", 500),
                                ranges("ports", {{4, 6}}), scalar("cpus", 1500),
                                scalar("cpus", 0, {staticFor("eng")})});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->toString(), "cpus:2;ports:[1-8]");
  EXPECT_EQ(*r, (Resources{scalar("cpus", 2000), ranges("ports", {{1, 8}})}));

  auto mixed = Resources::fromList({scalar("cpus", 1), ranges("cpus", {{1, 2}})});
  EXPECT_HAS_SUBSTR(mixed.error(), "used both as scalar and as ranges");

  const int64_t half = int64_t{1} << 52;
  auto big = Resources::fromList({scalar("cpus", half + 1), scalar("cpus", half)});
  EXPECT_HAS_SUBSTR(big.error(), "too large");
}

// ---- Copies share their entries until one changes ----------------------

bool sameEntries(const Resources& a, const Resources& b) { return &a.list() == &b.list(); }

TEST(ResourcesSharingTest, CopiesShareUntilOneChanges) {
  Resources a = parsed("cpus:4;mem:1024;ports:[31000-31009]");
  Resources b = a;
  EXPECT_TRUE(sameEntries(a, b));
  b += parsed("cpus:1");
  EXPECT_FALSE(sameEntries(a, b));
  EXPECT_EQ(a, parsed("cpus:4;mem:1024;ports:[31000-31009]"));
  EXPECT_EQ(b, parsed("cpus:5;mem:1024;ports:[31000-31009]"));

  Resources c = a;
  c -= parsed("ports:[31000-31004]");
  EXPECT_EQ(a.ports(), (std::vector<Range>{{31000, 31009}}));
  EXPECT_EQ(c.ports(), (std::vector<Range>{{31005, 31009}}));
}

TEST(ResourcesSharingTest, SubtractingWhatIsAbsentCopiesNothing) {
  Resources a = parsed("cpus:4;mem:1024");
  Resources b = a;
  b -= parsed("gpus:1");
  EXPECT_TRUE(sameEntries(a, b));
  EXPECT_EQ(b, a);
}

TEST(ResourcesSharingTest, AddingToNothingSharesAndSubtractingTheSameEmpties) {
  Resources total = parsed("cpus:4;mem:1024");
  Resources sum;
  sum += total;
  EXPECT_TRUE(sameEntries(sum, total));
  sum += parsed("mem:1024");
  EXPECT_EQ(total, parsed("cpus:4;mem:1024"));
  EXPECT_EQ(sum, parsed("cpus:4;mem:2048"));

  Resources copy = total;
  copy -= total;  // a different object with the same entries
  EXPECT_TRUE(copy.empty());
  EXPECT_EQ(total, parsed("cpus:4;mem:1024"));
  total -= total;
  EXPECT_TRUE(total.empty());
}

TEST(ResourcesSharingTest, AddingACopyOfItselfDoubles) {
  Resources a = parsed("cpus:1;ports:[1-2]");
  Resources b = a;
  a += b;  // b shares a's entries while a changes
  EXPECT_EQ(a, parsed("cpus:2;ports:[1-2]"));
  EXPECT_EQ(b, parsed("cpus:1;ports:[1-2]"));
  a += a;
  EXPECT_EQ(a, parsed("cpus:4;ports:[1-2]"));
}

TEST(ResourcesSharingTest, RoleChangesShareWhenNothingChanges) {
  Resources plain = parsed("cpus:1;mem:32");
  Resources u = plain.unallocate();
  EXPECT_TRUE(sameEntries(u, plain));
  Resources a = plain.allocate("eng");
  EXPECT_FALSE(sameEntries(a, plain));
  EXPECT_TRUE(sameEntries(a.allocate("eng"), a));
  EXPECT_EQ(a.unallocate(), plain);
  u += parsed("cpus:1");
  EXPECT_EQ(plain, parsed("cpus:1;mem:32"));
  Resources kept = plain.filter([](const Resource&) { return true; });
  EXPECT_TRUE(sameEntries(kept, plain));
  EXPECT_EQ(plain.filter([](const Resource& r) { return r.name == "mem"; }), parsed("mem:32"));
}

TEST(ResourcesSharingTest, CopiesOnOtherThreadsKeepTheirValue) {
  // Readers on other threads hold copies while the owner keeps changing its
  // own: each copy must stay what it was when it was taken.
  Resources owner = parsed("cpus:1000;mem:1000");
  std::vector<std::thread> readers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    Resources copy = owner;
    const int64_t cpus = owner.scalarMillis("cpus");
    readers.emplace_back([copy = std::move(copy), cpus, &wrong] {
      for (int i = 0; i < 2000; ++i) {
        Resources mine = copy;
        if (mine.scalarMillis("cpus") != cpus || mine.scalar("mem") != 1000) ++wrong;
      }
    });
    for (int i = 0; i < 100; ++i) owner -= parsed("cpus:1");
  }
  for (auto& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(owner.scalar("cpus"), 600);
}

TEST(ResourcesFindTest, TakesReservedFirstThenUnreserved) {
  Resources offer = parsed("cpus(eng):0.5;cpus:4;mem:1024;ports(eng):[31000-31001];ports:[32000-32010]")
                        .allocate("eng");
  auto found = offer.find(parsed("cpus:1;mem:128;ports:[31001-31001,32005-32005]").allocate("eng"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found,
            parsed("cpus(eng):0.5;cpus:0.5;mem:128;ports(eng):[31001-31001];ports:[32005-32005]")
                .allocate("eng"));
  EXPECT_TRUE(offer.contains(*found));
  // Not enough of something, or another allocation role: nothing.
  EXPECT_FALSE(offer.find(parsed("cpus:5").allocate("eng")).has_value());
  EXPECT_FALSE(offer.find(parsed("ports:[33000-33000]").allocate("eng")).has_value());
  EXPECT_FALSE(offer.find(parsed("cpus:1").allocate("web")).has_value());
  EXPECT_EQ(*offer.find(Resources()), Resources());
  // Sets, item by item.
  Resources gpus = parsed("bugs(eng):{a,b};bugs:{c}");
  EXPECT_EQ(*gpus.find(parsed("bugs:{a,c}")), parsed("bugs(eng):{a};bugs:{c}"));
  EXPECT_FALSE(gpus.find(parsed("bugs:{d}")).has_value());
}

// ---- persistent volumes ----

Resource dbVolume(const std::string& id = "db", const std::string& path = "data") {
  return persistentVolume(64, {{ReservationInfo::Type::DYNAMIC, "eng", "alice", {}}}, id, path,
                          "alice");
}

TEST(ResourcesVolumeTest, TextFormRoundTrips) {
  Resources r{dbVolume()};
  EXPECT_EQ(r.toString(), "disk(reservations: [(DYNAMIC,eng,alice)])(volume: db,data,alice):64");
  auto back = Resources::parse(r.toString());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, r);
  auto statik = Resources::parse("disk(eng)(volume: logs,var/log):10;disk(eng):5");
  ASSERT_TRUE(statik.ok()) << statik.error();
  EXPECT_EQ(statik->volumes().size(), 1u);
  EXPECT_EQ(statik->volumes().begin()->disk->containerPath, "var/log");
  EXPECT_EQ(Resources::parse(statik->toString()).value(), *statik);
  // The default role applies to a volume without a role group.
  auto defaulted = Resources::parse("disk(volume: v,p):1", "eng");
  ASSERT_TRUE(defaulted.ok()) << defaulted.error();
  EXPECT_EQ(defaulted->begin()->reservationRole(), "eng");
}

TEST(ResourcesVolumeTest, MalformedVolumesAreRefused) {
  for (const char* text : {
           "disk(volume: db,data):64",             // not reserved
           "cpus(eng)(volume: db,data):1",         // not disk
           "disk(eng)(volume: db):64",             // no path
           "disk(eng)(volume: a,b,c,d):64",        // too many parts
           "disk(eng)(volume: ..,data):64",        // id is a parent directory
           "disk(eng)(volume: a/b,data):64",       // '/' in the id
           "disk(eng)(volume: db,/abs):64",        // absolute path
           "disk(eng)(volume: db,a/../b):64",      // '..'
           "disk(eng)(volume: db,a//b):64",        // empty component
           "disk(eng)(volume: db,data)(volume: e,f):64",
       }) {
    EXPECT_FALSE(Resources::parse(text).ok()) << text;
  }
  EXPECT_FALSE(validatePersistenceId(std::string(256, 'a')).ok());
  EXPECT_TRUE(validatePersistenceId(std::string(255, 'a')).ok());
  EXPECT_TRUE(validateContainerPath("a/b.c/d-e_f").ok());
}

TEST(ResourcesVolumeTest, AVolumeIsItsOwnKind) {
  Resources plain = Resources::parse("disk(reservations: [(DYNAMIC,eng,alice)]):100").value();
  Resources both = plain + Resources{dbVolume()} + Resources{dbVolume("other", "other")};
  EXPECT_EQ(both.size(), 3u);
  EXPECT_EQ(both.scalar("disk"), 228);
  EXPECT_TRUE(both.contains(Resources{dbVolume()}));
  EXPECT_FALSE(plain.contains(Resources{dbVolume()}));
  // Same id at another path is another volume.
  EXPECT_FALSE(both.contains(Resources{dbVolume("db", "elsewhere")}));
  EXPECT_EQ(both - Resources{dbVolume()} - Resources{dbVolume("other", "other")}, plain);
  // find() never takes plain disk out of a volume, but finds a volume asked for.
  EXPECT_EQ(both.find(Resources::parse("disk:101").value()), std::nullopt);
  auto found = both.find(Resources::parse("disk:100").value());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, plain);
  auto asked = both.find(Resources{dbVolume()});
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(*asked, Resources{dbVolume()});
}

TEST(ResourcesVolumeTest, StripVolumesGivesBackTheReservedDisk) {
  Resources r = Resources{dbVolume()} + Resources::parse("cpus:1").value();
  EXPECT_EQ(r.volumes(), Resources{dbVolume()});
  EXPECT_EQ(r.stripVolumes(),
            Resources::parse("cpus:1;disk(reservations: [(DYNAMIC,eng,alice)]):64").value());
  EXPECT_EQ(r.flatten(), Resources::parse("cpus:1;disk:64").value());
  EXPECT_TRUE(r.stripVolumes().volumes().empty());
}

}  // namespace
}  // namespace tutti
