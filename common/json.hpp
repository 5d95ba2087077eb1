// JSON forms of the value types, shaped as Mesos's HTTP endpoints shape them
// (so that tools that read Mesos's /master/state read ours).
#pragma once

#include <nlohmann/json.hpp>

#include "tutti/types.hpp"

namespace tutti::json {

using Json = nlohmann::json;

// {"cpus": 1.5, "mem": 128, "disk": 0, "gpus": 0, "ports": "[31000-32000]"}:
// scalars summed by name (cpus, mem, disk and gpus always present), ranges
// and sets in their text form.
Json resources(const Resources& r);
// Mesos's full form: [{"name","type","scalar":{"value"}|"ranges":{"range":[]}
// |"set":{"item":[]},"role","reservations":[...],"allocation_info":{"role"},
// "disk":{"persistence":{"id","principal"},"volume":{"mode","container_path"}}}]
// (disk: persistent volumes only).
Json resourcesFull(const Resources& r);
Json labels(const Labels& l);
// {"rack": "r1", "cores": 4}: values that parse as numbers are numbers.
Json attributes(const Attributes& a);
Json taskStatus(const TaskStatus& s);
Json commandInfo(const CommandInfo& c);
// Mesos's URI objects: value, executable, extract, cache, output_file (also
// tutti-fetcher's input, fetcher/fetcher.hpp).
Json commandUris(const std::vector<CommandURI>& uris);
Json frameworkCapabilities(const FrameworkInfo& f);

// Parses resources from JSON: either Mesos's text form in a string
// ("cpus:2;mem:512") or Mesos's JSON form, an array of
// {"name","type":"SCALAR"|"RANGES"|"SET","scalar":{"value"},"ranges":{"range":
// [{"begin","end"}]},"set":{"item":[]},"role","reservations":[{"type","role",
// "principal"}],"disk":{...}}, or an object {"cpus": 2, "mem": 512} of scalars. Never
// throws; errors say which entry is wrong.
Result<Resources> parseResources(const Json& j);

// MasterInfo as the masters publish it in ZooKeeper (json.info_ nodes) and
// in /master/state's leader_info: {"id", "hostname", "ip", "port",
// "address": {"hostname", "ip", "port"}, "version", "message_address",
// "pid"}.
Json masterInfo(const MasterInfo& info);
// Parses what masterInfo() wrote; a clear error for anything else.
Result<MasterInfo> parseMasterInfo(const std::string& text);

// Untrusted JSON (request bodies, registry manifests, job files) goes
// through these instead of Json::parse: a document nested deeper than
// kMaxJsonDepth arrays/objects is refused before it is parsed, because
// copying, comparing or destroying such a value recurses once per level
// (60,000 levels fit in 420 KB and overflow a thread's stack).
constexpr size_t kMaxJsonDepth = 100;
// True when `text` nests arrays/objects deeper than `maxDepth` (strings
// and escapes are skipped; the text need not be valid JSON).
bool nestedTooDeeply(std::string_view text, size_t maxDepth = kMaxJsonDepth);
// The parsed value, or a discarded one (is_discarded()) for malformed or too
// deeply nested text. Never throws.
Json parse(std::string_view text, size_t maxDepth = kMaxJsonDepth);
// As parse(), with an error that says which of the two it was.
Result<Json> parseChecked(std::string_view text, std::string_view what = "the JSON document",
                          size_t maxDepth = kMaxJsonDepth);

// Dumps without throwing on invalid UTF-8 (replaced with U+FFFD).
std::string dump(const Json& j, int indent = -1);

}  // namespace tutti::json
