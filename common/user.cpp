#include "common/user.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tutti {

Result<UserAccount> lookupUser(const std::string& name) {
  if (name.empty() || name.find('\0') != std::string::npos || name.find('/') != std::string::npos) {
    return Status::InvalidArgument("'" + name + "' is not a user name");
  }
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 4096);
  struct passwd pw;
  struct passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (1u << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 && rc != ENOENT && rc != ESRCH) {
    return Status::IoError("cannot look up user '" + name + "': " + std::strerror(rc));
  }
  if (!found) return Status::NotFound("no user '" + name + "' on this host");

  UserAccount u;
  u.name = name;
  u.uid = pw.pw_uid;
  u.gid = pw.pw_gid;
  u.home = pw.pw_dir ? pw.pw_dir : "/";
  int n = 16;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  while (::getgrouplist(name.c_str(), u.gid, groups.data(), &n) < 0) {
    if (n <= static_cast<int>(groups.size())) n = static_cast<int>(groups.size()) * 2;
    if (n > 65536) return Status::IoError("user '" + name + "' is in too many groups");
    groups.resize(static_cast<size_t>(n));
  }
  groups.resize(static_cast<size_t>(n));
  u.groups = std::move(groups);
  return u;
}

}  // namespace tutti
