#include "agent/containerizer/oci/oci_containerizer.hpp"

#include <glog/logging.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <sstream>

#include "agent/containerizer/images/registry_auth.hpp"
#include "agent/containerizer/launcher.hpp"
#include "agent/containerizer/oci/oci_spec.hpp"
#include "agent/runtime/container_state.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

namespace tutti::agent::oci {

namespace {

std::string findInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(
      path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// "https://host:port/" → "host:port"; a local directory stays as it is.
std::string registryHost(const std::string& flag) {
  if (flag.empty() || flag[0] == '/') return flag;
  std::string s = flag;
  auto scheme = s.find("://");
  if (scheme != std::string::npos) s = s.substr(scheme + 3);
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The paths every container's config.json mounts over (makeConfig's own
// mounts), for the provisioner to make before overlayfs is mounted; not
// those below another mount (/dev's, on the container's own tmpfs).
std::vector<Provisioner::MountPoint> configMountPoints() {
  SpecOptions probe;
  probe.sandbox = "/";
  auto config = nlohmann::json::parse(makeConfig(probe), nullptr, false);
  std::vector<Provisioner::MountPoint> out;
  if (!config.is_object() || !config["mounts"].is_array()) return out;
  for (const auto& m : config["mounts"]) {
    std::string dest = m.value("destination", "");
    bool below = false;
    for (const auto& p : out) below = below || dest.rfind(p.path + "/", 0) == 0;
    if (dest.empty() || below) continue;
    bool directory = true;
    if (m.value("type", "") == "bind") {
      struct stat st;
      directory = ::stat(m.value("source", "").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    out.push_back({dest, directory});
  }
  return out;
}

}  // namespace

OciContainerizer::OciContainerizer(Loop& loop, const AgentOptions& options, Metrics& metrics,
                                   CgroupVersion isolatorCgroups)
    : loop_(loop),
      options_(options),
      metrics_(metrics),
      cgroups_(isolatorCgroups),
      dir_(options.workDir + "/containers") {
  images::ImageStoreOptions so;
  so.dir = options.imageStoreDir.empty() ? options.workDir + "/images" : options.imageStoreDir;
  so.defaultRegistry = registryHost(options.dockerRegistry);
  so.registry.caFile = options.dockerRegistryCa;
  so.registry.insecure = splitList(options.dockerInsecureRegistries);
  store_ = std::make_unique<images::ImageStore>(loop, so);
  auto backend = parseBackend(options.imageProvisionerBackend);
  provisioner_ =
      std::make_shared<Provisioner>(dir_ + "/bundles", backend.ok() ? *backend : Backend::kOverlay,
                                    configMountPoints());
  metrics_.gauge("slave/image_pulls", [this] { return static_cast<double>(store_->pulls()); });
  // Unmounting waits for an RCU grace period in the kernel (milliseconds
  // each, and more as the mount table grows): several workers overlap them,
  // or ending containers would pile up faster than one worker removes them.
  for (int i = 0; i < kCleanupWorkers; ++i) workers_.emplace_back([this] { work(); });
}

OciContainerizer::~OciContainerizer() {
  *alive_ = false;
  if (!protectedRuntime_.empty() && protectedRuntime_ != runtime_) {
    ::umount2(protectedRuntime_.c_str(), MNT_DETACH);
  }
  metrics_.removeGauge("slave/image_pulls");
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

Status OciContainerizer::initialize() {
  if (!options_.dockerConfig.empty()) {
    auto text = readFile(options_.dockerConfig);
    if (!text.ok()) return text.status().prefixed("--docker_config: ");
    auto credentials = images::parseDockerConfig(*text);
    if (!credentials.ok()) {
      return credentials.status().prefixed("--docker_config " + options_.dockerConfig + ": ");
    }
    store_->setCredentials(std::move(credentials).value());
  }
  Status s = store_->initialize();
  if (!s.ok()) return s;
  for (const char* sub : {"/bundles", "/runtime"}) {
    s = makeDirectories(dir_ + sub);
    if (!s.ok()) return s;
  }
  // Root filesystems may hold set-uid programs of any image: no other user
  // of the host may reach them.
  if (::chmod(dir_.c_str(), 0700) != 0) {
    return Status::IoError("cannot restrict " + dir_ + ": " + std::strerror(errno));
  }
  // A bare name is looked for next to tutti-executor first (where
  // tutti-runtime is installed), then on PATH.
  const std::string& name = options_.ociRuntime;
  if (name.find('/') == std::string::npos && !options_.launcherDir.empty() &&
      ::access((options_.launcherDir + "/" + name).c_str(), X_OK) == 0) {
    runtime_ = options_.launcherDir + "/" + name;
  } else {
    runtime_ = findInPath(name);
  }
  ownRuntime_ = !runtime_.empty() && runtime_.substr(runtime_.rfind('/') + 1) == "tutti-runtime";
  if (ownRuntime_) {
    // Executors of recovered containers run the runtime at the protected
    // path: when an earlier agent left its mount there, ours replaces it now.
    if (::umount2((dir_ + "/bin/tutti-runtime").c_str(), MNT_DETACH) == 0) protectedRuntime();
  }
  if (runtime_.empty()) {
    LOG(WARNING) << "OCI runtime '" << name << "' not found in " << options_.launcherDir
                 << " or on PATH; tasks in images will fail";
  }
  return Status::OK();
}

std::string OciContainerizer::protectedRuntime() {
  if (!ownRuntime_) return runtime_;
  if (!protectedRuntime_.empty()) return protectedRuntime_;
  const std::string path = dir_ + "/bin/tutti-runtime";
  // A mount an earlier agent left (killed before it could unmount) goes
  // first; then ours, read-only (nosuid: it needs none).
  while (::umount2(path.c_str(), MNT_DETACH) == 0) {
  }
  int fd = -1;
  Status s = makeDirectories(dir_ + "/bin");
  if (s.ok()) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  if (fd >= 0) ::close(fd);
  if (fd < 0 || ::mount(runtime_.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    LOG(WARNING) << "Cannot bind " << runtime_ << " read-only at " << path << " ("
                 << std::strerror(errno) << "); tutti-runtime will copy itself per container";
    protectedRuntime_ = runtime_;
    return runtime_;
  }
  if (::mount(nullptr, path.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID,
              nullptr) != 0) {
    LOG(WARNING) << "Cannot make " << path << " read-only (" << std::strerror(errno)
                 << "); tutti-runtime will copy itself per container";
    ::umount2(path.c_str(), MNT_DETACH);
    protectedRuntime_ = runtime_;
    return runtime_;
  }
  protectedRuntime_ = path;
  return path;
}

std::string OciContainerizer::cgroupsPathFor(const ContainerID& id) const {
  if (cgroups_ == CgroupVersion::kV2) return "/" + options_.cgroupsRoot + "/" + id.value + "/oci";
  return "tutti-oci-" + id.value;
}

void OciContainerizer::prepare(const ContainerID& id, const TaskInfo& task,
                               const std::string& sandbox, const std::string& hostname,
                               std::vector<VolumeLink> volumes, OnPrepared callback) {
  // Never inside this call (the caller is still setting the container up).
  OnPrepared done = [this, alive = alive_, callback = std::move(callback)](Result<Prepared> r) {
    loop_.post("oci.prepared", [alive, callback, r = std::move(r)]() mutable {
      if (*alive) callback(std::move(r));
    });
  };
  if (!task.container || !task.container->image) {
    done(Status::InvalidArgument("the task has no image"));
    return;
  }
  if (runtime_.empty()) {
    done(Status::FailedPrecondition("The OCI runtime '" + options_.ociRuntime +
                                    "' is not installed on this agent"));
    return;
  }
  store_->get(*task.container->image, [this, alive = alive_, id, task, sandbox, hostname,
                                       volumes = std::move(volumes), done = std::move(done)](Result<images::StoredImage> image) {
    if (!*alive) return;
    if (!image.ok()) {
      metrics_.counter("slave/image_pull_errors").inc();
      done(image.status());
      return;
    }
    auto process = containerProcess(task, image->config, hostname);
    if (!process.ok()) {
      done(Status::InvalidArgument("Cannot run image '" + task.container->image->name +
                                   "': " + process.status().message()));
      return;
    }
    Provisioner::Layers layers;
    for (const auto& digest : image->layers) {
      layers.dirs.push_back(store_->layerDir(digest));
      layers.blobs.push_back(store_->blobPath(digest));
      layers.digests.push_back(digest);
    }
    SpecOptions spec;
    spec.process = *process;
    spec.sandbox = sandbox;
    spec.cgroupsPath = cgroupsPathFor(id);
    spec.rlimits = task.container->rlimits;
    for (const auto& v : volumes) spec.volumes.emplace_back(v.hostPath, v.containerPath);
    Prepared p;
    std::string bundle = provisioner_->bundleDir(id.value);
    p.env = {"TUTTI_OCI_BUNDLE=" + bundle, "TUTTI_OCI_RUNTIME=" + protectedRuntime(),
             "TUTTI_OCI_ROOT=" + runtimeRoot()};
    if (ownRuntime_) p.env.push_back("TUTTI_OCI_AGENT_DELETES=1");
    // Runs on the launcher's thread, which may outlive this object.
    std::shared_ptr<const Provisioner> provisioner = provisioner_;
    std::string imageName = task.container->image->name;
    p.provision = [provisioner, id, layers, spec, imageName,
                   gcLock = store_->useLock()]() mutable -> Status {
      // Image GC waits while the layers become a root filesystem; they may
      // have gone between the pull and now.
      std::shared_lock<std::shared_mutex> use(*gcLock);
      for (const auto& dir : layers.dirs) {
        struct stat st;
        if (::stat(dir.c_str(), &st) != 0) {
          return Status::Unavailable("image '" + imageName +
                                     "' was removed from the store by image GC meanwhile; "
                                     "launch the task again");
        }
      }
      try {
        return provisioner->provision(id.value, layers,
                                      [&](const std::string& rootfs) -> Result<std::string> {
                                        auto user = resolveUser(rootfs, spec.process.user);
                                        if (!user.ok()) return user.status();
                                        spec.user = *user;
                                        // A container user other than root owns
                                        // its sandbox, as a plain task's user does.
                                        if (spec.user.uid != 0) {
                                          Status s = giveSandbox(spec.sandbox, spec.user.uid,
                                                                 spec.user.gid);
                                          if (!s.ok()) return s;
                                          // And its volumes, as Mesos does.
                                          for (const auto& [host, _] : spec.volumes) {
                                            s = chownVolume(host, spec.user.uid, spec.user.gid);
                                            if (!s.ok()) return s;
                                          }
                                        }
                                        return makeConfig(spec);
                                      });
      } catch (const std::exception& e) {
        return Status::Internal(std::string("cannot build the container's bundle: ") + e.what());
      }
    };
    done(std::move(p));
  });
}

bool OciContainerizer::hasBundle(const ContainerID& id) const {
  struct stat st;
  return ::lstat(provisioner_->bundleDir(id.value).c_str(), &st) == 0;
}

void OciContainerizer::destroy(const ContainerID& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(id.value);
  }
  cv_.notify_all();
}

void OciContainerizer::cleanupOrphans(const std::set<std::string>& known) {
  std::set<std::string> found = provisioner_->list();
  auto states = listDirectory(runtimeRoot());
  if (states.ok()) found.insert(states->begin(), states->end());
  for (const auto& id : found) {
    if (known.count(id) || id.empty() || id[0] == '.') continue;  // .seccomp: tutti-runtime's cache
    LOG(INFO) << "Removing the bundle of orphaned container " << id;
    destroy(ContainerID(id));
  }
}

void OciContainerizer::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && busy_ == 0; });
}

void OciContainerizer::work() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      id = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    if (id == kPruneJob) {
      prune();
    } else {
      destroyNow(id);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    cv_.notify_all();
  }
}

void OciContainerizer::pruneImages(OnPruned done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pruneWaiters_.push_back(std::move(done));
    if (pruneWaiters_.size() > 1) return;  // one is queued: it answers all
    queue_.push_back(kPruneJob);
  }
  cv_.notify_all();
}

void OciContainerizer::prune() {
  std::vector<OnPruned> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters.swap(pruneWaiters_);
  }
  std::shared_ptr<const Provisioner> provisioner = provisioner_;
  auto result = store_->prune([provisioner] { return provisioner->layersInUse(); });
  if (result.ok()) {
    metrics_.counter("slave/image_gc_runs").inc();
    metrics_.counter("slave/image_gc_bytes_freed").inc(static_cast<int64_t>(result->bytes));
  } else {
    LOG(WARNING) << "Image GC: " << result.status();
  }
  loop_.post("oci.pruned", [alive = alive_, waiters = std::move(waiters), result]() {
    if (!*alive) return;
    for (const auto& w : waiters) w(result);
  });
}

