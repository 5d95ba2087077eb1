// Agent: persistent volumes given to tasks (agent/volumes.hpp for the
// layout). Loop thread.
#include <glog/logging.h>

#include <sys/stat.h>

#include <algorithm>

#include "agent/agent.hpp"

namespace tutti::agent {

Status Agent::prepareVolumes(ExecutorRecord& ex, const TaskInfo& task) {
  std::vector<VolumeLink> links = volumeLinks(volumesRoot(options_.workDir), task.resources);
  if (links.empty()) return Status::OK();
  for (Resource v : task.resources.volumes()) {
    v.allocationRole.reset();
    if (!info_.resources.contains(v)) {
      return Status::FailedPrecondition("Persistent volume '" + v.disk->persistenceId +
                                        "' is not on this agent");
    }
  }
  // The task's user: as launched, or, for an executor recovered after a
  // restart, its uid and its sandbox's group.
  std::optional<std::pair<uid_t, gid_t>> owner;
  if (ex.fetchAs) {
    owner = std::make_pair(ex.fetchAs->uid, ex.fetchAs->gid);
  } else if (ex.taskUid) {
    struct stat st;
    if (::stat(ex.directory.c_str(), &st) != 0) {
      return Status::IoError("cannot stat the sandbox " + ex.directory);
    }
    owner = std::make_pair(*ex.taskUid, st.st_gid);
  }
  for (const auto& link : links) {
    if (ex.image) {
      if (std::find(ex.mountedVolumes.begin(), ex.mountedVolumes.end(), link) ==
          ex.mountedVolumes.end()) {
        return Status::FailedPrecondition(
            "Persistent volume at '" + link.containerPath +
            "' was not mounted when the task's container started: in an image, only the first "
            "task's volumes are mounted");
      }
      continue;  // mounted, and given to the container's user, with the container
    }
    if (owner) {
      Status s = chownVolume(link.hostPath, owner->first, owner->second);
      if (!s.ok()) return s;
    }
    if (isDefaultExecutor(ex.info)) continue;  // it links each task's own sandbox
    Status s = linkVolume(ex.directory, link, owner);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

void Agent::unlinkVolumes(const ExecutorRecord& ex, const Resources& taskResources) {
  if (ex.image || isDefaultExecutor(ex.info)) return;  // a mount, or the executor's own links
  for (const auto& link : volumeLinks(volumesRoot(options_.workDir), taskResources)) {
    Status s = unlinkVolume(ex.directory, link);
    if (!s.ok()) LOG(WARNING) << "Persistent volume: " << s.message();
  }
}

void Agent::failLaunch(ExecutorRecord& ex, const TaskInfo& task, const std::string& why) {
  failedLaunches_.inc();
  LOG(WARNING) << "Cannot launch task " << task.taskId << " of framework " << ex.frameworkId
               << ": " << why;
  agentUpdate(ex.frameworkId, task.taskId, ex.id, TaskState::TASK_FAILED,
              Reason::REASON_CONTAINER_LAUNCH_FAILED, why);
  if (ex.commandExecutor && ex.launched.empty()) shutdownExecutor(ex);
}

}  // namespace tutti::agent
