// posix/rlimits: the limits a plain task's child sets on itself.
#include "common/rlimits.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace tutti {
namespace {

TEST(RlimitsTest, EveryLimitIsConvertedAndNoValueIsUnlimited) {
  auto limits = resourceLimits({{"RLMT_NOFILE", 100, 200}, {"RLMT_CORE", std::nullopt, std::nullopt}});
  ASSERT_TRUE(limits.ok()) << limits.status();
  ASSERT_EQ(limits->size(), 2u);
  EXPECT_EQ((*limits)[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ((*limits)[0].soft, 100u);
  EXPECT_EQ((*limits)[0].hard, 200u);
  EXPECT_EQ((*limits)[1].resource, RLIMIT_CORE);
  EXPECT_EQ((*limits)[1].soft, RLIM_INFINITY);
  EXPECT_EQ((*limits)[1].hard, RLIM_INFINITY);
  // Open files cannot be unlimited: the kernel's ceiling instead.
  auto files = resourceLimits({{"RLMT_NOFILE", std::nullopt, std::nullopt}});
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream nrOpen("/proc/sys/fs/nr_open");
  rlim_t ceiling = 0;
  ASSERT_TRUE(nrOpen >> ceiling);
  EXPECT_EQ((*files)[0].soft, ceiling);
  EXPECT_EQ((*files)[0].hard, ceiling);
  // The caller's own limits are untouched.
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  EXPECT_NE(before.rlim_cur, 100u);
}

TEST(RlimitsTest, UnknownTypesInvertedLimitsAndUnprivilegedRaisesAreRefused) {
  auto limits = resourceLimits({{"RLMT_BOGUS", 1, 1}});
  ASSERT_FALSE(limits.ok());
  EXPECT_EQ(limits.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(limits.status().message().find("RLMT_BOGUS"), std::string::npos);
  limits = resourceLimits({{"RLMT_NOFILE", 10, 5}});
  ASSERT_FALSE(limits.ok());
  EXPECT_EQ(limits.status().code(), Status::Code::kInvalidArgument);
  limits = resourceLimits({{"RLMT_NOFILE", std::nullopt, 5}});  // soft unlimited
  ASSERT_FALSE(limits.ok());
  if (::geteuid() == 0) return;  // root may raise any hard limit
  rlimit current;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  if (current.rlim_max == RLIM_INFINITY) return;
  limits = resourceLimits({{"RLMT_NOFILE", 1, static_cast<uint64_t>(current.rlim_max) + 1}});
  ASSERT_FALSE(limits.ok());
  EXPECT_EQ(limits.status().code(), Status::Code::kPermissionDenied);
}

}  // namespace
}  // namespace tutti
