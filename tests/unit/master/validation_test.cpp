// Unit tests for master::validateTask(): every rule and the success path.
#include "master/validation.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace tutti::master {
namespace {

::testing::AssertionResult hasSubstr(const char* haystackExpr, const char* needleExpr,
                                     const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " (\"" << haystack
                                       << "\") does not contain " << needleExpr << " (\""
                                       << needle << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) EXPECT_PRED_FORMAT2(hasSubstr, haystack, needle)

Resources res(std::string_view text) {
  auto r = Resources::parse(text);
  EXPECT_TRUE(r.ok()) << "parse(\"" << text << "\"): " << r.error();
  return r.ok() ? *r : Resources();
}

CommandInfo command(const std::string& value) {
  CommandInfo c;
  c.value = value;
  return c;
}

class ValidationTest : public ::testing::Test {
 protected:
  ValidationTest() {
    framework_.name = "fw";
    framework_.id = FrameworkID("fw-1");
    available_ = res("cpus:4;mem:4096;ports:[31000-31010]").allocate("*");
  }

  TaskInfo task(const std::string& id = "t1", std::string_view resources = "cpus:1;mem:128") {
    TaskInfo t;
    t.name = "task";
    t.taskId = TaskID(id);
    t.resources = res(resources);
    t.command = command("echo hello");
    return t;
  }

  ExecutorInfo executor(const std::string& id = "e1") {
    ExecutorInfo e;
    e.executorId = ExecutorID(id);
    e.name = "my executor";
    e.command = command("./my-executor");
    e.resources = res("cpus:0.1;mem:32");
    return e;
  }

  Result<TaskInfo> validate(const TaskInfo& t) {
    LaunchContext ctx{framework_, agentId_, offerRole_,
                      [this](const TaskID& id) { return inUse_.count(id) > 0; },
                      rootSubmissions_};
    return validateTask(t, ctx, available_);
  }

  // The error message of an invalid task (fails the test when it is valid).
  std::string error(const TaskInfo& t) {
    auto r = validate(t);
    EXPECT_FALSE(r.ok()) << "task " << t.taskId << " is unexpectedly valid";
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_HAS_SUBSTR(r.error(), "Task '" + t.taskId.value + "'");
    return r.error();
  }

  FrameworkInfo framework_;
  AgentID agentId_{"agent-1"};
  std::string offerRole_ = "*";
  Resources available_;
  std::set<TaskID> inUse_;
  bool rootSubmissions_ = true;
};

// ---- success ---------------------------------------------------------------------

TEST_F(ValidationTest, ValidCommandTaskIsCompleted) {
  TaskInfo t = task();
  t.labels = {{"k", "v"}};
  auto r = validate(t);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->agentId, agentId_);
  EXPECT_EQ(r->resources, res("cpus:1;mem:128").allocate("*"));
  EXPECT_EQ(r->resources.allocationRoles(), std::set<std::string>{"*"});
  // Everything else is kept.
  EXPECT_EQ(r->taskId, t.taskId);
  EXPECT_EQ(r->name, t.name);
  EXPECT_EQ(r->command, t.command);
  EXPECT_EQ(r->labels, t.labels);
  EXPECT_FALSE(r->executor.has_value());
}

TEST_F(ValidationTest, UrisMustBeFetchableAndLandInTheSandbox) {
  TaskInfo t = task();
  auto uri = [](std::string value, std::optional<std::string> output = std::nullopt) {
    CommandURI u;
    u.value = std::move(value);
    u.outputFile = std::move(output);
    return u;
  };
  t.command->uris = {uri("http://h/a.tgz"), uri("https://h/b"), uri("file:///opt/c"),
                     uri("/opt/d", "bin/d"), uri("/opt/e", "..e/x")};
  EXPECT_TRUE(validate(t).ok()) << validate(t).error();
  for (const auto& [bad, why] : std::vector<std::pair<CommandURI, std::string>>{
           {uri("hdfs://nn/x"), "is not http://"},
           {uri("relative/x"), "is not http://"},
           {uri("file://host/x"), "is not http://"},
           {uri(std::string("/a\0b", 4)), "NUL"},
           {uri("/opt/x", "/etc/passwd"), "must be a relative path"},
           {uri("/opt/x", "a/../../x"), "must be a relative path"},
           {uri("/opt/x", ".."), "must be a relative path"},
           {uri("/opt/x", ""), "must be a relative path"}}) {
    TaskInfo b = task();
    b.command->uris = {bad};
    EXPECT_HAS_SUBSTR(error(b), why);
  }
  TaskInfo many = task();
  many.command->uris.assign(kMaxCommandUris + 1, uri("/opt/x"));
  EXPECT_HAS_SUBSTR(error(many), "at most 100");
}

