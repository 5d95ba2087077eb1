#include "master/state_snapshot.hpp"

#include <algorithm>
#include <array>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "common/version.hpp"
#include "master/http/maintenance_json.hpp"
#include "master/master.hpp"

namespace tutti::master {

using json::JsonWriter;

// ---- taking a snapshot (loop thread) ----

namespace {
std::shared_ptr<const FrameworkView> frameworkOf(const Master& m, const FrameworkRecord& fw) {
  if (fw.view) return fw.view;
  auto view = std::make_shared<FrameworkView>();
  FrameworkView& f = *view;
  f.id = fw.id;
  f.info = fw.info;
  f.state = fw.state;
  f.registeredTime = fw.registeredTime;
  f.reregisteredTime = fw.reregisteredTime;
  f.unregisteredTime = fw.unregisteredTime;
  f.used = fw.used;
  f.offered = fw.offered;
  f.tasks.reserve(fw.tasks.size());
  for (const auto& [_, rec] : fw.tasks) f.tasks.push_back(rec.task.share());
  f.unreachableTasks.reserve(fw.unreachableTasks.size());
  for (const auto& [_, t] : fw.unreachableTasks) f.unreachableTasks.push_back(t);
  f.completedTasks.assign(fw.completedTasks.begin(), fw.completedTasks.end());
  f.offers.reserve(fw.offers.size());
  for (const auto& id : fw.offers) {
    if (const OfferRecord* o = m.offers().find(id)) f.offers.push_back(o->offer);
  }
  fw.view = view;
  return view;
}
}  // namespace

std::shared_ptr<const StateSnapshot> takeStateSnapshot(const Master& m) {
  auto s = std::make_shared<StateSnapshot>();
  s->info = m.info();
  s->startTime = m.startTime();
  s->agents.reserve(m.agents().all().size());
  for (const auto& [id, a] : m.agents().all()) {
    if (!a.view) {
      auto view = std::make_shared<AgentView>();
      view->id = id;
      view->info = a.info;
      view->state = a.state;
      view->version = a.version;
      view->registeredTime = a.registeredTime;
      view->reregisteredTime = a.reregisteredTime;
      view->total = a.total;
      view->used = a.usedTotal();
      view->offered = a.offered;
      for (const auto& [_, ids] : a.tasks) view->taskCount += ids.size();
      a.view = std::move(view);
    }
    s->agents.push_back(a.view);
    s->registeredAgents += a.state == AgentState::kRegistered;
    s->unreachableAgents += a.state == AgentState::kUnreachable;
    for (const auto& [fwId, byId] : a.executors) {
      for (const auto& [exId, ex] : byId) {
        s->executors[fwId].push_back({exId, ex.name, id, ex.resources});
      }
    }
  }
  s->frameworks.reserve(m.frameworks().all().size());
  for (const auto& [id, fw] : m.frameworks().all()) s->frameworks.push_back(frameworkOf(m, fw));
  for (const auto& fw : m.frameworks().completed()) {
    s->completedFrameworks.push_back(frameworkOf(m, fw));
  }
  return s;
}

// ---- serializing (any thread) ----

namespace {
void writeResources(JsonWriter& w, const Resources& r) {
  // As json::resources(): scalars summed by name (cpus, mem, disk, gpus always
  // there), ranges and sets in their text form; keys in order.
  struct Entry {
    explicit Entry(std::string_view n) : name(n) {}
    std::string_view name;
    double scalar = 0;
    std::vector<Range> ranges;
    std::set<std::string> set;
    Resource::Type type = Resource::Type::SCALAR;
  };
  std::vector<Entry> entries;
  entries.reserve(6);
  for (const char* name : {"cpus", "disk", "gpus", "mem"}) entries.emplace_back(name);
  auto entry = [&](std::string_view name, Resource::Type type) -> Entry& {
    for (auto& e : entries) {
      if (e.name == name) {
        e.type = type;
        return e;
      }
    }
    entries.emplace_back(name);
    entries.back().type = type;
    return entries.back();
  };
  for (const auto& x : r) {
    Entry& e = entry(x.name, x.type);
    switch (x.type) {
      case Resource::Type::SCALAR: e.scalar += x.scalar(); break;
      case Resource::Type::RANGES: e.ranges.insert(e.ranges.end(), x.ranges.begin(), x.ranges.end()); break;
      case Resource::Type::SET: e.set.insert(x.set.begin(), x.set.end()); break;
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  w.beginObject();
  for (const auto& e : entries) {
    w.key(e.name);
    switch (e.type) {
      case Resource::Type::SCALAR: w.value(e.scalar); break;
      case Resource::Type::RANGES: w.value(formatRanges(coalesceRanges(e.ranges))); break;
      case Resource::Type::SET: {
        std::string text = "{";
        bool first = true;
        for (const auto& i : e.set) {
          if (!first) text += ",";
          text += i;
          first = false;
        }
        w.value(text + "}");
        break;
      }
    }
  }
  w.endObject();
}

void writeStatus(JsonWriter& w, const TaskStatus& s) {
  // As json::taskStatus(), keys in order.
  w.beginObject();
  if (s.exitStatus) w.field("exit_status", static_cast<int64_t>(*s.exitStatus));
  if (s.healthy) w.field("healthy", *s.healthy);
  if (!s.labels.empty()) w.key("labels").raw(json::dump(json::labels(s.labels)));
  if (!s.message.empty()) w.field("message", s.message);
  if (s.reason) w.field("reason", toString(*s.reason));
  w.field("source", toString(s.source));
  w.field("state", toString(s.state));
  w.field("timestamp", s.timestamp);
  if (s.uuid.size() == 16) {
    // uuidToString() without its temporaries: this runs for every status.
    static const char* kHex = "0123456789abcdef";
    char text[36];
    size_t n = 0;
    for (size_t i = 0; i < 16; ++i) {
      if (i == 4 || i == 6 || i == 8 || i == 10) text[n++] = '-';
      auto b = static_cast<unsigned char>(s.uuid[i]);
      text[n++] = kHex[b >> 4];
      text[n++] = kHex[b & 0xF];
    }
    w.field("uuid", std::string_view(text, n));
  } else if (!s.uuid.empty()) {
    w.field("uuid", uuidToString(s.uuid));
  }
  w.endObject();
}

const std::string& roleOf(const Task& t, const FrameworkInfo& info, std::string* scratch) {
  for (const auto& r : t.resources) {
    if (r.allocationRole) {
      // The smallest allocation role, as *allocationRoles().begin() is.
      const std::string* best = &*r.allocationRole;
      for (const auto& o : t.resources) {
        if (o.allocationRole && *o.allocationRole < *best) best = &*o.allocationRole;
      }
      return *best;
    }
  }
  *scratch = info.effectiveRoles().front();
  return *scratch;
}

void writeTask(JsonWriter& w, const Task& t, const FrameworkInfo& info, const std::string& role) {
  w.beginObject();
  w.field("agent_id", t.agentId.value);
  w.field("executor_id", t.executorId.value);
  w.field("framework_id", t.frameworkId.value);
  w.field("id", t.taskId.value);
  if (!t.labels.empty()) w.key("labels").raw(json::dump(json::labels(t.labels)));
  w.field("name", t.name);
  w.key("resources");
  writeResources(w, t.resources);
  w.field("role", role);
  w.field("slave_id", t.agentId.value);
  w.field("state", toString(t.state));
  w.key("statuses").beginArray();
  for (const auto& s : t.statuses) writeStatus(w, s);
  w.endArray();
  w.endObject();
}

void writeTask(JsonWriter& w, const std::shared_ptr<const Task>& t, const FrameworkInfo& info,
               TaskJsonCache* cache) {
  if (cache) {
    w.shared(cache->get(t, info));
    return;
  }
  std::string scratch;
  writeTask(w, *t, info, roleOf(*t, info, &scratch));
}

// A completed task is kept as its JSON: a rope references it.
void writeCompletedTask(JsonWriter& w, const std::shared_ptr<const CompletedTask>& t) {
  w.shared(std::shared_ptr<const std::string>(t, &t->json));
}

void writeOffer(JsonWriter& w, const Offer& o) {
  w.beginObject();
  w.field("agent_id", o.agentId.value);
  w.key("allocation_info").beginObject().field("role", o.allocationRole).endObject();
  w.field("framework_id", o.frameworkId.value);
  w.field("id", o.id.value);
  w.key("resources");
  writeResources(w, o.resources);
  w.field("slave_id", o.agentId.value);
  if (o.unavailability) w.key("unavailability").raw(json::dump(unavailabilityJson(*o.unavailability)));
  w.endObject();
}

void writeFramework(JsonWriter& w, const StateSnapshot& s, const FrameworkView& fw,
                    bool summary, TaskJsonCache* cache) {
  size_t running = 0, staging = 0;
  for (const auto& t : fw.tasks) {
    running += t->state == TaskState::TASK_RUNNING;
    staging += t->state == TaskState::TASK_STAGING;
  }
  std::vector<std::string> roles = fw.info.effectiveRoles();
  w.beginObject();
  w.field("TASK_RUNNING", static_cast<uint64_t>(running));
  w.field("TASK_STAGING", static_cast<uint64_t>(staging));
  w.field("active", fw.state == FrameworkState::kActive);
  w.key("capabilities").raw(json::dump(json::frameworkCapabilities(fw.info)));
  w.field("checkpoint", fw.info.checkpoint);
  if (!summary) {
    w.key("completed_tasks").beginArray();
    for (const auto& t : fw.completedTasks) writeCompletedTask(w, t);
    w.endArray();
  }
  w.field("connected", fw.state == FrameworkState::kActive);
  if (!summary) {
    w.key("executors").beginArray();
    static const std::vector<StateSnapshot::Executor> kNone;
    auto ex = s.executors.find(fw.id);
    for (const auto& e : ex == s.executors.end() ? kNone : ex->second) {
      w.beginObject();
      w.field("executor_id", e.id.value);
      w.field("framework_id", fw.id.value);
      w.field("name", e.name);
      w.key("resources");
      writeResources(w, e.resources);
      w.field("slave_id", e.agentId.value);
      w.endObject();
    }
    w.endArray();
  }
  w.field("failover_timeout", fw.info.failoverTimeoutSecs);
  w.field("hostname", fw.info.hostname);
  w.field("id", fw.id.value);
  w.field("name", fw.info.name);
  w.key("offered_resources");
  writeResources(w, fw.offered);
  if (!summary) {
    w.key("offers").beginArray();
    for (const auto& o : fw.offers) writeOffer(w, *o);
    w.endArray();
  }
  w.field("principal", fw.info.principal);
  w.field("recovered", false);
  w.field("registered_time", fw.registeredTime);
  w.field("reregistered_time", fw.reregisteredTime);
  w.key("resources");
  writeResources(w, fw.used + fw.offered);
  w.field("role", roles.front());
  w.key("roles").beginArray();
  for (const auto& r : roles) w.value(r);
  w.endArray();
  w.field("state", toString(fw.state));
  w.field("task_count", static_cast<uint64_t>(fw.tasks.size()));
  if (!summary) {
    w.key("tasks").beginArray();
    for (const auto& t : fw.tasks) writeTask(w, t, fw.info, cache);
    w.endArray();
    w.key("unreachable_tasks").beginArray();
    for (const auto& t : fw.unreachableTasks) writeTask(w, t, fw.info, cache);
    w.endArray();
  }
  w.field("unregistered_time", fw.unregisteredTime);
  w.key("used_resources");
  writeResources(w, fw.used);
  w.field("user", fw.info.user);
  w.field("webui_url", fw.info.webuiUrl);
  w.endObject();
}

void writeAgent(JsonWriter& w, const AgentView& a) {
  w.beginObject();
  w.field("active", a.state == AgentState::kRegistered);
  w.key("attributes").raw(json::dump(json::attributes(a.info.attributes)));
  w.field("hostname", a.info.hostname);
  w.field("id", a.id.value);
  w.key("offered_resources");
  writeResources(w, a.offered);
  w.field("pid", "slave(1)@" + a.info.hostname + ":" + std::to_string(a.info.port));
  w.field("port", static_cast<uint64_t>(a.info.port));
  w.field("registered_time", a.registeredTime);
  if (a.reregisteredTime > 0) w.field("reregistered_time", a.reregisteredTime);
  w.key("reserved_resources").beginObject();
  std::set<std::string> reservedRoles;
  for (const auto& r : a.total) {
    if (r.isReserved()) reservedRoles.insert(r.reservationRole());
  }
  for (const auto& role : reservedRoles) {
    w.key(role);
    writeResources(w, a.total.reserved(role));
  }
  w.endObject();
  // Mesos's full form per role: reservations and persistent volumes.
  w.key("reserved_resources_full").beginObject();
  for (const auto& role : reservedRoles) {
    w.key(role);
    w.raw(json::dump(json::resourcesFull(a.total.reserved(role))));
  }
  w.endObject();
  w.key("resources");
  writeResources(w, a.total);
  w.field("state", toString(a.state));
  w.field("task_count", static_cast<uint64_t>(a.taskCount));
  w.key("unreserved_resources");
  writeResources(w, a.total.unreserved());
  w.key("used_resources");
  writeResources(w, a.used);
  w.field("version", a.version);
  w.endObject();
}

void writeAgents(JsonWriter& w, const StateSnapshot& s, AgentState state) {
  w.beginArray();
  for (const auto& a : s.agents) {
    if (a->state == state) writeAgent(w, *a);
  }
  w.endArray();
}
}  // namespace

std::shared_ptr<const CompletedTask> completedTask(const Task& task, const FrameworkInfo& info) {
  auto out = std::make_shared<CompletedTask>();
  out->taskId = task.taskId;
  out->state = task.state;
  std::string scratch;
  JsonWriter w(&out->json);
  writeTask(w, task, info, roleOf(task, info, &scratch));
  out->json.shrink_to_fit();
  return out;
}

const std::shared_ptr<const std::string>& TaskJsonCache::get(
    const std::shared_ptr<const Task>& task, const FrameworkInfo& info) {
  // An entry keeps its task alive, so a known address is the same,
  // unchanged task (tasks are copy-on-write, state.hpp).
  Entry& e = entries_[task.get()];
  e.used = true;
  if (e.task && e.roleFromTask) return e.json;
  std::string scratch;
  const std::string& role = roleOf(*task, info, &scratch);
  if (e.task && e.role == role) return e.json;
  e.task = task;
  e.role = role;
  e.roleFromTask = &role != &scratch;
  auto json = std::make_shared<std::string>();
  JsonWriter w(json.get());
  writeTask(w, *task, info, role);
  e.json = std::move(json);
  return e.json;
}

void TaskJsonCache::sweep() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.used) {
      it = entries_.erase(it);
    } else {
      it->second.used = false;
      ++it;
    }
  }
}

