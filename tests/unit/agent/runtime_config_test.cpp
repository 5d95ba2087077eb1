// tutti-runtime's reading of config.json (agent/runtime/runtime_config.hpp):
// what the agent's own bundles hold comes through whole; what the runtime
// cannot honour is refused by field.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "agent/containerizer/oci/oci_spec.hpp"
#include "agent/runtime/runtime_config.hpp"

namespace tutti::runtime {
namespace {

using json = nlohmann::json;

json agentConfig() {
  agent::oci::SpecOptions o;
  o.process.args = {"/bin/sh", "-c", "true"};
  o.process.env = {"PATH=/bin"};
  o.process.cwd = "/mnt/tutti/sandbox";
  o.user.uid = 1234;
  o.user.gid = 1235;
  o.user.additionalGids = {7};
  o.sandbox = "/var/lib/tutti/sandbox";
  o.cgroupsPath = "tutti-oci-c1";
  o.rlimits = {RLimit{"RLMT_CORE", 0, 0}};
  return json::parse(agent::oci::makeConfig(o));
}

std::string refusal(const std::function<void(json&)>& edit) {
  json c = agentConfig();
  edit(c);
  try {
    parseConfig(c.dump(), "/b");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(RuntimeConfigTest, TheAgentsBundleComesThroughWhole) {
  Config c = parseConfig(agentConfig().dump(), "/bundles/c1");
  EXPECT_EQ(c.args, (std::vector<std::string>{"/bin/sh", "-c", "true"}));
  EXPECT_EQ(c.cwd, "/mnt/tutti/sandbox");
  EXPECT_EQ(c.uid, 1234u);
  EXPECT_EQ(c.gid, 1235u);
  EXPECT_EQ(c.additionalGids, std::vector<gid_t>{7});
  EXPECT_EQ(c.rootPath, "/bundles/c1/rootfs");  // relative to the bundle
  EXPECT_TRUE(c.noNewPrivileges);
  EXPECT_EQ(c.namespaces, CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID);
  EXPECT_EQ(c.cgroupsPath, "tutti-oci-c1");
  // Docker's default set without CAP_NET_RAW (13 capabilities), in every set.
  EXPECT_EQ(__builtin_popcountll(c.bounding), 13);
  EXPECT_EQ(c.bounding, c.effective);
  EXPECT_EQ(c.bounding, c.permitted);
  EXPECT_FALSE(c.bounding & (1ull << capabilityNumber("CAP_NET_RAW")));
  EXPECT_FALSE(c.bounding & (1ull << capabilityNumber("CAP_SYS_ADMIN")));
  ASSERT_FALSE(c.rlimits.empty());
  EXPECT_EQ(c.rlimits[0].resource, RLIMIT_CORE);
  ASSERT_TRUE(c.seccomp.has_value());
  EXPECT_EQ(c.seccomp->defaultAction, "SCMP_ACT_ALLOW");
  EXPECT_FALSE(c.seccomp->syscalls.empty());
  ASSERT_EQ(c.devices.size(), 1u);
  EXPECT_FALSE(c.devices[0].allow);
  EXPECT_EQ(c.devices[0].type, 'a');
  EXPECT_FALSE(c.maskedPaths.empty());
  EXPECT_FALSE(c.readonlyPaths.empty());
  // Mount options: flags to MS_*, the rest to the data string.
  const Mount* dev = nullptr;
  const Mount* sandbox = nullptr;
  const Mount* sys = nullptr;
  for (const auto& m : c.mounts) {
    if (m.destination == "/dev") dev = &m;
    if (m.destination == "/mnt/tutti/sandbox") sandbox = &m;
    if (m.destination == "/sys") sys = &m;
  }
  ASSERT_TRUE(dev && sandbox && sys);
  EXPECT_EQ(dev->flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(dev->data, "mode=755,size=65536k");
  EXPECT_TRUE(sandbox->bind());
  EXPECT_EQ(sandbox->flags & (MS_BIND | MS_REC), static_cast<unsigned long>(MS_BIND | MS_REC));
  EXPECT_EQ(sandbox->source, "/var/lib/tutti/sandbox");
  EXPECT_EQ(sys->flags,
            static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
}

TEST(RuntimeConfigTest, WhatItCannotHonourIsRefusedByField) {
  EXPECT_NE(refusal([](json& c) { c["linux"]["namespaces"].push_back(json{{"type", "user"}}); })
                .find("linux.namespaces"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) {
              c["linux"]["namespaces"].push_back(json{{"type", "network"}, {"path", "/proc/1/ns/net"}});
            }).find("by path"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["linux"]["resources"]["pids"] = json{{"limit", 10}}; })
                .find("linux.resources.pids"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["linux"]["uidMappings"] = json::array({json{{"size", 1}}}); })
                .find("linux.uidMappings"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["process"]["terminal"] = true; }).find("process.terminal"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["process"]["rlimits"] = json::array({json{{"type", "RLIMIT_NOPE"}, {"soft", 1}, {"hard", 1}}}); })
                .find("RLIMIT_NOPE"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["process"]["rlimits"] = json::array({json{{"type", "RLIMIT_CORE"}, {"soft", 2}, {"hard", 1}}}); })
                .find("soft above hard"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["mounts"].push_back(json{{"destination", "relative"}, {"type", "tmpfs"}}); })
                .find("must be absolute"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["process"]["user"]["uid"] = -1; }).find("process.user.uid"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["linux"]["namespaces"] = json::array({json{{"type", "pid"}}}); })
                .find("mount namespace"),
            std::string::npos);
  EXPECT_NE(refusal([](json& c) { c["hostname"] = "box"; }).find("uts namespace"),
            std::string::npos);
  // Not JSON, or not an object: refused, not thrown as anything else.
  EXPECT_THROW(parseConfig("{", "/b"), std::invalid_argument);
  EXPECT_THROW(parseConfig("[1,2]", "/b"), std::invalid_argument);
  EXPECT_THROW(parseConfig("{\"process\": 7}", "/b"), std::invalid_argument);
}

}  // namespace
}  // namespace tutti::runtime