TEST_F(ValidationTest, RootAsTheTaskOrExecutorUserOnlyWithRootSubmissions) {
  TaskInfo t = task();
  t.command->user = "root";
  TaskInfo e = task("t2");
  e.command.reset();
  e.executor = executor();
  e.executor->command->user = "root";
  EXPECT_TRUE(validate(t).ok());
  EXPECT_TRUE(validate(e).ok());
  rootSubmissions_ = false;
  EXPECT_HAS_SUBSTR(error(t), "asks to run its task as root");
  EXPECT_HAS_SUBSTR(error(e), "asks to run its executor as root");
  t.command->user = "nobody";
  EXPECT_TRUE(validate(t).ok());
}

TEST_F(ValidationTest, ResourcesAreAllocatedToTheOfferRole) {
  framework_.roles = {"eng"};
  offerRole_ = "eng";
  available_ = res("cpus:4;mem:4096").allocate("eng");
  auto r = validate(task());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->resources, res("cpus:1;mem:128").allocate("eng"));
}

TEST_F(ValidationTest, ResourcesAlreadyAllocatedToTheOfferRoleAreAccepted) {
  TaskInfo t = task();
  t.resources = t.resources.allocate("*");
  auto r = validate(t);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->resources, res("cpus:1;mem:128").allocate("*"));
}

TEST_F(ValidationTest, TaskNamingTheOfferedAgentIsValid) {
  TaskInfo t = task();
  t.agentId = agentId_;
  auto r = validate(t);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->agentId, agentId_);
}

TEST_F(ValidationTest, TaskUsingExactlyWhatIsAvailable) {
  auto r = validate(task("all", "cpus:4;mem:4096;ports:[31000-31010]"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->resources, available_);
}

TEST_F(ValidationTest, ExecutorTaskGetsTheFrameworkIdFilledIn) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  auto r = validate(t);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_TRUE(r->executor.has_value());
  EXPECT_EQ(r->executor->frameworkId, FrameworkID("fw-1"));
  EXPECT_EQ(r->executor->executorId, ExecutorID("e1"));
  EXPECT_EQ(r->agentId, agentId_);
}

TEST_F(ValidationTest, ExecutorOfThisFrameworkIsValid) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  t.executor->frameworkId = FrameworkID("fw-1");
  EXPECT_TRUE(validate(t).ok());
}

TEST_F(ValidationTest, ZeroKillGracePeriodIsValid) {
  TaskInfo t = task();
  t.killPolicy = KillPolicy{std::chrono::nanoseconds(0)};
  EXPECT_TRUE(validate(t).ok());
}

// ---- ids ---------------------------------------------------------------------------

TEST_F(ValidationTest, InvalidTaskIds) {
  for (const std::string& id :
       {std::string(""), std::string("a/b"), std::string("."), std::string(".."),
        std::string("has space"), std::string("tab\there"), std::string("nl\n"),
        std::string("del\x7f"), std::string(256, 'x')}) {
    SCOPED_TRACE("task id '" + id + "'");
    EXPECT_HAS_SUBSTR(error(task(id)), "invalid id");
  }
}

TEST_F(ValidationTest, LongestAndUnusualValidTaskIds) {
  for (const std::string& id : {std::string(255, 'x'), std::string("a.b-c_d:e"),
                               std::string("..."), std::string("\xc3\xa9t\xc3\xa9")}) {
    SCOPED_TRACE("task id '" + id + "'");
    auto r = validate(task(id));
    EXPECT_TRUE(r.ok()) << r.error();
  }
}

TEST_F(ValidationTest, DuplicateTaskId) {
  inUse_.insert(TaskID("t1"));
  EXPECT_HAS_SUBSTR(error(task("t1")), "duplicate id");
  EXPECT_TRUE(validate(task("t2")).ok());
}

