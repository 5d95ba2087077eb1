// Unit tests for the agent's Checkpointer: round trips, atomic replacement,
// corrupt files reported and skipped, and the process identity helpers.
#include "agent/checkpoint/checkpoint.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "common/files.hpp"
#include "tests/fixtures/cluster.hpp"

namespace tutti::agent {
namespace {

ExecutorCheckpointState executorState(const std::string& fw, const std::string& ex) {
  ExecutorCheckpointState st;
  st.framework.id = FrameworkID(fw);
  st.framework.name = "f";
  st.framework.checkpoint = true;
  st.executor.executorId = ExecutorID(ex);
  st.executor.frameworkId = FrameworkID(fw);
  st.containerId = ContainerID("c-" + ex);
  st.directory = "/tmp/sandbox/" + ex;
  st.pid = 4242;
  st.pidStartTicks = 77;
  st.startTime = 12.5;
  TaskInfo queued;
  queued.taskId = TaskID("q1");
  queued.name = "queued";
  st.queued.push_back(queued);
  st.queuedGroups = {{TaskID("q1"), TaskID("q2")}, {TaskID("q3")}};
  Task launched;
  launched.taskId = TaskID("t1");
  launched.frameworkId = FrameworkID(fw);
  launched.state = TaskState::TASK_RUNNING;
  st.launched.push_back(launched);
  TaskInfo info;
  info.taskId = TaskID("t1");
  info.name = "one";
  st.launchedInfos.push_back(info);
  TaskStatus update;
  update.taskId = TaskID("t1");
  update.state = TaskState::TASK_FINISHED;
  update.uuid = std::string(16, 'x');
  st.pendingUpdates.push_back(update);
  st.ackedUuids.push_back(std::string(16, 'y'));
  return st;
}

TEST(CheckpointTest, AgentRoundTripAndAbsence) {
  testing::TempDir dir;
  Checkpointer c(dir.path());
  auto none = c.readAgent();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  AgentCheckpointState st;
  st.info.id = AgentID("a-S0");
  st.info.hostname = "h";
  st.info.resources = *Resources::parse("cpus:2;cpus(eng):1");
  st.flagResources = *Resources::parse("cpus:3");
  st.executorEndpoint = "tcp://127.0.0.1:6051";
  st.bootId = currentBootId();
  ASSERT_TRUE(c.writeAgent(st).ok());
  auto back = c.readAgent();
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->info.id, st.info.id);
  EXPECT_EQ((*back)->info.resources, st.info.resources);
  EXPECT_EQ((*back)->flagResources, st.flagResources);
  EXPECT_EQ((*back)->executorEndpoint, st.executorEndpoint);
  EXPECT_FALSE((*back)->bootId.empty());
}

TEST(CheckpointTest, ExecutorRoundTripRemoveAndCorruptFilesAreSkipped) {
  testing::TempDir dir;
  Checkpointer c(dir.path());
  ASSERT_TRUE(c.writeExecutor(executorState("fw1", "e1")).ok());
  ASSERT_TRUE(c.writeExecutor(executorState("fw1", "e2")).ok());
  auto all = c.readExecutors();
  EXPECT_TRUE(all.errors.empty());
  ASSERT_EQ(all.executors.size(), 2u);
  const auto& e = all.executors[0].executor.executorId.value == "e1" ? all.executors[0]
                                                                     : all.executors[1];
  EXPECT_EQ(e.pid, 4242);
  EXPECT_EQ(e.pidStartTicks, 77u);
  EXPECT_EQ(e.containerId, ContainerID("c-e1"));
  ASSERT_EQ(e.queued.size(), 1u);
  EXPECT_EQ(e.queued[0].name, "queued");
  ASSERT_EQ(e.queuedGroups.size(), 2u);
  EXPECT_EQ(e.queuedGroups[0], (std::vector<TaskID>{TaskID("q1"), TaskID("q2")}));
  EXPECT_EQ(e.queuedGroups[1], (std::vector<TaskID>{TaskID("q3")}));
  ASSERT_EQ(e.launched.size(), 1u);
  EXPECT_EQ(e.launched[0].state, TaskState::TASK_RUNNING);
  EXPECT_EQ(e.launchedInfos[0].name, "one");
  ASSERT_EQ(e.pendingUpdates.size(), 1u);
  EXPECT_EQ(e.pendingUpdates[0].uuid, std::string(16, 'x'));
  EXPECT_EQ(e.ackedUuids, std::vector<std::string>{std::string(16, 'y')});

  // Garbage, a truncated file and a file under the wrong name are reported
  // and skipped; the good one is still read.
  std::string bytes = Checkpointer::encodeExecutor(executorState("fw1", "e1"));
  ASSERT_TRUE(writeFileAtomically(c.metaDir() + "/executors/fw1/e2", "not capnp").ok());
  ASSERT_TRUE(
      writeFileAtomically(c.metaDir() + "/executors/fw1/e3", bytes.substr(0, bytes.size() / 2))
          .ok());
  ASSERT_TRUE(writeFileAtomically(c.metaDir() + "/executors/fw1/e4", bytes).ok());
  all = c.readExecutors();
  EXPECT_EQ(all.errors.size(), 3u);
  ASSERT_EQ(all.executors.size(), 1u);
  EXPECT_EQ(all.executors[0].executor.executorId, ExecutorID("e1"));

  ASSERT_TRUE(c.removeExecutor(FrameworkID("fw1"), ExecutorID("e1")).ok());
  ASSERT_TRUE(c.removeExecutor(FrameworkID("fw1"), ExecutorID("e1")).ok());  // idempotent
  all = c.readExecutors();
  EXPECT_TRUE(all.executors.empty());
  ASSERT_TRUE(c.removeAll().ok());
  EXPECT_TRUE(c.readExecutors().errors.empty());
}

TEST(CheckpointTest, CorruptAgentFileIsAnError) {
  testing::TempDir dir;
  Checkpointer c(dir.path());
  ASSERT_TRUE(makeDirectories(c.metaDir()).ok());
  ASSERT_TRUE(writeFileAtomically(c.metaDir() + "/agent", std::string(64, '\xff')).ok());
  auto r = c.readAgent();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("meta/agent"), std::string::npos) << r.status();
  EXPECT_FALSE(Checkpointer::decodeAgent("").ok());
}

TEST(CheckpointTest, ProcessStartTicksIdentifiesAProcess) {
  auto self = processStartTicks(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(processStartTicks(::getpid()), self);
  EXPECT_FALSE(processStartTicks(0).has_value());
  EXPECT_FALSE(processStartTicks(1 << 30).has_value());
  EXPECT_EQ(currentBootId().size(), 36u);
}

}  // namespace
}  // namespace tutti::agent
