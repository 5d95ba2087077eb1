// tutti-runtime: a config's linux.seccomp as a classic BPF program, as runc
// builds it (libseccomp): unknown system call names are skipped (they do
// not exist on this architecture), rules whose action is the default are
// dropped.
//
// Compiling costs about as much as the rest of a container's start (3 ms
// of CPU on the 2026-12-07 VM), and every task of an agent has the same
// filter: the program is kept in a cache directory, under the hash of the
// filter's canonical text (every field length-prefixed), and the text
// itself is stored with it and compared on every read, with a checksum of
// the program (a collision, a foreign or a torn file is never loaded). The
// cache is <root>/.seccomp, used only when it is a directory of the
// runtime's own user that no one else may read or write.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {

struct SeccompProgram {
  std::vector<sock_filter> instructions;
  std::string cachePath;  // where it is cached ("" when not)
};

// The program of `seccomp`, from `cacheDir` when compiled before (and put
// there when not; "" for no cache). Throws std::runtime_error saying what
// is wrong with the filter.
SeccompProgram compileSeccomp(const Seccomp& seccomp, const std::string& cacheDir);

// Loads `program` into the calling thread; "" on success, else what failed.
// The caller holds CAP_SYS_ADMIN or has set no_new_privs.
std::string loadSeccomp(const SeccompProgram& program);

}  // namespace tutti::runtime