TEST_F(ValidationTest, AgentMismatch) {
  TaskInfo t = task();
  t.agentId = AgentID("agent-2");
  std::string e = error(t);
  EXPECT_HAS_SUBSTR(e, "agent-2");
  EXPECT_HAS_SUBSTR(e, "agent-1");
}

// ---- command and executor ----------------------------------------------------------------

TEST_F(ValidationTest, BothCommandAndExecutor) {
  TaskInfo t = task();
  t.executor = executor();
  EXPECT_HAS_SUBSTR(error(t), "both a command and an executor");
}

TEST_F(ValidationTest, NeitherCommandNorExecutor) {
  TaskInfo t = task();
  t.command.reset();
  EXPECT_HAS_SUBSTR(error(t), "neither a command nor an executor");
}

TEST_F(ValidationTest, EmptyCommand) {
  TaskInfo t = task();
  t.command = command("");
  EXPECT_HAS_SUBSTR(error(t), "empty task command");

  // Also for a program (shell = false) with arguments.
  t.command->shell = false;
  t.command->arguments = {"ls", "-l"};
  EXPECT_HAS_SUBSTR(error(t), "empty task command");
}

TEST_F(ValidationTest, NulByteInCommand) {
  TaskInfo t = task();
  t.command = command(std::string("echo a\0b", 8));
  EXPECT_HAS_SUBSTR(error(t), "NUL byte in its command");
}

TEST_F(ValidationTest, EnvironmentVariableNames) {
  for (const std::string& name : {std::string(""), std::string("A=B"), std::string("A\0B", 3)}) {
    SCOPED_TRACE("name '" + name + "'");
    TaskInfo t = task();
    t.command->environment = {{"GOOD", "1"}, {name, "value"}};
    EXPECT_HAS_SUBSTR(error(t), "invalid environment variable name");
  }
}

TEST_F(ValidationTest, NulByteInEnvironmentValue) {
  TaskInfo t = task();
  t.command->environment = {{"GOOD", std::string("a\0b", 3)}};
  std::string e = error(t);
  EXPECT_HAS_SUBSTR(e, "NUL byte");
  EXPECT_HAS_SUBSTR(e, "GOOD");
}

TEST_F(ValidationTest, ValidEnvironmentIsAccepted) {
  TaskInfo t = task();
  t.command->environment = {{"PATH", "/bin:/usr/bin"}, {"EMPTY", ""}, {"_x1", "a=b"}};
  EXPECT_TRUE(validate(t).ok());
}

TEST_F(ValidationTest, InvalidExecutorId) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor("bad/id");
  EXPECT_HAS_SUBSTR(error(t), "invalid executor id");
  t.executor = executor("");
  EXPECT_HAS_SUBSTR(error(t), "invalid executor id");
}

TEST_F(ValidationTest, ExecutorOfAnotherFramework) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  t.executor->frameworkId = FrameworkID("fw-2");
  EXPECT_HAS_SUBSTR(error(t), "executor of another framework");
}

TEST_F(ValidationTest, ExecutorWithoutCommand) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  t.executor->command.reset();
  EXPECT_HAS_SUBSTR(error(t), "executor without a command");
}

TEST_F(ValidationTest, ExecutorWithEmptyCommandOrBadEnvironment) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  t.executor->command = command("");
  EXPECT_HAS_SUBSTR(error(t), "empty executor command");

  t.executor->command = command("./run");
  t.executor->command->environment = {{"A=B", "x"}};
  EXPECT_HAS_SUBSTR(error(t), "invalid environment variable name");

  t.executor->command = command(std::string("./run\0x", 7));
  EXPECT_HAS_SUBSTR(error(t), "NUL byte");
}

// ---- resources and roles ---------------------------------------------------------------------

TEST_F(ValidationTest, NoResources) {
  TaskInfo t = task();
  t.resources = Resources();
  EXPECT_HAS_SUBSTR(error(t), "uses no resources");
}

TEST_F(ValidationTest, ResourcesBeyondWhatIsAvailable) {
  std::string e = error(task("big", "cpus:5;mem:128"));
  EXPECT_HAS_SUBSTR(e, "more resources");
  EXPECT_HAS_SUBSTR(e, "cpus:5");
  EXPECT_HAS_SUBSTR(e, "cpus:4");
  // Resource kinds the offer does not have at all.
  EXPECT_HAS_SUBSTR(error(task("gpu", "cpus:1;gpus:1")), "more resources");
  // Ports outside the offered range.
  EXPECT_HAS_SUBSTR(error(task("port", "cpus:1;ports:[8080-8080]")), "more resources");
  EXPECT_TRUE(validate(task("okport", "cpus:1;ports:[31005-31006]")).ok());
}

