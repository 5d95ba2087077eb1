// tutti-agent: the agent daemon. Flags keep Mesos's names.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>

#include <ctime>
#include <iostream>

#include "common/process.hpp"
#include "agent/agent_daemon.hpp"
#include "agent/containerizer/isolator.hpp"
#include "common/bytes.hpp"
#include "common/duration.hpp"
#include "common/flags.hpp"

DEFINE_string(master, "",
              "The master: its message address HOST:PORT, or zk://host:port,.../path to "
              "follow the elected leader (required)");
DEFINE_string(zk_session_timeout, "10secs", "ZooKeeper session timeout (with --master=zk://)");
DEFINE_string(ip, "127.0.0.1", "IP address to listen on (HTTP and executors)");
DEFINE_int32(port, 5051, "HTTP port (state, files, metrics); 0 picks a free port");
DEFINE_int32(message_port, 6051, "ZeroMQ port executors connect to; 0 picks a free port");
DEFINE_string(hostname, "", "Hostname to advertise (default: --ip)");
DEFINE_string(work_dir, "", "Directory for sandboxes and agent state (required)");
DEFINE_string(resources, "",
              "Resources in Mesos's text form, e.g. 'cpus:4;mem:2048;ports:[31000-32000]'; what "
              "is left out is detected");
DEFINE_string(attributes, "", "Attributes, e.g. 'rack:r1;zone:a'");
DEFINE_string(launcher_dir, "", "Directory holding tutti-executor (default: this binary's)");
DEFINE_bool(switch_user, true,
            "Run tasks as their user (the command's user, else the framework's); "
            "false: as the agent's user");
DEFINE_string(registration_backoff_factor, "1secs",
              "Registration retries wait a random time in [0, b * 2^n], up to 1mins");
DEFINE_string(executor_registration_timeout, "1mins",
              "An executor that does not subscribe within this is killed");
DEFINE_string(executor_shutdown_grace_period, "5secs",
              "Time between asking an executor to shut down and killing it");
DEFINE_string(recovery_timeout, "15mins",
              "Executors shut themselves down when the agent is away this long");
DEFINE_string(recover, "reconnect",
              "After a restart: 'reconnect' to the checkpointed executors, or 'cleanup': kill "
              "them and start as a new agent");
DEFINE_string(executor_reregistration_timeout, "5secs",
              "Executors found after a restart must re-subscribe within this, or are killed");
DEFINE_string(gc_delay, "1weeks", "Sandboxes of ended executors are removed after this long");
DEFINE_double(gc_disk_headroom, 0.1,
              "Free-disk fraction to keep: a fuller disk shortens --gc_delay proportionally");
DEFINE_string(disk_watch_interval, "1mins", "How often the work dir's disk usage is checked");
DEFINE_string(status_update_retry_interval_min, "10secs",
              "First retry interval for unacknowledged status updates (doubles)");
DEFINE_string(status_update_retry_interval_max, "10mins",
              "Largest retry interval for unacknowledged status updates");

DEFINE_string(isolation, "posix/cpu,posix/mem",
              "Isolators, comma separated: posix/cpu, posix/mem (no limits), cgroups/cpu, "
              "cgroups/mem, cgroups/pids, posix/rlimits, namespaces/pid");
DEFINE_string(cgroups_root, "tutti",
              "Name of the cgroup holding the containers' cgroups (under the agent's own "
              "cgroup on v1, under the hierarchy's root on v2)");
DEFINE_bool(cgroups_enable_cfs, false,
            "Hard cpu limit (CFS quota: cpus x 100ms per 100ms) besides cpu shares");
DEFINE_uint64(cgroups_pids_limit, 0,
              "Pids limit of a container whose tasks ask for no 'pids' resource; 0: none");

DEFINE_string(fetcher_cache_dir, "",
              "Where URIs with cache: true are kept, per user (wiped at start); default: "
              "<work_dir>/fetch");
DEFINE_string(fetcher_cache_size, "2GB",
              "Most bytes the fetcher cache keeps (least recently used go first); 0B: no cache");
DEFINE_string(image_store_dir, "",
              "Where pulled images are kept (layers once by digest); default: "
              "<work_dir>/images");
