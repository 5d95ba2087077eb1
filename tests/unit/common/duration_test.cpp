// Unit tests for Mesos-style durations (common/duration.hpp) and for the
// metrics registry (common/metrics.hpp).
#include "common/duration.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.hpp"

namespace tutti {
namespace {

using namespace std::chrono_literals;

::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << haystackExpr << " (\"" << haystack << "\") does not contain " << needleExpr << " (\""
         << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)

// The parsed value, or -1ns (never a valid result) with a test failure.
Duration parsed(std::string_view text) {
  auto d = parseDuration(text);
  EXPECT_TRUE(d.ok()) << "parseDuration(\"" << text << "\"): " << d.error();
  return d.ok() ? *d : Duration(-1);
}

// =============================================================================
// parseDuration
// =============================================================================

TEST(DurationParseTest, MesosForms) {
  EXPECT_EQ(parsed("500ms"), 500ms);
  EXPECT_EQ(parsed("10secs"), 10s);
  EXPECT_EQ(parsed("2mins"), 2min);
  EXPECT_EQ(parsed("1hrs"), 1h);
  EXPECT_EQ(parsed("1days"), 24h);
  EXPECT_EQ(parsed("1weeks"), 7 * 24h);
  EXPECT_EQ(parsed("3weeks"), 21 * 24h);
  EXPECT_EQ(parsed("100ns"), 100ns);
  EXPECT_EQ(parsed("3us"), 3us);
  EXPECT_EQ(parsed("0secs"), 0s);
  EXPECT_EQ(parsed("0ns"), 0ns);
  EXPECT_EQ(parsed("15secs"), 15s);
  EXPECT_EQ(parsed("75secs"), 75s);
}

TEST(DurationParseTest, Fractions) {
  EXPECT_EQ(parsed("1.5secs"), 1500ms);
  EXPECT_EQ(parsed("0.5ms"), 500us);
  EXPECT_EQ(parsed("2.25mins"), 135s);
  EXPECT_EQ(parsed("0.001secs"), 1ms);
  EXPECT_EQ(parsed("1.5hrs"), 90min);
  EXPECT_EQ(parsed(".5secs"), 500ms);
  // Rounded to the nearest nanosecond.
  EXPECT_EQ(parsed("1.0000000004secs"), 1s);
  EXPECT_EQ(parsed("1.0000000006secs"), 1s + 1ns);
  EXPECT_EQ(parsed("0.4ns"), 0ns);
  EXPECT_EQ(parsed("2.6ns"), 3ns);
}

TEST(DurationParseTest, SurroundingSpacesAreIgnored) {
  EXPECT_EQ(parsed(" 10secs"), 10s);
  EXPECT_EQ(parsed("10secs  "), 10s);
  EXPECT_EQ(parsed("  1.5ms  "), 1500us);
}

TEST(DurationParseTest, ExponentsAreAccepted) {
  // strtod syntax: Mesos (numify<double>) accepts these too.
  EXPECT_EQ(parsed("1e3secs"), 1000s);
  EXPECT_EQ(parsed("2.5e-3secs"), 2500us);
}

TEST(DurationParseTest, Rejects) {
  const char* bad[] = {
      "",         "   ",      "10",        "secs",     "ms",      "-1secs",  "+1secs",
      "-0secs",   "1parsecs", "1e400secs", "nan secs", "nansecs", "infsecs", "infinitysecs",
      " 1 secs",  "1 secs",   "10 ms",     "1s",       "1sec",    "1min",    "1h",
      "1d",       "1hr",      "1week",     "1day",     "10MS",    "10Secs",  "1..5secs",
      "1.5.secs", "--1secs",  "1,5secs",   "secs10",   "10secsx", "1ms2",    "10secs\n",
      "10secs\t", "1_000ms",  "ten secs",  "one",
  };
  for (const char* text : bad) {
    auto d = parseDuration(text);
    EXPECT_FALSE(d.ok()) << "\"" << text << "\" parsed as " << (d.ok() ? d->count() : 0) << "ns";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
      // The message names the text.
      EXPECT_HAS_SUBSTR(d.error(), "'" + std::string(text) + "'");
    }
  }
}

