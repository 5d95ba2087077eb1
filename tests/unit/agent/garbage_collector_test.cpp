// Unit tests for the agent's GarbageCollector on a manual clock: removal
// after gc_delay, earlier under disk pressure (Mesos's rule: the largest age
// kept is gc_delay × max(0, 1 − headroom − usage)), unscheduling, errors.
#include "agent/gc/garbage_collector.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/clock.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class GarbageCollectorTest : public ::testing::Test {
 protected:
  GarbageCollectorTest() : loop_(clock_) {}

  void make(double headroom = 0.0) {
    GarbageCollector::Options o;
    o.gcDelay = 100s;
    o.diskHeadroom = headroom;
    o.diskWatchInterval = 10s;
    o.workDir = dir_.path();
    gc_ = std::make_unique<GarbageCollector>(loop_, metrics_, o, [this] { return usage_; });
    gc_->start();
  }

  std::string sandbox(const std::string& name) {
    std::string p = dir_.path() + "/" + name;
    fs::create_directories(p + "/sub");
    std::ofstream(p + "/sub/stdout") << "output";
    return p;
  }

  void advance(Duration d) {
    clock_.advance(d);
    loop_.settle();
    gc_->drain();
  }

  testing::TempDir dir_;
  ManualClock clock_;
  Loop loop_;
  Metrics metrics_;
  double usage_ = 0.0;
  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(GarbageCollectorTest, RemovesAfterTheDelayAndNotBefore) {
  make();
  std::string a = sandbox("a"), b = sandbox("b");
  gc_->schedule(a, loop_.now());
  advance(50s);
  gc_->schedule(b, loop_.now());
  advance(49s);
  EXPECT_TRUE(fs::exists(a));
  advance(1s);  // a is 100 s old
  EXPECT_FALSE(fs::exists(a));
  EXPECT_TRUE(fs::exists(b));
  advance(50s);
  EXPECT_FALSE(fs::exists(b));
  EXPECT_EQ(gc_->removed(), 2u);
  EXPECT_EQ(gc_->scheduled(), 0u);
}

TEST_F(GarbageCollectorTest, DiskPressureShortensTheDelay) {
  make(/*headroom=*/0.1);
  std::string old = sandbox("old"), fresh = sandbox("fresh");
  gc_->schedule(old, loop_.now());
  advance(9s);
  gc_->schedule(fresh, loop_.now());
  usage_ = 0.85;  // keep at most 100 s × (1 − 0.1 − 0.85) = 5 s
  advance(1s);    // the disk watch runs: old is 10 s old, fresh 1 s
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(fresh));
  usage_ = 0.95;  // nothing is kept
  advance(10s);
  EXPECT_FALSE(fs::exists(fresh));
}

TEST_F(GarbageCollectorTest, UnscheduledAndMissingPaths) {
  make();
  std::string kept = sandbox("kept");
  gc_->schedule(kept, loop_.now());
  gc_->unschedule(kept);
  gc_->schedule(dir_.path() + "/never-existed", loop_.now());
  advance(200s);
  EXPECT_TRUE(fs::exists(kept));
  EXPECT_EQ(gc_->removed(), 1u);  // removing what is not there is fine
  EXPECT_EQ(metrics_.counter("slave/gc_errors").value(), 0);
}

}  // namespace
}  // namespace tutti::agent
