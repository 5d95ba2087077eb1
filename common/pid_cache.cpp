// See pid_cache.hpp.
#include "common/pid_cache.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <new>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

namespace tutti {
namespace {

pid_t kernelPid() { return static_cast<pid_t>(::syscall(SYS_getpid)); }

// The cached pid, in a page of its own that forked children see zeroed;
// null when the kernel cannot do that.
std::atomic<pid_t>* cacheSlot() {
  static std::atomic<pid_t>* slot = []() -> std::atomic<pid_t>* {
    const long pageSize = ::sysconf(_SC_PAGESIZE);
    if (pageSize <= 0) return nullptr;
    const size_t size = static_cast<size_t>(pageSize);
    void* page = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return nullptr;
    if (::madvise(page, size, MADV_WIPEONFORK) != 0) {
      ::munmap(page, size);
      return nullptr;
    }
    // All-zero bytes are a valid std::atomic<pid_t> holding 0 ("ask the
    // kernel"), which is also what a wiped page holds in a child.
    return new (page) std::atomic<pid_t>(0);
  }();
  return slot;
}

}  // namespace

bool installPidCache() { return cacheSlot() != nullptr; }

}  // namespace tutti

// The executable's getpid: libzmq (and anything else outside glibc) binds to
// it instead of glibc's.
extern "C" pid_t getpid(void) noexcept {
  std::atomic<pid_t>* slot = tutti::cacheSlot();
  if (slot == nullptr) return tutti::kernelPid();
  pid_t pid = slot->load(std::memory_order_relaxed);
  if (pid != 0) return pid;
  pid = tutti::kernelPid();
  slot->store(pid, std::memory_order_relaxed);
  return pid;
}
