#include "frameworks/batch/checkpoint.hpp"

#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/json.hpp"

namespace tutti::batch {
namespace {
constexpr const char* kFile = "/state.json";
}  // namespace

Status Checkpoint::save(const std::string& dir) const {
  Status made = makeDirectories(dir);
  if (!made.ok()) return made;
  nlohmann::json j;
  j["job"] = job;
  j["framework_id"] = frameworkId;
  j["succeeded"] = succeeded;
  j["launched"] = launched;
  return writeFileAtomically(dir + kFile, j.dump(1) + "\n");
}

Result<Checkpoint> Checkpoint::load(const std::string& dir) {
  auto text = readFile(dir + kFile);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) return Checkpoint();
    return text.status();
  }
  auto j = tutti::json::parse(*text);
  auto corrupt = Status::InvalidArgument(dir + kFile + " is not a tutti-batch checkpoint");
  if (j.is_discarded() || !j.is_object()) return corrupt;
  try {
    Checkpoint c;
    c.job = j.at("job").get<std::string>();
    c.frameworkId = j.at("framework_id").get<std::string>();
    c.succeeded = j.at("succeeded").get<std::set<std::string>>();
    const auto& launched = j.at("launched");
    if (launched.is_array()) {
      // Written before agent ids were kept: reconciled without one.
      for (const auto& id : launched.get<std::set<std::string>>()) c.launched[id] = "";
    } else {
      c.launched = launched.get<std::map<std::string, std::string>>();
    }
    return c;
  } catch (const nlohmann::json::exception&) {
    return corrupt;
  }
}

}  // namespace tutti::batch
