// Integration: persistent volumes through a real master and agent. An
// operator makes a volume out of disk reserved for a role; tasks of that
// role that use it (a command task, a task of a group) find what an earlier
// task wrote; it cannot be destroyed while a task uses it; destroyed, its
// directory and data are gone. Tasks that do not use it never see it.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <mutex>

#include "agent/volumes.hpp"
#include "common/host.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

namespace fs = std::filesystem;

FrameworkInfo engFramework() {
  FrameworkInfo f;
  f.name = "volumes";
  f.user = currentUserName();
  f.roles = {"eng"};
  return f;
}

// Launches queued commands, each on an offer holding the volume, with the
// volume in its resources (as a group of one when asked); declines the rest.
class VolumeLauncher {
 public:
  explicit VolumeLauncher(RecordingScheduler& s) {
    s.onOffers = [this](SchedulerDriver* d, const std::vector<Offer>& offers) {
      for (const auto& o : offers) {
        Resources volumes = o.resources.volumes().unallocate();
        std::optional<Item> next;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (!queue_.empty() && !volumes.empty()) {
            next = queue_.front();
            queue_.pop_front();
          }
        }
        if (!next) {
          d->declineOffer(o.id, Filters{0.2});
          continue;
        }
        TaskInfo task = commandTask(next->id, next->command, o);
        task.resources += volumes;
        if (next->group) {
          ExecutorInfo e;
          e.executorId = ExecutorID("pod-" + next->id);
          e.resources = *Resources::parse("cpus:0.1;mem:32");
          d->acceptOffers({o.id}, {Offer::Operation::launchGroup(e, {task})}, Filters{0});
        } else {
          d->acceptOffers({o.id}, {Offer::Operation::launch({task})}, Filters{0});
        }
      }
    };
  }
  void add(const std::string& id, const std::string& command, bool group = false) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({id, command, group});
  }

 private:
  struct Item {
    std::string id;
    std::string command;
    bool group = false;
  };
  std::mutex mu_;
  std::deque<Item> queue_;
};

httplib::Result post(int port, const std::string& path, const nlohmann::json& body) {
  httplib::Client client("127.0.0.1", port);
  return client.Post(path, body.dump(), "application/json");
}

nlohmann::json dbVolume(double mb) {
  return nlohmann::json::array(
      {{{"name", "disk"},
        {"type", "SCALAR"},
        {"scalar", {{"value", mb}}},
        {"reservations", {{{"type", "STATIC"}, {"role", "eng"}}}},
        {"disk",
         {{"persistence", {{"id", "db"}, {"principal", "ops"}}},
          {"volume", {{"mode", "RW"}, {"container_path", "data/db"}}}}}}});
}

