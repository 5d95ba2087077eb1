// Byte sizes as Mesos's flags write them (--fetcher_cache_size).
#include "common/bytes.hpp"

#include <gtest/gtest.h>

namespace tutti {
namespace {

TEST(BytesTest, ParsesMesosSizes) {
  EXPECT_EQ(*parseBytes("0B"), 0u);
  EXPECT_EQ(*parseBytes("100"), 100u);
  EXPECT_EQ(*parseBytes("100B"), 100u);
  EXPECT_EQ(*parseBytes("64KB"), 64u << 10);
  EXPECT_EQ(*parseBytes("512mb"), 512ull << 20);
  EXPECT_EQ(*parseBytes("2GB"), 2ull << 30);
  EXPECT_EQ(*parseBytes("3TB"), 3ull << 40);
}

TEST(BytesTest, RefusesWhatIsNoSize) {
  for (const char* bad : {"", "GB", "-1GB", "1.5GB", "2 GB", "2GiB", "2PB", "99999999999TB"}) {
    auto b = parseBytes(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace tutti
