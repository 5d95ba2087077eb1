// Unit tests for the built-in executor's HealthChecker: the HTTP and TCP
// probes against real loopback servers, and Mesos's health semantics
// (first result, failure streaks, grace period, kill) with real COMMAND
// checks on a manual clock.
#include "agent/executor/health_checker.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "common/http.hpp"

namespace tutti::executor {
namespace {

using namespace std::chrono_literals;

class HealthCheckerTest : public ::testing::Test {
 protected:
  HealthCheckerTest() : loop_(clock_) {}

  HealthCheck command(const std::string& shell, uint32_t failures = 3, double grace = 0) {
    HealthCheck c;
    c.type = HealthCheck::Type::COMMAND;
    c.delaySeconds = 0;
    c.intervalSeconds = 1;
    c.timeoutSeconds = 5;
    c.consecutiveFailures = failures;
    c.gracePeriodSeconds = grace;
    CommandInfo ci;
    ci.value = shell;
    c.command = ci;
    return c;
  }

  void make(const HealthCheck& check) {
    checker_ = std::make_unique<HealthChecker>(
        loop_, check, std::vector<std::string>{"PATH=/usr/bin:/bin", "MARK=42"}, "/",
        [this](const HealthChecker::Event& e) { events_.push_back(e); });
    checker_->start();
  }

  // Runs the loop (the check's process exits in real time) until `n` events
  // arrived or a real-time deadline passes.
  bool waitForEvents(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (events_.size() < n && std::chrono::steady_clock::now() < deadline) {
      loop_.runOnce(10ms);
    }
    return events_.size() >= n;
  }

  // Runs the loop until `n` attempts have finished (their processes end in
  // real time), with a real-time deadline.
  void waitForAttempts(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (checker_->attempts() < n && std::chrono::steady_clock::now() < deadline) {
      loop_.runOnce(10ms);
    }
    ASSERT_GE(checker_->attempts(), n);
  }

  ManualClock clock_;
  Loop loop_;
  std::vector<HealthChecker::Event> events_;
  std::unique_ptr<HealthChecker> checker_;
};

TEST_F(HealthCheckerTest, PassingCommandReportsHealthyOnce) {
  make(command("test \"$MARK\" = 42"));  // runs with the task's environment
  ASSERT_TRUE(waitForEvents(1));
  EXPECT_TRUE(events_[0].healthy);
  EXPECT_FALSE(events_[0].killTask);
  clock_.advance(1s);  // the next attempt passes too: no new event
  waitForAttempts(2);
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(HealthCheckerTest, FailureStreakReportsUnhealthyThenKills) {
  make(command("exit 3", /*failures=*/2));
  ASSERT_TRUE(waitForEvents(1));
  EXPECT_FALSE(events_[0].healthy);
  EXPECT_FALSE(events_[0].killTask);
  EXPECT_NE(events_[0].message.find("exited with status 3"), std::string::npos)
      << events_[0].message;
  clock_.advance(1s);
  ASSERT_TRUE(waitForEvents(2));
  EXPECT_TRUE(events_[1].killTask);
  EXPECT_NE(events_[1].message.find("2 consecutive"), std::string::npos) << events_[1].message;
}

TEST_F(HealthCheckerTest, FailuresWithinTheGracePeriodAreNotCounted) {
  make(command("exit 1", /*failures=*/1, /*grace=*/5));
  waitForAttempts(1);
  EXPECT_TRUE(events_.empty());
  for (size_t i = 0; i < 4; ++i) {
    clock_.advance(1s);
    waitForAttempts(i + 2);
  }
  EXPECT_TRUE(events_.empty());  // 4 s in: still within the grace period
  clock_.advance(1s);
  ASSERT_TRUE(waitForEvents(1));
  EXPECT_FALSE(events_[0].healthy);
}

TEST_F(HealthCheckerTest, SlowCheckTimesOut) {
  HealthCheck c = command("sleep 30");
  c.timeoutSeconds = 2;
  make(c);
  loop_.settle();  // the attempt started; it ends only at its timeout
  EXPECT_EQ(checker_->attempts(), 0u);
  EXPECT_TRUE(events_.empty());
  clock_.advance(2s);
  ASSERT_TRUE(waitForEvents(1));
  EXPECT_FALSE(events_[0].healthy);
  EXPECT_NE(events_[0].message.find("timed out"), std::string::npos) << events_[0].message;
}

TEST(HealthProbeTest, TcpConnectsOrSaysWhy) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  uint32_t port = ntohs(addr.sin_port);
  // Bound but not listening: refused.
  Status refused = HealthChecker::probeTcp(port, 1s);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  ASSERT_EQ(::listen(fd, 4), 0);
  EXPECT_TRUE(HealthChecker::probeTcp(port, 1s).ok());
  ::close(fd);
}

TEST(HealthProbeTest, HttpStatusDecides) {
  HttpServer server(HttpServer::Options{});
  server.route("GET", "/ok", [](const HttpRequest&) { return HttpResponse::text("fine"); });
  server.route("GET", "/sick", [](const HttpRequest&) { return HttpResponse::text("no", 503); });
  auto port = server.bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status();
  server.serve();
  uint32_t p = static_cast<uint32_t>(*port);
  EXPECT_TRUE(HealthChecker::probeHttp(p, "/ok", {}, 2s).ok());
  Status sick = HealthChecker::probeHttp(p, "/sick", {}, 2s);
  EXPECT_FALSE(sick.ok());
  EXPECT_NE(sick.message().find("503"), std::string::npos) << sick.message();
  EXPECT_TRUE(HealthChecker::probeHttp(p, "/sick", {503}, 2s).ok());  // listed statuses
  EXPECT_FALSE(HealthChecker::probeHttp(p, "/missing", {}, 2s).ok());
  server.stop();
}

}  // namespace
}  // namespace tutti::executor
