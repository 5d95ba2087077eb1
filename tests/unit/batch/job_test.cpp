// tutti-batch's job model: parsing, validation and DAG order.
#include "frameworks/batch/job.hpp"

#include <gtest/gtest.h>

namespace tutti::batch {
namespace {

std::string errorOf(const std::string& text) {
  auto job = parseJob(text);
  EXPECT_FALSE(job.ok()) << text;
  return job.error();
}

TEST(JobTest, ParsesEveryField) {
  auto job = parseJob(R"({"name": "etl", "stages": [
    {"name": "extract", "command": "echo $TUTTI_TASK_INDEX", "count": 4,
     "resources": "cpus:0.5;mem:64", "env": {"A": "b"}, "retries": 2, "backoff": "500ms",
     "backoff_factor": 3, "max_backoff": 10, "timeout": "1mins", "parallelism": 2,
     "user": "etl", "fetch": [{"uri": "http://repo/etl.tgz"}, {"uri": "/opt/x", "executable": true}],
     "constraints": [["rack", "EQUALS", "r1"], ["zone", "LIKE", "z[0-9]"], ["hostname", "UNIQUE"]]},
    {"name": "load", "image": "busybox", "depends_on": ["extract"]}]})");
  ASSERT_TRUE(job.ok()) << job.error();
  EXPECT_EQ(job->name, "etl");
  ASSERT_EQ(job->stages.size(), 2u);
  const Stage& s = job->stages[0];
  EXPECT_EQ(s.count, 4);
  EXPECT_EQ(s.resources, *Resources::parse("cpus:0.5;mem:64"));
  ASSERT_EQ(s.env.size(), 1u);
  EXPECT_EQ(s.env[0].name, "A");
  EXPECT_EQ(s.retries, 2);
  EXPECT_EQ(s.backoff, std::chrono::milliseconds(500));
  EXPECT_EQ(s.maxBackoff, std::chrono::seconds(10));
  EXPECT_EQ(s.timeout, std::chrono::minutes(1));
  EXPECT_EQ(s.parallelism, 2);
  EXPECT_EQ(s.user, "etl");
  ASSERT_EQ(s.fetch.size(), 2u);
  EXPECT_TRUE(s.fetch[0].extract);
  EXPECT_TRUE(s.fetch[1].executable);
  EXPECT_EQ(job->stages[1].user, "");  // the framework's
  ASSERT_EQ(s.constraints.size(), 3u);
  EXPECT_EQ(s.constraints[2].op, Constraint::Op::kUnique);
  EXPECT_EQ(job->stages[1].resources, *Resources::parse("cpus:0.1;mem:32"));  // the default
  EXPECT_EQ(job->stages[1].count, 1);
  EXPECT_EQ(job->totalTasks(), 5u);
}

TEST(JobTest, BackoffGrowsExponentiallyUpToTheCap) {
  Stage s;
  s.backoff = std::chrono::milliseconds(100);
  s.backoffFactor = 2;
  s.maxBackoff = std::chrono::milliseconds(350);
  EXPECT_EQ(s.backoffBefore(1).count(), 100);
  EXPECT_EQ(s.backoffBefore(2).count(), 200);
  EXPECT_EQ(s.backoffBefore(3).count(), 350);
  EXPECT_EQ(s.backoffBefore(30).count(), 350);
}

TEST(JobTest, OrdersStagesByDependencies) {
  auto job = parseJob(R"({"stages": [
    {"name": "report", "command": "true", "depends_on": ["reduce", "map"]},
    {"name": "reduce", "command": "true", "depends_on": ["map"]},
    {"name": "map", "command": "true", "depends_on": ["split"]},
    {"name": "split", "command": "true"},
    {"name": "other", "command": "true"}]})");
  ASSERT_TRUE(job.ok()) << job.error();
  std::vector<std::string> names;
  for (size_t i : job->order) names.push_back(job->stages[i].name);
  EXPECT_EQ(names, (std::vector<std::string>{"split", "map", "reduce", "report", "other"}));
}

TEST(JobTest, RejectsACycleNamingItsStages) {
  std::string e = errorOf(R"({"stages": [
    {"name": "a", "command": "true"},
    {"name": "b", "command": "true", "depends_on": ["a", "d"]},
    {"name": "c", "command": "true", "depends_on": ["b"]},
    {"name": "d", "command": "true", "depends_on": ["c"]}]})");
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
  EXPECT_NE(e.find("'b', 'c', 'd'"), std::string::npos) << e;
  EXPECT_EQ(e.find("'a'"), std::string::npos) << e;
  EXPECT_NE(errorOf(R"({"stages": [{"name": "a", "command": "x", "depends_on": ["a"]}]})")
                .find("depends on itself"),
            std::string::npos);
}

