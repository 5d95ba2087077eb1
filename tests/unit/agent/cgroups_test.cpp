// Unit tests of cgroups detection, parsing and limit computation (no real
// cgroups: mountinfo and /proc/self/cgroup are given as text).
#include <gtest/gtest.h>

#include "agent/containerizer/cgroups.hpp"
#include "agent/containerizer/isolator.hpp"
#include "agent/containerizer/proc_usage.hpp"

namespace tutti::agent {
namespace {

const char* kHybridMountInfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
const char* kHybridProcCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";

Result<std::string> noFile(const std::string& p) { return Status::NotFound(p); }

TEST(CgroupsTest, ParsesMountInfoAndProcCgroup) {
  auto mounts = parseMountInfo(kHybridMountInfo);
  ASSERT_EQ(mounts.size(), 7u);
  EXPECT_EQ(mounts[1].mountPoint, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(mounts[1].fsType, "cgroup");
  EXPECT_EQ(mounts[1].superOptions, (std::vector<std::string>{"rw", "cpu"}));
  EXPECT_EQ(mounts[6].fsType, "cgroup2");
  auto own = parseProcCgroup("4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/d\n");
  EXPECT_EQ(own["memory"], "/a/b");
  EXPECT_EQ(own["cpu"], "/c");
  EXPECT_EQ(own["cpuacct"], "/c");
  EXPECT_EQ(own[""], "/d");
  // Escaped spaces in mount points.
  auto m = parseMountInfo("1 2 0:1 / /mnt/a\\040b rw - cgroup cgroup rw,memory\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].mountPoint, "/mnt/a b");
}

TEST(CgroupsTest, DetectsV1RelativeToOwnCgroup) {
  auto memswOnly = [](const std::string& p) {
    return p.find("memsw") != std::string::npos ? Result<std::string>(std::string("0"))
                                                : noFile(p);
  };
  auto layout = detectCgroups(kHybridMountInfo, kHybridProcCgroup,
                              {"cpu", "cpuacct", "memory", "pids"}, "tutti", memswOnly);
  ASSERT_TRUE(layout.ok()) << layout.error();
  EXPECT_EQ(layout->version, CgroupVersion::kV1);
  EXPECT_EQ(layout->roots.at("memory"), "/sys/fs/cgroup/memory/process_api/abc/tutti");
  EXPECT_EQ(layout->roots.at("cpu"), "/sys/fs/cgroup/cpu/tutti");
  EXPECT_EQ(layout->roots.at("cpuacct"), "/sys/fs/cgroup/cpuacct/tutti");
  EXPECT_EQ(layout->roots.at("pids"), "/sys/fs/cgroup/pids/tutti");
  EXPECT_TRUE(layout->memsw);
  EXPECT_EQ(layout->dir("memory", "c1"), "/sys/fs/cgroup/memory/process_api/abc/tutti/c1");
  EXPECT_EQ(layout->dirs("c1").size(), 4u);
}

TEST(CgroupsTest, DetectsV1CoMountedAndNestedMountRoot) {
  // cpu,cpuacct co-mounted; the memory mount's root is the container's own cgroup.
  const char* mi =
      "1 0 0:1 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "2 0 0:2 /box /cg/memory rw - cgroup cgroup rw,memory\n";
  auto layout = detectCgroups(mi, "3:memory:/box/sub\n2:cpu,cpuacct:/x\n",
                              {"cpu", "cpuacct", "memory"}, "r", noFile);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->roots.at("cpu"), "/cg/cpu,cpuacct/x/r");
  EXPECT_EQ(layout->roots.at("cpuacct"), "/cg/cpu,cpuacct/x/r");
  EXPECT_EQ(layout->roots.at("memory"), "/cg/memory/sub/r");
  EXPECT_FALSE(layout->memsw);
  EXPECT_EQ(layout->dirs("c").size(), 2u);  // cpu and cpuacct share one directory
}

TEST(CgroupsTest, DetectsPureV2AndReportsMissingHierarchies) {
  const char* mi = "1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
  auto layout = detectCgroups(mi, "0::/user.slice\n", {"cpu", "cpuacct", "memory", "pids"},
                              "tutti", [](const std::string& p) -> Result<std::string> {
                                if (p == "/sys/fs/cgroup/cgroup.controllers") {
                                  return std::string("cpuset cpu io memory pids\n");
                                }
                                return Status::NotFound(p);
                              });
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV2);
  EXPECT_EQ(layout->roots.at("memory"), "/sys/fs/cgroup/tutti");
  EXPECT_EQ(layout->dirs("c").size(), 1u);
  // The hybrid machine's v2 mount holds only hugetlb; without v1 nothing is usable.
  const char* hybridV2Only = "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  auto none = detectCgroups(hybridV2Only, "0::/\n", {"memory"}, "tutti",
                            [](const std::string&) -> Result<std::string> {
                              return std::string("hugetlb\n");
                            });
  EXPECT_FALSE(none.ok());
  EXPECT_FALSE(detectCgroups("", "", {"memory"}, "tutti", noFile).ok());
}

TEST(CgroupsTest, ComputesLimitsFromResources) {
  auto l = computeLimits(*Resources::parse("cpus:0.5;mem:64"), 0, true);
  EXPECT_DOUBLE_EQ(l.cpus, 0.5);
  EXPECT_EQ(l.memBytes, 64ull << 20);
  EXPECT_EQ(l.pids, 0u);
  // Minimums as Mesos; a `pids` resource wins over the agent's default.
  auto small = computeLimits(*Resources::parse("cpus:0.001;mem:1;pids:50"), 100, false);
  EXPECT_DOUBLE_EQ(small.cpus, kMinCpus);
  EXPECT_EQ(small.memBytes, kMinMemoryBytes);
  EXPECT_EQ(small.pids, 50u);
  EXPECT_EQ(computeLimits(*Resources::parse("cpus:1"), 100, false).pids, 100u);
}

TEST(CgroupsTest, LimitWritesForV1AndV2) {
  CgroupLayout v1;
  v1.version = CgroupVersion::kV1;
  v1.roots = {{"cpu", "/c"}, {"memory", "/m"}, {"pids", "/p"}};
  v1.memsw = true;
  ContainerLimits l{0.2, 64ull << 20, 50, true};
  auto w = limitWrites(v1, l);
  std::map<std::string, std::string> m;
  for (const auto& x : w) m[x.file] = x.value;
  EXPECT_EQ(m["cpu.shares"], "204");
  EXPECT_EQ(m["cpu.cfs_period_us"], "100000");
  EXPECT_EQ(m["cpu.cfs_quota_us"], "20000");
  EXPECT_EQ(m["memory.limit_in_bytes"], "67108864");
  EXPECT_EQ(m["memory.memsw.limit_in_bytes"], "67108864");
  EXPECT_EQ(m["pids.max"], "50");
  l.cfs = false;
  l.pids = 0;
  m.clear();
  for (const auto& x : limitWrites(v1, l)) m[x.file] = x.value;
  EXPECT_EQ(m.count("cpu.cfs_quota_us"), 0u);
  EXPECT_EQ(m["pids.max"], "max");

  CgroupLayout v2;
  v2.version = CgroupVersion::kV2;
  v2.roots = {{"cpu", "/u"}, {"memory", "/u"}, {"pids", "/u"}};
  ContainerLimits l2{2, 128ull << 20, 10, true};
  m.clear();
  for (const auto& x : limitWrites(v2, l2)) m[x.file] = x.value;
  EXPECT_EQ(m["cpu.max"], "200000 100000");
  EXPECT_EQ(m["memory.max"], "134217728");
  EXPECT_EQ(m["pids.max"], "10");
  EXPECT_GT(std::stoi(m["cpu.weight"]), 1);
}

TEST(CgroupsTest, ParsesKeyValuesAndProcStat) {
  auto kv = parseKeyValues("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  EXPECT_EQ(kv["oom_kill"], 3u);
  ProcStat st;
  ASSERT_TRUE(parseProcStat(
      "123 (a b) c) S 1 123 120 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 100 1000 42 1844 1",
      &st));
  EXPECT_EQ(st.session, 120);
  EXPECT_EQ(st.utimeTicks, 7u);
  EXPECT_EQ(st.stimeTicks, 5u);
  EXPECT_EQ(st.rssPages, 42u);
  EXPECT_FALSE(parseProcStat("garbage", &st));
}

TEST(CgroupsTest, ParsesIsolationFlag) {
  auto c = parseIsolation("cgroups/cpu,cgroups/mem,cgroups/pids,posix/rlimits,namespaces/pid");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->cgroupsCpu && c->cgroupsMem && c->cgroupsPids);
  EXPECT_EQ(c->controllers(), (std::set<std::string>{"cpu", "cpuacct", "memory", "pids"}));
  auto posix = parseIsolation("posix/cpu,posix/mem");
  ASSERT_TRUE(posix.ok());
  EXPECT_FALSE(posix->cgroups());
  auto bad = parseIsolation("cgroups/cpu,cgroups/gpu");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("cgroups/gpu"), std::string::npos);
}

}  // namespace
}  // namespace tutti::agent