TEST(PersistentVolumeTest, KeepsItsDataFromTaskToTaskUntilDestroyed) {
  auto master = StartMaster();
  auto options = testAgentOptions("", "");
  options.resources += ";disk(eng):200";
  auto agent = StartAgent(*master, options);
  std::string agentId;
  ASSERT_TRUE(waitUntil([&] {
    auto state = getJson(master->httpPort(), "/master/state");
    if (!state.is_object() || state["slaves"].empty()) return false;
    agentId = state["slaves"][0]["id"].get<std::string>();
    return true;
  }));

  // Bad requests change nothing: too big, read-only, unknown agent.
  auto tooBig = post(master->httpPort(), "/master/create-volumes",
                     {{"agent_id", agentId}, {"volumes", dbVolume(500)}});
  ASSERT_TRUE(tooBig);
  EXPECT_EQ(tooBig->status, 409) << tooBig->body;
  auto readOnly = dbVolume(64);
  readOnly[0]["disk"]["volume"]["mode"] = "RO";
  auto ro = post(master->httpPort(), "/master/create-volumes",
                 {{"agent_id", agentId}, {"volumes", readOnly}});
  ASSERT_TRUE(ro);
  EXPECT_EQ(ro->status, 400) << ro->body;
  auto unknown = post(master->httpPort(), "/master/create-volumes",
                      {{"agent_id", "no-such-agent"}, {"volumes", dbVolume(64)}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;

  auto created = post(master->httpPort(), "/master/create-volumes",
                      {{"agent_id", agentId}, {"volumes", dbVolume(64)}});
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 202) << created->body;
  std::string dir = agent::volumesRoot(agent->options().workDir) + "/eng/db";
  ASSERT_TRUE(waitUntil([&] { return fs::is_directory(dir); })) << dir;
  const auto state = getJson(master->httpPort(), "/master/state");
  const auto& full = state.at("slaves").at(0).at("reserved_resources_full");
  std::vector<std::string> ids;
  for (const auto& r : full.value("eng", nlohmann::json::array())) {
    if (r.contains("disk")) ids.push_back(r.at("disk").at("persistence").at("id"));
  }
  EXPECT_EQ(ids, std::vector<std::string>{"db"}) << full.dump();

  RecordingScheduler scheduler;
  VolumeLauncher launcher(scheduler);
  launcher.add("write", "echo kept > data/db/f");
  TuttiSchedulerDriver driver(&scheduler, engFramework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("write"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "write") ? lastUpdate(scheduler, "write")->message : "");
  auto written = readFile(dir + "/f");
  ASSERT_TRUE(written.ok()) << written.error();
  EXPECT_EQ(*written, "kept\n");

  // The next task, and a task of a group in its own sandbox, read it.
  launcher.add("read", "test \"$(cat data/db/f)\" = kept");
  ASSERT_TRUE(scheduler.waitForState(TaskID("read"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "read") ? lastUpdate(scheduler, "read")->message : "");
  launcher.add("group-read", "test \"$(cat data/db/f)\" = kept", /*group=*/true);
  ASSERT_TRUE(scheduler.waitForState(TaskID("group-read"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "group-read") ? lastUpdate(scheduler, "group-read")->message
                                              : "");

  // Ended tasks keep no link to it in their sandboxes.
  auto links = [&] {
    int n = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(agent->options().workDir + "/slaves", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_symlink() && fs::read_symlink(it->path(), ec) == dir) ++n;
    }
    return n;
  };
  EXPECT_TRUE(waitUntil([&] { return links() == 0; })) << links() << " links left";

  // In use: not destroyed.
  launcher.add("hold", "exec sleep 1000");
  ASSERT_TRUE(scheduler.waitForState(TaskID("hold"), TaskState::TASK_RUNNING));
  auto busy = post(master->httpPort(), "/master/destroy-volumes",
                   {{"agent_id", agentId}, {"volumes", dbVolume(64)}});
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 409) << busy->body;
  EXPECT_TRUE(fs::exists(dir + "/f"));
  driver.killTask(TaskID("hold"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("hold"), TaskState::TASK_KILLED));

  // Free again: destroyed, with its data, by the operator's CLI, which
  // finds it in the master's state. (The master may still be recovering
  // the killed task's resources: retry while it says in use.)
  std::string cliMaster = "--master=127.0.0.1:" + std::to_string(master->httpPort());
  auto listed = runCommand({binary("tutti"), cliMaster, "volume", "list"}, std::chrono::seconds(30));
  EXPECT_EQ(listed.exitCode, 0) << listed.output;
  EXPECT_NE(listed.output.find("data/db"), std::string::npos) << listed.output;
  auto missing = runCommand({binary("tutti"), cliMaster, "volume", "destroy", agentId, "nope"},
                            std::chrono::seconds(30));
  EXPECT_EQ(missing.exitCode, 1);
  EXPECT_NE(missing.output.find("No volume 'nope'"), std::string::npos) << missing.output;
  CommandResult destroyed;
  ASSERT_TRUE(waitUntil([&] {
    destroyed = runCommand({binary("tutti"), cliMaster, "volume", "destroy", agentId, "db"},
                           std::chrono::seconds(30));
    return destroyed.exitCode == 0;
  })) << destroyed.output;
  EXPECT_NE(destroyed.output.find("destroyed"), std::string::npos) << destroyed.output;
  ASSERT_TRUE(waitUntil([&] { return !fs::exists(dir); }));
  driver.stop();
}

}  // namespace
}  // namespace tutti::testing
