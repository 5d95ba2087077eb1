#include "agent/containerizer/task_user.hpp"

#include <unistd.h>

#include "common/host.hpp"

namespace tutti::agent {

Result<std::optional<UserAccount>> switchedUser(bool switchUser, const FrameworkInfo& framework,
                                                const TaskInfo& task) {
  if (!switchUser || (task.container && task.container->image)) return std::optional<UserAccount>();
  // A custom executor's user, else the task's (a command task, or a task of
  // the default executor, which has no command).
  const CommandInfo* command = task.executor && task.executor->command
                                   ? &*task.executor->command
                                   : (task.command ? &*task.command : nullptr);
  std::string name = command && command->user && !command->user->empty() ? *command->user
                                                                         : framework.user;
  if (name.empty()) return std::optional<UserAccount>();
  // The agent's own user (most frameworks on a dev box, every task of a
  // framework run by the agent's user) needs no lookup on each launch.
  static const std::string self = currentUserName();
  if (name == self && ::getuid() == ::geteuid()) return std::optional<UserAccount>();
  auto account = lookupUser(name);
  if (!account.ok()) {
    return Status::FailedPrecondition("Cannot run the task as user '" + name +
                                      "': " + account.status().message());
  }
  if (account->uid == ::geteuid()) return std::optional<UserAccount>();
  if (::geteuid() != 0) {
    return Status::FailedPrecondition(
        "Cannot run the task as user '" + name + "': the agent runs as uid " +
        std::to_string(::geteuid()) + ", not root (run it as root, or with --switch_user=false)");
  }
  return std::optional<UserAccount>(std::move(*account));
}

std::vector<std::string> userEnvironment(const UserAccount& user) {
  return {"USER=" + user.name, "LOGNAME=" + user.name, "HOME=" + user.home};
}

}  // namespace tutti::agent
