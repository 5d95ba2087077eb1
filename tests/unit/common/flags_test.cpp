// gflags validators shared by the binaries: they accept what the components
// parse and refuse the rest with a message naming the flag.
#include <gtest/gtest.h>

#include "common/flags.hpp"

namespace tutti {
namespace {

TEST(FlagsTest, ResourceAlternativesAreEachValidResources) {
  for (const char* ok : {"", "cpus:0.01|mem:32", "cpus:0.5;mem:256", "mem:32"}) {
    EXPECT_TRUE(validateResourceAlternativesFlag("min_allocatable_resources", ok)) << ok;
  }
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(validateResourceAlternativesFlag("min_allocatable_resources", "mem:32|cpus:x"));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Invalid value for --min_allocatable_resources"), std::string::npos) << err;
  EXPECT_FALSE(validateResourceAlternativesFlag("f", "cpus:-1"));
  EXPECT_FALSE(validateResourceAlternativesFlag("f", "cpus:1|garbage"));
}

}  // namespace
}  // namespace tutti
