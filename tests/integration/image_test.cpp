// Integration: tasks in images (issue 5). A small image built from
// busybox-static with umoci, served by a real docker-registry on loopback
// (pushed with skopeo), pulled by the agent's image store and run by the
// agent's OCI runtime (tutti-runtime; the tests that run containers also
// with runc).
// Skipped (with the reason) where the tools are missing or we are not root.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/host.hpp"
#include "agent/containerizer/cgroups.hpp"
#include "agent/containerizer/images/registry_auth.hpp"
#include "agent/volumes.hpp"
#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"
#include "tests/fixtures/image_registry.hpp"
#include "tests/fixtures/process_fixture.hpp"
#include "tests/fixtures/token_server.hpp"
#include "tutti/scheduler.hpp"

namespace tutti::testing {
namespace {

FrameworkInfo framework() {
  FrameworkInfo f;
  f.name = "image-test";
  f.user = currentUserName();
  return f;
}

struct ImageTask {
  std::string id;
  std::string image;
  std::optional<std::string> command;  // nullopt: the image's Entrypoint/Cmd
  std::string resources = "cpus:0.1;mem:64";
  std::optional<std::string> user = std::nullopt;
};

TaskInfo imageTask(const ImageTask& t, const Offer& offer) {
  TaskInfo task = commandTask(t.id, t.command.value_or(""), offer, t.resources);
  if (!t.command) {
    task.command->shell = false;
    task.command->value.clear();
  }
  if (t.user) task.command->user = *t.user;
  task.container = ContainerInfo{Image{Image::Type::DOCKER, t.image, true}, {}};
  return task;
}

// Launches every task on the first offer, once.
void launchOnce(RecordingScheduler& s, std::vector<ImageTask> tasks) {
  auto launched = std::make_shared<std::atomic<bool>>(false);
  s.onOffers = [launched, tasks](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (!launched->exchange(true)) {
        std::vector<TaskInfo> infos;
        for (const auto& t : tasks) infos.push_back(imageTask(t, o));
        d->launchTasks({o.id}, infos);
      } else {
        d->declineOffer(o.id);
      }
    }
  };
}

// The stdout of the (only) run of executor `id` on `agent`.
std::string taskStdout(const agent::AgentOptions& options, const std::string& id) {
  return sandboxFile(options, id, "stdout");
}

// Entries of `dir` but dot names (tutti-runtime keeps its compiled seccomp
// filters in <runtime root>/.seccomp, beside the containers' records).
size_t entries(const std::string& dir) {
  auto names = listDirectory(dir);
  if (!names.ok()) return 0;
  return static_cast<size_t>(
      std::count_if(names->begin(), names->end(), [](const std::string& n) { return n[0] != '.'; }));
}

// One image and one registry for the whole suite (building and pushing take
// about a second).
class ImageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    missing_ = new std::string(imageToolsMissing());
    if (!missing_->empty()) return;
    dir_ = new TempDir();
    layout_ = new std::string(dir_->path() + "/layout");
    Status s = buildTestImage(*layout_, "latest");
    ASSERT_TRUE(s.ok()) << s;
    registry_ = new RegistryServer(dir_->path() + "/registry");
    ASSERT_TRUE(registry_->ok()) << registry_->error();
    s = registry_->push(*layout_, "latest", "busybox:latest");
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    delete registry_;
    delete layout_;
    delete dir_;
    delete missing_;
    registry_ = nullptr;
    layout_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!missing_->empty()) GTEST_SKIP() << *missing_;
    ASSERT_NE(registry_, nullptr);
  }
  std::string image(const std::string& name = "busybox:latest") const {
    return registry_->address() + "/" + name;
  }

  static std::string* missing_;
  static TempDir* dir_;
  static std::string* layout_;
  static RegistryServer* registry_;
};
// The tests that run containers, once with each OCI runtime the agent
// supports: its own (the default) and runc.
class ImageRuntimeTest : public ImageTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ImageTest::SetUp();
    if (GetParam() == "runc" && ::access("/usr/sbin/runc", X_OK) != 0 &&
        ::access("/usr/bin/runc", X_OK) != 0) {
      GTEST_SKIP() << "runc is not installed";
    }
  }
  agent::AgentOptions agentOptions() const {
    agent::AgentOptions o = testAgentOptions("", "");
    o.ociRuntime = GetParam();
    return o;
  }
};

