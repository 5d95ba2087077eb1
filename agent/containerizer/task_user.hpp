// Which user an executor and its task run as (the agent's --switch_user,
// Mesos's rules): the task's CommandInfo.user (a custom executor's:
// ExecutorInfo.command.user), else FrameworkInfo.user. Tasks in images are
// not switched here: they run as the image's user or the command's, set in
// their OCI config (containerizer/oci/oci_spec.hpp). Pure lookups; any thread.
#pragma once

#include <optional>
#include <string>

#include "common/user.hpp"
#include "tutti/types.hpp"

namespace tutti::agent {

// The user to switch to, or nullopt when nothing changes: switching is off,
// the task is in an image, no user is named, or the named user is the one
// the agent runs as. FailedPrecondition when the user does not exist here,
// or the agent is not root and would need to become someone else.
Result<std::optional<UserAccount>> switchedUser(bool switchUser, const FrameworkInfo& framework,
                                                const TaskInfo& task);

// Environment entries that make a process look like it logged in as `user`
// (USER, LOGNAME, HOME), to replace the agent's own.
std::vector<std::string> userEnvironment(const UserAccount& user);

}  // namespace tutti::agent
