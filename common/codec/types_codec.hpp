// Converts the shared value types (tutti/types.hpp) to and from their
// Cap'n Proto form (proto/types.capnp).
//
// encode* write into a builder and cannot fail. decode* read a reader and
// throw CodecError for content that is structurally valid Cap'n Proto but
// not a valid value (an invalid resource, an unknown enum value); Cap'n
// Proto itself throws kj::Exception for malformed bytes. Both are caught at
// the decode boundary (envelope_codec.hpp), never beyond it.
#pragma once

#include <stdexcept>
#include <string>

#include "proto/types.capnp.h"
#include "tutti/types.hpp"

namespace tutti::codec {

class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string toStd(capnp::Text::Reader text);
std::string toStd(capnp::Data::Reader data);
capnp::Data::Reader dataOf(const std::string& bytes);

void encode(const Label& v, proto::Label::Builder b);
Label decode(proto::Label::Reader r);
void encodeLabels(const Labels& v, capnp::List<proto::Label>::Builder b);
Labels decodeLabels(capnp::List<proto::Label>::Reader r);

void encode(const Resource& v, proto::Resource::Builder b);
Resource decode(proto::Resource::Reader r);
void encodeResources(const Resources& v, capnp::List<proto::Resource>::Builder b);
// Validates: throws CodecError for an invalid resource.
Resources decodeResources(capnp::List<proto::Resource>::Reader r);

void encode(const Attribute& v, proto::Attribute::Builder b);
Attribute decode(proto::Attribute::Reader r);

void encode(const CommandInfo& v, proto::CommandInfo::Builder b);
CommandInfo decode(proto::CommandInfo::Reader r);
void encode(const KillPolicy& v, proto::KillPolicy::Builder b);
KillPolicy decode(proto::KillPolicy::Reader r);
void encode(const ExecutorInfo& v, proto::ExecutorInfo::Builder b);
ExecutorInfo decode(proto::ExecutorInfo::Reader r);
void encode(const HealthCheck& v, proto::HealthCheck::Builder b);
HealthCheck decode(proto::HealthCheck::Reader r);
void encode(const ContainerInfo& v, proto::ContainerInfo::Builder b);
ContainerInfo decode(proto::ContainerInfo::Reader r);
void encode(const TaskInfo& v, proto::TaskInfo::Builder b);
TaskInfo decode(proto::TaskInfo::Reader r);
void encode(const TaskStatus& v, proto::TaskStatus::Builder b);
TaskStatus decode(proto::TaskStatus::Reader r);
void encode(const FrameworkInfo& v, proto::FrameworkInfo::Builder b);
FrameworkInfo decode(proto::FrameworkInfo::Reader r);
void encode(const AgentInfo& v, proto::AgentInfo::Builder b);
AgentInfo decode(proto::AgentInfo::Reader r);
void encode(const MasterInfo& v, proto::MasterInfo::Builder b);
MasterInfo decode(proto::MasterInfo::Reader r);
void encode(const Filters& v, proto::Filters::Builder b);
Filters decode(proto::Filters::Reader r);
void encode(const Unavailability& v, proto::Unavailability::Builder b);
Unavailability decode(proto::Unavailability::Reader r);
void encode(const Offer& v, proto::Offer::Builder b);
Offer decode(proto::Offer::Reader r);
void encode(const Offer::Operation& v, proto::Operation::Builder b);
Offer::Operation decode(proto::Operation::Reader r);
void encode(const Task& v, proto::Task::Builder b);
Task decode(proto::Task::Reader r);

proto::TaskState encodeState(TaskState s);
TaskState decodeState(proto::TaskState s);

// Lists of structs and of texts.
template <typename T, typename L>
void encodeList(const std::vector<T>& v, L builder) {
  for (size_t i = 0; i < v.size(); ++i) encode(v[i], builder[i]);
}
void encodeTexts(const std::vector<std::string>& v, capnp::List<capnp::Text>::Builder b);
std::vector<std::string> decodeTexts(capnp::List<capnp::Text>::Reader r);

}  // namespace tutti::codec
