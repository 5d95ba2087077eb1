// Unit tests for the agent: executors and tasks: launch, subscription, status updates, kills, executor exits, framework shutdown and messages.
// Tests named *Bug* once showed bugs found in review; they guard the fixes.
#include "tests/unit/agent/agent_fixture.hpp"

namespace tutti {
namespace agent {
namespace agent_test {
namespace {

TEST_F(AgentTest, RunTaskStartsAnExecutorInItsSandboxAndQueuesTheTask) {
  registerAgent();
  runTask(commandTask("t1"));
  EXPECT_EQ(metrics_.counter("slave/tasks_launched").value(), 1);
  const ExecutorRecord* ex = executor("t1");
  ASSERT_NE(ex, nullptr);
  EXPECT_EQ(ex->state, ExecutorState::kRegistering);
  EXPECT_TRUE(ex->commandExecutor);
  EXPECT_EQ(ex->info.type, ExecutorInfo::Type::DEFAULT);
  EXPECT_EQ(ex->info.frameworkId, kFw);
  EXPECT_EQ(ex->queued.count(TaskID("t1")), 1u);
  EXPECT_TRUE(ex->launched.empty());

  ASSERT_TRUE(waitForPid("t1"));
  ex = executor("t1");
  const std::string sandbox = workDir_ + "/slaves/agent-1/frameworks/fw-1/executors/t1/runs/" +
                              ex->containerId.value;
  EXPECT_FALSE(ex->containerId.empty());
  EXPECT_EQ(ex->directory, sandbox);
  EXPECT_TRUE(fs::is_directory(sandbox));
  EXPECT_TRUE(fs::is_regular_file(sandbox + "/stdout"));
  EXPECT_TRUE(fs::is_regular_file(sandbox + "/stderr"));
  EXPECT_TRUE(processExists(ex->pid));
  EXPECT_EQ(agent_->sandboxes(), std::vector<std::string>{sandbox});

  // The executor learns who it is from its environment (and runs in its sandbox).
  ASSERT_TRUE(waitUntil(
      [&] { return contains(readFile(sandbox + "/executor.env"), "TUTTI_SANDBOX="); }));
  std::string env = readFile(sandbox + "/executor.env");
  EXPECT_TRUE(contains(env, std::string("TUTTI_AGENT_ENDPOINT=") + kExecutorEndpoint + "\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_AGENT_ID=agent-1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_FRAMEWORK_ID=fw-1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_EXECUTOR_ID=t1\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_CONTAINER_ID=" + ex->containerId.value + "\n")) << env;
  EXPECT_TRUE(contains(env, "TUTTI_SANDBOX=" + sandbox + "\n")) << env;

  // Nothing goes to an executor before it subscribes, and the task waits.
  EXPECT_TRUE(executors_.sent().empty());
  EXPECT_EQ(ex->queued.count(TaskID("t1")), 1u);

  subscribe("conn-1", "t1");
  auto& sent = executors_.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].to, "conn-1");
  EXPECT_EQ(sent[1].to, "conn-1");
  auto* subscribed = std::get_if<wire::ExecutorSubscribedEvent>(&sent[0].message);
  ASSERT_NE(subscribed, nullptr) << wire::payloadName(sent[0].message);
  EXPECT_EQ(subscribed->executorInfo.executorId, ExecutorID("t1"));
  EXPECT_EQ(subscribed->frameworkInfo.id, kFw);
  EXPECT_EQ(subscribed->agentInfo.id, kAgent);
  EXPECT_EQ(subscribed->containerId, ex->containerId);
  auto* launch = std::get_if<wire::LaunchEvent>(&sent[1].message);
  ASSERT_NE(launch, nullptr) << wire::payloadName(sent[1].message);
  EXPECT_EQ(launch->task.taskId, TaskID("t1"));
  ASSERT_TRUE(launch->task.command.has_value());
  EXPECT_EQ(launch->task.command->value, "sleep 1000");

  ex = executor("t1");
  EXPECT_EQ(ex->state, ExecutorState::kRunning);
  EXPECT_EQ(ex->conn, "conn-1");
  EXPECT_TRUE(ex->queued.empty());
  ASSERT_EQ(ex->launched.count(TaskID("t1")), 1u);
  EXPECT_EQ(ex->launched.at(TaskID("t1")).state, TaskState::TASK_STAGING);
  EXPECT_EQ(ex->infos.count(TaskID("t1")), 1u);