std::string* ImageTest::missing_ = nullptr;
TempDir* ImageTest::dir_ = nullptr;
std::string* ImageTest::layout_ = nullptr;
RegistryServer* ImageTest::registry_ = nullptr;

TEST_P(ImageRuntimeTest, TaskSeesTheImageFilesystemNotTheHosts) {
  auto master = StartMaster();
  auto agent = StartAgent(*master, agentOptions());
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"release", image(),
                          std::string("cat /etc/os-release; pwd; echo sandbox=$MESOS_SANDBOX; "
                                      "test -e /etc/removed-by-layer2 || echo whiteout-ok; "
                                      "ls /opaque; cat /etc/layer2; echo hi > out.txt")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("release"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "release") ? lastUpdate(scheduler, "release")->message : "");
  std::string out = taskStdout(agent->options(), "release");
  EXPECT_NE(out.find("NAME=\"tutti-test-image\""), std::string::npos) << out;
  EXPECT_EQ(out.find("Debian"), std::string::npos) << out;  // not the host's
  EXPECT_NE(out.find("/mnt/tutti/sandbox\nsandbox=/mnt/tutti/sandbox"), std::string::npos) << out;
  EXPECT_NE(out.find("whiteout-ok"), std::string::npos) << out;
  EXPECT_NE(out.find("upper-file"), std::string::npos) << out;
  EXPECT_EQ(out.find("lower-file"), std::string::npos) << out;  // opaque directory
  EXPECT_NE(out.find("layer 2 was here"), std::string::npos) << out;
  if (GetParam() == "tutti-runtime") {
    // Executors run the agent's runtime through a read-only bind mount of
    // it (no container can write to it through /proc/<pid>/exe).
    auto mounts = readFile("/proc/self/mountinfo");
    ASSERT_TRUE(mounts.ok());
    auto at = mounts->find(" " + agent->options().workDir + "/containers/bin/tutti-runtime ro,");
    EXPECT_NE(at, std::string::npos) << *mounts;
  }
  EXPECT_TRUE(waitUntil([&] {
    return entries(agent->options().workDir + "/containers/bundles") == 0 &&
           entries(agent->options().workDir + "/containers/runtime") == 0;
  })) << "the bundle or the runtime state of an ended container is left";
  EXPECT_EQ(entries(agent->options().workDir + "/images/staging"), 0u);
  driver.stop();
}

// A persistent volume made and used in one accept: bind-mounted in the
// container's sandbox, what the task writes lands in the volume on the host.
TEST_P(ImageRuntimeTest, ATaskInAnImageWritesToItsPersistentVolume) {
  auto master = StartMaster();
  auto options = agentOptions();
  options.resources += ";disk(eng):100";
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [launched, img = image()](SchedulerDriver* d,
                                                 const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id);
        continue;
      }
      Resources db{persistentVolume(32, {{ReservationInfo::Type::STATIC, "eng", "", {}}},
                                    "img-db", "data/db")};
      TaskInfo task = imageTask({"writer", img, std::string("echo from-image > data/db/f")}, o);
      task.resources += db;
      d->acceptOffers({o.id}, {Offer::Operation::create(db), Offer::Operation::launch({task})},
                      Filters{0});
    }
  };
  FrameworkInfo f = framework();
  f.roles = {"eng"};
  TuttiSchedulerDriver driver(&scheduler, f, master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("writer"), TaskState::TASK_FINISHED))
      << (lastUpdate(scheduler, "writer") ? lastUpdate(scheduler, "writer")->message : "");
  auto data = readFile(agent::volumesRoot(agent->options().workDir) + "/eng/img-db/f");
  ASSERT_TRUE(data.ok()) << data.error();
  EXPECT_EQ(*data, "from-image\n");
  driver.stop();
}

TEST_P(ImageRuntimeTest, ImageDefaultsRunWhenTheTaskGivesNoCommand) {
  auto master = StartMaster();
  auto agent = StartAgent(*master, agentOptions());
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"defaults", image(), std::nullopt},
                         {"as-user", image(),
                          std::string("id -u; id -g; touch mine && echo wrote its sandbox"),
                          "cpus:0.1;mem:64",
                          std::string("tester")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("defaults"), TaskState::TASK_FINISHED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("as-user"), TaskState::TASK_FINISHED));
  EXPECT_EQ(taskStdout(agent->options(), "defaults"), "cwd=/etc greeting=hello from the image\n");
  EXPECT_EQ(taskStdout(agent->options(), "as-user"), "1234\n1234\nwrote its sandbox\n");
  // Both pulled the image at once: one download.
  auto metrics = getJson(agent->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(metrics.value("slave/image_pulls", -1.0), 1.0);
  driver.stop();
}

