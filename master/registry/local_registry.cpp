// --registry=local: the whole registry in one file, <work_dir>/registry,
// replaced atomically on every (batched) write: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
#include <fcntl.h>
#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "master/registry/registry.hpp"

namespace tutti::master {

namespace {

Status writeAtomically(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/." + name + ".tmp";
  std::string path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("open " + tmp + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::IoError("write " + tmp + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Status::IoError("fsync " + tmp + ": " + std::strerror(e));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("rename " + tmp + ": " + std::strerror(errno));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

Result<std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path);
    return Status::IoError("open " + path + ": " + std::strerror(errno));
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Status::IoError("read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class LocalRegistry final : public Registry {
 public:
  LocalRegistry(Loop& loop, std::string dir) : Registry(loop), dir_(std::move(dir)) {}
  const char* name() const override { return "local"; }

 protected:
  void load(std::function<void(Result<RegistryState>)> done) override {
    Result<RegistryState> result = RegistryState{};
    auto bytes = readFile(dir_ + "/registry");
    if (bytes.ok()) {
      result = decodeRegistry(*bytes);
      if (!result.ok()) {
        result = Status::InvalidArgument("the registry file " + dir_ + "/registry is corrupt (" +
                                         result.error() +
                                         "); it is left in place for the operator");
      }
    } else if (bytes.status().code() != Status::Code::kNotFound) {
      result = bytes.status();
    }
    loop_.post("registry.load", [done = std::move(done), result]() { done(result); });
  }

  void store(const RegistryState& state, const Dirty&, Done done) override {
    // Small and sequential: done on the loop (a few hundred microseconds
    // for thousands of agents; fsync dominates).
    Status s = writeAtomically(dir_, "registry", encodeRegistry(state));
    loop_.post("registry.stored", [done = std::move(done), s] { done(s); });
  }

 private:
  std::string dir_;
};

}  // namespace

std::unique_ptr<Registry> makeLocalRegistry(Loop& loop, const std::string& dir) {
  return std::make_unique<LocalRegistry>(loop, dir);
}

}  // namespace tutti::master
