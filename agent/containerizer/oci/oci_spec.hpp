// The OCI runtime config (config.json, runtime-spec 1.0) of a task that
// runs in an image, and the rules that pick its command, environment,
// working directory and user from the task and the image (as Mesos's
// unified containerizer with Docker images):
//  - command: a shell command runs as /bin/sh -c VALUE; a non-shell one
//    execs VALUE with its arguments; no command (or an empty non-shell
//    value) runs the image's Entrypoint followed by the task's arguments,
//    or by the image's Cmd when the task gives none.
//  - env: the image's Env, then the task's own (TUTTI_*/MESOS_*, PORTn,
//    HOST), then the command's environment; PATH defaults to the usual.
//  - cwd: the sandbox (/mnt/tutti/sandbox) for a task command; the image's
//    WorkingDir (or /) for the image's own command.
//  - user: the command's user, else the image's User, else root; names
//    are resolved in the image's /etc/passwd and /etc/group.
// Pure functions (resolveUser reads the rootfs); errors are InvalidArgument
// saying what is missing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/containerizer/images/manifest.hpp"
#include "tutti/status.hpp"
#include "tutti/types.hpp"

namespace tutti::agent::oci {

inline constexpr const char* kSandboxMount = "/mnt/tutti/sandbox";

struct ProcessUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additionalGids;
};

// "name", "uid", "name:group", "uid:gid" against <rootfs>/etc/passwd and
// <rootfs>/etc/group; empty means root.
Result<ProcessUser> resolveUser(const std::string& rootfs, const std::string& user);

struct ContainerProcess {
  std::vector<std::string> args;
  std::vector<std::string> env;  // NAME=value, no duplicates
  std::string cwd;
  std::string user;  // unresolved
};
Result<ContainerProcess> containerProcess(const TaskInfo& task, const images::ImageConfig& image,
                                          const std::string& hostname);

struct SpecOptions {
  ContainerProcess process;
  ProcessUser user;
  std::string sandbox;      // host directory mounted at kSandboxMount
  // Persistent volumes: host directory, mounted at kSandboxMount/<path>.
  std::vector<std::pair<std::string, std::string>> volumes;
  std::string cgroupsPath;  // see cgroupsPathFor()
  std::vector<RLimit> rlimits;
  bool pidNamespace = true;  // always on: the container's init is pid 1
};
// config.json, pretty-printed. `root.path` is "rootfs" (next to it).
std::string makeConfig(const SpecOptions& options);

}  // namespace tutti::agent::oci
