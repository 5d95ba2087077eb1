// tutti-runtime: what runs in the container's first process between the
// clone and the execve of the config's program, and the same last steps
// for a process `exec` starts in a running container.
//
// Both run in a freshly cloned child of the runtime (single-threaded) and
// never return: they execve, or write what failed to `syncFd` (a close-on-
// exec pipe the runtime reads: EOF with no bytes means the program runs)
// and _exit(1).
//
// Container set-up, in order (as runc for the same config):
//  1. join the devices cgroup (cgroups v1), new session, "/" made rslave;
//  2. the root filesystem bind-mounted onto itself, every config mount
//     made below it, each destination resolved inside the root filesystem
//     (an image's symlink cannot send a mount to the host), the rootfs and
//     bind mounts nodev when there is no devices cgroup;
//  3. /dev's nodes (null, zero, full, random, urandom, tty) and links;
//  4. pivot_root, the old root detached; / read-only if asked;
//  5. masked paths (/dev/null or an empty read-only tmpfs over them) and
//     read-only paths; the hostname;
//  6. HOME from the image's /etc/passwd when the config has none (as
//     runc), rlimits, the bounding set, groups/gid/uid, capabilities, cwd,
//     no_new_privs, seccomp, execve (args[0] looked up in the config's PATH).
// Until its execve the child is not dumpable (the runtime sets that before
// it clones): a process of the container cannot open its /proc/<pid>/exe,
// the runtime's binary (runc's CVE-2019-5736), and it has SIGKILL as its
// parent-death signal, so that it never runs on unrecorded when the
// runtime is killed half way.
#pragma once

#include <string>

#include "agent/runtime/runtime_config.hpp"
#include "agent/runtime/seccomp_filter.hpp"

namespace tutti::runtime {

struct InitOptions {
  std::string devicesCgroup;  // cgroup v1 directory to join; empty: none
  bool dropMknod = false;     // no devices cgroup guards device nodes
  // The config's seccomp filter, compiled by the runtime before the clone.
  const SeccompProgram* seccomp = nullptr;
  // run: the read end of a pipe the runtime writes one byte to once it has
  // recorded the init's pid; EOF (the runtime died first) ends the child.
  int goFd = -1;
  // exec: the process keeps its parent-death signal (SIGKILL) through its
  // execve: it ends with the runtime that waits for it.
  bool exec = false;
};

[[noreturn]] void runContainerInit(const Config& config, const InitOptions& options, int syncFd);

// For `exec`: the caller has joined the container's namespaces (the mount
// namespace puts it at the container's root); the process steps of 6.
[[noreturn]] void runExecProcess(const Config& config, const InitOptions& options, int syncFd);

}  // namespace tutti::runtime