  // Subscribed in time: the registration timeout does not fire.
  master_.clear();
  advance(options_.executorRegistrationTimeout + 1s);
  EXPECT_TRUE(updatesToMaster().empty());
  ASSERT_NE(executor("t1"), nullptr);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_TRUE(processExists(executor("t1")->pid));
}

TEST_F(AgentTest, SubscriptionBeforeTheLauncherReportedThePidIsFine) {
  registerAgent();
  // Handled before the loop runs the launcher thread's result.
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  executors_.inject("conn-1", wire::ExecutorSubscribeCall{kFw, ExecutorID("t1"), {}, {}});
  ASSERT_EQ(executor("t1")->pid, -1);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_EQ(executors_.take<wire::LaunchEvent>("conn-1").size(), 1u);
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;
  EXPECT_EQ(executor("t1")->state, ExecutorState::kRunning);
  EXPECT_TRUE(processExists(pid));
  // Its exit is still noticed.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
}

TEST_F(AgentTest, CustomExecutorGetsItsQueuedTasksInOrderThenNewOnesAtOnce) {
  registerAgent();
  runTask(customTask("a", "e1"));
  runTask(customTask("b", "e1"));
  // A second launch of a known task is ignored.
  runTask(customTask("a", "e1"));
  ASSERT_EQ(framework()->executors.size(), 1u);
  const ExecutorRecord* ex = executor("e1");
  ASSERT_NE(ex, nullptr);
  EXPECT_FALSE(ex->commandExecutor);
  EXPECT_EQ(ex->queued.size(), 2u);
  ASSERT_TRUE(waitForPid("e1"));
  EXPECT_TRUE(fs::is_directory(executor("e1")->directory));

  subscribe("conn-1", "e1");
  auto launches = executors_.take<wire::LaunchEvent>("conn-1");
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].task.taskId, TaskID("a"));
  EXPECT_EQ(launches[1].task.taskId, TaskID("b"));
  auto subscribed = executors_.take<wire::ExecutorSubscribedEvent>("conn-1");
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0].executorInfo.name, "custom executor e1");

  runTask(customTask("c", "e1"));
  launches = executors_.take<wire::LaunchEvent>("conn-1");
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].task.taskId, TaskID("c"));
  EXPECT_EQ(executor("e1")->launched.size(), 3u);
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, LaunchFailureFailsTheQueuedTasks) {
  registerAgent();
  fs::remove(binDir_ + "/tutti-executor");
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_CONTAINER_LAUNCH_FAILED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(metrics_.counter("slave/container_launch_errors").value(), 1);
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
}

TEST_F(AgentTest, RunTaskForAnotherAgentOrBeforeRegistrationIsIgnored) {
  startAgent();
  runTask(commandTask("t0"));  // not registered yet
  EXPECT_TRUE(agent_->frameworks().empty());

  master_.inject("", wire::AgentRegisteredMessage{kAgent, std::chrono::hours(1)});
  settle();
  master_.clear();
  runTask(commandTask("t1"), frameworkInfo(), AgentID("agent-2"));
  EXPECT_TRUE(agent_->frameworks().empty());
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(metrics_.counter("slave/tasks_launched").value(), 0);
  EXPECT_FALSE(fs::exists(workDir_ + "/slaves"));
}

TEST_F(AgentTest, InvalidIdsAreRefusedAndCreateNothing) {
  registerAgent();
  struct Case {
    FrameworkInfo fw;
    TaskInfo task;
  };
  std::vector<Case> cases = {
      {frameworkInfo(), commandTask("../x")},
      {frameworkInfo(), commandTask("..")},
      {frameworkInfo(), commandTask("a b")},
      {frameworkInfo(FrameworkID("../fw")), commandTask("t1")},
      {frameworkInfo(FrameworkID("fw/sub")), commandTask("t2")},
      {frameworkInfo(), customTask("t3", "..")},
      {frameworkInfo(), customTask("t4", "../../e")},
  };
  for (const auto& c : cases) {
    runTask(c.task, c.fw);
    auto updates = updatesToMaster();
    ASSERT_EQ(updates.size(), 1u) << c.task.taskId;
    EXPECT_EQ(updates[0].frameworkId, *c.fw.id);
    EXPECT_EQ(updates[0].status.taskId, c.task.taskId);
    EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
    EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_INVALID);
    EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  }
  EXPECT_TRUE(agent_->frameworks().empty());
  EXPECT_TRUE(executors_.sent().empty());
  // Nothing was created, inside the work dir (but the agent's own
  // checkpoint, and the image store, container and fetcher cache
  // directories made at start) or next to it.
  std::set<std::string> inside;
  for (const auto& e : fs::directory_iterator(workDir_)) inside.insert(e.path().filename());
  EXPECT_EQ(inside, (std::set<std::string>{"containers", "fetch", "images", "meta"}));
  EXPECT_EQ(std::distance(fs::directory_iterator(workDir_ + "/fetch"), {}), 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(workDir_ + "/containers/bundles"), {}), 0);
  EXPECT_FALSE(fs::exists(workDir_ + "/meta/executors"));
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(dir_.path())) top.insert(e.path().filename());
  EXPECT_EQ(top, (std::set<std::string>{"bin", "work"}));
}