TEST_F(ValidationTest, ResourcesAllocatedToAnotherRole) {
  TaskInfo t = task();
  t.resources = t.resources.allocate("other");
  std::string e = error(t);
  EXPECT_HAS_SUBSTR(e, "allocated to role 'other'");
  EXPECT_HAS_SUBSTR(e, "for role '*'");
}

TEST_F(ValidationTest, ResourcesReservedForARoleTheFrameworkIsNotIn) {
  available_ = res("cpus(eng):1;cpus:3;mem:1024").allocate("*");
  std::string e = error(task("t1", "cpus(eng):1;mem:128"));
  EXPECT_HAS_SUBSTR(e, "reserved for role 'eng'");
}

TEST_F(ValidationTest, SubRoleMayUseItsParentsReservation) {
  framework_.roles = {"eng/web"};
  offerRole_ = "eng/web";
  available_ = res("cpus(eng):1;cpus:3;mem:1024").allocate("eng/web");
  auto r = validate(task("t1", "cpus(eng):1;mem:128"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->resources, res("cpus(eng):1;mem:128").allocate("eng/web"));
}

TEST_F(ValidationTest, RoleMayUseItsOwnReservation) {
  framework_.roles = {"eng"};
  offerRole_ = "eng";
  available_ = res("cpus(eng):1;mem:1024").allocate("eng");
  EXPECT_TRUE(validate(task("t1", "cpus(eng):1;mem:128")).ok());
}

TEST_F(ValidationTest, ParentRoleMayNotUseASubRolesReservation) {
  framework_.roles = {"eng"};
  offerRole_ = "eng";
  available_ = res("cpus(eng/web):1;mem:1024").allocate("eng");
  EXPECT_HAS_SUBSTR(error(task("t1", "cpus(eng/web):1;mem:128")), "reserved for role 'eng/web'");
}

TEST_F(ValidationTest, RoleWithTheSamePrefixIsNotASubRole) {
  framework_.roles = {"engineering"};
  offerRole_ = "engineering";
  available_ = res("cpus(eng):1;mem:1024").allocate("engineering");
  EXPECT_HAS_SUBSTR(error(task("t1", "cpus(eng):1;mem:128")), "reserved for role 'eng'");
}

TEST_F(ValidationTest, ReservedResourcesMustAlsoBeInTheOffer) {
  framework_.roles = {"eng"};
  offerRole_ = "eng";
  available_ = res("cpus:4;mem:1024").allocate("eng");
  // The role is the framework's, but the offer holds no reserved cpus.
  EXPECT_HAS_SUBSTR(error(task("t1", "cpus(eng):1;mem:128")), "more resources");
}

TEST_F(ValidationTest, NegativeKillGracePeriod) {
  TaskInfo t = task();
  t.killPolicy = KillPolicy{std::chrono::nanoseconds(-1)};
  EXPECT_HAS_SUBSTR(error(t), "negative kill grace period");
}

TEST_F(ValidationTest, HealthChecksMustBeComplete) {
  auto withCheck = [this](std::function<void(HealthCheck&)> edit) {
    TaskInfo t = task();
    HealthCheck c;
    c.type = HealthCheck::Type::HTTP;
    c.port = 8080;
    edit(c);
    t.healthCheck = c;
    return t;
  };
  EXPECT_TRUE(validate(withCheck([](HealthCheck&) {})).ok());
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.type = HealthCheck::Type::UNKNOWN; })),
                    "COMMAND, HTTP or TCP");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.port = 0; })), "port");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.httpPath = "x"; })), "start with '/'");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.httpScheme = "https"; })), "scheme");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.intervalSeconds = 0; })),
                    "intervalSeconds");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.timeoutSeconds = -1; })),
                    "timeoutSeconds");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) { c.delaySeconds = 1.0 / 0.0; })),
                    "delaySeconds");
  EXPECT_HAS_SUBSTR(error(withCheck([](HealthCheck& c) {
                      c.type = HealthCheck::Type::COMMAND;
                    })),
                    "needs a command");
}

