// ExecuteScheduler: the scheduler behind tutti-execute. It launches N copies
// of one command as offers allow (packing several into one offer), prints
// every state change, and reports when every copy has ended.
//
// Threads: Scheduler callbacks run on the driver's thread; killAll(),
// waitUntilDone() and exitCode() may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tutti/scheduler.hpp"

namespace tutti::execute {

struct ExecuteOptions {
  std::string name;
  std::string command;  // empty with an image: the image's Entrypoint/Cmd
  std::string image;    // Docker image name; empty: a plain process
  Resources resources;
  int instances = 1;
  std::vector<EnvironmentVariable> env;
  std::optional<std::chrono::nanoseconds> killGracePeriod;
  // All instances in one LAUNCH_GROUP under the default executor NAME (one
  // offer must hold them all, plus the executor's cpus:0.1;mem:32).
  bool group = false;
};

class ExecuteScheduler final : public Scheduler {
 public:
  ExecuteScheduler(ExecuteOptions options, std::ostream& out);

  void registered(SchedulerDriver* driver, const FrameworkID& id, const MasterInfo& master) override;
  void reregistered(SchedulerDriver* driver, const MasterInfo& master) override;
  void disconnected(SchedulerDriver* driver) override;
  void resourceOffers(SchedulerDriver* driver, const std::vector<Offer>& offers) override;
  void offerRescinded(SchedulerDriver*, const OfferID&) override {}
  void statusUpdate(SchedulerDriver* driver, const TaskStatus& status) override;
  void frameworkMessage(SchedulerDriver*, const ExecutorID&, const AgentID&,
                        const std::string&) override {}
  void agentLost(SchedulerDriver*, const AgentID& agent) override;
  void executorLost(SchedulerDriver*, const ExecutorID&, const AgentID&, int) override {}
  void error(SchedulerDriver* driver, const std::string& message) override;

  // Kills every launched task that has not ended; tasks not launched yet
  // are dropped.
  void killAll(SchedulerDriver* driver);
  // Waits until every task ended (or the framework hit an error).
  void waitUntilDone();
  bool done();
  // One task: its exit code (0 finished; the command's status; 128+signal;
  // 1 for other failures). Several: 0 when all finished, else 1.
  int exitCode();

 private:
  struct TaskRecord {
    TaskID id;
    bool launched = false;
    std::optional<TaskState> state;
    std::optional<int> exitStatus;
  };
  void print(const TaskStatus& status);
  bool allEnded() const;

  ExecuteOptions options_;
  std::ostream& out_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<TaskRecord> tasks_;
  std::map<TaskID, size_t> index_;
  size_t nextToLaunch_ = 0;
  bool aborted_ = false;
  bool killRequested_ = false;
  bool suppressed_ = false;
  int unfitOffers_ = 0;
};

}  // namespace tutti::execute