TEST(JobTest, RejectsBadInputWithAMessageNamingTheField) {
  struct Case {
    std::string json;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"stages": []})", "non-empty array 'stages'"},
      {R"({"stages": [{"command": "true"}]})", "needs a string 'name'"},
      {R"({"stages": [{"name": "a.b", "command": "true"}]})", "name 'a.b'"},
      {R"({"stages": [{"name": "a"}]})", "stage 'a': needs a 'command' or an 'image'"},
      {R"({"stages": [{"name": "a", "command": "x", "count": 0}]})", "'count': must be between"},
      {R"({"stages": [{"name": "a", "command": "x", "count": "3"}]})",
       "'count': must be an integer"},
      {R"({"stages": [{"name": "a", "command": "x", "resources": "cpus:-1"}]})", "'resources'"},
      {R"({"stages": [{"name": "a", "command": "x", "env": {"A": 1}}]})", "'A' is not a string"},
      {R"({"stages": [{"name": "a", "command": "x", "depends_on": ["zz"]}]})",
       "depends on unknown stage 'zz'"},
      {R"({"stages": [{"name": "a", "command": "x", "timeout": "5parsecs"}]})", "'timeout'"},
      {R"({"stages": [{"name": "a", "command": "x", "timeout": 0}]})",
       "'timeout' must be positive"},
      {R"({"stages": [{"name": "a", "command": "x", "retries": -1}]})", "'retries'"},
      {R"({"stages": [{"name": "a", "command": "x", "constraints": [["rack", "NEAR", "x"]]}]})",
       "unknown operator 'NEAR'"},
      {R"({"stages": [{"name": "a", "command": "x", "constraints": [["rack", "LIKE", "("]]}]})",
       "'(' is not a valid regular expression: missing )"},
      {R"({"stages": [{"name": "a", "command": "x", "constraints": [["rack", "LIKE", ")" +
           std::string(20000, '(') + R"("]]}]})",
       "longer than 4096 bytes"},
      {R"({"stages": [{"name": "a", "command": "x", "count": 600000},
                      {"name": "b", "command": "x", "count": 600000}]})",
       "the job has 1200000 tasks; at most 1000000"},
      {R"({"stages": [{"name": "a", "command": "x", "colour": "red"}]})", "unknown field 'colour'"},
      {R"({"stages": [{"name": "a", "command": "x", "user": ""}]})", "'user' must be a user name"},
      {R"({"stages": [{"name": "a", "command": "x", "user": 0}]})", "'user' must be a string"},
      {R"({"stages": [{"name": "a", "command": "x", "fetch": [{"uri": "s3://b/k"}]}]})",
       "is not http(s)://"},
      {R"({"stages": [{"name": "a", "command": "x", "fetch": [{"uri": "/x", "destPath": "/etc/x"}]}]})",
       "must be a relative path inside the sandbox"},
      {R"({"stages": [{"name": "a", "command": "x"}, {"name": "a", "command": "y"}]})",
       "two stages are named 'a'"},
  };
  for (const auto& c : cases) {
    std::string e = errorOf(c.json);
    EXPECT_NE(e.find(c.expected), std::string::npos) << c.json << " gave: " << e;
  }
}

TEST(JobTest, ConstraintsMatchAttributesAndHostname) {
  auto job = parseJob(R"({"stages": [{"name": "a", "command": "x", "constraints": [
    ["rack", "EQUALS", "r1"], ["zone", "LIKE", "z[0-9]"], ["hostname", "LIKE", "node-.*"]]}]})");
  ASSERT_TRUE(job.ok()) << job.error();
  const auto& cs = job->stages[0].constraints;
  Attributes attrs = {{"rack", "r1"}, {"zone", "z7"}};
  EXPECT_TRUE(cs[0].matches("node-1", attrs));
  EXPECT_TRUE(cs[1].matches("node-1", attrs));
  EXPECT_TRUE(cs[2].matches("node-1", attrs));
  EXPECT_FALSE(cs[2].matches("other", attrs));
  EXPECT_FALSE(cs[0].matches("node-1", {{"rack", "r2"}}));
  EXPECT_FALSE(cs[1].matches("node-1", {{"zone", "z77"}}));  // LIKE matches the whole value
  EXPECT_FALSE(cs[0].matches("node-1", {}));                // absent attribute
}

}  // namespace
}  // namespace tutti::batch
