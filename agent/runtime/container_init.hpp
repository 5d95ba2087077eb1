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
//  6. rlimits, the bounding set, groups/gid/uid, capabilities, cwd,
//     no_new_privs, seccomp, execve (args[0] looked up in the config's PATH).
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
};

[[noreturn]] void runContainerInit(const Config& config, const InitOptions& options, int syncFd);

// For `exec`: the caller has joined the container's namespaces (the mount
// namespace puts it at the container's root); the process steps of 6.
[[noreturn]] void runExecProcess(const Config& config, const InitOptions& options, int syncFd);

}  // namespace tutti::runtime