// Rules are checked in order: the first problem is the one reported.
TEST_F(ValidationTest, IdIsCheckedBeforeEverythingElse) {
  TaskInfo t = task("a/b", "cpus:100");
  t.command = command("");
  EXPECT_HAS_SUBSTR(error(t), "invalid id");
}

}  // namespace
}  // namespace tutti::master

namespace tutti::master {
namespace {

// ---- containers ----------------------------------------------------------------

TEST_F(ValidationTest, ImageTaskMayLeaveItsCommandToTheImage) {
  TaskInfo t = task();
  t.command = CommandInfo{};
  t.command->shell = false;  // no value: the image's Entrypoint/Cmd
  t.container = ContainerInfo{Image{Image::Type::DOCKER, "127.0.0.1:5000/busybox", true}, {}};
  auto r = validate(t);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->container, t.container);
  t.command.reset();
  EXPECT_TRUE(validate(t).ok());
  // Without an image an empty command stays invalid.
  t.container.reset();
  t.command = CommandInfo{};
  EXPECT_HAS_SUBSTR(error(t), "empty task command");
}

TEST_F(ValidationTest, InvalidContainers) {
  TaskInfo t = task();
  t.container = ContainerInfo{Image{Image::Type::DOCKER, "", true}, {}};
  EXPECT_HAS_SUBSTR(error(t), "the image has no name");
  t.container->image->name = "bad name";
  EXPECT_HAS_SUBSTR(error(t), "space or control character");
  t.container->image.reset();
  t.container->rlimits = {{"RLMT_BOGUS", 1, 2}};
  EXPECT_HAS_SUBSTR(error(t), "unknown rlimit type 'RLMT_BOGUS'");
  t.container->rlimits = {{"RLMT_NOFILE", 10, 5}};
  EXPECT_HAS_SUBSTR(error(t), "soft limit above its hard one");
  t.container->rlimits = {{"RLMT_NOFILE", 10, std::nullopt}};
  EXPECT_HAS_SUBSTR(error(t), "needs both soft and hard");
  t.container->rlimits = {{"RLMT_NOFILE", 5, 10}, {"RLMT_NOFILE", 5, 10}};
  EXPECT_HAS_SUBSTR(error(t), "given twice");
  t.container->rlimits = {{"RLMT_NOFILE", 5, 10}, {"RLMT_CORE", std::nullopt, std::nullopt}};
  EXPECT_TRUE(validate(t).ok());
}

// ---- task groups (LAUNCH_GROUP) -----------------------------------------------------

class TaskGroupValidationTest : public ValidationTest {
 protected:
  ExecutorInfo defaultExecutor(const std::string& id = "group-exec") {
    ExecutorInfo e;
    e.executorId = ExecutorID(id);
    e.type = ExecutorInfo::Type::DEFAULT;
    e.resources = res("cpus:0.1;mem:32");
    return e;
  }
  Result<std::vector<TaskInfo>> validateGroup(const std::optional<ExecutorInfo>& e,
                                              const std::vector<TaskInfo>& tasks,
                                              const ExecutorInfo* running = nullptr) {
    LaunchContext ctx{framework_, agentId_, offerRole_,
                      [this](const TaskID& id) { return inUse_.count(id) > 0; },
                      rootSubmissions_};
    return validateTaskGroup(e, tasks, ctx, available_, running);
  }
  std::string groupError(const std::optional<ExecutorInfo>& e, const std::vector<TaskInfo>& tasks,
                         const ExecutorInfo* running = nullptr) {
    auto r = validateGroup(e, tasks, running);
    EXPECT_FALSE(r.ok()) << "the group is unexpectedly valid";
    return r.ok() ? "" : r.error();
  }
};

TEST_F(TaskGroupValidationTest, AValidGroupGetsItsExecutorOnEveryTask) {
  auto r = validateGroup(defaultExecutor(), {task("a"), task("b")});
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 2u);
  for (const auto& t : *r) {
    ASSERT_TRUE(t.executor.has_value());
    EXPECT_EQ(t.executor->executorId, ExecutorID("group-exec"));
    EXPECT_EQ(t.executor->frameworkId, FrameworkID("fw-1"));
    EXPECT_TRUE(isDefaultExecutor(*t.executor));
    EXPECT_EQ(t.agentId, agentId_);
    EXPECT_EQ(t.resources.allocationRoles(), std::set<std::string>{"*"});
  }
  // Joining a default executor that already runs there is fine too.
  ExecutorInfo running = defaultExecutor();
  EXPECT_TRUE(validateGroup(defaultExecutor(), {task("c")}, &running).ok());
}

