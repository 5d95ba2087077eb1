// tutti-runtime: a config's linux.seccomp as a filter loaded into the
// calling thread (libseccomp), as runc does: unknown system call names are
// skipped (they do not exist on this architecture), rules whose action is
// the default are dropped.
#pragma once

#include <string>

#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {

// Loads the filter; "" on success, else what failed. With
// `viaNoNewPrivileges` the kernel's no_new_privs is set first (no
// CAP_SYS_ADMIN needed); without it the caller must still hold CAP_SYS_ADMIN.
std::string loadSeccomp(const Seccomp& seccomp, bool viaNoNewPrivileges);

}  // namespace tutti::runtime
