#include "common/json_rope.hpp"

#include <algorithm>
#include <cstring>

namespace tutti::json {

void JsonRope::insert(std::shared_ptr<const std::string> fragment) {
  if (!fragment || fragment->empty()) return;
  inserts_.push_back({text_.size(), std::move(fragment)});
}

void JsonRope::seal() {
  segments_.clear();
  segments_.reserve(2 * inserts_.size() + 1);
  size_t offset = 0;
  size_t textAt = 0;
  auto add = [&](const char* data, size_t size) {
    if (size == 0) return;
    segments_.push_back({offset, data, size});
    offset += size;
  };
  for (const auto& ins : inserts_) {
    add(text_.data() + textAt, ins.at - textAt);
    textAt = ins.at;
    add(ins.fragment->data(), ins.fragment->size());
  }
  add(text_.data() + textAt, text_.size() - textAt);
  size_ = offset;
}

size_t JsonRope::copy(size_t offset, char* out, size_t n) const {
  if (offset >= size_ || n == 0) return 0;
  // The last segment that starts at or before `offset`.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](size_t o, const Segment& s) { return o < s.offset; });
  --it;
  size_t done = 0;
  size_t within = offset - it->offset;
  for (; it != segments_.end() && done < n; ++it, within = 0) {
    size_t take = std::min(it->size - within, n - done);
    std::memcpy(out + done, it->data + within, take);
    done += take;
  }
  return done;
}

std::string JsonRope::flatten() const {
  std::string out(size_, '\0');
  copy(0, out.data(), size_);
  return out;
}

}  // namespace tutti::json