DEFINE_string(docker_registry, "https://registry-1.docker.io",
              "Registry of image names without one (host[:port] or URL), or a local "
              "directory of 'docker save' archives (<repository>:<tag>.tar) and OCI layouts");
DEFINE_string(docker_registry_ca, "",
              "PEM file of CA certificates that HTTPS registries are verified against "
              "(default: the system's)");
DEFINE_string(docker_insecure_registries, "",
              "host:port,... of registries spoken to in plain HTTP when HTTPS fails "
              "(loopback registries always are)");
DEFINE_string(docker_config, "",
              "Docker config file (~/.docker/config.json format: \"auths\" by registry) "
              "with the credentials of registries that need them; Docker Hub's public "
              "images need none");
DEFINE_string(oci_runtime, "tutti-runtime",
              "OCI runtime that runs tasks in images: tutti-runtime (tutti's own, installed "
              "next to tutti-executor), or any runc-compatible one on PATH (runc; crun where "
              "the host is pure cgroups v2)");
DEFINE_string(image_provisioner_backend, "overlay",
              "How a container's root filesystem is built from its image's layers: overlay "
              "(falls back to copy when overlayfs cannot be mounted) or copy");

DEFINE_string(image_gc_interval, "1hrs",
              "How often the image store's disk is checked; fuller than 1 - "
              "--image_disk_headroom, images no container uses are removed (0secs: never)");
DEFINE_double(image_disk_headroom, 0.1,
              "Free fraction of the image store's disk below which image GC runs (0 to 1; "
              "1: at every check)");

static bool validateBackend(const char* flag, const std::string& value) {
  if (value == "overlay" || value == "copy") return true;
  std::cerr << "--" << flag << ": must be overlay or copy, not '" << value << "'\n";
  return false;
}
DEFINE_validator(image_provisioner_backend, &validateBackend);

static bool validateIsolation(const char* flag, const std::string& value) {
  auto c = tutti::agent::parseIsolation(value);
  if (c.ok()) return true;
  std::cerr << "--" << flag << ": " << c.error() << "\n";
  return false;
}
DEFINE_validator(isolation, &validateIsolation);
static bool validateCgroupsRoot(const char* flag, const std::string& value) {
  if (!value.empty() && value.find('/') == std::string::npos && value != "." && value != "..") {
    return true;
  }
  std::cerr << "--" << flag << " must be one directory name, not '" << value << "'\n";
  return false;
}
DEFINE_validator(cgroups_root, &validateCgroupsRoot);

static bool validateRecover(const char* flag, const std::string& value) {
  if (value == "reconnect" || value == "cleanup") return true;
  std::cerr << "--" << flag << " must be 'reconnect' or 'cleanup', not '" << value << "'\n";
  return false;
}
DEFINE_validator(recover, &validateRecover);
DEFINE_validator(gc_delay, &tutti::validateDurationFlag);
DEFINE_validator(fetcher_cache_size, &tutti::validateBytesFlag);
DEFINE_validator(disk_watch_interval, &tutti::validateDurationFlag);
static bool validateHeadroom(const char* flag, double value) {
  if (value >= 0 && value <= 1) return true;
  std::cerr << "--" << flag << " must be between 0 and 1\n";
  return false;
}
DEFINE_validator(gc_disk_headroom, &validateHeadroom);
DEFINE_validator(image_disk_headroom, &validateHeadroom);
DEFINE_validator(image_gc_interval, &tutti::validateDurationFlag);
DEFINE_validator(executor_reregistration_timeout, &tutti::validateDurationFlag);
DEFINE_validator(port, &tutti::validatePortFlag);
DEFINE_validator(message_port, &tutti::validatePortFlag);
DEFINE_validator(master, &tutti::validateHostPortFlag);
DEFINE_validator(resources, &tutti::validateResourcesFlag);
DEFINE_validator(attributes, &tutti::validateAttributesFlag);
DEFINE_validator(registration_backoff_factor, &tutti::validateDurationFlag);
DEFINE_validator(executor_registration_timeout, &tutti::validateDurationFlag);
DEFINE_validator(executor_shutdown_grace_period, &tutti::validateDurationFlag);
DEFINE_validator(recovery_timeout, &tutti::validateDurationFlag);
DEFINE_validator(zk_session_timeout, &tutti::validateDurationFlag);
DEFINE_validator(status_update_retry_interval_min, &tutti::validateDurationFlag);
DEFINE_validator(status_update_retry_interval_max, &tutti::validateDurationFlag);

