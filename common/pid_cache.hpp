// getpid() without a system call, for ZeroMQ's fork checks.
//
// libzmq asks getpid() on every signal between a socket and its I/O thread
// (signaler_t::send and wait compare it with the pid they were created in,
// to go inert in a forked child). glibc stopped caching the pid in 2.25, so
// each is a system call: ~1 µs on the VMs we measure on, 7.5 per task in the
// c1m emulators and one per task in the master.
//
// This file defines `getpid` for the binaries that link tutti_common's
// transport (the executable's definition is the one libzmq binds to). The
// pid is kept in a page marked MADV_WIPEONFORK: the kernel zeroes it in any
// child made by fork() or clone() without CLONE_VM, so a child asks the
// kernel again the first time, however it was forked (no atfork handler to
// miss). A vfork()ed child shares its parent's memory and would read the
// parent's pid; such children (posix_spawn's) only exec, and glibc's own
// code calls its internal __getpid, not this. Where madvise refuses
// MADV_WIPEONFORK (Linux before 4.14), every call is the system call.
//
// Thread-safe; async-signal-safe once the page is set up (the first call, or
// installPidCache(), sets it up).
#pragma once

namespace tutti {

// Sets the cache up now (the transport calls it when it creates the ZeroMQ
// context, which also makes the linker keep this file). Returns whether
// getpid() is served from the cache.
bool installPidCache();

}  // namespace tutti
