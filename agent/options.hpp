// AgentOptions: filled from flags in main.cpp (or by tests and tutti-local).
#pragma once

#include <string>

#include "common/clock.hpp"
#include "common/codec/envelope_codec.hpp"

namespace tutti::agent {

struct AgentOptions {
  std::string master;             // HOST:PORT of the master's message port, or zk://…/path
  Duration zkSessionTimeout = 10s;  // when --master is zk://
  std::string ip = "127.0.0.1";   // address to listen on
  int port = 5051;                // HTTP port (0: pick a free one)
  int messagePort = 6051;         // ZeroMQ port for executors (0: pick a free one)
  std::string hostname;           // advertised hostname; empty: ip
  std::string workDir;            // sandboxes live under it (required)
  std::string resources;          // Mesos text form; empty: detect
  std::string attributes;         // "rack:r1;zone:a"
  std::string launcherDir;        // directory holding tutti-executor
  // Run tasks as their user (CommandInfo.user, else FrameworkInfo.user;
  // containerizer/task_user.hpp); false: as the agent's user.
  bool switchUser = true;
  Duration registrationBackoffFactor = 1s;  // first retry within [0, b], doubling to 1min
  Duration executorRegistrationTimeout = 1min;  // an executor must subscribe within this
  Duration executorShutdownGracePeriod = 5s;    // between SHUTDOWN and SIGKILL
  Duration executorHeartbeatInterval = 5s;      // HEARTBEAT events to executors
  Duration recoveryTimeout = 15min;             // executors give up on a vanished agent
  // After a restart: "reconnect" to the checkpointed executors, or
  // "cleanup": kill them, drop the checkpoint and start as a new agent.
  std::string recover = "reconnect";
  // Recovered executors that do not re-subscribe within this are killed.
  // (Above ZeroMQ's 2 s maximum reconnect interval: executors find the
  // agent by reconnecting; recovery ends as soon as all of them are back.)
  Duration executorReregistrationTimeout = 5s;
  // Sandboxes of ended executors are removed after gcDelay, sooner when
  // the work dir's disk is fuller than 1 - gcDiskHeadroom (checked every
  // diskWatchInterval); see gc/garbage_collector.hpp.
  Duration gcDelay = std::chrono::hours(24 * 7);
  double gcDiskHeadroom = 0.1;
  Duration diskWatchInterval = std::chrono::minutes(1);
  Duration statusUpdateRetryIntervalMin = 10s;
  Duration statusUpdateRetryIntervalMax = 10min;
  size_t maxCompletedExecutorsPerFramework = 150;
  size_t maxCompletedTasksPerExecutor = 200;
  size_t maxCompletedFrameworks = 50;
  size_t filesReadMaxBytes = 1u << 20;  // cap on /files/read length
  codec::DecodeLimits decodeLimits;
  int httpThreads = 4;
  // Isolators (--isolation), comma separated: posix/cpu, posix/mem,
  // cgroups/cpu, cgroups/mem, cgroups/pids, posix/rlimits, namespaces/pid.
  // Parsed and checked by parseIsolation() (containerizer/isolator.hpp).
  std::string isolation = "posix/cpu,posix/mem";
  std::string cgroupsRoot = "tutti";  // containers live in <cgroup>/<root>/<container>
  bool cgroupsEnableCfs = false;      // hard cpu limit (cpu.cfs_quota_us / cpu.max)
  // Pids limit of a container whose tasks ask for no `pids` resource; 0: none.
  uint64_t cgroupsPidsLimit = 0;

  // The fetcher cache (fetcher/fetcher_cache.hpp), for URIs with cache:
  // true. Dir empty: <work_dir>/fetch; size 0: no cache.
  std::string fetcherCacheDir;
  uint64_t fetcherCacheSize = 2ull << 30;

  // Images (containerizer/images/image_store.hpp). imageStoreDir empty:
  // <work_dir>/images. dockerRegistry: the registry of names without one
  // (host[:port], or a URL whose scheme is ignored), or a local directory
  // of `docker save` archives and OCI layouts.
  std::string imageStoreDir;
  std::string dockerRegistry = "https://registry-1.docker.io";
  std::string dockerRegistryCa;                // PEM CA bundle for HTTPS registries
  std::string dockerInsecureRegistries;        // host:port,... spoken to in HTTP
  std::string dockerConfig;  // Docker config.json with registry credentials ("auths")
  std::string ociRuntime = "tutti-runtime";    // runs tasks in images (launcherDir, then PATH)
  std::string imageProvisionerBackend = "overlay";  // or "copy"
  // Image GC: every imageGcInterval (0: never), when the image store's disk
  // is fuller than 1 - imageDiskHeadroom, images no container uses are
  // removed (also on demand: POST /prune_images).
  Duration imageGcInterval = std::chrono::hours(1);
  double imageDiskHeadroom = 0.1;
};

}  // namespace tutti::agent