TEST(DurationParseTest, RejectsOverflow) {
  // The limit is INT64_MAX ns (about 292 years); whole numbers are checked
  // exactly, fractions against 9.2e18.
  for (const char* text : {"15251weeks", "106752days", "2562048hrs", "9.3e18ns", "1e300weeks",
                           "9223372036854775808ns", "99999999999999999999secs"}) {
    auto d = parseDuration(text);
    ASSERT_FALSE(d.ok()) << text << " parsed as " << d->count() << "ns";
    EXPECT_HAS_SUBSTR(d.error(), "too large");
    EXPECT_HAS_SUBSTR(d.error(), text);
  }
  EXPECT_EQ(parsed("15000weeks"), 15000 * 7 * 24h);
  EXPECT_EQ(parsed("9223372036854775807ns"), Duration::max());
  EXPECT_EQ(parsed("9200000000secs"), std::chrono::seconds(9'200'000'000LL));
}

// =============================================================================
// formatDuration
// =============================================================================

TEST(DurationFormatTest, UsesTheLargestWholeUnit) {
  EXPECT_EQ(formatDuration(0ns), "0secs");
  EXPECT_EQ(formatDuration(15s), "15secs");
  EXPECT_EQ(formatDuration(1500ms), "1500ms");
  EXPECT_EQ(formatDuration(2min), "2mins");
  EXPECT_EQ(formatDuration(90s), "90secs");
  EXPECT_EQ(formatDuration(1h), "1hrs");
  EXPECT_EQ(formatDuration(36h), "36hrs");
  EXPECT_EQ(formatDuration(24h), "1days");
  EXPECT_EQ(formatDuration(8 * 24h), "8days");
  EXPECT_EQ(formatDuration(7 * 24h), "1weeks");
  EXPECT_EQ(formatDuration(14 * 24h), "2weeks");
  EXPECT_EQ(formatDuration(1ns), "1ns");
  EXPECT_EQ(formatDuration(3us), "3us");
  EXPECT_EQ(formatDuration(1001us), "1001us");
  EXPECT_EQ(formatDuration(1s + 1ns), "1000000001ns");
  EXPECT_EQ(formatDuration(-5s), "-5secs");
}

TEST(DurationFormatTest, ParseOfFormatRoundTrips) {
  std::vector<Duration> values = {0ns, 1ns, 999ns, 1us, 1500us, 1ms, 250ms, 1s, 59s, 61s, 1min};
  for (Duration d : std::initializer_list<Duration>{75min, 1h, 25h, 24h, 7 * 24h, 52 * 7 * 24h}) {
    values.push_back(d);
  }
  values.push_back(1s + 1ns);
  values.push_back(100 * 24h + 1ms);
  values.push_back(Duration(1'000'000'007));
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    // Below 2^53 ns (~104 days) every value is exact in a double; so is a
    // count of ms below 2^38 (~8.7 years) times 10^6.
    values.push_back(Duration(static_cast<int64_t>(rng() % (uint64_t{1} << 53))));
    values.push_back(std::chrono::milliseconds(rng() % (uint64_t{1} << 38)));
  }
  for (Duration d : values) {
    std::string text = formatDuration(d);
    auto back = parseDuration(text);
    ASSERT_TRUE(back.ok()) << d.count() << "ns formatted as " << text << ": " << back.error();
    EXPECT_EQ(*back, d) << text;
  }
}

TEST(DurationFormatTest, FormatOfParseGivesTheCanonicalText) {
  for (const char* text :
       {"500ms", "10secs", "2mins", "1hrs", "1days", "1weeks", "100ns", "3us", "1500ms", "36hrs"}) {
    EXPECT_EQ(formatDuration(parsed(text)), text);
  }
  EXPECT_EQ(formatDuration(parsed("1.5secs")), "1500ms");
  EXPECT_EQ(formatDuration(parsed("60secs")), "1mins");
  EXPECT_EQ(formatDuration(parsed("0.5days")), "12hrs");
}

TEST(DurationFormatTest, FormatOfAnyDurationParsesBackExactly) {
  for (Duration d :
       {Duration((int64_t{1} << 53) + 1), Duration(694949804231'000'000LL),
        Duration(std::numeric_limits<int64_t>::max()), Duration(9'200'000'000'000'000'001LL)}) {
    std::string text = formatDuration(d);
    auto back = parseDuration(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.error();
    EXPECT_EQ(*back, d) << text;
  }
}

// =============================================================================
// Metrics
// =============================================================================

TEST(MetricsTest, CountersStartAtZeroAndAreSharedByName) {
  Metrics metrics;
  Counter& a = metrics.counter("master/messages_received");
  EXPECT_EQ(a.value(), 0);
  a.inc();
  a.inc(5);
  Counter& again = metrics.counter("master/messages_received");
  EXPECT_EQ(&again, &a);
  EXPECT_EQ(again.value(), 6);
  Counter& other = metrics.counter("master/messages_dropped");
  EXPECT_NE(&other, &a);
  EXPECT_EQ(other.value(), 0);
  auto snap = metrics.snapshot();
  EXPECT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap["master/messages_received"], 6.0);
  EXPECT_EQ(snap["master/messages_dropped"], 0.0);
}

TEST(MetricsTest, CountersAreThreadSafe) {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // Also races the lookup that creates the counter.
      for (int i = 0; i < kIncrements; ++i) metrics.counter("shared").inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(metrics.counter("shared").value(), kThreads * kIncrements);
}

TEST(MetricsTest, CounterReferencesStayValidAsTheRegistryGrows) {
  Metrics metrics;
  Counter& first = metrics.counter("a/first");
  first.inc(3);
  for (int i = 0; i < 1000; ++i) metrics.counter("b/counter_" + std::to_string(i)).inc(i);
  first.inc();
  EXPECT_EQ(metrics.snapshot()["a/first"], 4.0);
  EXPECT_EQ(metrics.snapshot()["b/counter_999"], 999.0);
}

TEST(MetricsTest, GaugesAreEvaluatedAtSnapshotAndCanBeReplacedOrRemoved) {
  Metrics metrics;
  int running = 3;
  int calls = 0;
  metrics.gauge("master/tasks_running", [&] {
    ++calls;
    return static_cast<double>(running);
  });
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(metrics.snapshot()["master/tasks_running"], 3.0);
  running = 7;
  EXPECT_EQ(metrics.snapshot()["master/tasks_running"], 7.0);
  EXPECT_EQ(calls, 2);

  metrics.gauge("master/tasks_running", [] { return -1.5; });
  EXPECT_EQ(metrics.snapshot()["master/tasks_running"], -1.5);
  EXPECT_EQ(calls, 2);

  metrics.removeGauge("master/tasks_running");
  EXPECT_EQ(metrics.snapshot().count("master/tasks_running"), 0u);
  metrics.removeGauge("never/registered");  // ignored
}

TEST(MetricsTest, HistogramPercentiles) {
  Histogram h;
  Histogram::Summary empty = h.summary();
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.last, 0.0);
  EXPECT_EQ(empty.p50, 0.0);
  EXPECT_EQ(empty.p99, 0.0);
  EXPECT_EQ(empty.max, 0.0);

  // 1..1000 recorded out of order; the window (1024) holds them all.
  std::vector<double> values;
  for (int i = 1; i <= 1000; ++i) values.push_back(i);
  std::shuffle(values.begin(), values.end(), std::mt19937(3));
  for (double v : values) h.record(v);
  Histogram::Summary s = h.summary();
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.last, values.back());
  EXPECT_EQ(s.p50, 500.0);  // the lower median
  EXPECT_GE(s.p99, 990.0);
  EXPECT_LE(s.p99, 991.0);
  EXPECT_EQ(s.max, 1000.0);
}

TEST(MetricsTest, HistogramP99OfASkewedSample) {
  // 97 fast values and 3 slow ones: p50 is fast, p99 is slow.
  Histogram h;
  for (int i = 0; i < 97; ++i) h.record(1.0);
  for (int i = 0; i < 3; ++i) h.record(250.0);
  Histogram::Summary s = h.summary();
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50, 1.0);
  EXPECT_EQ(s.p99, 250.0);
  EXPECT_EQ(s.max, 250.0);
  EXPECT_EQ(s.last, 250.0);
}

