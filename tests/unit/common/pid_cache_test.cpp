// getpid() served from the cache (common/pid_cache.hpp): right in this
// process, and right in children forked with and without atfork handlers.
#include "common/pid_cache.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace tutti {
namespace {

pid_t kernelPid() { return static_cast<pid_t>(::syscall(SYS_getpid)); }

// Exit status of a child that checks its own getpid() against the kernel's
// and against the parent's: 0 right, 1 stale, 2 wrong.
int checkInChild(pid_t parent) {
  pid_t cached = ::getpid();
  if (cached == parent) return 1;
  return cached == kernelPid() ? 0 : 2;
}

int waitExit(pid_t child) {
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PidCacheTest, AnswersThisProcessesPid) {
  ASSERT_TRUE(installPidCache()) << "the kernel refused MADV_WIPEONFORK";
  EXPECT_EQ(::getpid(), kernelPid());
  EXPECT_EQ(::getpid(), kernelPid());  // now from the cache
}

TEST(PidCacheTest, SharedLibrariesBindToIt) {
  // libzmq looks getpid up in the global scope, which starts with the
  // executable: this binary must export its definition, not leave glibc's.
  void* resolved = ::dlsym(RTLD_DEFAULT, "getpid");
  ASSERT_NE(resolved, nullptr);
  EXPECT_EQ(resolved, reinterpret_cast<void*>(&::getpid));
  Dl_info info{};
  ASSERT_NE(::dladdr(resolved, &info), 0);
  EXPECT_EQ(std::string(info.dli_fname).find("libc."), std::string::npos) << info.dli_fname;
}

TEST(PidCacheTest, ForkedChildSeesItsOwnPid) {
  ASSERT_TRUE(installPidCache());
  const pid_t parent = ::getpid();  // cached in the parent before the fork
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(checkInChild(parent));
  EXPECT_EQ(waitExit(child), 0);
  EXPECT_EQ(::getpid(), parent);
}

TEST(PidCacheTest, ChildForkedWithoutAtforkHandlersSeesItsOwnPid) {
  // _Fork() runs no atfork handlers (as a raw clone would not): only the
  // wiped page tells the child that the cached pid is its parent's.
  ASSERT_TRUE(installPidCache());
  const pid_t parent = ::getpid();
  pid_t child = ::_Fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int first = checkInChild(parent);
    int again = checkInChild(parent);  // from the child's own cache now
    ::_exit(first != 0 ? first : again);
  }
  EXPECT_EQ(waitExit(child), 0);
}

TEST(PidCacheTest, GrandchildSeesItsOwnPid) {
  ASSERT_TRUE(installPidCache());
  const pid_t parent = ::getpid();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const pid_t self = ::getpid();
    if (self == parent) ::_exit(1);
    pid_t grandchild = ::fork();
    if (grandchild < 0) ::_exit(3);
    if (grandchild == 0) ::_exit(checkInChild(self));
    ::_exit(waitExit(grandchild) == 0 ? 0 : 4);
  }
  EXPECT_EQ(waitExit(child), 0);
}

}  // namespace
}  // namespace tutti