TEST_F(ImageTest, BadImagesFailTheTaskWithAMessageAndLeaveNothingPartial) {
  // A digest mismatch: a copy of the image whose layer blob is corrupted in
  // the registry's storage.
  Status s = registry_->push(*layout_, "latest", "corrupt:latest");
  ASSERT_TRUE(s.ok()) << s;
  std::string blobs = registry_->storageDir() + "/docker/registry/v2/blobs/sha256";
  // The layer: the largest blob (busybox), rewritten with other bytes.
  std::string largest;
  uintmax_t size = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(blobs)) {
    if (e.is_regular_file() && e.file_size() > size) {
      size = e.file_size();
      largest = e.path().string();
    }
  }
  ASSERT_FALSE(largest.empty());
  auto original = readFile(largest);
  ASSERT_TRUE(original.ok());
  std::string corrupted = *original;
  corrupted[corrupted.size() / 2] ^= 0x5a;
  ASSERT_TRUE(writeFileAtomically(largest, corrupted, false).ok());

  auto master = StartMaster();
  auto agent = StartAgent(*master);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"corrupt", image("corrupt:latest"), std::string("true")},
                         {"unknown", image("nope:latest"), std::string("true")},
                         {"unreachable", "127.0.0.1:1/busybox:latest", std::string("true")},
                         {"badname", image("Busybox:latest"), std::string("true")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  for (const char* id : {"corrupt", "unknown", "unreachable", "badname"}) {
    ASSERT_TRUE(scheduler.waitForState(TaskID(id), TaskState::TASK_FAILED)) << id;
  }
  // Put the blob back for the other tests.
  ASSERT_TRUE(writeFileAtomically(largest, *original, false).ok());
  auto message = [&](const char* id) { return lastUpdate(scheduler, id)->message; };
  EXPECT_NE(message("corrupt").find("digest mismatch"), std::string::npos) << message("corrupt");
  EXPECT_NE(message("unknown").find("not found in registry"), std::string::npos)
      << message("unknown");
  EXPECT_NE(message("unreachable").find("cannot reach registry 127.0.0.1:1"), std::string::npos)
      << message("unreachable");
  EXPECT_NE(message("badname").find("Invalid image name"), std::string::npos) << message("badname");
  for (const char* id : {"corrupt", "unknown", "unreachable", "badname"}) {
    EXPECT_EQ(lastUpdate(scheduler, id)->reason, Reason::REASON_CONTAINER_LAUNCH_FAILED) << id;
  }
  // Nothing partial: no image record, no staging, no blob of the bad layer.
  const std::string store = agent->options().workDir + "/images";
  EXPECT_EQ(entries(store + "/images"), 0u);
  EXPECT_EQ(entries(store + "/staging"), 0u);
  EXPECT_EQ(entries(store + "/layers"), 0u);
  EXPECT_EQ(entries(store + "/blobs/sha256"), 0u);
  auto metrics = getJson(agent->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(metrics.value("slave/image_pull_errors", -1.0), 4.0);
  driver.stop();
}

TEST_P(ImageRuntimeTest, KilledContainerTaskEndsKilledAndLeavesNothing) {
  auto master = StartMaster();
  auto agent = StartAgent(*master, agentOptions());
  RecordingScheduler scheduler;
  // A duration no other test uses (the two runtimes' runs may overlap).
  const std::string sleep = GetParam() == "runc" ? "sleep 4243" : "sleep 4242";
  launchOnce(scheduler, {{"sleeper", image(), sleep}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("sleeper"), TaskState::TASK_RUNNING));
  driver.killTask(TaskID("sleeper"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("sleeper"), TaskState::TASK_KILLED));
  EXPECT_TRUE(waitUntil([&] {
    return entries(agent->options().workDir + "/containers/bundles") == 0 &&
           entries(agent->options().workDir + "/containers/runtime") == 0;
  }));
  // No process of the container is left (the sleep in its pid namespace).
  CommandResult ps = runCommand({"/usr/bin/pgrep", "-f", "^" + sleep + "$"});
  EXPECT_NE(ps.exitCode, 0) << ps.output;
  driver.stop();
}

// A registry that takes connections and never answers: a listening socket
// nobody accepts on. Closing it resets the connections waiting in it.
class HungRegistry {
 public:
  HungRegistry() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~HungRegistry() { ::close(fd_); }
  int port() const { return port_; }
  // A client is connected (and waiting for an answer).
  bool connected() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(ImageTest, KillDuringAPullEndsTheTaskAtOnce) {
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  // Closed before the agent stops, so that its pull ends.
  HungRegistry hung;
  ASSERT_NE(hung.port(), 0);
  RecordingScheduler scheduler;
  std::string name = "127.0.0.1:" + std::to_string(hung.port()) + "/busybox:latest";
  launchOnce(scheduler, {{"pulling", name, std::string("true")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(waitUntil([&] { return hung.connected(); }));
  // The registry would keep the pull for its 30 s timeout: the kill does
  // not wait for it.
  auto killedAt = std::chrono::steady_clock::now();
  driver.killTask(TaskID("pulling"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("pulling"), TaskState::TASK_KILLED,
                                     std::chrono::seconds(10)));
  // Its executor is gone too (nothing was started), not held until the pull
  // gives up.
  EXPECT_TRUE(waitUntil(
      [&] {
        auto state = getJson(agent->httpPort(), "/state");
        if (!state.is_object()) return false;
        for (const auto& f : state["frameworks"]) {
          if (!f["executors"].empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - killedAt, std::chrono::seconds(10));
  driver.stop();
}

TEST_P(ImageRuntimeTest, MemoryLimitHoldsInsideTheContainer) {
  std::string root = "tutti-test-img-" + std::to_string(::getpid());
  auto layout = agent::detectHostCgroups({"memory"}, root);
  if (!layout.ok() || layout->version == agent::CgroupVersion::kNone) {
    GTEST_SKIP() << "no writable memory cgroup";
  }
  auto cleanup = [&] {
    for (const auto& c : agent::listContainerCgroups(*layout)) {
      (void)agent::destroyContainerCgroups(*layout, c);
    }
    for (const auto& [_, dir] : layout->roots) ::rmdir(dir.c_str());
  };
  {
    auto master = StartMaster();
    agent::AgentOptions options = agentOptions();
    options.isolation = "cgroups/mem";
    options.cgroupsRoot = root;
    auto agent = StartAgent(*master, options);
    RecordingScheduler scheduler;
    launchOnce(scheduler,
               {{"hog", image(), std::string("head -c 300m /dev/zero | tail"), "cpus:0.1;mem:64"}});
    TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
    ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
    ASSERT_TRUE(
        scheduler.waitForState(TaskID("hog"), TaskState::TASK_FAILED, std::chrono::seconds(30)));
    auto hog = lastUpdate(scheduler, "hog");
    EXPECT_EQ(hog->reason, Reason::REASON_CONTAINER_LIMITATION_MEMORY) << hog->message;
    EXPECT_NE(hog->message.find("64 MB"), std::string::npos) << hog->message;
    driver.stop();
  }
  cleanup();
}

TEST_F(ImageTest, HttpsRegistryVerifiedWithTheGivenCa) {
  TempDir dir;
  RegistryServer tls(dir.path() + "/tls", /*tls=*/true);
  ASSERT_TRUE(tls.ok()) << tls.error();
  Status s = tls.push(*layout_, "latest", "secure/busybox:1.0");
  ASSERT_TRUE(s.ok()) << s;
  auto master = StartMaster();
  agent::AgentOptions withCa = testAgentOptions("", "");
  withCa.dockerRegistryCa = tls.caFile();
  withCa.attributes = "ca:given";
  auto agent = StartAgent(*master, withCa);
  agent::AgentOptions without = testAgentOptions("", "");
  without.attributes = "ca:system";  // the system's CAs only
  auto untrusting = StartAgent(*master, without);
  RecordingScheduler scheduler;
  std::atomic<int> launched{0};  // one task per agent (each offer gets one)
  std::string name = tls.address() + "/secure/busybox:1.0";
  scheduler.onOffers = [&](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched.load() < 2) {
        bool given = !o.attributes.empty() && o.attributes[0].value == "given";
        std::string id = given ? "trusted" : "untrusted";
        d->launchTasks({o.id}, {imageTask({id, name, std::string("cat /etc/os-release")}, o)});
        launched++;
      } else {
        d->declineOffer(o.id);
      }
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("trusted"), TaskState::TASK_FINISHED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("untrusted"), TaskState::TASK_FAILED));
  EXPECT_NE(lastUpdate(scheduler, "untrusted")->message.find("certificate is not trusted"),
            std::string::npos)
      << lastUpdate(scheduler, "untrusted")->message;
  driver.stop();
}

TEST_F(ImageTest, LocalArchivesAndLayoutsFromADirectory) {
  TempDir dir;
  const std::string local = dir.path() + "/local";
  ASSERT_TRUE(makeDirectories(local).ok());
  Status s = copyImage(*layout_, "latest", "docker-archive:" + local + "/saved.tar:saved:1.0");
  ASSERT_TRUE(s.ok()) << s;
  s = copyImage(*layout_, "latest", "oci:" + local + "/layout:2.0");
  ASSERT_TRUE(s.ok()) << s;
  auto master = StartMaster();
  agent::AgentOptions options = testAgentOptions("", "");
  options.dockerRegistry = local;
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"saved", "saved:1.0", std::string("cat /etc/os-release")},
                         {"layout", "layout:2.0", std::nullopt},
                         {"absent", "absent:1.0", std::string("true")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("saved"), TaskState::TASK_FINISHED))
      << lastUpdate(scheduler, "saved")->message;
  ASSERT_TRUE(scheduler.waitForState(TaskID("layout"), TaskState::TASK_FINISHED))
      << lastUpdate(scheduler, "layout")->message;
  ASSERT_TRUE(scheduler.waitForState(TaskID("absent"), TaskState::TASK_FAILED));
  EXPECT_NE(taskStdout(agent->options(), "saved").find("tutti-test-image"), std::string::npos);
  EXPECT_EQ(taskStdout(agent->options(), "layout"), "cwd=/etc greeting=hello from the image\n");
  EXPECT_NE(lastUpdate(scheduler, "absent")->message.find("no image absent:1.0"), std::string::npos)
      << lastUpdate(scheduler, "absent")->message;
  driver.stop();
}

TEST_F(ImageTest, CopyBackendBuildsTheSameRootFilesystem) {
  auto master = StartMaster();
  agent::AgentOptions options = testAgentOptions("", "");
  options.imageProvisionerBackend = "copy";
  auto agent = StartAgent(*master, options);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"copied", image(),
                          std::string("test -e /etc/removed-by-layer2 || echo whiteout-ok; "
                                      "ls /opaque; cat /etc/os-release")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("copied"), TaskState::TASK_FINISHED));
  std::string out = taskStdout(agent->options(), "copied");
  EXPECT_EQ(out, "whiteout-ok\nupper-file\nNAME=\"tutti-test-image\"\nID=tuttitest\n");
  driver.stop();
}

// Image GC: POST /prune_images removes the images no container uses (their
// layers and blobs), keeps the image of a running container, and a removed
// image is simply pulled again by the next task that needs it.
TEST_F(ImageTest, PruneImagesRemovesUnusedImagesAndKeepsRunningOnes) {
  TestImageOptions other;
  other.osRelease = "NAME=\"pruned\"\n";
  Status s = buildTestImage(*layout_, "pruned", other);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE((s = registry_->push(*layout_, "pruned", "gc/pruned:1")).ok()) << s;
  ASSERT_TRUE((s = registry_->push(*layout_, "latest", "gc/kept:1")).ok()) << s;
  auto master = StartMaster();
  auto agent = StartAgent(*master);
  const std::string store = agent->options().workDir + "/images";
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"done", image("gc/pruned:1"), std::string("cat /etc/os-release")},
                         {"running", image("gc/kept:1"), std::string("exec sleep 1000")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("done"), TaskState::TASK_FINISHED));
  ASSERT_TRUE(scheduler.waitForState(TaskID("running"), TaskState::TASK_RUNNING));
  ASSERT_TRUE(waitUntil([&] { return entries(agent->options().workDir + "/containers/bundles") == 1; }));
  ASSERT_EQ(entries(store + "/images"), 2u);
  size_t layersBefore = entries(store + "/layers");

  auto r = httpRequest("POST", "127.0.0.1", agent->httpPort(), "/prune_images", "");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->first, 200) << r->second;
  auto stats = nlohmann::json::parse(r->second);
  EXPECT_EQ(stats["images_removed"], 1) << r->second;
  EXPECT_GE(stats["layers_removed"].get<int>(), 1) << r->second;
  EXPECT_GT(stats["bytes_freed"].get<uint64_t>(), 0u) << r->second;
  EXPECT_EQ(entries(store + "/images"), 1u);
  EXPECT_EQ(entries(store + "/layers"), layersBefore - stats["layers_removed"].get<size_t>());
  EXPECT_EQ(entries(store + "/blobs/sha256"), entries(store + "/layers"));
  auto m = getJson(agent->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(m["slave/image_gc_runs"], 1.0);
  // Nothing more to remove while the container runs; the running task is untouched.
  r = httpRequest("POST", "127.0.0.1", agent->httpPort(), "/prune_images", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(nlohmann::json::parse(r->second)["images_removed"], 0) << r->second;
  EXPECT_EQ(lastUpdate(scheduler, "running")->state, TaskState::TASK_RUNNING);

  // The pruned image comes back with a new pull.
  double pulls = m["slave/image_pulls"].get<double>();
  RecordingScheduler again;
  launchOnce(again, {{"again", image("gc/pruned:1"), std::string("grep -q pruned /etc/os-release")}});
  TuttiSchedulerDriver second(&again, framework(), master->messageAddress());
  ASSERT_EQ(second.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(again.waitForState(TaskID("again"), TaskState::TASK_FINISHED))
      << (lastUpdate(again, "again") ? lastUpdate(again, "again")->message : "");
  m = getJson(agent->httpPort(), "/metrics/snapshot");
  EXPECT_EQ(m["slave/image_pulls"].get<double>(), pulls + 1);
  second.stop();
  driver.stop();
}

// A registry that wants bearer tokens (as Docker Hub does): public images
// pull with an anonymous token; a private repository is refused without
// credentials (the task fails saying so) and pulls with --docker_config.
TEST_F(ImageTest, TokenAuthRegistryAnonymousPullsAndCredentialsForPrivateImages) {
  TempDir dir;
  TokenServer tokens(dir.path() + "/tokens", "tutti", "s3cret");
  ASSERT_TRUE(tokens.ok()) << tokens.error();
  RegistryTokenAuth auth{tokens.realm(), TokenServer::kService, TokenServer::kIssuer,
                         tokens.certFile()};
  RegistryServer registry(dir.path() + "/registry", /*tls=*/false, &auth);
  ASSERT_TRUE(registry.ok()) << registry.error();
  Status s = registry.push(*layout_, "latest", "public/busybox:1", "tutti:s3cret");
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE((s = registry.push(*layout_, "latest", "private/busybox:1", "tutti:s3cret")).ok())
      << s;
  const std::string config = dir.path() + "/docker-config.json";
  ASSERT_TRUE(writeFileAtomically(
                  config,
                  nlohmann::json{{"auths",
                                  {{registry.address(),
                                    {{"auth", agent::images::base64Encode("tutti:s3cret")}}}}}}
                      .dump(),
                  false)
                  .ok());

  auto master = StartMaster();
  agent::AgentOptions anonymous = testAgentOptions("", "");
  anonymous.attributes = "creds:none";
  auto first = StartAgent(*master, anonymous);
  agent::AgentOptions withCreds = testAgentOptions("", "");
  withCreds.attributes = "creds:given";
  withCreds.dockerConfig = config;
  auto second = StartAgent(*master, withCreds);

  const std::string pub = registry.address() + "/public/busybox:1";
  const std::string priv = registry.address() + "/private/busybox:1";
  RecordingScheduler scheduler;
  std::mutex mu;
  std::set<std::string> served;
  scheduler.onOffers = [&](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      std::string creds = o.attributes.empty() ? "" : o.attributes[0].value;
      std::lock_guard<std::mutex> lock(mu);
      if (!served.insert(creds).second) {
        d->declineOffer(o.id);
        continue;
      }
      std::vector<TaskInfo> tasks;
      if (creds == "none") {
        tasks = {imageTask({"anon-public", pub, std::string("true")}, o),
                 imageTask({"anon-private", priv, std::string("true")}, o)};
      } else {
        tasks = {imageTask({"creds-private", priv, std::string("grep -q tuttitest /etc/os-release")},
                           o)};
      }
      d->launchTasks({o.id}, tasks);
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  auto message = [&](const std::string& id) {
    auto u = lastUpdate(scheduler, id);
    return u ? u->message : std::string();
  };
  ASSERT_TRUE(scheduler.waitForState(TaskID("anon-public"), TaskState::TASK_FINISHED))
      << message("anon-public");
  ASSERT_TRUE(scheduler.waitForState(TaskID("anon-private"), TaskState::TASK_FAILED))
      << message("anon-private");
  EXPECT_NE(message("anon-private").find("refused"), std::string::npos) << message("anon-private");
  ASSERT_TRUE(scheduler.waitForState(TaskID("creds-private"), TaskState::TASK_FINISHED))
      << message("creds-private");
  EXPECT_GE(tokens.tokensIssued(), 3);
  driver.stop();
}

// A manifest list (multi-platform image) is followed to the host's
// platform: pushed here with the registry API, listing the image for
// linux/amd64 (or the host's architecture) and a decoy for another one.
TEST_F(ImageTest, ManifestListsAreFollowedToTheHostPlatform) {
  // The real image, and a decoy that says so, for the other platform.
  TestImageOptions decoyImage;
  decoyImage.osRelease = "NAME=\"decoy\"\n";
  Status s = buildTestImage(*layout_, "decoy", decoyImage);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE((s = registry_->push(*layout_, "latest", "multi:single")).ok()) << s;
  ASSERT_TRUE((s = registry_->push(*layout_, "decoy", "multi:decoy")).ok()) << s;
  const std::string base = "http://" + registry_->address() + "/v2/multi/manifests/";
  // Digest and size of a tag's manifest.
  auto describe = [&](const std::string& tag) {
    CommandResult head =
        runCommand({"/usr/bin/curl", "-sfI", "-H",
                    "Accept: application/vnd.oci.image.manifest.v1+json", base + tag});
    EXPECT_EQ(head.exitCode, 0) << head.output;
    std::string lower = head.output;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto header = [&](const std::string& name) {
      auto at = lower.find(name + ": ");
      if (at == std::string::npos) return std::string();
      auto end = head.output.find('\r', at);
      return head.output.substr(at + name.size() + 2, end - at - name.size() - 2);
    };
    return std::pair{header("docker-content-digest"), header("content-length")};
  };
  auto [digest, size] = describe("single");
  auto [decoyDigest, decoySize] = describe("decoy");
  ASSERT_FALSE(digest.empty());
  ASSERT_FALSE(decoyDigest.empty());
  ASSERT_NE(digest, decoyDigest);
  utsname u;
  ASSERT_EQ(::uname(&u), 0);
  std::string arch = std::string(u.machine) == "x86_64" ? "amd64" : "arm64";
  std::string decoy = arch == "amd64" ? "s390x" : "amd64";
  nlohmann::json list = {{"schemaVersion", 2},
                         {"mediaType", "application/vnd.oci.image.index.v1+json"},
                         {"manifests",
                          {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                            {"digest", decoyDigest},
                            {"size", std::stol(decoySize)},
                            {"platform", {{"os", "linux"}, {"architecture", decoy}}}},
                           {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                            {"digest", digest},
                            {"size", std::stol(size)},
                            {"platform", {{"os", "linux"}, {"architecture", arch}}}}}}};
  CommandResult put = runCommand({"/usr/bin/curl", "-sf", "-X", "PUT", "-H",
                                  "Content-Type: application/vnd.oci.image.index.v1+json",
                                  "--data-binary", list.dump(), base + "latest"});
  ASSERT_EQ(put.exitCode, 0) << put.output;

  auto master = StartMaster();
  auto agent = StartAgent(*master);
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"multi", image("multi:latest"), std::string("cat /etc/os-release")}});
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("multi"), TaskState::TASK_FINISHED))
      << lastUpdate(scheduler, "multi")->message;
  std::string out = taskStdout(agent->options(), "multi");
  EXPECT_NE(out.find("tutti-test-image"), std::string::npos) << out;
  EXPECT_EQ(out.find("decoy"), std::string::npos) << out;
  driver.stop();
}