void writeStateJson(JsonWriter& w, const StateSnapshot& s,
                    const std::map<std::string, std::string>& flags, bool summary,
                    TaskJsonCache* cache) {
  std::string pid = "master@" + s.info.ip + ":" + std::to_string(s.info.port);
  w.beginObject();
  w.field("activated_slaves", static_cast<uint64_t>(s.registeredAgents));
  w.key("completed_frameworks").beginArray();
  for (const auto& fw : s.completedFrameworks) writeFramework(w, s, *fw, summary, cache);
  w.endArray();
  w.field("deactivated_slaves", int64_t{0});
  w.field("elected_time", s.startTime);
  if (!summary) {
    w.key("flags").beginObject();
    for (const auto& [k, v] : flags) w.field(k, v);
    w.endObject();
  }
  w.key("frameworks").beginArray();
  for (const auto& fw : s.frameworks) writeFramework(w, s, *fw, summary, cache);
  w.endArray();
  w.field("hostname", s.info.hostname);
  w.field("id", s.info.id.value);
  w.field("leader", pid);
  w.key("leader_info").beginObject();
  w.field("hostname", s.info.hostname);
  w.field("id", s.info.id.value);
  w.field("ip", s.info.ip);
  w.field("message_address", s.info.messageAddress);
  w.field("pid", pid);
  w.field("port", static_cast<uint64_t>(s.info.port));
  w.field("version", s.info.version);
  w.endObject();
  w.key("orphan_tasks").beginArray().endArray();
  w.field("pid", pid);
  w.key("slaves");
  writeAgents(w, s, AgentState::kRegistered);
  w.field("start_time", s.startTime);
  w.field("unreachable_slaves", static_cast<uint64_t>(s.unreachableAgents));
  w.key("unregistered_frameworks").beginArray().endArray();
  w.field("version", tuttiVersion());
  w.endObject();
}

