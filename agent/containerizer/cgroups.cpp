#include "agent/containerizer/cgroups.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/files.hpp"

namespace tutti::agent {

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string joinPath(const std::string& a, const std::string& b) {
  std::string out = a;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  std::string rest = b;
  while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
  if (rest.empty()) return out;
  return out == "/" ? "/" + rest : out + "/" + rest;
}

// mountinfo escapes spaces and a few other characters as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

Status writeControl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string m = "cannot open " + path + ": " + std::strerror(e);
    return e == EACCES || e == EPERM ? Status::PermissionDenied(m) : Status::IoError(m);
  }
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Status::IoError("cannot write '" + value + "' to " + path + ": " + std::strerror(e));
  }
  return Status::OK();
}

std::optional<uint64_t> readNumber(const std::string& path) {
  auto text = readFile(path);
  if (!text.ok()) return std::nullopt;
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s == "max") return std::nullopt;
  try {
    return std::stoull(s);
  } catch (...) {
    return std::nullopt;
  }
}

std::string controllerFile(const CgroupLayout& layout, const std::string& controller,
                           const std::string& containerId, const std::string& file) {
  return layout.dir(controller, containerId) + "/" + file;
}

}  // namespace

const char* toString(CgroupVersion v) {
  switch (v) {
    case CgroupVersion::kNone: return "none";
    case CgroupVersion::kV1: return "v1";
    case CgroupVersion::kV2: return "v2";
  }
  return "unknown";
}

std::vector<MountEntry> parseMountInfo(std::string_view text) {
  // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  std::vector<MountEntry> out;
  for (const auto& line : split(text, '\n')) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::vector<std::string> fields;
    for (std::string f; in >> f;) fields.push_back(f);
    size_t dash = 0;
    for (size_t i = 6; i < fields.size(); ++i) {
      if (fields[i] == "-") {
        dash = i;
        break;
      }
    }
    if (dash == 0 || dash + 3 >= fields.size()) continue;
    MountEntry m;
    m.root = unescape(fields[3]);
    m.mountPoint = unescape(fields[4]);
    m.fsType = fields[dash + 1];
    m.superOptions = split(fields[dash + 3], ',');
    out.push_back(std::move(m));
  }
  return out;
}

std::map<std::string, std::string> parseProcCgroup(std::string_view text) {
  // 4:memory:/process_api/x     2:cpu,cpuacct:/a     0::/b
  std::map<std::string, std::string> out;
  for (const auto& line : split(text, '\n')) {
    size_t a = line.find(':');
    if (a == std::string::npos) continue;
    size_t b = line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& c : split(controllers, ',')) out[c] = path;
  }
  return out;
}

std::string CgroupLayout::dir(const std::string& controller, const std::string& containerId) const {
  auto it = roots.find(controller);
  if (it == roots.end()) return "";
  return it->second + "/" + containerId;
}

std::vector<std::string> CgroupLayout::dirs(const std::string& containerId) const {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& [_, root] : roots) {
    if (seen.insert(root).second) out.push_back(root + "/" + containerId);
  }
  return out;
}

std::string CgroupLayout::describe() const {
  std::string s = std::string("cgroups ") + toString(version);
  for (const auto& [c, r] : roots) s += " " + c + "=" + r;
  return s;
}

Result<CgroupLayout> detectCgroups(
    std::string_view mountinfo, std::string_view procCgroup, const std::set<std::string>& wanted,
    const std::string& root,
    const std::function<Result<std::string>(const std::string&)>& readFile) {
  auto mounts = parseMountInfo(mountinfo);
  auto own = parseProcCgroup(procCgroup);
  CgroupLayout v1;
  v1.version = CgroupVersion::kV1;
  const MountEntry* unified = nullptr;
  for (const auto& m : mounts) {
    if (m.fsType == "cgroup2") {
      if (!unified) unified = &m;
      continue;
    }
    if (m.fsType != "cgroup") continue;
    for (const auto& c : wanted) {
      if (v1.has(c)) continue;
      bool mounted = false;
      for (const auto& o : m.superOptions) mounted = mounted || o == c;
      if (!mounted) continue;
      // The agent's own cgroup, relative to this mount's root.
      std::string path = own.count(c) ? own[c] : "/";
      if (m.root != "/" && path.rfind(m.root, 0) == 0) path = path.substr(m.root.size());
      v1.roots[c] = joinPath(joinPath(m.mountPoint, path), root);
    }
  }
  if (!v1.roots.empty()) {
    if (v1.has("memory")) {
      auto probe = readFile(joinPath(v1.roots["memory"], "..") + "/memory.memsw.limit_in_bytes");
      v1.memsw = probe.ok();
    }
    return v1;
  }
  if (unified) {
    auto controllers = readFile(unified->mountPoint + "/cgroup.controllers");
    if (controllers.ok()) {
      CgroupLayout v2;
      v2.version = CgroupVersion::kV2;
      std::set<std::string> have;
      std::istringstream in(*controllers);
      for (std::string c; in >> c;) have.insert(c);
      for (const auto& c : wanted) {
        // cpuacct has no v2 controller: cpu.stat is always there.
        if (c == "cpuacct" ? have.count("cpu") : have.count(c)) {
          v2.roots[c] = joinPath(unified->mountPoint, root);
        }
      }
      if (!v2.roots.empty()) return v2;
    }
  }
  std::string names;
  for (const auto& c : wanted) names += (names.empty() ? "" : ",") + c;
  return Status::NotFound("no cgroup hierarchy (v1 or v2) offers the controllers " + names);
}

