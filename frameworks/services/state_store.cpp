#include "frameworks/services/state_store.hpp"

#include <mutex>

#include "common/files.hpp"

namespace tutti::services {
namespace {

constexpr const char* kSuffix = ".json";

class FileStore final : public StateStore {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) {}

  Status put(const std::string& key, const std::string& value) override {
    Status made = makeDirectories(dir_);
    if (!made.ok()) return made;
    return writeFileAtomically(dir_ + "/" + key + kSuffix, value);
  }
  Status remove(const std::string& key) override { return removeTree(dir_ + "/" + key + kSuffix); }
  Result<std::map<std::string, std::string>> loadAll() override {
    std::map<std::string, std::string> all;
    auto names = listDirectory(dir_);
    if (!names.ok()) {
      if (names.status().code() == Status::Code::kNotFound) return all;
      return names.status();
    }
    std::string suffix = kSuffix;
    for (const auto& name : *names) {
      if (name.empty() || name[0] == '.' || name.size() <= suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
        continue;  // temporary files of interrupted writes, and strangers
      }
      auto text = readFile(dir_ + "/" + name);
      if (!text.ok()) return text.status();
      all[name.substr(0, name.size() - suffix.size())] = *text;
    }
    return all;
  }

 private:
  std::string dir_;
};

class MemoryStore final : public StateStore {
 public:
  Status put(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    data_[key] = value;
    return Status::OK();
  }
  Status remove(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    data_.erase(key);
    return Status::OK();
  }
  Result<std::map<std::string, std::string>> loadAll() override {
    std::lock_guard<std::mutex> lock(mu_);
    return data_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> data_;
};

}  // namespace

std::unique_ptr<StateStore> makeFileStore(const std::string& dir) {
  return std::make_unique<FileStore>(dir);
}

std::unique_ptr<StateStore> makeMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace tutti::services