TEST_F(AgentTest, ExecutorUpdatesAreAcknowledgedAndForwardedOneAtATimeInOrder) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();

  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  auto acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].taskId, TaskID("t1"));
  EXPECT_EQ(acks[0].uuid, uuid(1));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, kFw);
  EXPECT_EQ(updates[0].agentId, kAgent);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_RUNNING);
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_EXECUTOR);
  EXPECT_EQ(updates[0].status.executorId, ExecutorID("t1"));
  EXPECT_EQ(updates[0].status.agentId, kAgent);
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_RUNNING);
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_RUNNING);

  // The next update is acknowledged to the executor at once but waits for
  // the master's acknowledgement of the first.
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FINISHED, 2));
  acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(2));
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_FINISHED);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 2u);

  // Unacknowledged: the head is re-sent, carrying the latest state.
  advance(options_.statusUpdateRetryIntervalMin);
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.uuid, uuid(1));
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_FINISHED);

  ackFromMaster("t1", uuid(1));
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FINISHED);
  EXPECT_EQ(updates[0].status.uuid, uuid(2));
  EXPECT_EQ(updates[0].latestState, TaskState::TASK_FINISHED);

  // A stale acknowledgement changes nothing; the task is not done yet.
  ackFromMaster("t1", uuid(1));
  EXPECT_TRUE(updatesToMaster().empty());
  ASSERT_EQ(executor("t1")->launched.count(TaskID("t1")), 1u);

  // The terminal acknowledgement completes the task.
  ackFromMaster("t1", uuid(2));
  const ExecutorRecord* ex = executor("t1");
  ASSERT_NE(ex, nullptr);
  EXPECT_TRUE(ex->launched.empty());
  EXPECT_TRUE(ex->infos.empty());
  ASSERT_EQ(ex->completed.size(), 1u);
  EXPECT_EQ(ex->completed[0].taskId, TaskID("t1"));
  EXPECT_EQ(ex->completed[0].state, TaskState::TASK_FINISHED);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);

  // The executor missed our acknowledgement and sends the update again: it
  // is acknowledged again, and the master does not hear of it twice.
  int64_t invalid = invalidExecutorCalls();
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_FINISHED, 2));
  acks = executors_.take<wire::AcknowledgedEvent>("conn-1");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].uuid, uuid(2));
  EXPECT_EQ(invalidExecutorCalls(), invalid);
  advance(10min);
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, DuplicateUpdateWhilePendingIsAcknowledgedButForwardedOnce) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_EQ(executors_.take<wire::AcknowledgedEvent>("conn-1").size(), 2u);
  EXPECT_EQ(updatesToMaster().size(), 1u);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).statuses.size(), 1u);
}

