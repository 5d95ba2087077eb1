// posix/rlimits: the prlimit prefix a plain task is started with.
#include "common/rlimits.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

namespace tutti {
namespace {

TEST(RlimitsTest, PrlimitPrefixNamesEveryLimit) {
  if (::access("/usr/bin/prlimit", X_OK) != 0 && ::access("/bin/prlimit", X_OK) != 0) {
    GTEST_SKIP() << "prlimit (util-linux) is not installed";
  }
  auto argv = prlimitCommand({{"RLMT_NOFILE", 100, 200}, {"RLMT_CORE", std::nullopt, std::nullopt}});
  ASSERT_TRUE(argv.ok()) << argv.status();
  ASSERT_EQ(argv->size(), 4u);
  EXPECT_NE((*argv)[0].find("prlimit"), std::string::npos);
  EXPECT_EQ((*argv)[1], "--nofile=100:200");
  EXPECT_EQ((*argv)[2], "--core=unlimited:unlimited");
  EXPECT_EQ((*argv)[3], "--");
  // The caller's own limits are untouched.
  rlimit before;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  EXPECT_NE(before.rlim_cur, 100u);
}

TEST(RlimitsTest, UnknownTypesAndUnprivilegedRaisesAreRefused) {
  auto argv = prlimitCommand({{"RLMT_BOGUS", 1, 1}});
  ASSERT_FALSE(argv.ok());
  if (argv.status().code() != Status::Code::kNotFound) {
    EXPECT_EQ(argv.status().code(), Status::Code::kInvalidArgument);
  }
  if (::geteuid() == 0) return;  // root may raise any hard limit
  rlimit current;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);
  if (current.rlim_max == RLIM_INFINITY) return;
  argv = prlimitCommand({{"RLMT_NOFILE", 1, static_cast<uint64_t>(current.rlim_max) + 1}});
  ASSERT_FALSE(argv.ok());
}

}  // namespace
}  // namespace tutti