std::string stateJson(const StateSnapshot& s, const std::map<std::string, std::string>& flags,
                      bool summary, TaskJsonCache* cache) {
  std::string out;
  JsonWriter w(&out);
  writeStateJson(w, s, flags, summary, cache);
  return out;
}

void writeFrameworksJson(JsonWriter& w, const StateSnapshot& s, TaskJsonCache* cache) {
  w.beginObject();
  w.key("completed_frameworks").beginArray();
  for (const auto& fw : s.completedFrameworks) writeFramework(w, s, *fw, false, cache);
  w.endArray();
  w.key("frameworks").beginArray();
  for (const auto& fw : s.frameworks) writeFramework(w, s, *fw, false, cache);
  w.endArray();
  w.endObject();
}

void writeSlavesJson(JsonWriter& w, const StateSnapshot& s) {
  w.beginObject();
  w.key("recovered_slaves");
  writeAgents(w, s, AgentState::kRecovered);
  w.key("slaves");
  writeAgents(w, s, AgentState::kRegistered);
  w.key("unreachable_slaves");
  writeAgents(w, s, AgentState::kUnreachable);
  w.endObject();
}

void writeTasksJson(JsonWriter& w, const StateSnapshot& s, TaskJsonCache* cache) {
  w.beginObject();
  w.key("tasks").beginArray();
  // As Mesos's /tasks: the tasks of registered and of completed frameworks.
  for (const auto* list : {&s.frameworks, &s.completedFrameworks}) {
    for (const auto& fw : *list) {
      for (const auto& t : fw->tasks) writeTask(w, t, fw->info, cache);
      for (const auto& t : fw->completedTasks) writeCompletedTask(w, t);
    }
  }
  w.endArray();
  w.endObject();
}

}  // namespace tutti::master
