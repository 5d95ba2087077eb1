#include "agent/runtime/container_state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {

namespace {

using json = nlohmann::json;

[[noreturn]] void error(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string readSmall(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool StateDir::claim(const std::string& id) const {
  std::string prefix;
  std::stringstream parts(root_);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) error("cannot create " + prefix);
  }
  if (::mkdir(dir(id).c_str(), 0700) == 0) return true;
  if (errno == EEXIST) return false;
  error("cannot create " + dir(id));
}

namespace {
constexpr const char* kRecords[] = {"/state.json", "/starting.json"};
}  // namespace

void StateDir::save(const ContainerState& s) const {
  json j{{"ociVersion", "1.0.2"}, {"id", s.id},     {"started", s.started}, {"pid", s.pid},
         {"startTime", s.startTime}, {"bundle", s.bundle},
         {"devicesCgroup", s.devicesCgroup}, {"createdUnixMs", s.createdUnixMs}};
  std::string path = dir(s.id) + (s.started ? kRecords[0] : kRecords[1]);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) error("cannot write " + tmp);
  std::string text = j.dump();
  ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size())) error("cannot write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) error("cannot rename " + tmp);
}

std::optional<ContainerState> StateDir::load(const std::string& id) const {
  struct stat st;
  if (::stat(dir(id).c_str(), &st) != 0) return std::nullopt;
  ContainerState s;
  s.id = id;
  json j;
  bool running = false;
  for (const char* record : kRecords) {
    j = json::parse(readSmall(dir(id) + record), nullptr, false);
    running = record == kRecords[0];
    if (j.is_object()) break;
  }
  if (!j.is_object()) return s;
  s.started = j.value("started", running);
  s.pid = j.value("pid", 0);
  s.startTime = j.value("startTime", uint64_t{0});
  s.bundle = j.value("bundle", "");
  s.devicesCgroup = j.value("devicesCgroup", "");
  s.createdUnixMs = j.value("createdUnixMs", int64_t{0});
  return s;
}

void StateDir::remove(const std::string& id) const {
  for (const char* record : kRecords) {
    ::unlink((dir(id) + record).c_str());
    ::unlink((dir(id) + record + ".tmp").c_str());
  }
  if (::rmdir(dir(id).c_str()) != 0 && errno != ENOENT) error("cannot remove " + dir(id));
}

std::vector<std::string> StateDir::list() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  ::closedir(d);
  return out;
}

bool validContainerId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id[0] == '.') return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

uint64_t processStartTime(pid_t pid) {
  std::string text = readSmall("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // Field 3 (state) is the first after the name; 22 is the 20th from there.
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

int openInit(const ContainerState& s) {
  if (s.pid <= 0) return -1;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0));
  if (fd < 0) return -1;
  // Checked with the pidfd held: the answer stays true for it.
  if (processStartTime(s.pid) != s.startTime) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ownDevicesCgroup() {
  std::string path;
  std::stringstream lines(readSmall("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    // hierarchy-ID:controller-list:path
    auto a = line.find(':');
    auto b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::stringstream controllers(line.substr(a + 1, b - a - 1));
    std::string c;
    while (std::getline(controllers, c, ',')) {
      if (c == "devices") path = line.substr(b + 1);
    }
  }
  if (path.empty()) return "";
  // Where every distribution mounts it; the mount table (long on an agent:
  // a mount per running container) is read only when it is elsewhere.
  struct statfs fs;
  struct stat st;
  const std::string usual = "/sys/fs/cgroup/devices";
  if (::statfs(usual.c_str(), &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC &&
      ::stat((usual + "/devices.allow").c_str(), &st) == 0) {
    return usual + (path == "/" ? "" : path);
  }
  std::stringstream mounts(readSmall("/proc/self/mountinfo"));
  while (std::getline(mounts, line)) {
    // ... mount-point ... - cgroup cgroup rw,...,devices
    std::istringstream f(line);
    std::vector<std::string> fields;
    std::string w;
    while (f >> w) fields.push_back(w);
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (dash == fields.end() || fields.size() < 5 || std::distance(dash, fields.end()) < 4) continue;
    if (*(dash + 1) != "cgroup") continue;
    std::stringstream options(*(dash + 3));
    std::string o;
    bool devices = false;
    while (std::getline(options, o, ',')) devices = devices || o == "devices";
    if (!devices) continue;
    // The mount's root (field 4) is a prefix of our path unless we are in a
    // cgroup namespace of our own.
    std::string root = fields[3];
    std::string rel = path;
    if (root != "/" && rel.rfind(root, 0) == 0) rel = rel.substr(root.size());
    return fields[4] + (rel == "/" ? "" : rel);
  }
  return "";
}

void makeDevicesCgroup(const std::string& dir, const std::vector<DeviceRule>& rules) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) error("cannot create " + dir);
  auto rule = [](char type, int64_t major, int64_t minor, const std::string& access) {
    auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
    if (type == 'a') return std::string("a");
    return std::string(1, type) + " " + num(major) + ":" + num(minor) + " " + access;
  };
  // One descriptor per file, one rule per write (opening a cgroup file
  // costs more than writing to it).
  int allow = ::open((dir + "/devices.allow").c_str(), O_WRONLY | O_CLOEXEC);
  int deny = ::open((dir + "/devices.deny").c_str(), O_WRONLY | O_CLOEXEC);
  auto put = [&](bool allowed, const std::string& text) {
    int fd = allowed ? allow : deny;
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      error("cannot write '" + text + "' to " + dir + (allowed ? "/devices.allow" : "/devices.deny"));
    }
  };
  try {
    for (const auto& r : rules) put(r.allow, rule(r.type, r.major, r.minor, r.access));
    for (const char* d : {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                          "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"}) {
      put(true, d);
    }
  } catch (...) {
    if (allow >= 0) ::close(allow);
    if (deny >= 0) ::close(deny);
    ::rmdir(dir.c_str());
    throw;
  }
  ::close(allow);
  ::close(deny);
}

bool removeDevicesCgroup(const std::string& dir, int patienceMs) {
  if (dir.empty()) return true;
  for (int waited = 0;; waited += 5) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY || waited >= patienceMs) return false;
    struct timespec ts = {0, 5 * 1000 * 1000};
    ::nanosleep(&ts, nullptr);
  }
}

}  // namespace tutti::runtime
