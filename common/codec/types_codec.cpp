#include "common/codec/types_codec.hpp"

#include <cmath>

namespace tutti::codec {

namespace {
capnp::Text::Reader txt(const std::string& s) { return capnp::Text::Reader(s.data(), s.size()); }

template <typename E>
E checkedEnum(uint16_t raw, uint16_t count, const char* what) {
  if (raw >= count) throw CodecError(std::string("unknown ") + what + " value " + std::to_string(raw));
  return static_cast<E>(raw);
}

double finiteOr(double v, double /*fallback*/, const char* what) {
  if (!std::isfinite(v)) throw CodecError(std::string(what) + " is not a finite number");
  return v;
}
}  // namespace

std::string toStd(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

std::string toStd(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

capnp::Data::Reader dataOf(const std::string& bytes) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size());
}

void encodeTexts(const std::vector<std::string>& v, capnp::List<capnp::Text>::Builder b) {
  for (size_t i = 0; i < v.size(); ++i) b.set(i, txt(v[i]));
}

std::vector<std::string> decodeTexts(capnp::List<capnp::Text>::Reader r) {
  std::vector<std::string> out;
  out.reserve(r.size());
  for (auto t : r) out.push_back(toStd(t));
  return out;
}

// ---- Label ----
void encode(const Label& v, proto::Label::Builder b) {
  b.setKey(txt(v.key));
  b.setValue(txt(v.value));
}
Label decode(proto::Label::Reader r) { return Label{toStd(r.getKey()), toStd(r.getValue())}; }

void encodeLabels(const Labels& v, capnp::List<proto::Label>::Builder b) { encodeList(v, b); }
Labels decodeLabels(capnp::List<proto::Label>::Reader r) {
  Labels out;
  out.reserve(r.size());
  for (auto l : r) out.push_back(decode(l));
  return out;
}

// ---- Resource ----
void encode(const Resource& v, proto::Resource::Builder b) {
  b.setName(txt(v.name));
  switch (v.type) {
    case Resource::Type::SCALAR:
      b.setScalar(v.scalarMillis);
      break;
    case Resource::Type::RANGES: {
      auto l = b.initRanges(v.ranges.size());
      for (size_t i = 0; i < v.ranges.size(); ++i) {
        l[i].setBegin(v.ranges[i].begin);
        l[i].setEnd(v.ranges[i].end);
      }
      break;
    }
    case Resource::Type::SET: {
      auto l = b.initSet(v.set.size());
      size_t i = 0;
      for (const auto& s : v.set) l.set(i++, txt(s));
      break;
    }
  }
  if (!v.reservations.empty()) {
    auto l = b.initReservations(v.reservations.size());
    for (size_t i = 0; i < v.reservations.size(); ++i) {
      const auto& res = v.reservations[i];
      l[i].setType(res.type == ReservationInfo::Type::STATIC
                       ? proto::ReservationInfo::Type::STATIC
                       : proto::ReservationInfo::Type::DYNAMIC);
      l[i].setRole(txt(res.role));
      l[i].setPrincipal(txt(res.principal));
      if (!res.labels.empty()) encodeLabels(res.labels, l[i].initLabels(res.labels.size()));
    }
  }
  if (v.allocationRole) b.setAllocationRole(txt(*v.allocationRole));
  if (v.disk) {
    auto d = b.initDisk();
    d.setPersistenceId(txt(v.disk->persistenceId));
    d.setPrincipal(txt(v.disk->principal));
    d.setContainerPath(txt(v.disk->containerPath));
  }
}

Resource decode(proto::Resource::Reader r) {
  Resource v;
  v.name = toStd(r.getName());
  switch (r.which()) {
    case proto::Resource::SCALAR:
      v.type = Resource::Type::SCALAR;
      v.scalarMillis = r.getScalar();
      break;
    case proto::Resource::RANGES:
      v.type = Resource::Type::RANGES;
      for (auto range : r.getRanges()) v.ranges.push_back(Range{range.getBegin(), range.getEnd()});
      break;
    case proto::Resource::SET:
      v.type = Resource::Type::SET;
      for (auto s : r.getSet()) v.set.insert(toStd(s));
      break;
    default:
      throw CodecError("resource '" + v.name + "' has an unknown value kind");
  }
  for (auto res : r.getReservations()) {
    ReservationInfo info;
    switch (res.getType()) {
      case proto::ReservationInfo::Type::STATIC:
        info.type = ReservationInfo::Type::STATIC;
        break;
      case proto::ReservationInfo::Type::DYNAMIC:
        info.type = ReservationInfo::Type::DYNAMIC;
        break;
      default:
        throw CodecError("resource '" + v.name + "' has an unknown reservation type");
    }
    info.role = toStd(res.getRole());
    info.principal = toStd(res.getPrincipal());
    info.labels = decodeLabels(res.getLabels());
    v.reservations.push_back(std::move(info));
  }
  if (r.hasAllocationRole()) v.allocationRole = toStd(r.getAllocationRole());
  if (r.hasDisk()) {
    auto d = r.getDisk();
    v.disk = DiskInfo{toStd(d.getPersistenceId()), toStd(d.getPrincipal()),
                      toStd(d.getContainerPath())};
  }
  return v;
}

void encodeResources(const Resources& v, capnp::List<proto::Resource>::Builder b) {
  size_t i = 0;
  for (const auto& r : v) encode(r, b[i++]);
}

Resources decodeResources(capnp::List<proto::Resource>::Reader r) {
  std::vector<Resource> list;
  list.reserve(r.size());
  for (auto x : r) list.push_back(decode(x));
  auto result = Resources::fromList(list);
  if (!result.ok()) throw CodecError(result.error());
  return std::move(result).value();
}

// ---- Attribute ----
void encode(const Attribute& v, proto::Attribute::Builder b) {
  b.setName(txt(v.name));
  b.setValue(txt(v.value));
}
Attribute decode(proto::Attribute::Reader r) {
  return Attribute{toStd(r.getName()), toStd(r.getValue())};
}

// ---- CommandInfo ----
void encode(const CommandInfo& v, proto::CommandInfo::Builder b) {
  b.setShell(v.shell);
  b.setValue(txt(v.value));
  if (!v.arguments.empty()) encodeTexts(v.arguments, b.initArguments(v.arguments.size()));
  if (!v.environment.empty()) {
    auto l = b.initEnvironment(v.environment.size());
    for (size_t i = 0; i < v.environment.size(); ++i) {
      l[i].setName(txt(v.environment[i].name));
      l[i].setValue(txt(v.environment[i].value));
    }
  }
  if (v.user) b.setUser(txt(*v.user));
  if (!v.uris.empty()) {
    auto l = b.initUris(v.uris.size());
    for (size_t i = 0; i < v.uris.size(); ++i) {
      const CommandURI& u = v.uris[i];
      l[i].setValue(txt(u.value));
      l[i].setExecutable(u.executable);
      l[i].setExtract(u.extract);
      l[i].setCache(u.cache);
      if (u.outputFile) l[i].setOutputFile(txt(*u.outputFile));
    }
  }
}

CommandInfo decode(proto::CommandInfo::Reader r) {
  CommandInfo v;
  v.shell = r.getShell();
  v.value = toStd(r.getValue());
  v.arguments = decodeTexts(r.getArguments());
  for (auto e : r.getEnvironment()) {
    v.environment.push_back(EnvironmentVariable{toStd(e.getName()), toStd(e.getValue())});
  }
  if (r.hasUser()) v.user = toStd(r.getUser());
  for (auto u : r.getUris()) {
    CommandURI c;
    c.value = toStd(u.getValue());
    c.executable = u.getExecutable();
    c.extract = u.getExtract();
    c.cache = u.getCache();
    if (u.hasOutputFile()) c.outputFile = toStd(u.getOutputFile());
    v.uris.push_back(std::move(c));
  }
  return v;
}

// ---- KillPolicy ----
void encode(const KillPolicy& v, proto::KillPolicy::Builder b) {
  b.setGracePeriodNanos(v.gracePeriod.count());
}
KillPolicy decode(proto::KillPolicy::Reader r) {
  if (r.getGracePeriodNanos() < 0) throw CodecError("kill policy grace period is negative");
  return KillPolicy{std::chrono::nanoseconds(r.getGracePeriodNanos())};
}

// ---- ExecutorInfo ----
void encode(const ExecutorInfo& v, proto::ExecutorInfo::Builder b) {
  b.setExecutorId(txt(v.executorId.value));
  b.setFrameworkId(txt(v.frameworkId.value));
  b.setName(txt(v.name));
  if (v.command) encode(*v.command, b.initCommand());
  encodeResources(v.resources, b.initResources(v.resources.size()));
  b.setType(static_cast<proto::ExecutorInfo::Type>(static_cast<uint16_t>(v.type)));
}

ExecutorInfo decode(proto::ExecutorInfo::Reader r) {
  ExecutorInfo v;
  v.executorId = ExecutorID(toStd(r.getExecutorId()));
  v.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  v.name = toStd(r.getName());
  if (r.hasCommand()) v.command = decode(r.getCommand());
  v.resources = decodeResources(r.getResources());
  v.type = checkedEnum<ExecutorInfo::Type>(static_cast<uint16_t>(r.getType()), 3, "executor type");
  return v;
}

// ---- TaskInfo ----
void encode(const TaskInfo& v, proto::TaskInfo::Builder b) {
  b.setName(txt(v.name));
  b.setTaskId(txt(v.taskId.value));
  b.setAgentId(txt(v.agentId.value));
  encodeResources(v.resources, b.initResources(v.resources.size()));
  if (v.command) encode(*v.command, b.initCommand());
  if (v.executor) encode(*v.executor, b.initExecutor());
  if (!v.labels.empty()) encodeLabels(v.labels, b.initLabels(v.labels.size()));
  if (v.killPolicy) encode(*v.killPolicy, b.initKillPolicy());
  if (!v.data.empty()) b.setData(dataOf(v.data));
  if (v.healthCheck) encode(*v.healthCheck, b.initHealthCheck());
  if (v.container) encode(*v.container, b.initContainer());
}

void encode(const ContainerInfo& v, proto::ContainerInfo::Builder b) {
  if (v.image) {
    b.setHasImage(true);
    auto image = b.initImage();
    image.setType(proto::Image::Type::DOCKER);
    image.setName(txt(v.image->name));
    image.setCached(v.image->cached);
  }
  auto limits = b.initRlimits(v.rlimits.size());
  for (size_t i = 0; i < v.rlimits.size(); ++i) {
    const RLimit& l = v.rlimits[i];
    limits[i].setType(txt(l.type));
    limits[i].setHasLimits(l.soft.has_value() || l.hard.has_value());
    limits[i].setSoft(l.soft.value_or(0));
    limits[i].setHard(l.hard.value_or(0));
  }
}

ContainerInfo decode(proto::ContainerInfo::Reader r) {
  ContainerInfo v;
  if (r.getHasImage() && r.hasImage()) {
    auto image = r.getImage();
    if (static_cast<uint16_t>(image.getType()) != 0) throw CodecError("unknown image type");
    v.image = Image{Image::Type::DOCKER, toStd(image.getName()), image.getCached()};
  }
  for (auto l : r.getRlimits()) {
    RLimit limit;
    limit.type = toStd(l.getType());
    if (l.getHasLimits()) {
      limit.soft = l.getSoft();
      limit.hard = l.getHard();
    }
    v.rlimits.push_back(std::move(limit));
  }
  return v;
}

void encode(const HealthCheck& v, proto::HealthCheck::Builder b) {
  b.setType(static_cast<proto::HealthCheck::Type>(static_cast<uint16_t>(v.type)));
  b.setDelaySeconds(v.delaySeconds);
  b.setIntervalSeconds(v.intervalSeconds);
  b.setTimeoutSeconds(v.timeoutSeconds);
  b.setConsecutiveFailures(v.consecutiveFailures);
  b.setGracePeriodSeconds(v.gracePeriodSeconds);
  if (v.command) encode(*v.command, b.initCommand());
  b.setHttpScheme(txt(v.httpScheme));
  b.setHttpPath(txt(v.httpPath));
  b.setPort(v.port);
  auto statuses = b.initHttpStatuses(v.httpStatuses.size());
  for (size_t i = 0; i < v.httpStatuses.size(); ++i) statuses.set(i, v.httpStatuses[i]);
}

HealthCheck decode(proto::HealthCheck::Reader r) {
  HealthCheck v;
  auto type = static_cast<uint16_t>(r.getType());
  if (type > 3) throw CodecError("unknown health check type");
  v.type = static_cast<HealthCheck::Type>(type);
  v.delaySeconds = r.getDelaySeconds();
  v.intervalSeconds = r.getIntervalSeconds();
  v.timeoutSeconds = r.getTimeoutSeconds();
  v.consecutiveFailures = r.getConsecutiveFailures();
  v.gracePeriodSeconds = r.getGracePeriodSeconds();
  if (r.hasCommand()) v.command = decode(r.getCommand());
  v.httpScheme = toStd(r.getHttpScheme());
  v.httpPath = toStd(r.getHttpPath());
  v.port = r.getPort();
  for (auto s : r.getHttpStatuses()) v.httpStatuses.push_back(s);
  return v;
}

TaskInfo decode(proto::TaskInfo::Reader r) {
  TaskInfo v;
  v.name = toStd(r.getName());
  v.taskId = TaskID(toStd(r.getTaskId()));
  v.agentId = AgentID(toStd(r.getAgentId()));
  v.resources = decodeResources(r.getResources());
  if (r.hasCommand()) v.command = decode(r.getCommand());
  if (r.hasExecutor()) v.executor = decode(r.getExecutor());
  v.labels = decodeLabels(r.getLabels());
  if (r.hasKillPolicy()) v.killPolicy = decode(r.getKillPolicy());
  v.data = toStd(r.getData());
  if (r.hasHealthCheck()) v.healthCheck = decode(r.getHealthCheck());
  if (r.hasContainer()) v.container = decode(r.getContainer());
  return v;
}

// ---- TaskStatus ----
proto::TaskState encodeState(TaskState s) {
  return static_cast<proto::TaskState>(static_cast<uint16_t>(s));
}

TaskState decodeState(proto::TaskState s) {
  return checkedEnum<TaskState>(static_cast<uint16_t>(s), 14, "task state");
}

void encode(const TaskStatus& v, proto::TaskStatus::Builder b) {
  b.setTaskId(txt(v.taskId.value));
  b.setState(encodeState(v.state));
  b.setMessage(txt(v.message));
  b.setSource(static_cast<proto::Source>(static_cast<uint16_t>(v.source)));
  if (v.reason) {
    b.setHasReason(true);
    b.setReason(static_cast<proto::Reason>(static_cast<uint16_t>(*v.reason)));
  }
  if (!v.data.empty()) b.setData(dataOf(v.data));
  b.setAgentId(txt(v.agentId.value));
  b.setExecutorId(txt(v.executorId.value));
  b.setTimestamp(v.timestamp);
  if (!v.uuid.empty()) b.setUuid(dataOf(v.uuid));
  if (v.healthy) {
    b.setHasHealthy(true);
    b.setHealthy(*v.healthy);
  }
  if (!v.labels.empty()) encodeLabels(v.labels, b.initLabels(v.labels.size()));
  if (v.exitStatus) {
    b.setHasExitStatus(true);
    b.setExitStatus(*v.exitStatus);
  }
}

TaskStatus decode(proto::TaskStatus::Reader r) {
  TaskStatus v;
  v.taskId = TaskID(toStd(r.getTaskId()));
  v.state = decodeState(r.getState());
  v.message = toStd(r.getMessage());
  v.source = checkedEnum<Source>(static_cast<uint16_t>(r.getSource()), 3, "status source");
  if (r.getHasReason()) {
    v.reason = checkedEnum<Reason>(static_cast<uint16_t>(r.getReason()), kReasonCount, "reason");
  }
  v.data = toStd(r.getData());
  v.agentId = AgentID(toStd(r.getAgentId()));
  v.executorId = ExecutorID(toStd(r.getExecutorId()));
  v.timestamp = finiteOr(r.getTimestamp(), 0, "status timestamp");
  v.uuid = toStd(r.getUuid());
  if (!v.uuid.empty() && v.uuid.size() != 16) throw CodecError("status uuid is not 16 bytes");
  if (r.getHasHealthy()) v.healthy = r.getHealthy();
  v.labels = decodeLabels(r.getLabels());
  if (r.getHasExitStatus()) v.exitStatus = r.getExitStatus();
  return v;
}

// ---- FrameworkInfo ----
void encode(const FrameworkInfo& v, proto::FrameworkInfo::Builder b) {
  b.setUser(txt(v.user));
  b.setName(txt(v.name));
  if (v.id) b.setId(txt(v.id->value));
  b.setFailoverTimeoutSecs(v.failoverTimeoutSecs);
  b.setCheckpoint(v.checkpoint);
  if (!v.roles.empty()) encodeTexts(v.roles, b.initRoles(v.roles.size()));
  b.setHostname(txt(v.hostname));
  b.setPrincipal(txt(v.principal));
  b.setWebuiUrl(txt(v.webuiUrl));
  if (!v.capabilities.empty()) {
    auto l = b.initCapabilities(v.capabilities.size());
    for (size_t i = 0; i < v.capabilities.size(); ++i) {
      l.set(i, static_cast<proto::FrameworkCapability>(static_cast<uint16_t>(v.capabilities[i])));
    }
  }
  if (!v.labels.empty()) encodeLabels(v.labels, b.initLabels(v.labels.size()));
}

FrameworkInfo decode(proto::FrameworkInfo::Reader r) {
  FrameworkInfo v;
  v.user = toStd(r.getUser());
  v.name = toStd(r.getName());
  if (r.getId().size() > 0) v.id = FrameworkID(toStd(r.getId()));
  v.failoverTimeoutSecs = finiteOr(r.getFailoverTimeoutSecs(), 0, "failover timeout");
  if (v.failoverTimeoutSecs < 0) throw CodecError("failover timeout is negative");
  v.checkpoint = r.getCheckpoint();
  v.roles = decodeTexts(r.getRoles());
  v.hostname = toStd(r.getHostname());
  v.principal = toStd(r.getPrincipal());
  v.webuiUrl = toStd(r.getWebuiUrl());
  for (auto c : r.getCapabilities()) {
    // Unknown capabilities (from newer peers) are ignored, as Mesos does.
    auto raw = static_cast<uint16_t>(c);
    if (raw <= 8) v.capabilities.push_back(static_cast<FrameworkCapability>(raw));
  }
  v.labels = decodeLabels(r.getLabels());
  return v;
}

// ---- AgentInfo ----
void encode(const AgentInfo& v, proto::AgentInfo::Builder b) {
  b.setHostname(txt(v.hostname));
  b.setPort(v.port);
  if (v.id) b.setId(txt(v.id->value));
  encodeResources(v.resources, b.initResources(v.resources.size()));
  encodeList(v.attributes, b.initAttributes(v.attributes.size()));
  b.setIp(txt(v.ip));
}

AgentInfo decode(proto::AgentInfo::Reader r) {
  AgentInfo v;
  v.hostname = toStd(r.getHostname());
  v.port = r.getPort();
  if (r.getId().size() > 0) v.id = AgentID(toStd(r.getId()));
  v.resources = decodeResources(r.getResources());
  for (auto a : r.getAttributes()) v.attributes.push_back(decode(a));
  v.ip = toStd(r.getIp());
  return v;
}

// ---- MasterInfo ----
void encode(const MasterInfo& v, proto::MasterInfo::Builder b) {
  b.setId(txt(v.id.value));
  b.setIp(txt(v.ip));
  b.setPort(v.port);
  b.setHostname(txt(v.hostname));
  b.setVersion(txt(v.version));
  b.setMessageAddress(txt(v.messageAddress));
}

MasterInfo decode(proto::MasterInfo::Reader r) {
  MasterInfo v;
  v.id = MasterID(toStd(r.getId()));
  v.ip = toStd(r.getIp());
  v.port = r.getPort();
  v.hostname = toStd(r.getHostname());
  v.version = toStd(r.getVersion());
  v.messageAddress = toStd(r.getMessageAddress());
  return v;
}

// ---- Filters ----
void encode(const Filters& v, proto::Filters::Builder b) { b.setRefuseSeconds(v.refuseSeconds); }
Filters decode(proto::Filters::Reader r) {
  Filters v;
  v.refuseSeconds = r.getRefuseSeconds();
  // Mesos treats invalid refuse_seconds as the default (5 seconds).
  if (!std::isfinite(v.refuseSeconds) || v.refuseSeconds < 0) v.refuseSeconds = 5.0;
  return v;
}

// ---- Unavailability ----
void encode(const Unavailability& v, proto::Unavailability::Builder b) {
  b.setStartNanos(v.start.count());
  if (v.duration) {
    b.setHasDuration(true);
    b.setDurationNanos(v.duration->count());
  }
}

Unavailability decode(proto::Unavailability::Reader r) {
  Unavailability v;
  v.start = std::chrono::nanoseconds(r.getStartNanos());
  if (r.getHasDuration()) {
    if (r.getDurationNanos() < 0) throw CodecError("negative unavailability duration");
    v.duration = std::chrono::nanoseconds(r.getDurationNanos());
  }
  return v;
}

// ---- Offer ----
void encode(const Offer& v, proto::Offer::Builder b) {
  b.setId(txt(v.id.value));
  b.setFrameworkId(txt(v.frameworkId.value));
  b.setAgentId(txt(v.agentId.value));
  b.setHostname(txt(v.hostname));
  encodeResources(v.resources, b.initResources(v.resources.size()));
  encodeList(v.attributes, b.initAttributes(v.attributes.size()));
  if (!v.executorIds.empty()) {
    auto l = b.initExecutorIds(v.executorIds.size());
    for (size_t i = 0; i < v.executorIds.size(); ++i) l.set(i, txt(v.executorIds[i].value));
  }
  b.setAllocationRole(txt(v.allocationRole));
  b.setUrl(txt(v.url));
  if (v.unavailability) encode(*v.unavailability, b.initUnavailability());
}

Offer decode(proto::Offer::Reader r) {
  Offer v;
  v.id = OfferID(toStd(r.getId()));
  v.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  v.agentId = AgentID(toStd(r.getAgentId()));
  v.hostname = toStd(r.getHostname());
  v.resources = decodeResources(r.getResources());
  for (auto a : r.getAttributes()) v.attributes.push_back(decode(a));
  for (auto e : r.getExecutorIds()) v.executorIds.push_back(ExecutorID(toStd(e)));
  v.allocationRole = toStd(r.getAllocationRole());
  v.url = toStd(r.getUrl());
  if (r.hasUnavailability()) v.unavailability = decode(r.getUnavailability());
  return v;
}

// ---- Operation ----
void encode(const Offer::Operation& v, proto::Operation::Builder b) {
  using T = Offer::Operation::Type;
  switch (v.type) {
    case T::UNKNOWN:
      b.setUnknown();
      break;
    case T::LAUNCH:
      encodeList(v.tasks, b.initLaunch(v.tasks.size()));
      break;
    case T::RESERVE:
      encodeResources(v.resources, b.initReserve(v.resources.size()));
      break;
    case T::UNRESERVE:
      encodeResources(v.resources, b.initUnreserve(v.resources.size()));
      break;
    case T::CREATE:
      encodeResources(v.resources, b.initCreate(v.resources.size()));
      break;
    case T::DESTROY:
      encodeResources(v.resources, b.initDestroy(v.resources.size()));
      break;
    case T::LAUNCH_GROUP: {
      auto g = b.initLaunchGroup();
      if (v.executor) encode(*v.executor, g.initExecutor());
      encodeList(v.tasks, g.initTasks(v.tasks.size()));
      break;
    }
  }
}

Offer::Operation decode(proto::Operation::Reader r) {
  using T = Offer::Operation::Type;
  Offer::Operation v;
  switch (r.which()) {
    case proto::Operation::UNKNOWN:
      v.type = T::UNKNOWN;
      break;
    case proto::Operation::LAUNCH:
      v.type = T::LAUNCH;
      for (auto t : r.getLaunch()) v.tasks.push_back(decode(t));
      break;
    case proto::Operation::RESERVE:
      v.type = T::RESERVE;
      v.resources = decodeResources(r.getReserve());
      break;
    case proto::Operation::UNRESERVE:
      v.type = T::UNRESERVE;
      v.resources = decodeResources(r.getUnreserve());
      break;
    case proto::Operation::CREATE:
      v.type = T::CREATE;
      v.resources = decodeResources(r.getCreate());
      break;
    case proto::Operation::DESTROY:
      v.type = T::DESTROY;
      v.resources = decodeResources(r.getDestroy());
      break;
    case proto::Operation::LAUNCH_GROUP: {
      v.type = T::LAUNCH_GROUP;
      auto g = r.getLaunchGroup();
      if (g.hasExecutor()) v.executor = decode(g.getExecutor());
      for (auto t : g.getTasks()) v.tasks.push_back(decode(t));
      break;
    }
    default:
      // An operation this version does not know; the master rejects it.
      v.type = T::UNKNOWN;
      break;
  }
  return v;
}

// ---- Task ----
void encode(const Task& v, proto::Task::Builder b) {
  b.setTaskId(txt(v.taskId.value));
  b.setName(txt(v.name));
  b.setFrameworkId(txt(v.frameworkId.value));
  b.setExecutorId(txt(v.executorId.value));
  b.setAgentId(txt(v.agentId.value));
  b.setState(encodeState(v.state));
  encodeResources(v.resources, b.initResources(v.resources.size()));
  encodeList(v.statuses, b.initStatuses(v.statuses.size()));
  if (!v.labels.empty()) encodeLabels(v.labels, b.initLabels(v.labels.size()));
  if (v.statusUpdateState) {
    b.setHasStatusUpdateState(true);
    b.setStatusUpdateState(encodeState(*v.statusUpdateState));
  }
  if (!v.statusUpdateUuid.empty()) b.setStatusUpdateUuid(dataOf(v.statusUpdateUuid));
}

Task decode(proto::Task::Reader r) {
  Task v;
  v.taskId = TaskID(toStd(r.getTaskId()));
  v.name = toStd(r.getName());
  v.frameworkId = FrameworkID(toStd(r.getFrameworkId()));
  v.executorId = ExecutorID(toStd(r.getExecutorId()));
  v.agentId = AgentID(toStd(r.getAgentId()));
  v.state = decodeState(r.getState());
  v.resources = decodeResources(r.getResources());
  for (auto s : r.getStatuses()) v.statuses.push_back(decode(s));
  v.labels = decodeLabels(r.getLabels());
  if (r.getHasStatusUpdateState()) v.statusUpdateState = decodeState(r.getStatusUpdateState());
  v.statusUpdateUuid = toStd(r.getStatusUpdateUuid());
  return v;
}

}  // namespace tutti::codec
