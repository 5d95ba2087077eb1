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

TEST(FlagsTest, SizesAreMesosByteSizes) {
  for (const char* ok : {"2GB", "0B", "512MB"}) EXPECT_TRUE(validateBytesFlag("fetcher_cache_size", ok)) << ok;
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(validateBytesFlag("fetcher_cache_size", "2XB"));
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Invalid value for --fetcher_cache_size: '2XB' is not a size"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace tutti
