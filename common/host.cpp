#include "common/host.hpp"

#include <pwd.h>
#include <unistd.h>

namespace tutti {

std::string currentUserName() {
  struct passwd* pw = getpwuid(getuid());
  return pw && pw->pw_name ? pw->pw_name : "nobody";
}

std::string localHostname() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

}  // namespace tutti
