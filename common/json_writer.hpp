// JsonWriter: writes JSON text straight into a string, for large documents
// (the master's /master/state) where building a nlohmann::json tree first
// would cost several times the text itself.
//
// Output matches json::dump(): doubles in their shortest round-trip form with
// a ".0" when integral, non-finite doubles as null, strings escaped with
// invalid UTF-8 replaced by U+FFFD. The caller keeps the structure right
// (key() only inside objects, one value after each key); misuse gives
// malformed text, never undefined behaviour.
//
// Not thread-safe; one writer per document.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::json {

class JsonRope;

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(*out) {}
  // Writes into the rope's text; shared() fragments go between it.
  explicit JsonWriter(JsonRope* rope);

  JsonWriter& beginObject();
  JsonWriter& endObject();
  JsonWriter& beginArray();
  JsonWriter& endArray();
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(double d);
  JsonWriter& value(int64_t i);
  JsonWriter& value(uint64_t i);
  JsonWriter& value(int i) { return value(static_cast<int64_t>(i)); }
  JsonWriter& value(unsigned i) { return value(static_cast<uint64_t>(i)); }
  JsonWriter& null();
  // Appends already serialized JSON as one value.
  JsonWriter& raw(std::string_view json);
  // As raw(), for a fragment that outlives the document: a rope keeps a
  // reference to it instead of a copy; a string gets a copy.
  JsonWriter& shared(std::shared_ptr<const std::string> json);

  // key(k).value(v)
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

 private:
  void separate();
  void string(std::string_view s);

  std::string& out_;
  JsonRope* rope_ = nullptr;
  // Per open container: whether it has a member yet.
  std::vector<bool> hasMember_;
  bool afterKey_ = false;
};

}  // namespace tutti::json