Result<CgroupLayout> detectHostCgroups(const std::set<std::string>& wanted,
                                       const std::string& root) {
  auto mountinfo = readFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return mountinfo.status();
  auto procCgroup = readFile("/proc/self/cgroup");
  if (!procCgroup.ok()) return procCgroup.status();
  auto layout = detectCgroups(*mountinfo, *procCgroup, wanted, root,
                              [](const std::string& p) { return readFile(p); });
  if (!layout.ok()) return layout;
  if (layout->version == CgroupVersion::kV2) {
    const std::string rootDir = layout->roots.begin()->second;
    const std::string mount = rootDir.substr(0, rootDir.rfind('/'));
    std::string enable;
    for (const auto& [c, _] : layout->roots) {
      if (c != "cpuacct") enable += (enable.empty() ? "+" : " +") + c;
    }
    Status s = writeControl(mount + "/cgroup.subtree_control", enable);
    if (!s.ok()) return s;
    s = makeDirectories(rootDir);
    if (!s.ok()) return s;
    s = writeControl(rootDir + "/cgroup.subtree_control", enable);
    if (!s.ok()) return s;
    return layout;
  }
  for (const auto& [c, dir] : layout->roots) {
    Status s = makeDirectories(dir);
    if (!s.ok()) return Status::PermissionDenied("cannot create " + dir + ": " + s.message());
  }
  return layout;
}

ContainerLimits computeLimits(const Resources& resources, uint64_t defaultPids, bool cfs) {
  ContainerLimits l;
  l.cfs = cfs;
  l.cpus = std::max(resources.scalar("cpus"), kMinCpus);
  double memMb = resources.scalar("mem");
  l.memBytes = std::max<uint64_t>(static_cast<uint64_t>(memMb * 1024 * 1024), kMinMemoryBytes);
  double pids = resources.scalar("pids");
  l.pids = pids >= 1 ? static_cast<uint64_t>(pids) : defaultPids;
  return l;
}

std::vector<CgroupWrite> limitWrites(const CgroupLayout& layout, const ContainerLimits& l) {
  std::vector<CgroupWrite> w;
  const bool v2 = layout.version == CgroupVersion::kV2;
  if (layout.has("cpu") && l.cpus > 0) {
    uint64_t shares =
        std::max<uint64_t>(static_cast<uint64_t>(kCpuSharesPerCpu * l.cpus), kMinCpuShares);
    uint64_t quota = std::max<uint64_t>(static_cast<uint64_t>(kCfsPeriodUs * l.cpus),
                                        kMinCfsQuotaUs);
    if (v2) {
      // cpu.weight is 1..10000, 100 by default: the v1 shares mapped as systemd does.
      uint64_t weight = 1 + ((shares - 2) * 9999) / 262142;
      w.push_back({"cpu", "cpu.weight", std::to_string(std::clamp<uint64_t>(weight, 1, 10000))});
      w.push_back({"cpu", "cpu.max",
                   (l.cfs ? std::to_string(quota) : std::string("max")) + " " +
                       std::to_string(kCfsPeriodUs)});
    } else {
      w.push_back({"cpu", "cpu.shares", std::to_string(shares)});
      if (l.cfs) {
        w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCfsPeriodUs)});
        w.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(quota)});
      }
    }
  }
  if (layout.has("memory") && l.memBytes > 0) {
    std::string bytes = std::to_string(l.memBytes);
    if (v2) {
      w.push_back({"memory", "memory.max", bytes});
      w.push_back({"memory", "memory.swap.max", "0"});
    } else {
      // memsw must stay >= the memory limit: applyWrites retries a write
      // refused because of the order once the others are done.
      w.push_back({"memory", "memory.limit_in_bytes", bytes});
      if (layout.memsw) w.push_back({"memory", "memory.memsw.limit_in_bytes", bytes});
    }
  }
  if (layout.has("pids")) {
    w.push_back({"pids", "pids.max", l.pids > 0 ? std::to_string(l.pids) : "max"});
  }
  return w;
}

