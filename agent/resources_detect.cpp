#include "agent/resources_detect.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cmath>
#include <thread>

namespace tutti::agent {

namespace {
double detectCpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<double>(n) : 1.0;
}

double detectMemMb() {
  double total = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                 static_cast<double>(::sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
  return total >= 2048 ? total - 1024 : total / 2;
}

double detectDiskMb(const std::string& dir) {
  struct statvfs s;
  if (::statvfs(dir.empty() ? "/" : dir.c_str(), &s) != 0) return 0;
  double total = static_cast<double>(s.f_blocks) * static_cast<double>(s.f_frsize) /
                 (1024.0 * 1024.0);
  return total >= 10240 ? total - 5120 : total / 2;
}
}  // namespace

Result<Resources> agentResources(const std::string& flag, const std::string& workDir) {
  auto parsed = Resources::parse(flag);
  if (!parsed.ok()) return parsed.status();
  Resources r = *parsed;
  for (const auto& x : r) {
    // (As in Mesos: volumes are made with CREATE, or /master/create-volumes.)
    if (x.allocationRole || x.disk) {
      return Status::InvalidArgument(
          "--resources cannot hold allocation roles or persistent volumes ('" + x.name +
          "'); make volumes with CREATE or /master/create-volumes");
    }
  }
  auto add = [&](const std::string& text) {
    auto x = Resources::parse(text);
    if (x.ok()) r += *x;
  };
  char buf[64];
  if (r.names().count("cpus") == 0) {
    std::snprintf(buf, sizeof(buf), "cpus:%g", detectCpus());
    add(buf);
  }
  if (r.names().count("mem") == 0) {
    std::snprintf(buf, sizeof(buf), "mem:%.0f", std::floor(detectMemMb()));
    add(buf);
  }
  if (r.names().count("disk") == 0) {
    std::snprintf(buf, sizeof(buf), "disk:%.0f", std::floor(detectDiskMb(workDir)));
    add(buf);
  }
  if (r.names().count("ports") == 0) add("ports:[31000-32000]");
  return r;
}

}  // namespace tutti::agent
