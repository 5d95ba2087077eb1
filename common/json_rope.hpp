// JsonRope: a large JSON document kept as generated text with shared,
// already serialized fragments between it, instead of one contiguous copy.
//
// The master's /master/state at 100,000 tasks is ~70 MB, ~90% of it the
// tasks' JSON, which the state publisher caches per task. Copying those
// fragments into one fresh string per request batch cost more than
// everything else in serving it (the copy, and the page faults of a new
// 70 MB buffer each time); a rope only holds a reference to each fragment,
// and each response copies its bytes out in small chunks as it sends them.
//
// Build with a JsonWriter on the rope (JsonWriter::shared() inserts a
// fragment), then seal(); a sealed rope is immutable and may be read from
// any number of threads. The fragments are kept alive by the rope.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace tutti::json {

class JsonRope {
 public:
  JsonRope() = default;
  JsonRope(const JsonRope&) = delete;
  JsonRope& operator=(const JsonRope&) = delete;

  // While building: the generated text, appended to by a JsonWriter.
  std::string& text() { return text_; }
  // While building: `fragment` follows the text written so far.
  void insert(std::shared_ptr<const std::string> fragment);
  // Ends building: computes the layout that reads use.
  void seal();

  // After seal(): the document's length in bytes.
  size_t size() const { return size_; }
  // After seal(): copies up to `n` bytes of the document from `offset` into
  // `out`; returns how many (0 at or past the end).
  size_t copy(size_t offset, char* out, size_t n) const;
  // After seal(): the document as one string (tests, small documents).
  std::string flatten() const;

 private:
  struct Insert {
    size_t at;  // offset in text_ it follows
    std::shared_ptr<const std::string> fragment;
  };
  struct Segment {
    size_t offset;  // in the document
    const char* data;
    size_t size;
  };
  std::string text_;
  std::vector<Insert> inserts_;
  std::vector<Segment> segments_;  // after seal(), in document order
  size_t size_ = 0;
};

}  // namespace tutti::json