TEST_F(AgentTest, InvalidExecutorCallsAreDroppedAndCounted) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  master_.clear();
  int64_t base = invalidExecutorCalls();

  // From a connection that is not the executor's.
  executorUpdate("conn-evil", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  EXPECT_EQ(invalidExecutorCalls(), base + 1);
  // For a task this executor does not run.
  executorUpdate("conn-1", "t1", executorStatus("t9", TaskState::TASK_RUNNING, 2));
  EXPECT_EQ(invalidExecutorCalls(), base + 2);
  // From an executor the agent does not know.
  executorUpdate("conn-1", "ghost", executorStatus("t1", TaskState::TASK_RUNNING, 3));
  EXPECT_EQ(invalidExecutorCalls(), base + 3);
  // Without a uuid (one of another length does not even decode).
  TaskStatus noUuid = executorStatus("t1", TaskState::TASK_RUNNING, 4);
  noUuid.uuid.clear();
  executorUpdate("conn-1", "t1", noUuid);
  EXPECT_EQ(invalidExecutorCalls(), base + 4);
  // A framework message from the wrong connection.
  executors_.inject("conn-evil", wire::ExecutorMessageCall{kFw, ExecutorID("t1"), "x"});
  settle();
  EXPECT_EQ(invalidExecutorCalls(), base + 5);
  // A message that executors do not send.
  executors_.inject("conn-1", wire::PongMessage{kAgent});
  settle();
  EXPECT_EQ(invalidExecutorCalls(), base + 6);

  EXPECT_TRUE(executors_.sent().empty());
  EXPECT_TRUE(master_.sent().empty());
  EXPECT_EQ(executor("t1")->launched.at(TaskID("t1")).state, TaskState::TASK_STAGING);
  EXPECT_EQ(executor("t1")->conn, "conn-1");
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);

  // An executor the agent does not know is told to shut down at once.
  subscribe("conn-ghost", "ghost");
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-ghost");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, Duration(0));
  EXPECT_EQ(invalidExecutorCalls(), base + 7);
  EXPECT_EQ(executor("ghost"), nullptr);
}

TEST_F(AgentTest, KillOfAQueuedTaskBeforeTheExecutorStartedKillsItWithoutLaunching) {
  registerAgent();
  // Both handled before the loop runs again: the launcher thread's result
  // (the executor's pid) is not in yet.
  master_.inject("", wire::RunTaskMessage{frameworkInfo(), commandTask("t1"), kAgent});
  ASSERT_NE(executor("t1"), nullptr);
  ASSERT_EQ(executor("t1")->pid, -1);
  master_.inject("", wire::KillTaskMessage{kFw, TaskID("t1"), kAgent, std::nullopt});
  ASSERT_EQ(executor("t1")->pid, -1);
  settle();
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  ASSERT_NE(executor("t1"), nullptr);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kTerminating);
  EXPECT_TRUE(executor("t1")->queued.empty());

  // Its process is killed as soon as the launcher returns it; no time passes.
  ASSERT_TRUE(waitForExit("t1"));
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_GT(done->pid, 0);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  EXPECT_FALSE(processExists(done->pid));
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_TRUE(agent_->frameworks().empty());
  ASSERT_EQ(agent_->completedFrameworks().size(), 1u);
}

namespace {
// A default executor (LAUNCH_GROUP's) of framework kFw.
ExecutorInfo defaultExecutor(const std::string& id) {
  ExecutorInfo e;
  e.executorId = ExecutorID(id);
  e.frameworkId = kFw;
  e.type = ExecutorInfo::Type::DEFAULT;
  e.resources = res("cpus:0.1;mem:32");
  return e;
}
}  // namespace

TEST_F(AgentTest, QueuedGroupsGoOutWholeAndAKillTakesItsWholeGroup) {
  registerAgent();
  ExecutorInfo pod = defaultExecutor("pod");
  master_.inject("", wire::RunTaskGroupMessage{frameworkInfo(), pod,
                                               {commandTask("a"), commandTask("b")}, kAgent});
  master_.inject("", wire::RunTaskGroupMessage{frameworkInfo(), pod,
                                               {commandTask("c"), commandTask("d")}, kAgent});
  loop_.settle();
  ASSERT_NE(executor("pod"), nullptr);
  EXPECT_EQ(executor("pod")->queued.size(), 4u);
  // A kill of a queued task ends its whole group, and only its group.
  killTask("c");
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 2u);
  for (const auto& u : updates) {
    EXPECT_EQ(u.status.state, TaskState::TASK_KILLED);
    EXPECT_EQ(u.status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  }
  EXPECT_EQ(updates[1].status.taskId, TaskID("d"));
  EXPECT_EQ(updates[1].status.message, "Task c of its group was killed before it was launched");

  ASSERT_TRUE(waitForPid("pod"));
  subscribe("conn-1", "pod");
  auto groups = executors_.take<wire::LaunchGroupEvent>("conn-1");
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].tasks.size(), 2u);
  EXPECT_EQ(groups[0].tasks[0].taskId, TaskID("a"));
  EXPECT_EQ(groups[0].tasks[1].taskId, TaskID("b"));
  ASSERT_TRUE(groups[0].tasks[0].executor.has_value());
  EXPECT_TRUE(isDefaultExecutor(*groups[0].tasks[0].executor));
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());
  EXPECT_EQ(executor("pod")->launched.size(), 2u);

  // Once it runs, a further group goes straight to it.
  master_.inject("", wire::RunTaskGroupMessage{frameworkInfo(), pod, {commandTask("e")}, kAgent});
  loop_.settle();
  EXPECT_EQ(executors_.take<wire::LaunchGroupEvent>("conn-1").size(), 1u);
  // A task that is not for a default executor cannot join it.
  TaskInfo custom = commandTask("f");
  custom.command.reset();
  custom.executor = pod;
  custom.executor->type = ExecutorInfo::Type::CUSTOM;
  custom.executor->command = CommandInfo{};
  custom.executor->command->value = "./mine";
  runTask(custom);
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_NE(updates[0].status.message.find("another kind of executor"), std::string::npos)
      << updates[0].status.message;
}

