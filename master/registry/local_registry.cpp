// --registry=local: the whole registry in one file, <work_dir>/registry,
// replaced atomically on every (batched) write: write a temporary file,
// fsync it, rename it over the old one, fsync the directory.
#include <glog/logging.h>

#include "common/files.hpp"
#include "master/registry/registry.hpp"

namespace tutti::master {

namespace {

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
    Status s = writeFileAtomically(dir_ + "/registry", encodeRegistry(state));
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