// A COMMAND health check of a task in an image runs inside the container
// (/etc/layer2 exists only in the image).
TEST_P(ImageRuntimeTest, CommandHealthChecksRunInsideTheContainer) {
  auto master = StartMaster();
  auto agent = StartAgent(*master, agentOptions());
  RecordingScheduler scheduler;
  auto launched = std::make_shared<std::atomic<bool>>(false);
  scheduler.onOffers = [&, launched](SchedulerDriver* d, const std::vector<Offer>& offers) {
    for (const auto& o : offers) {
      if (launched->exchange(true)) {
        d->declineOffer(o.id);
        continue;
      }
      TaskInfo t = imageTask({"checked", image(), std::string("sleep 1000")}, o);
      HealthCheck check;
      check.type = HealthCheck::Type::COMMAND;
      check.delaySeconds = 0;
      check.intervalSeconds = 0.2;
      check.timeoutSeconds = 5;
      check.consecutiveFailures = 3;
      CommandInfo c;
      c.value = "test -e /etc/layer2";
      check.command = c;
      t.healthCheck = check;
      d->launchTasks({o.id}, {t});
    }
  };
  TuttiSchedulerDriver driver(&scheduler, framework(), master->messageAddress());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForUpdates([](const std::vector<TaskStatus>& updates) {
    for (const auto& u : updates) {
      if (u.taskId.value == "checked" && u.healthy == std::optional<bool>(true)) return true;
    }
    return false;
  })) << (lastUpdate(scheduler, "checked") ? lastUpdate(scheduler, "checked")->message : "");
  driver.killTask(TaskID("checked"));
  ASSERT_TRUE(scheduler.waitForState(TaskID("checked"), TaskState::TASK_KILLED));
  driver.stop();
}

