// Unit tests for master::Master: the state snapshot, its JSON and the publisher that serves it off the loop.
#include "tests/unit/master/master_fixture.hpp"

namespace tutti {
namespace master_test {
namespace {

TEST_F(MasterTest, StateSnapshotKeepsWhatItSawWhileTheMasterMovesOn) {
  AgentID agent = registerAgent("agent1", "host1");
  FrameworkID fw = subscribe("fw1", frameworkInfo("f"));
  Offer offer = oneOffer("fw1");
  launchRunning("fw1", fw, "agent1", agent, offer, commandTask("t1", "cpus:1;mem:128"), 1);

  auto before = master::takeStateSnapshot(*master_);
  // Nothing changed: the next snapshot shares the views of the first.
  auto same = master::takeStateSnapshot(*master_);
  EXPECT_EQ(same->frameworks[0], before->frameworks[0]);
  EXPECT_EQ(same->agents[0], before->agents[0]);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2));
  auto after = master::takeStateSnapshot(*master_);

  // The task was copied on write: the first snapshot still has it running.
  ASSERT_EQ(before->frameworks.size(), 1u);
  ASSERT_EQ(before->frameworks[0]->tasks.size(), 1u);
  EXPECT_EQ(before->frameworks[0]->tasks[0]->state, TaskState::TASK_RUNNING);
  EXPECT_EQ(before->frameworks[0]->tasks[0]->statuses.size(), 1u);
  ASSERT_EQ(after->frameworks[0]->tasks.size(), 1u);
  EXPECT_EQ(after->frameworks[0]->tasks[0]->state, TaskState::TASK_FINISHED);
  EXPECT_EQ(after->frameworks[0]->tasks[0]->statuses.size(), 2u);
  EXPECT_EQ(taskState(fw, "t1"), TaskState::TASK_FINISHED);

  // The agent's view was rebuilt: its resources are free again.
  ASSERT_EQ(after->agents.size(), 1u);
  EXPECT_TRUE(after->agents[0]->used.empty()) << after->agents[0]->used;
  EXPECT_EQ(before->agents[0]->used, res("cpus:1;mem:128").allocate("*"));

  auto old = nlohmann::json::parse(master::stateJson(*before, {}, false));
  EXPECT_EQ(old["frameworks"][0]["tasks"][0]["state"], "TASK_RUNNING");
  auto now = nlohmann::json::parse(master::stateJson(*after, {}, false));
  EXPECT_EQ(now["frameworks"][0]["tasks"][0]["state"], "TASK_FINISHED");
}

TEST_F(MasterTest, StateJsonHasMesosShapeAndTheCacheChangesNothing) {
  AgentID agent = registerAgent("agent1", "host1", "cpus:4;mem:4096;ports:[31000-31010]");
  FrameworkID fw = subscribe("fw1", frameworkInfo("f", false, 0, {"eng"}));
  Offer offer = oneOffer("fw1");
  accept("fw1", fw, {offer.id},
         {commandTask("t1", "cpus:1;mem:128"), commandTask("t2", "cpus:1;mem:64")});
  ASSERT_EQ(transport_.take<wire::RunTaskMessage>("agent1").size(), 2u);
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_RUNNING, uuid(1));
  statusUpdate("agent1", fw, agent, "t2", TaskState::TASK_RUNNING, uuid(3));
  acknowledge("fw1", fw, agent, "t1", uuid(1));
  acknowledge("fw1", fw, agent, "t2", uuid(3));
  statusUpdate("agent1", fw, agent, "t1", TaskState::TASK_FINISHED, uuid(2), "done \xff");
  acknowledge("fw1", fw, agent, "t1", uuid(2));