TEST_F(TaskGroupValidationTest, TheExecutorMustBeADefaultOneWithoutACommand) {
  EXPECT_HAS_SUBSTR(groupError(std::nullopt, {task("a")}), "has no executor");
  ExecutorInfo custom = defaultExecutor();
  custom.type = ExecutorInfo::Type::CUSTOM;
  EXPECT_HAS_SUBSTR(groupError(custom, {task("a")}), "type DEFAULT");
  ExecutorInfo withCommand = defaultExecutor();
  withCommand.command = command("./mine");
  EXPECT_HAS_SUBSTR(groupError(withCommand, {task("a")}), "has none");
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor("../up"), {task("a")}), "invalid executor id");
  ExecutorInfo foreign = defaultExecutor();
  foreign.frameworkId = FrameworkID("fw-2");
  EXPECT_HAS_SUBSTR(groupError(foreign, {task("a")}), "another framework");
  ExecutorInfo runningCustom = executor("group-exec");
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a")}, &runningCustom),
                    "runs on this agent as a custom executor");
}

TEST_F(TaskGroupValidationTest, EveryTaskIsCheckedAndOneBadTaskVoidsTheGroup) {
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {}), "has no tasks");
  TaskInfo own = task("b");
  own.command.reset();
  own.executor = executor();
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a"), own}), "must not name an executor");
  TaskInfo image = task("b");
  image.container = ContainerInfo{Image{Image::Type::DOCKER, "busybox", true}, {}};
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a"), image}), "not in groups");
  TaskInfo none = task("b");
  none.command.reset();
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a"), none}), "has no command");
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a"), task("a")}), "duplicate id");
  inUse_.insert(TaskID("old"));
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("old")}), "duplicate id");
}

TEST_F(ValidationTest, ACustomExecutorCannotClaimTheDefaultType) {
  TaskInfo t = task();
  t.command.reset();
  t.executor = executor();
  t.executor->type = ExecutorInfo::Type::DEFAULT;
  EXPECT_HAS_SUBSTR(error(t), "type DEFAULT");
}

TEST_F(TaskGroupValidationTest, TasksOfAGroupMayFetchButOnlyFetchableUris) {
  TaskInfo t = task("a");
  t.command->uris = {CommandURI{"http://example.com/app.tgz"}};
  auto r = validateGroup(defaultExecutor(), {t});
  ASSERT_TRUE(r.ok()) << r.error();
  t.command->uris = {CommandURI{"ftp://example.com/app.tgz"}};
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {t}), "ftp://");
}

TEST_F(TaskGroupValidationTest, ANewExecutorsResourcesComeFromTheOffersToo) {
  ExecutorInfo big = defaultExecutor();
  big.resources = res("cpus:1;mem:4096");
  EXPECT_HAS_SUBSTR(groupError(big, {task("a", "cpus:1;mem:128")}),
                    "executor using more resources");
  EXPECT_TRUE(validateGroup(big, {task("a", "cpus:1;mem:0")}).ok());
  // Joining a running executor: its resources were checked when it started.
  ExecutorInfo running = defaultExecutor();
  EXPECT_TRUE(validateGroup(big, {task("a", "cpus:1;mem:128")}, &running).ok());
  ExecutorInfo reserved = defaultExecutor();
  reserved.resources = res("cpus(eng):0.1");
  EXPECT_HAS_SUBSTR(groupError(reserved, {task("a")}), "reserved or allocated");
}

TEST_F(TaskGroupValidationTest, TheGroupMustFitTheOffersAsAWhole) {
  // Each fits alone (cpus:4 offered); together they do not.
  EXPECT_HAS_SUBSTR(groupError(defaultExecutor(), {task("a", "cpus:3;mem:128"),
                                                   task("b", "cpus:2;mem:128")}),
                    "Task 'b' uses more resources");
  // Tasks and the new executor (cpus:0.1) use all 4 cpus.
  EXPECT_TRUE(validateGroup(defaultExecutor(), {task("a", "cpus:2;mem:128"),
                                                task("b", "cpus:1.9;mem:128")})
                  .ok());
}

}  // namespace
}  // namespace tutti::master
