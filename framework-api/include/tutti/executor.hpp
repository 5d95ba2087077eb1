// The executor API: what an executor implements (Executor) and what it
// calls (ExecutorDriver), mirroring Mesos's mesos/executor.hpp. The built-in
// tutti-executor uses it too.
//
// An executor is started by the agent with its identity in the environment
// (TUTTI_AGENT_ENDPOINT, TUTTI_FRAMEWORK_ID, TUTTI_EXECUTOR_ID, …);
// TuttiExecutorDriver reads it from there.
//
// Threads: callbacks run on the driver's thread, one at a time; driver
// methods may be called from any thread. An executor built on tutti's own
// Loop (as tutti-executor is) may hand the driver that loop instead: the
// driver then has no thread of its own and its callbacks run on the loop.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tutti/scheduler.hpp"
#include "tutti/types.hpp"

namespace tutti {

class ExecutorDriver;
class Loop;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void registered(ExecutorDriver* driver, const ExecutorInfo& executorInfo,
                          const FrameworkInfo& frameworkInfo, const AgentInfo& agentInfo) = 0;
  virtual void reregistered(ExecutorDriver* driver, const AgentInfo& agentInfo) = 0;
  virtual void disconnected(ExecutorDriver* driver) = 0;
  virtual void launchTask(ExecutorDriver* driver, const TaskInfo& task) = 0;
  // Mesos's LAUNCH_GROUP: tasks that start together (sent only to executors
  // of type DEFAULT). By default, each is launched as by launchTask().
  virtual void launchGroup(ExecutorDriver* driver, const std::vector<TaskInfo>& tasks) {
    for (const auto& t : tasks) launchTask(driver, t);
  }
  // `killPolicy`, when set, overrides the task's own kill policy.
  virtual void killTask(ExecutorDriver* driver, const TaskID& taskId,
                        const std::optional<KillPolicy>& killPolicy) = 0;
  virtual void frameworkMessage(ExecutorDriver* driver, const std::string& data) = 0;
  // Kill every task and exit within `gracePeriod`.
  virtual void shutdown(ExecutorDriver* driver, std::chrono::nanoseconds gracePeriod) = 0;
  virtual void error(ExecutorDriver* driver, const std::string& message) = 0;
};

class ExecutorDriver {
 public:
  virtual ~ExecutorDriver() = default;
  virtual DriverStatus start() = 0;
  virtual DriverStatus stop() = 0;
  virtual DriverStatus abort() = 0;
  virtual DriverStatus join() = 0;
  virtual DriverStatus run() = 0;
  // Sent at least once: the driver keeps each update until the agent
  // acknowledges it, and resends it when it re-subscribes.
  virtual DriverStatus sendStatusUpdate(const TaskStatus& status) = 0;
  virtual DriverStatus sendFrameworkMessage(const std::string& data) = 0;
  // Updates sent but not yet acknowledged by the agent.
  virtual size_t unacknowledgedUpdates() const = 0;
};

class TuttiExecutorDriver final : public ExecutorDriver {
 public:
  // Reads its configuration from the environment the agent set.
  explicit TuttiExecutorDriver(Executor* executor);
  // Runs on `loop` (which must outlive the driver) instead of a thread of
  // its own: callbacks arrive on the loop's thread, and the loop's owner
  // runs and stops it (stop() and abort() end the driver, not the loop).
  // start() must be called on the loop's thread or while it is not running.
  // stop() and abort() from another thread are carried out by the loop, so
  // join() there returns only once the loop runs them.
  // join() on the loop's thread cannot wait for the loop it blocks, so it
  // returns the status at once; the driver must be destroyed on the loop's
  // thread or while the loop is not running.
  TuttiExecutorDriver(Executor* executor, Loop& loop);
  ~TuttiExecutorDriver() override;
  DriverStatus start() override;
  DriverStatus stop() override;
  DriverStatus abort() override;
  DriverStatus join() override;
  DriverStatus run() override;
  DriverStatus sendStatusUpdate(const TaskStatus& status) override;
  DriverStatus sendFrameworkMessage(const std::string& data) override;
  size_t unacknowledgedUpdates() const override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tutti