TEST_F(AgentTest, AQueuedGroupIsStillOneGroupAfterTheAgentRestarts) {
  registerAgent();
  ExecutorInfo pod = defaultExecutor("pod");
  FrameworkInfo fw = frameworkInfo();
  fw.checkpoint = true;
  master_.inject("", wire::RunTaskGroupMessage{fw, pod, {commandTask("a"), commandTask("b")},
                                               kAgent});
  loop_.settle();
  ASSERT_TRUE(waitForPid("pod"));
  ASSERT_EQ(executor("pod")->queued.size(), 2u);
  settle();  // its pid checkpointed

  // The agent dies before the executor subscribes; a new one recovers from
  // the checkpoint and the executor reconnects to it.
  agent_.reset();
  startAgent();
  ASSERT_NE(executor("pod"), nullptr);
  EXPECT_EQ(executor("pod")->queuedGroups.size(), 1u);
  subscribe("conn-2", "pod");
  auto groups = executors_.take<wire::LaunchGroupEvent>("conn-2");
  ASSERT_EQ(groups.size(), 1u);
  ASSERT_EQ(groups[0].tasks.size(), 2u);
  EXPECT_EQ(groups[0].tasks[0].taskId, TaskID("a"));
  EXPECT_EQ(groups[0].tasks[1].taskId, TaskID("b"));
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());
}

TEST_F(AgentTest, AFrameworksExecutorRefusedBeforeItStartsIsReportedGone) {
  registerAgent();
  // The agent refuses the task (rlimits without the posix/rlimits
  // isolator here, or an id it will not use) before its executor exists:
  // the master must hear the executor is gone, to give back its resources.
  TaskInfo t = customTask("bad/id", "e1");
  runTask(t);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  auto exited = master_.take<wire::ExitedExecutorMessage>();
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].executorId, ExecutorID("e1"));
  EXPECT_EQ(exited[0].frameworkId, kFw);
  EXPECT_EQ(executor("e1"), nullptr);
  // A command task refused the same way has no executor to report.
  runTask(commandTask("bad/too"));
  EXPECT_EQ(updatesToMaster().size(), 1u);
  EXPECT_TRUE(master_.take<wire::ExitedExecutorMessage>().empty());
}

TEST_F(AgentTest, KillOfAQueuedTaskShutsItsIdleExecutorDownAfterTheGracePeriod) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;
  killTask("t1");
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);

  // Subscribing late, it is told to shut down and gets no task.
  subscribe("conn-1", "t1");
  EXPECT_EQ(executors_.sentOf<wire::ExecutorSubscribedEvent>("conn-1").size(), 1u);
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  EXPECT_TRUE(executors_.sentOf<wire::LaunchEvent>().empty());

  advance(options_.executorShutdownGracePeriod - 100ms);
  EXPECT_TRUE(processExists(pid));
  ASSERT_NE(executor("t1"), nullptr);
  advance(100ms);
  ASSERT_TRUE(waitForExit("t1"));
  EXPECT_FALSE(processExists(pid));
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, KillOfALaunchedTaskIsSentToItsExecutor) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  executors_.clear();
  killTask("t1", kFw, KillPolicy{2s});
  auto kills = executors_.take<wire::KillEvent>("conn-1");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].taskId, TaskID("t1"));
  ASSERT_TRUE(kills[0].killPolicy.has_value());
  EXPECT_EQ(kills[0].killPolicy->gracePeriod, Duration(2s));
  // The executor reports the end; the agent adds nothing of its own.
  EXPECT_TRUE(updatesToMaster().empty());
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_KILLED, 1));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_EXECUTOR);
  // A kill of a task that already ended is not passed on.
  executors_.clear();
  killTask("t1");
  EXPECT_TRUE(executors_.sentOf<wire::KillEvent>().empty());
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, KillOfAnUnknownTaskIsAnsweredWithTaskLostOrDropped) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  killTask("t9");
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, kFw);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t9"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_UNKNOWN);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(updates[0].status.agentId, kAgent);
  EXPECT_TRUE(executors_.sentOf<wire::KillEvent>().empty());

  // A partition-aware framework hears TASK_DROPPED.
  const FrameworkID pa("fw-pa");
  ASSERT_GT(launchRunning("p1", "conn-p1",
                          frameworkInfo(pa, {FrameworkCapability::PARTITION_AWARE})),
            0);
  killTask("p9", pa);
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].frameworkId, pa);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_DROPPED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_UNKNOWN);

  // A framework the agent does not know: nothing to say.
  killTask("x", FrameworkID("fw-unknown"));
  EXPECT_TRUE(updatesToMaster().empty());
}

