#include "agent/http/monitor.hpp"

#include <optional>
#include <vector>

#include "agent/containerizer/proc_usage.hpp"

namespace tutti::agent {

namespace {
using json::Json;

struct ContainerView {
  std::string executorId;
  std::string executorName;
  std::string frameworkId;
  std::string source;
  std::string containerId;
  pid_t pid = -1;
  ContainerLimits limits;
};

struct Snapshot {
  std::vector<ContainerView> containers;
  std::optional<CgroupLayout> layout;  // cgroups isolation
};

Snapshot takeSnapshot(const Agent& agent) {
  Snapshot s;
  const CgroupsIsolator* iso = agent.isolator();
  if (iso) s.layout = iso->layout();
  for (const auto& [_, fw] : agent.frameworks()) {
    for (const auto& [__, ex] : fw.executors) {
      if (ex.state == ExecutorState::kTerminated) continue;
      ContainerView v;
      v.executorId = ex.id.value;
      v.executorName = ex.info.name;
      v.frameworkId = ex.frameworkId.value;
      v.source = ex.commandExecutor ? ex.id.value : "";  // Mesos: the task id for command executors
      v.containerId = ex.containerId.value;
      v.pid = ex.pid;
      auto limits = iso ? iso->limits(ex.containerId) : std::nullopt;
      if (limits) {
        v.limits = *limits;
      } else {
        Resources r = ex.resources();
        v.limits.cpus = r.scalar("cpus");
        v.limits.memBytes = static_cast<uint64_t>(r.scalar("mem") * 1024 * 1024);
      }
      s.containers.push_back(std::move(v));
    }
  }
  return s;
}

Json statisticsJson(const ContainerView& v, const Snapshot& s,
                    const std::map<pid_t, ProcUsage>& procs, double now) {
  Json st;
  st["timestamp"] = now;
  st["cpus_limit"] = v.limits.cpus;
  st["mem_limit_bytes"] = v.limits.memBytes;
  if (v.limits.cfs) st["cpus_quota_secs"] = v.limits.cpus * kCfsPeriodUs / 1e6;
  if (v.limits.pids > 0) st["pids_limit"] = v.limits.pids;
  if (s.layout) {
    ContainerUsage u = readContainerUsage(*s.layout, v.containerId);
    if (u.cpusUserSecs) st["cpus_user_time_secs"] = *u.cpusUserSecs;
    if (u.cpusSystemSecs) st["cpus_system_time_secs"] = *u.cpusSystemSecs;
    if (u.memUsageBytes) st["mem_total_bytes"] = *u.memUsageBytes;
    if (u.memRssBytes) st["mem_rss_bytes"] = *u.memRssBytes;
    if (u.memMaxUsageBytes) st["mem_max_total_bytes"] = *u.memMaxUsageBytes;
    if (u.oomKills) st["mem_oom_kills"] = *u.oomKills;
    if (u.processes) st["processes"] = *u.processes;
    st["source"] = "cgroups";
  } else {
    auto it = procs.find(v.pid);
    if (it != procs.end()) {
      st["cpus_user_time_secs"] = it->second.userSecs;
      st["cpus_system_time_secs"] = it->second.systemSecs;
      st["mem_rss_bytes"] = it->second.rssBytes;
      st["processes"] = it->second.processes;
    }
    st["source"] = "proc";
  }
  return st;
}

// Both endpoints: one entry per running container.
Json containersJson(Agent& agent, Loop& loop, bool containersShape) {
  Snapshot s = loop.call("http.monitor", [&agent] { return takeSnapshot(agent); });
  std::map<pid_t, ProcUsage> procs;
  if (!s.layout) {
    std::set<pid_t> sessions;
    for (const auto& v : s.containers) {
      if (v.pid > 1) sessions.insert(v.pid);
    }
    procs = sessionUsage(sessions);
  }
  double now = loop.clock().wallSeconds();
  Json out = Json::array();
  for (const auto& v : s.containers) {
    Json j;
    j["executor_id"] = v.executorId;
    j["executor_name"] = v.executorName;
    j["framework_id"] = v.frameworkId;
    j["source"] = v.source;
    j["statistics"] = statisticsJson(v, s, procs, now);
    if (containersShape) {
      j["container_id"] = v.containerId;
      j["status"] = {{"container_id", {{"value", v.containerId}}}, {"executor_pid", v.pid}};
    }
    out.push_back(std::move(j));
  }
  return out;
}
}  // namespace

void installMonitorRoutes(HttpServer& server, Agent& agent, Loop& loop) {
  server.route("GET", "/monitor/statistics", [&agent, &loop](const HttpRequest&) {
    return HttpResponse::json(json::dump(containersJson(agent, loop, false)) + "\n");
  });
  server.route("GET", "/monitor/statistics.json", [&agent, &loop](const HttpRequest&) {
    return HttpResponse::json(json::dump(containersJson(agent, loop, false)) + "\n");
  });
  server.route("GET", "/containers", [&agent, &loop](const HttpRequest&) {
    return HttpResponse::json(json::dump(containersJson(agent, loop, true)) + "\n");
  });
}

}  // namespace tutti::agent