namespace {
Status applyWrites(const CgroupLayout& layout, const std::string& containerId,
                   const ContainerLimits& limits) {
  std::vector<CgroupWrite> retry;
  for (const auto& w : limitWrites(layout, limits)) {
    Status s = writeControl(controllerFile(layout, w.controller, containerId, w.file), w.value);
    if (!s.ok()) retry.push_back(w);
  }
  for (const auto& w : retry) {
    std::string path = controllerFile(layout, w.controller, containerId, w.file);
    // memory.swap.max is missing without swap accounting: not an error.
    if (w.file == "memory.swap.max" && ::access(path.c_str(), F_OK) != 0) continue;
    Status s = writeControl(path, w.value);
    if (!s.ok()) return s;
  }
  return Status::OK();
}
}  // namespace

Status createContainerCgroups(const CgroupLayout& layout, const std::string& containerId,
                              const ContainerLimits& limits) {
  for (const auto& d : layout.dirs(containerId)) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::IoError("cannot create cgroup " + d + ": " + std::strerror(errno));
    }
  }
  return applyWrites(layout, containerId, limits);
}

Status updateContainerLimits(const CgroupLayout& layout, const std::string& containerId,
                             const ContainerLimits& limits) {
  return applyWrites(layout, containerId, limits);
}

Status addProcess(const CgroupLayout& layout, const std::string& containerId, pid_t pid) {
  for (const auto& d : layout.dirs(containerId)) {
    Status s = writeControl(d + "/cgroup.procs", std::to_string(pid));
    if (!s.ok()) return s;
  }
  return Status::OK();
}

namespace {

// The container's directories and every cgroup below them (an OCI runtime
// nests its own, e.g. <container>/tutti-oci-<id>), children before their
// parents, so that rmdir can go in this order.
std::vector<std::string> containerTree(const CgroupLayout& layout, const std::string& containerId) {
  std::vector<std::string> out;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    auto names = listDirectory(dir);
    if (!names.ok()) return;  // gone
    for (const auto& n : *names) {
      std::string child = dir + "/" + n;
      struct stat st;
      if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) walk(child);
    }
    out.push_back(dir);
  };
  for (const auto& d : layout.dirs(containerId)) walk(d);
  return out;
}

}  // namespace

std::vector<pid_t> containerProcesses(const CgroupLayout& layout, const std::string& containerId) {
  std::set<pid_t> pids;
  for (const auto& d : containerTree(layout, containerId)) {
    auto text = readFile(d + "/cgroup.procs");
    if (!text.ok()) continue;
    std::istringstream in(*text);
    for (pid_t p; in >> p;) pids.insert(p);
  }
  return {pids.begin(), pids.end()};
}

Status destroyContainerCgroups(const CgroupLayout& layout, const std::string& containerId) {
  // v2 has cgroup.kill (5.14+); v1 has no atomic kill, so keep killing what
  // is listed (a fork in flight can add a process) until none is left.
  if (layout.version == CgroupVersion::kV2) {
    for (const auto& d : layout.dirs(containerId)) (void)writeControl(d + "/cgroup.kill", "1");
  }
  for (int round = 0; round < 200; ++round) {
    auto pids = containerProcesses(layout, containerId);
    if (pids.empty()) break;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 20 ? 1 : 10));
  }
  std::string failed;
  for (const auto& d : containerTree(layout, containerId)) {
    // A killed process leaves the cgroup when it is reaped, a moment later.
    bool removed = false;
    for (int i = 0; i < 200 && !removed; ++i) {
      removed = ::rmdir(d.c_str()) == 0 || errno == ENOENT;
      if (!removed && errno != EBUSY) break;
      if (!removed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!removed) failed += (failed.empty() ? "" : ", ") + d + " (" + std::strerror(errno) + ")";
  }
  if (!failed.empty()) return Status::IoError("cannot remove cgroup " + failed);
  return Status::OK();
}