TEST_F(AgentTest, RunTaskOnATerminatingExecutorIsLost) {
  registerAgent();
  runTask(customTask("a", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  killTask("a");  // its only task: the executor shuts down
  updatesToMaster();
  ASSERT_EQ(executor("e1")->state, ExecutorState::kTerminating);
  runTask(customTask("b", "e1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("b"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_LOST);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_TRUE(executor("e1")->queued.empty());
}

TEST_F(AgentTest, ExecutorThatDoesNotSubscribeInTimeIsKilledAndItsTasksFail) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  pid_t pid = executor("t1")->pid;

  advance(options_.executorRegistrationTimeout - 1s);
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_TRUE(processExists(pid));
  advance(1s);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_EQ(updates[0].status.executorId, ExecutorID("t1"));

  ASSERT_TRUE(waitForExit("t1"));
  EXPECT_FALSE(processExists(pid));
  const ExecutorRecord* done = completedExecutor("t1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  // One terminal update, not a second one for the exit.
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);
  EXPECT_TRUE(agent_->frameworks().empty());
}

TEST_F(AgentTest, ExecutorExitFailsItsUnfinishedTasksOnly) {
  registerAgent();
  runTask(customTask("a", "e1"));
  runTask(customTask("b", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  pid_t pid = executor("e1")->pid;
  subscribe("conn-1", "e1");
  executorUpdate("conn-1", "e1", executorStatus("a", TaskState::TASK_FINISHED, 1, "e1"));
  executorUpdate("conn-1", "e1", executorStatus("b", TaskState::TASK_RUNNING, 2, "e1"));
  ackFromMaster("b", uuid(2));
  master_.clear();

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("e1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);  // a's FINISHED is still unacknowledged, b fails
  EXPECT_EQ(updates[0].status.taskId, TaskID("b"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_EQ(updates[0].status.source, Source::SOURCE_AGENT);
  EXPECT_TRUE(contains(updates[0].status.message, "killed by signal 9")) << updates[0].status.message;
  // The master hears that the framework's executor is gone (executorLost).
  auto exited = master_.take<wire::ExitedExecutorMessage>();
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].frameworkId, kFw);
  EXPECT_EQ(exited[0].executorId, ExecutorID("e1"));
  ASSERT_TRUE(exited[0].status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*exited[0].status) && WTERMSIG(*exited[0].status) == SIGKILL);

  const ExecutorRecord* done = completedExecutor("e1");
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->state, ExecutorState::kTerminated);
  EXPECT_TRUE(killedBy(done->exitStatus, SIGKILL));
  ASSERT_EQ(done->completed.size(), 2u);
  for (const auto& t : done->completed) {
    EXPECT_EQ(t.state, t.taskId == TaskID("a") ? TaskState::TASK_FINISHED : TaskState::TASK_FAILED)
        << t.taskId;
  }
  // a's update is still delivered.
  ackFromMaster("a", uuid(1));
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 1u);  // b's FAILED
}

TEST_F(AgentTest, CommandExecutorExitWithARunningTaskFailsIt) {
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  // A command executor is the agent's own: the master is not told.
  EXPECT_TRUE(master_.take<wire::ExitedExecutorMessage>().empty());
  // Once the failure is acknowledged nothing is left of the task.
  ackFromMaster("t1", updates[0].status.uuid);
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);
  EXPECT_TRUE(agent_->frameworks().empty());
}

TEST_F(AgentTest, ShutdownFrameworkShutsExecutorsDownThenKillsThemAfterTheGracePeriod) {
  registerAgent();
  pid_t running = launchRunning("t1", "conn-1");
  ASSERT_GT(running, 0);
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  runTask(commandTask("t2"));  // its executor never subscribes
  ASSERT_TRUE(waitForPid("t2"));
  pid_t idle = executor("t2")->pid;
  executors_.clear();
  master_.clear();

  master_.inject("", wire::ShutdownFrameworkMessage{kAgent, kFw});
  settle();
  auto shutdowns = executors_.take<wire::ShutdownEvent>("conn-1");
  ASSERT_EQ(shutdowns.size(), 1u);
  EXPECT_EQ(shutdowns[0].gracePeriod, options_.executorShutdownGracePeriod);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t2"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_TASK_KILLED_DURING_LAUNCH);
  EXPECT_EQ(executor("t1")->state, ExecutorState::kTerminating);
  EXPECT_EQ(executor("t2")->state, ExecutorState::kTerminating);

  advance(options_.executorShutdownGracePeriod - 100ms);
  EXPECT_TRUE(processExists(running));
  EXPECT_TRUE(processExists(idle));
  advance(100ms);
  ASSERT_TRUE(waitUntil([&] { return agent_->frameworks().empty(); }));
  EXPECT_FALSE(processExists(running));
  EXPECT_FALSE(processExists(idle));
  updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.taskId, TaskID("t1"));
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_KILLED);
  EXPECT_EQ(updates[0].status.reason, Reason::REASON_EXECUTOR_TERMINATED);
  EXPECT_TRUE(killedBy(completedExecutor("t1")->exitStatus, SIGKILL));
}