  auto snapshot = master::takeStateSnapshot(*master_);
  std::string plain = master::stateJson(*snapshot, {{"port", "5050"}}, false);
  master::TaskJsonCache cache;
  // As the publisher writes it: a rope that references the cached tasks'
  // and the completed tasks' JSON.
  auto viaRope = [](const std::function<void(json::JsonWriter&)>& write) {
    json::JsonRope rope;
    json::JsonWriter w(&rope);
    write(w);
    rope.seal();
    return rope.flatten();
  };
  auto state = [&](json::JsonWriter& w) {
    master::writeStateJson(w, *snapshot, {{"port", "5050"}}, false, &cache);
  };
  EXPECT_EQ(master::stateJson(*snapshot, {{"port", "5050"}}, false, &cache), plain);
  EXPECT_EQ(viaRope(state), plain);
  EXPECT_EQ(viaRope(state), plain);
  // t2 only: t1 completed, and a completed task is kept as its JSON.
  EXPECT_EQ(cache.size(), 1u);

  auto j = nlohmann::json::parse(plain);
  EXPECT_EQ(j["flags"]["port"], "5050");
  EXPECT_EQ(j["activated_slaves"], 1);
  ASSERT_EQ(j["slaves"].size(), 1u);
  EXPECT_EQ(j["slaves"][0]["id"], agent.value);
  EXPECT_EQ(j["slaves"][0]["hostname"], "host1");
  EXPECT_EQ(j["slaves"][0]["resources"]["cpus"], 4.0);
  EXPECT_EQ(j["slaves"][0]["resources"]["ports"], "[31000-31010]");
  EXPECT_EQ(j["slaves"][0]["used_resources"]["mem"], 64.0);
  ASSERT_EQ(j["frameworks"].size(), 1u);
  const auto& f = j["frameworks"][0];
  EXPECT_EQ(f["id"], fw.value);
  EXPECT_EQ(f["role"], "eng");
  ASSERT_EQ(f["tasks"].size(), 1u);
  EXPECT_EQ(f["tasks"][0]["id"], "t2");
  EXPECT_EQ(f["tasks"][0]["slave_id"], agent.value);
  EXPECT_EQ(f["tasks"][0]["role"], "eng");
  EXPECT_EQ(f["tasks"][0]["resources"]["cpus"], 1.0);
  EXPECT_EQ(f["tasks"][0]["statuses"][0]["state"], "TASK_RUNNING");
  ASSERT_EQ(f["completed_tasks"].size(), 1u);
  EXPECT_EQ(f["completed_tasks"][0]["state"], "TASK_FINISHED");
  EXPECT_EQ(f["completed_tasks"][0]["statuses"][1]["message"], "done \xef\xbf\xbd");

  auto summary = nlohmann::json::parse(master::stateJson(*snapshot, {}, true));
  EXPECT_FALSE(summary["frameworks"][0].contains("tasks"));
  EXPECT_EQ(summary["frameworks"][0]["TASK_RUNNING"], 1);
  auto tasks = nlohmann::json::parse(
      viaRope([&](json::JsonWriter& w) { master::writeTasksJson(w, *snapshot, &cache); }));
  EXPECT_EQ(tasks["tasks"].size(), 2u);
  EXPECT_EQ(tasks["tasks"][1]["state"], "TASK_FINISHED");
  auto slaves = nlohmann::json::parse(
      viaRope([&](json::JsonWriter& w) { master::writeSlavesJson(w, *snapshot); }));
  EXPECT_EQ(slaves["slaves"].size(), 1u);
}

TEST_F(MasterTest, StatePublisherAnswersFromAFreshSnapshotOffTheLoop) {
  registerAgent("agent1", "host1");
  master::StatePublisher publisher(*master_, loop_, {});
  auto get = [&] {
    auto body = std::async(std::launch::async, [&] {
      return publisher.get(master::StatePublisher::View::kSlaves);
    });
    // The snapshot is taken on this (the loop's) thread: run it until the
    // answer is there.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (body.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready &&
           std::chrono::steady_clock::now() < deadline) {
      loop_.runOnce(std::chrono::milliseconds(10));
    }
    auto r = body.get();
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? nlohmann::json::parse((*r)->flatten()) : nlohmann::json();
  };
  EXPECT_EQ(get()["slaves"].size(), 1u);
  // A change made before the next request is in its answer.
  registerAgent("agent2", "host2");
  EXPECT_EQ(get()["slaves"].size(), 2u);
  EXPECT_EQ(publisher.batches(), 2u);
  publisher.stop();
  auto r = publisher.get(master::StatePublisher::View::kState);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace master_test
}  // namespace tutti
