// Who and where this process is, for FrameworkInfo.user/hostname and the
// like. Any thread; never fails (falls back to "nobody" and "localhost").
#pragma once

#include <string>

namespace tutti {

// The name of the (real) user, or "nobody" when it has none.
std::string currentUserName();
// This machine's host name (gethostname), or "localhost" when unknown.
std::string localHostname();

}  // namespace tutti