TEST(MetricsTest, HistogramPercentilesUseOnlyTheWindow) {
  Histogram h(4);
  for (int i = 1; i <= 10; ++i) h.record(i);
  Histogram::Summary s = h.summary();
  EXPECT_EQ(s.count, 10u);  // all values ever recorded
  EXPECT_EQ(s.last, 10.0);
  EXPECT_EQ(s.p50, 8.0);  // window {7, 8, 9, 10}
  EXPECT_EQ(s.p99, 10.0);
  for (int i = 0; i < 4; ++i) h.record(0.5);
  s = h.summary();
  EXPECT_EQ(s.count, 14u);
  EXPECT_EQ(s.last, 0.5);
  EXPECT_EQ(s.p50, 0.5);
  EXPECT_EQ(s.p99, 0.5);
}

TEST(MetricsTest, HistogramMaxOfNegativeValues) {
  Histogram h;
  h.record(-5);
  h.record(-2);
  EXPECT_EQ(h.summary().max, -2.0);
}

TEST(MetricsTest, SnapshotExposesHistogramSummaries) {
  Metrics metrics;
  Histogram& h = metrics.histogram("allocator/allocation_run_ms");
  EXPECT_EQ(&h, &metrics.histogram("allocator/allocation_run_ms"));
  h.record(4);
  h.record(2);
  auto snap = metrics.snapshot();
  EXPECT_EQ(snap.size(), 5u);
  EXPECT_EQ(snap["allocator/allocation_run_ms"], 2.0);  // the last value
  EXPECT_EQ(snap["allocator/allocation_run_ms/count"], 2.0);
  EXPECT_EQ(snap["allocator/allocation_run_ms/p50"], 2.0);
  EXPECT_EQ(snap["allocator/allocation_run_ms/p99"], 4.0);
  EXPECT_EQ(snap["allocator/allocation_run_ms/max"], 4.0);
}

TEST(MetricsTest, PrometheusSanitisesNames) {
  std::map<std::string, double> snap = {
      {"master/tasks_running", 3},
      {"allocator/allocation_run-ms.p99", 1.5},
      {"9lives", 1},
      {"ns:metric_OK", 2},
      {"with space/and\xc3\xa9", 0.25},
      {"negative", -4},
      {"big", 1e20},
  };
  // In the map's (byte) order; every byte outside [a-zA-Z0-9_:] becomes '_'
  // (the two bytes of 'é' too), and a leading digit gets a '_' in front.
  EXPECT_EQ(Metrics::toPrometheus(snap),
            "_9lives 1\n"
            "allocator_allocation_run_ms_p99 1.5\n"
            "big 1e+20\n"
            "master_tasks_running 3\n"
            "negative -4\n"
            "ns:metric_OK 2\n"
            "with_space_and__ 0.25\n");
  EXPECT_EQ(Metrics::toPrometheus({}), "");
}

}  // namespace
}  // namespace tutti