TEST_F(AgentTest, HeartbeatsGoToSubscribedExecutors) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  runTask(commandTask("t2"));  // not subscribed
  ASSERT_TRUE(waitForPid("t2"));
  executors_.clear();
  advance(options_.executorHeartbeatInterval);
  auto beats = executors_.sentOf<wire::ExecutorHeartbeatEvent>();
  ASSERT_EQ(beats.size(), 1u);
  EXPECT_EQ(executors_.sent()[0].to, "conn-1");
  executors_.clear();
  advance(options_.executorHeartbeatInterval);
  EXPECT_EQ(executors_.sentOf<wire::ExecutorHeartbeatEvent>("conn-1").size(), 1u);
}

TEST_F(AgentTest, HeartbeatsToManyExecutorsAreSentInSlicesAndReachEveryOne) {
  // More executors than one slice (128 per turn of the loop): every one
  // still gets exactly one heartbeat per interval.
  registerAgent();
  constexpr int kExecutors = 130;
  for (int i = 0; i < kExecutors; ++i) {
    std::string id = "t" + std::to_string(i);
    ASSERT_GT(launchRunning(id, "conn-" + std::to_string(i)), 0) << id;
  }
  executors_.clear();
  advance(options_.executorHeartbeatInterval);
  EXPECT_EQ(executors_.sentOf<wire::ExecutorHeartbeatEvent>().size(), size_t{kExecutors});
  for (int i = 0; i < kExecutors; ++i) {
    EXPECT_EQ(executors_.sentOf<wire::ExecutorHeartbeatEvent>("conn-" + std::to_string(i)).size(),
              1u)
        << "conn-" << i;
  }
}

TEST_F(AgentTest, FrameworkMessagesAreRelayedBothWays) {
  registerAgent();
  runTask(commandTask("t1"));
  ASSERT_TRUE(waitForPid("t1"));
  // Not subscribed yet: nowhere to send it.
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t1"), "early"});
  settle();
  EXPECT_TRUE(executors_.sent().empty());

  subscribe("conn-1", "t1");
  executors_.clear();
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t1"), "hello"});
  settle();
  auto events = executors_.take<wire::ExecutorMessageEvent>("conn-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "hello");
  // For an executor that is not here: dropped.
  master_.inject("", wire::FrameworkToExecutorMessage{kAgent, kFw, ExecutorID("t9"), "lost"});
  settle();
  EXPECT_TRUE(executors_.sent().empty());

  master_.clear();
  executors_.inject("conn-1", wire::ExecutorMessageCall{kFw, ExecutorID("t1"), "world"});
  settle();
  auto up = master_.take<wire::ExecutorToFrameworkMessage>();
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].agentId, kAgent);
  EXPECT_EQ(up[0].frameworkId, kFw);
  EXPECT_EQ(up[0].executorId, ExecutorID("t1"));
  EXPECT_EQ(up[0].data, "world");
}