Status tryDestroyContainerCgroups(const CgroupLayout& layout, const std::string& containerId) {
  if (layout.version == CgroupVersion::kV2) {
    for (const auto& d : layout.dirs(containerId)) (void)writeControl(d + "/cgroup.kill", "1");
  }
  for (pid_t p : containerProcesses(layout, containerId)) ::kill(p, SIGKILL);
  std::string busy;
  for (const auto& d : containerTree(layout, containerId)) {
    if (::rmdir(d.c_str()) == 0 || errno == ENOENT) continue;
    if (errno != EBUSY) {
      return Status::IoError("cannot remove cgroup " + d + ": " + std::strerror(errno));
    }
    busy += (busy.empty() ? "" : ", ") + d;
  }
  if (!busy.empty()) return Status::Unavailable("cgroup still has processes: " + busy);
  return Status::OK();
}

std::set<std::string> listContainerCgroups(const CgroupLayout& layout) {
  std::set<std::string> out;
  std::set<std::string> seen;
  for (const auto& [_, root] : layout.roots) {
    if (!seen.insert(root).second) continue;
    auto names = listDirectory(root);
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      struct stat st;
      if (::stat((root + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.insert(n);
    }
  }
  return out;
}

std::map<std::string, uint64_t> parseKeyValues(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (const auto& line : split(text, '\n')) {
    std::istringstream in(line);
    std::string key;
    uint64_t value = 0;
    if (in >> key >> value) out[key] = value;
  }
  return out;
}

uint64_t oomKillCount(const CgroupLayout& layout, const std::string& containerId) {
  if (!layout.has("memory")) return 0;
  if (layout.version == CgroupVersion::kV2) {
    // memory.events counts the whole subtree.
    auto text = readFile(controllerFile(layout, "memory", containerId, "memory.events"));
    if (!text.ok()) return 0;
    auto kv = parseKeyValues(*text);
    return kv.count("oom_kill") ? kv["oom_kill"] : 0;
  }
  // v1 counts a kill in the cgroup of the victim: an OCI runtime's cgroup
  // nested in the container's holds the task's.
  uint64_t total = 0;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    auto text = readFile(dir + "/memory.oom_control");
    if (!text.ok()) return;
    auto kv = parseKeyValues(*text);
    total += kv.count("oom_kill") ? kv["oom_kill"] : 0;
    auto names = listDirectory(dir);
    if (!names.ok()) return;
    for (const auto& n : *names) {
      struct stat st;
      std::string child = dir + "/" + n;
      if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) walk(child);
    }
  };
  walk(layout.dir("memory", containerId));
  return total;
}

ContainerUsage readContainerUsage(const CgroupLayout& layout, const std::string& containerId) {
  ContainerUsage u;
  const bool v2 = layout.version == CgroupVersion::kV2;
  auto file = [&](const std::string& c, const std::string& f) {
    return controllerFile(layout, c, containerId, f);
  };
  if (v2 && layout.has("cpu")) {
    auto text = readFile(file("cpu", "cpu.stat"));
    if (text.ok()) {
      auto kv = parseKeyValues(*text);
      u.cpusUserSecs = kv["user_usec"] / 1e6;
      u.cpusSystemSecs = kv["system_usec"] / 1e6;
    }
  } else if (layout.has("cpuacct")) {
    auto text = readFile(file("cpuacct", "cpuacct.stat"));
    if (text.ok()) {
      auto kv = parseKeyValues(*text);
      double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
      u.cpusUserSecs = kv["user"] / hz;
      u.cpusSystemSecs = kv["system"] / hz;
    }
  }
  if (layout.has("memory")) {
    u.memUsageBytes = readNumber(file("memory", v2 ? "memory.current" : "memory.usage_in_bytes"));
    u.memMaxUsageBytes =
        readNumber(file("memory", v2 ? "memory.peak" : "memory.max_usage_in_bytes"));
    u.memLimitBytes = readNumber(file("memory", v2 ? "memory.max" : "memory.limit_in_bytes"));
    auto text = readFile(file("memory", "memory.stat"));
    if (text.ok()) {
      auto kv = parseKeyValues(*text);
      u.memRssBytes = v2 ? kv["anon"] : (kv.count("total_rss") ? kv["total_rss"] : kv["rss"]);
    }
    u.oomKills = oomKillCount(layout, containerId);
  }
  if (layout.has("pids")) u.processes = readNumber(file("pids", "pids.current"));
  return u;
}

}  // namespace tutti::agent
