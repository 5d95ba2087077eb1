// User accounts of this host, for running tasks as their users (the
// agent's --switch_user). Any thread (getpwnam_r/getgrouplist are
// reentrant).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "tutti/status.hpp"

namespace tutti {

// What a process needs to become `name`: its ids, every group it is a
// member of (the primary one included), and its home directory.
struct UserAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;
};

// Looks `name` up through NSS (passwd, then its groups). NotFound when the
// host has no such user; InvalidArgument for an empty name or one with a
// NUL or '/'; IoError when the lookup itself fails.
Result<UserAccount> lookupUser(const std::string& name);

}  // namespace tutti
