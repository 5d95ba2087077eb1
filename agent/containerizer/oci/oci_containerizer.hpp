// Tasks in images (DESIGN §8, the `oci` launcher): gets the task's image
// from the image store, and hands the agent what its launch needs — the
// executor's extra environment (TUTTI_OCI_*: the executor runs the task
// with `<runtime> run --bundle`) and a hook, run on the launcher's worker
// thread before the spawn, that builds the bundle (root filesystem and
// config.json). destroy() removes what a container left: the runtime's
// state (`<runtime> delete --force`), the rootfs mount and the bundle.
//
// The container's cgroup nests inside the isolator's container cgroup (so
// its limits and OOM watch cover the task), relative to the executor's own
// cgroup on v1 ("tutti-oci-<id>") and at /<cgroups_root>/<id>/oci on v2.
//
// Threads: prepare(), destroy(), cleanupOrphans() on the agent's loop
// thread; the image store pulls on its workers and destroy() runs on this
// object's own workers. Errors reach the agent as the Status of prepare's
// callback (the message says what failed: the name, the registry, a digest).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/containerizer/cgroups.hpp"
#include "agent/containerizer/images/image_store.hpp"
#include "agent/containerizer/oci/provisioner.hpp"
#include "agent/options.hpp"
#include "agent/volumes.hpp"
#include "common/loop.hpp"
#include "common/metrics.hpp"
#include "tutti/types.hpp"

namespace tutti::agent::oci {

using ImagePruneStats = images::ImageStore::PruneStats;

class OciContainerizer {
 public:
  // `layout`: the cgroups isolator's, or kNone without one.
  OciContainerizer(Loop& loop, const AgentOptions& options, Metrics& metrics,
                   CgroupVersion isolatorCgroups);
  ~OciContainerizer();
  OciContainerizer(const OciContainerizer&) = delete;
  OciContainerizer& operator=(const OciContainerizer&) = delete;

  // Creates the store and bundle directories and looks for the runtime; a
  // missing runtime is not fatal (tasks in images then fail saying so).
  Status initialize();

  struct Prepared {
    std::vector<std::string> env;       // for the executor
    std::function<Status()> provision;  // builds the bundle; launcher thread
  };
  using OnPrepared = std::function<void(Result<Prepared>)>;
  // Gets the image of `task` (pulling it unless cached); `done` runs on the
  // loop, always after prepare() has returned. `sandbox` is the executor's directory, mounted in
  // the container.
  // `volumes` (the task's persistent volumes) are bind-mounted in its sandbox.
  void prepare(const ContainerID& id, const TaskInfo& task, const std::string& sandbox,
               const std::string& hostname, std::vector<VolumeLink> volumes, OnPrepared done);
  // Whether `id` has a bundle (e.g. a recovered container).
  bool hasBundle(const ContainerID& id) const;
  // Removes the container's runtime state, mount and bundle (its worker).
  void destroy(const ContainerID& id);
  // destroy() for every bundle not in `known` (after a restart).
  void cleanupOrphans(const std::set<std::string>& known);
  // Waits until every destroy() queued so far is done (tests).
  void drain();
  // Image GC (images/image_store.hpp: prune()) on this object's workers,
  // keeping every layer a bundle uses; `done` runs on the loop.
  using OnPruned = std::function<void(Result<images::ImageStore::PruneStats>)>;
  void pruneImages(OnPruned done);

  images::ImageStore& store() { return *store_; }
  const std::string& runtimePath() const { return runtime_; }
  std::string runtimeRoot() const { return dir_ + "/runtime"; }

 private:
  void work();
  void destroyNow(const std::string& id);
  void prune();  // a worker
  std::string cgroupsPathFor(const ContainerID& id) const;

  Loop& loop_;
  AgentOptions options_;
  Metrics& metrics_;
  CgroupVersion cgroups_;
  std::string dir_;  // <work_dir>/containers
  std::string runtime_;
  // runtime_ is tutti-runtime: the agent removes the state of containers
  // that ended (runtime/container_state.hpp) instead of `delete` per
  // container, and tells the executors so (TUTTI_OCI_AGENT_DELETES).
  bool ownRuntime_ = false;
  // tutti-runtime as executors run it: a read-only bind mount of runtime_
  // at <dir_>/bin/tutti-runtime, made at the first task in an image (or at
  // start when an earlier agent left one), so that no container can write
  // to the runtime's binary through /proc/<pid>/exe (CVE-2019-5736; the
  // runtime falls back to running from a sealed copy of itself in memory,
  // which costs ~3 ms of CPU per container). Unmounted when this object
  // goes. Empty until made; runtime_ when it cannot be.
  std::string protectedRuntime();
  std::string protectedRuntime_;
  std::unique_ptr<images::ImageStore> store_;
  std::shared_ptr<Provisioner> provisioner_;  // shared with provision hooks
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // container ids; kPruneJob: an image GC
  std::vector<OnPruned> pruneWaiters_;  // guarded by mu_
  static constexpr const char* kPruneJob = "";
  size_t busy_ = 0;
  bool stopping_ = false;
  static constexpr int kCleanupWorkers = 4;
  std::vector<std::thread> workers_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tutti::agent::oci