// The agent killed with SIGKILL while a container task runs, restarted with
// the same work dir: the container keeps running, and its end is reported
// once, after which its bundle is removed.
TEST_P(ImageRuntimeTest, ContainerSurvivesAnAgentKilledWithSigkill) {
  TempDir masterDir, agentDir;
  MasterProcess master = startMasterProcess(masterDir.path());
  AgentProcess agent =
      startAgentProcess(master, agentDir.path(), {"--oci_runtime=" + GetParam()});
  ASSERT_TRUE(agent.process.alive()) << agent.process.log();
  RecordingScheduler scheduler;
  launchOnce(scheduler, {{"waiter", image(),
                          std::string("while [ ! -e go ]; do sleep 0.05; done; echo done")}});
  FrameworkInfo info = framework();
  info.checkpoint = true;
  info.failoverTimeoutSecs = 600;
  TuttiSchedulerDriver driver(&scheduler, info, master.address());
  ASSERT_EQ(driver.start(), DriverStatus::DRIVER_RUNNING);
  ASSERT_TRUE(scheduler.waitForState(TaskID("waiter"), TaskState::TASK_RUNNING));
  const std::string work = agentDir.path() + "/work";
  std::string sandbox;
  for (auto& e : std::filesystem::recursive_directory_iterator(work + "/slaves")) {
    std::string p = e.path().string();
    if (p.find("/executors/waiter/runs/") != std::string::npos && e.is_directory() &&
        e.path().parent_path().filename() == "runs" && e.path().filename() != "latest") {
      sandbox = p;
    }
  }
  ASSERT_FALSE(sandbox.empty());

  agent.process.stop(SIGKILL);
  AgentProcess again = startAgentProcess(master, agentDir.path(),
                                         {"--message_port=0", "--oci_runtime=" + GetParam()});
  ASSERT_TRUE(again.process.alive()) << again.process.log();
  EXPECT_EQ(entries(work + "/containers/bundles"), 1u);  // kept: its container is alive
  std::ofstream(sandbox + "/go") << "go\n";
  ASSERT_TRUE(scheduler.waitForState(TaskID("waiter"), TaskState::TASK_FINISHED));
  EXPECT_EQ(*readFile(sandbox + "/stdout"), "done\n");
  ASSERT_TRUE(waitUntil([&] {
    auto m = getJson(again.httpPort, "/metrics/snapshot");
    return m.is_object() && m.value("slave/status_updates_pending", -1.0) == 0.0;
  }));
  size_t finished = 0;
  for (const auto& u : scheduler.updates()) {
    finished += u.taskId.value == "waiter" && u.state == TaskState::TASK_FINISHED;
  }
  EXPECT_EQ(finished, 1u);
  EXPECT_TRUE(waitUntil([&] {
    return entries(work + "/containers/bundles") == 0 && entries(work + "/containers/runtime") == 0;
  }));
  driver.stop();
  driver.join();
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ImageRuntimeTest, ::testing::Values("tutti-runtime", "runc"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "runc" ? std::string("Runc")
                                                       : std::string("TuttiRuntime");
                         });

}  // namespace
}  // namespace tutti::testing
