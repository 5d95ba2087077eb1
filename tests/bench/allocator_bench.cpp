// (being written)
#include "tests/bench/bench.hpp"
namespace tutti::bench {
int runAllocator(const AllocatorOptions&) { return 1; }
}  // namespace tutti::bench
