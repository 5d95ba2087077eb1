// tutti-batch's checkpoint file: round trip, the older format, corruption.
#include "frameworks/batch/checkpoint.hpp"

#include <gtest/gtest.h>

#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::batch {
namespace {

TEST(CheckpointTest, RoundTripsWithTheAgentOfEachLaunchedAttempt) {
  testing::TempDir dir;
  Checkpoint c;
  c.job = "etl";
  c.frameworkId = "fw-1";
  c.succeeded = {"a.0", "a.1"};
  c.launched = {{"b.0.1", "agent-3"}, {"b.1.2", ""}};
  ASSERT_TRUE(c.save(dir.path() + "/state").ok());
  auto back = Checkpoint::load(dir.path() + "/state");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->job, "etl");
  EXPECT_EQ(back->frameworkId, "fw-1");
  EXPECT_EQ(back->succeeded, c.succeeded);
  EXPECT_EQ(back->launched, c.launched);
}

TEST(CheckpointTest, NoFileIsAnEmptyCheckpoint) {
  testing::TempDir dir;
  auto c = Checkpoint::load(dir.path());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->frameworkId.empty());
  EXPECT_TRUE(c->launched.empty());
}

TEST(CheckpointTest, ReadsLaunchedAttemptsWrittenWithoutAgentIds) {
  testing::TempDir dir;
  ASSERT_TRUE(writeFileAtomically(dir.path() + "/state.json",
                                  R"({"job": "j", "framework_id": "f", "succeeded": [],
                                      "launched": ["b.0.1"]})",
                                  false)
                  .ok());
  auto c = Checkpoint::load(dir.path());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->launched, (std::map<std::string, std::string>{{"b.0.1", ""}}));
}

TEST(CheckpointTest, CorruptFilesAreRejected) {
  testing::TempDir dir;
  for (const char* text : {"not json", "[]", R"({"job": "j"})",
                           R"({"job": "j", "framework_id": "f", "succeeded": [],
                               "launched": {"b.0.1": 7}})"}) {
    ASSERT_TRUE(writeFileAtomically(dir.path() + "/state.json", text, false).ok());
    auto c = Checkpoint::load(dir.path());
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace tutti::batch