int main(int argc, char** argv) {
  tutti::parseFlags(&argc, &argv,
                    "tutti-agent: the tutti agent. It advertises this machine's resources to "
                    "the master and runs tasks.");
  tutti::initLogging(argv[0]);
  if (FLAGS_master.empty() || FLAGS_work_dir.empty()) {
    std::cerr << "--master and --work_dir are required (see --help)\n";
    return 1;
  }

  tutti::agent::AgentOptions o;
  o.master = FLAGS_master;
  o.zkSessionTimeout = *tutti::parseDuration(FLAGS_zk_session_timeout);
  o.ip = FLAGS_ip;
  o.port = FLAGS_port;
  o.messagePort = FLAGS_message_port;
  o.hostname = FLAGS_hostname;
  o.workDir = FLAGS_work_dir;
  o.resources = FLAGS_resources;
  o.attributes = FLAGS_attributes;
  o.launcherDir = FLAGS_launcher_dir;
  o.switchUser = FLAGS_switch_user;
  o.registrationBackoffFactor = *tutti::parseDuration(FLAGS_registration_backoff_factor);
  o.executorRegistrationTimeout = *tutti::parseDuration(FLAGS_executor_registration_timeout);
  o.executorShutdownGracePeriod = *tutti::parseDuration(FLAGS_executor_shutdown_grace_period);
  o.recoveryTimeout = *tutti::parseDuration(FLAGS_recovery_timeout);
  o.recover = FLAGS_recover;
  o.gcDelay = *tutti::parseDuration(FLAGS_gc_delay);
  o.gcDiskHeadroom = FLAGS_gc_disk_headroom;
  o.diskWatchInterval = *tutti::parseDuration(FLAGS_disk_watch_interval);
  o.executorReregistrationTimeout = *tutti::parseDuration(FLAGS_executor_reregistration_timeout);
  o.statusUpdateRetryIntervalMin = *tutti::parseDuration(FLAGS_status_update_retry_interval_min);
  o.statusUpdateRetryIntervalMax = *tutti::parseDuration(FLAGS_status_update_retry_interval_max);
  o.isolation = FLAGS_isolation;
  o.cgroupsRoot = FLAGS_cgroups_root;
  o.cgroupsEnableCfs = FLAGS_cgroups_enable_cfs;
  o.cgroupsPidsLimit = FLAGS_cgroups_pids_limit;
  o.imageStoreDir = FLAGS_image_store_dir;
  o.fetcherCacheDir = FLAGS_fetcher_cache_dir;
  o.fetcherCacheSize = *tutti::parseBytes(FLAGS_fetcher_cache_size);
  o.dockerRegistry = FLAGS_docker_registry;
  o.dockerRegistryCa = FLAGS_docker_registry_ca;
  o.dockerInsecureRegistries = FLAGS_docker_insecure_registries;
  o.ociRuntime = FLAGS_oci_runtime;
  o.imageProvisionerBackend = FLAGS_image_provisioner_backend;
  o.dockerConfig = FLAGS_docker_config;
  o.imageGcInterval = *tutti::parseDuration(FLAGS_image_gc_interval);
  o.imageDiskHeadroom = FLAGS_image_disk_headroom;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  tutti::agent::AgentDaemon daemon(o);
  tutti::Status s = daemon.start(tutti::currentFlags());
  if (!s.ok()) {
    LOG(ERROR) << "Cannot start the agent: " << s;
    return 1;
  }
  // Wait for a signal, or for the master to refuse us.
  std::string fatal;
  int sig = tutti::waitForSignalOrFatal(set, [&daemon] { return daemon.fatalError(); }, &fatal);
  if (sig == 0) {
    LOG(ERROR) << "Exiting: " << fatal;
    daemon.stop();
    return 1;
  }
  LOG(INFO) << "Received signal " << sig << "; shutting down executors and exiting";
  daemon.stop();
  return 0;
}