TEST_F(AgentTest, BugResubscriptionDoesNotResendUpdatesOfCompletedTasks) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  TaskStatus finished = executorStatus("t1", TaskState::TASK_FINISHED, 1);
  executorUpdate("conn-1", "t1", finished);
  ackFromMaster("t1", uuid(1));
  ASSERT_EQ(executor("t1")->completed.size(), 1u);
  master_.clear();

  // The executor lost our AcknowledgedEvent and subscribes again with the
  // update it still holds (as TuttiExecutorDriver does).
  subscribe("conn-1", "t1", kFw, {finished});
  EXPECT_TRUE(updatesToMaster().empty()) << "TASK_FINISHED of t1 was forwarded twice";
  EXPECT_EQ(agent_->statusUpdates().pendingUpdates(), 0u);
}

TEST_F(AgentTest, BugResubscriptionCannotUpdateTasksOfOtherExecutors) {
  registerAgent();
  ASSERT_GT(launchRunning("t1", "conn-1"), 0);
  ASSERT_GT(launchRunning("t2", "conn-2"), 0);
  executorUpdate("conn-2", "t2", executorStatus("t2", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t2", uuid(1));
  master_.clear();
  int64_t invalid = invalidExecutorCalls();

  // t1's executor re-subscribes claiming an update for t2.
  subscribe("conn-1", "t1", kFw, {executorStatus("t2", TaskState::TASK_FAILED, 2, "t2")});
  EXPECT_TRUE(updatesToMaster().empty());
  EXPECT_EQ(executor("t2")->launched.at(TaskID("t2")).state, TaskState::TASK_RUNNING);
  EXPECT_GT(invalidExecutorCalls(), invalid);
}

TEST_F(AgentTest, BugExecutorExitKillsTheTaskItLeftBehind) {
  // An executor that, like tutti-executor, starts its task in a new process
  // group of its session.
  writeExecutorScript(
      "perl -e 'setpgrp(0, 0); exec \"sleep\", \"1000\"' &\n"
      "echo $! > task.pid\n"
      "exec sleep 1000\n");
  registerAgent();
  pid_t pid = launchRunning("t1", "conn-1");
  ASSERT_GT(pid, 0);
  std::string pidFile = executor("t1")->directory + "/task.pid";
  pid_t task = 0;
  ASSERT_TRUE(waitUntil([&] {
    task = static_cast<pid_t>(std::atoi(readFile(pidFile).c_str()));
    return task > 0 && ::getpgid(task) == task;
  }));
  executorUpdate("conn-1", "t1", executorStatus("t1", TaskState::TASK_RUNNING, 1));
  ackFromMaster("t1", uuid(1));
  master_.clear();

  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitForExit("t1"));
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_TRUE(pollFor([&] { return !processExists(task); }))
      << "task process " << task << " outlived its executor";
  ::kill(task, SIGKILL);
}

TEST_F(AgentTest, BugExecutorWithoutACommandIsRefused) {
  registerAgent();
  TaskInfo t = customTask("t1", "e1");
  t.executor->command.reset();
  runTask(t);
  auto updates = updatesToMaster();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status.state, TaskState::TASK_FAILED);
  EXPECT_EQ(executor("e1"), nullptr);
}

TEST_F(AgentTest, BugCompletedTasksOfALongLivedExecutorAreBounded) {
  registerAgent();
  runTask(customTask("t0", "e1"));
  ASSERT_TRUE(waitForPid("e1"));
  subscribe("conn-1", "e1");
  for (int i = 0; i < 260; ++i) {
    std::string id = "t" + std::to_string(i);
    if (i > 0) runTask(customTask(id, "e1"));
    executorUpdate("conn-1", "e1", executorStatus(id, TaskState::TASK_FINISHED, i + 1, "e1"));
    ackFromMaster(id, uuid(i + 1));
  }
  ASSERT_NE(executor("e1"), nullptr);
  EXPECT_TRUE(executor("e1")->launched.empty());
  EXPECT_LE(executor("e1")->completed.size(), 200u);
}

// ---------------------------------------------------------------------------
// The built-in command executor, with a stub driver and a manual clock.

}  // namespace
}  // namespace agent_test
}  // namespace agent
}  // namespace tutti