void OciContainerizer::destroyNow(const std::string& id) {
  struct stat st;
  if (ownRuntime_ && runtime::validContainerId(id) &&
      ::lstat((runtimeRoot() + "/" + id).c_str(), &st) == 0) {
    // tutti-runtime's record of a container whose init has ended is a
    // directory and a devices cgroup: removed here, without a process.
    runtime::StateDir states(runtimeRoot());
    auto state = states.load(id);
    int init = state ? runtime::openInit(*state) : -1;
    if (state && init < 0 && state->pid != 0) {
      try {
        if (runtime::removeDevicesCgroup(state->devicesCgroup, 2000)) {
          states.remove(id);
        } else {
          LOG(WARNING) << "Cannot remove " << state->devicesCgroup << " of container " << id
                       << ": " << std::strerror(errno);
        }
      } catch (const std::exception& e) {
        LOG(WARNING) << "Cannot remove the runtime state of container " << id << ": " << e.what();
      }
    }
    if (init >= 0) ::close(init);
  }
  if (!runtime_.empty() && ::lstat((runtimeRoot() + "/" + id).c_str(), &st) == 0) {
    // The runtime was killed before it could clean up (or the executor
    // died): kill what is left of the container and drop its state.
    SpawnOptions o;
    o.argv = {runtime_, "--root", runtimeRoot(), "delete", "--force", id};
    o.stdoutPath = "/dev/null";
    o.stderrPath = "/dev/null";
    auto pid = spawnProcess(o);
    if (pid.ok()) {
      int status = 0;
      while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Status s = provisioner_->destroy(id);
  if (!s.ok()) LOG(WARNING) << "Cannot remove the bundle of container " << id << ": " << s;
}

}  // namespace tutti::agent::oci
