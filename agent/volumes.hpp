// Persistent volumes on an agent's disk, Mesos's layout:
// <work_dir>/volumes/roles/<role>/<persistence id>, a role's `/` written as
// `%2F` (and `%` as `%25`) so that role `a/b` and a volume `b` of role `a`
// never meet. A volume's directory is made when the master checkpoints the
// volume (CREATE) and removed with its data when the master drops it
// (DESTROY); tasks that use it see it at sandbox/<container path> through a
// symbolic link (process tasks, made when the task is sent to its
// executor; the default executor links its tasks' own sandboxes) or a bind
// mount (tasks in images, in the container's config).
//
// Free functions, any thread; errors are IoError naming the path, or
// InvalidArgument for what does not name a volume.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "tutti/resources.hpp"
#include "tutti/status.hpp"

namespace tutti::agent {

// <work_dir>/volumes/roles: the root that volumePath() is under.
std::string volumesRoot(const std::string& workDir);
// The directory of `volume` (a persistent volume) under `root`.
std::string volumePath(const std::string& root, const Resource& volume);

// Makes the directories of `after`'s volumes that `before` does not have
// and removes (with their data) those of `before`'s that `after` drops.
// Goes on past an error and returns the first.
Status syncVolumes(const std::string& root, const Resources& before, const Resources& after);

// A volume as a task sees it: `containerPath` in its sandbox is `hostPath`.
struct VolumeLink {
  std::string containerPath;  // relative, validated (validateContainerPath)
  std::string hostPath;
  bool operator==(const VolumeLink&) const = default;
};
std::vector<VolumeLink> volumeLinks(const std::string& root, const Resources& resources);

// Makes sandbox/<containerPath> a symbolic link to hostPath. Missing parent
// directories are made (given to `owner` when set, the link itself stays
// root's: nothing is chowned by name where the task could swap it); no existing component is
// followed if it is a link, so a task cannot point the agent outside its
// sandbox. An existing link to hostPath is kept; anything else already at
// that path is an error.
Status linkVolume(const std::string& sandbox, const VolumeLink& link,
                  std::optional<std::pair<uid_t, gid_t>> owner = std::nullopt);

// Removes the link linkVolume() made, once its task has ended (a later task
// of the same executor must not reach a volume it was not given). OK when
// it is gone already; anything but that link is left alone.
Status unlinkVolume(const std::string& sandbox, const VolumeLink& link);

// Gives the volume's directory (not its contents) to the task's user, as
// Mesos does for a volume a task of another user used before.
Status chownVolume(const std::string& hostPath, uid_t uid, gid_t gid);

}  // namespace tutti::agent
