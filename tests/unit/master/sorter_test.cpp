// Unit tests for the hierarchical allocator: the DRF sorter.
#include "tests/unit/master/allocator_fixture.hpp"

namespace tutti::master {
namespace allocator_test {
namespace {

// ---- DrfSorter -------------------------------------------------------------------

TEST(DrfSorterTest, OrdersByWeightedDominantShareIncrementally) {
  ShareBasis basis;
  basis.inverseTotal = {1.0 / 100, 1.0 / 1000};  // 100 cpus, 1000 mem
  basis.version = 1;
  DrfSorter sorter(basis);
  auto a = sorter.add();
  auto b = sorter.add(2.0);
  auto c = sorter.add();
  sorter.setActive(a, true);
  sorter.setActive(b, true);
  auto order = [&] {
    std::vector<DrfSorter::Handle> out;
    for (const auto& e : sorter.order()) out.push_back(e.handle);
    return out;
  };
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, b}));  // c is inactive
  sorter.allocate(a, {10, 0});   // 0.1
  sorter.allocate(b, {0, 300});  // 0.3 / 2 = 0.15
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, b}));
  sorter.allocate(a, {10, 0});  // 0.2
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{b, a}));
  sorter.setActive(c, true);
  EXPECT_EQ(order().front(), c);
  sorter.unallocate(a, {20, 0});
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{a, c, b}));  // tie a/c: a was added first
  sorter.countOffer(a);
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, a, b}));  // tie: fewer offers

  // A new basis (cluster totals changed) re-sorts: mem is now scarce.
  sorter.allocate(a, {50, 0});  // a: 0.5 cpus
  basis.inverseTotal = {1.0 / 100, 1.0 / 310};
  ++basis.version;
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, b, a}));  // b: 300/310/2 = 0.48
  EXPECT_NEAR(sorter.share(b), 300.0 / 310 / 2, 1e-12);
  sorter.setWeight(b, 0.5);
  EXPECT_EQ(order().back(), b);
  sorter.remove(b);
  EXPECT_EQ(order(), (std::vector<DrfSorter::Handle>{c, a}));
}

TEST(DrfSorterTest, ExcludedNamesHaveNoDenominator) {
  ShareBasis basis;
  basis.inverseTotal = {1.0 / 10, 0.0};  // name 1 (say gpus) excluded
  DrfSorter sorter(basis);
  auto a = sorter.add();
  sorter.allocate(a, {1, 1000000});
  EXPECT_DOUBLE_EQ(sorter.share(a), 0.1);
}

}  // namespace
}  // namespace allocator_test
}  // namespace tutti::master
