#include "common/json_rope.hpp"
#include "common/json_writer.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "common/json.hpp"

namespace tutti::json {
namespace {

std::string write(const std::function<void(JsonWriter&)>& fn) {
  std::string out;
  JsonWriter w(&out);
  fn(w);
  return out;
}

TEST(JsonWriterTest, MatchesDumpForEveryKindOfValue) {
  Json expected = {{"a", 1},        {"b", 1.5},  {"c", 65536.0}, {"d", "x\"y\\z\n\t\x01"},
                   {"e", true},     {"f", nullptr}, {"g", Json::array({1, 2})},
                   {"h", Json::object()}, {"i", -3}, {"j", 0.001}};
  std::string text = write([](JsonWriter& w) {
    w.beginObject();
    w.field("a", 1).field("b", 1.5).field("c", 65536.0).field("d", "x\"y\\z\n\t\x01");
    w.field("e", true);
    w.key("f").null();
    w.key("g").beginArray().value(1).value(2).endArray();
    w.key("h").beginObject().endObject();
    w.field("i", int64_t{-3}).field("j", 0.001);
    w.endObject();
  });
  EXPECT_EQ(Json::parse(text), expected);
  EXPECT_EQ(text, dump(expected));  // same keys in the same (sorted) order
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  EXPECT_EQ(write([](JsonWriter& w) {
              w.beginArray().value(std::numeric_limits<double>::infinity()).value(std::nan(""));
              w.endArray();
            }),
            "[null,null]");
}

TEST(JsonWriterTest, InvalidUtf8IsReplacedAsDumpDoes) {
  std::string bad = "ok\xff\xc3(\xe2\x82\xac";  // 0xff, a truncated sequence, then a valid euro
  std::string text = write([&](JsonWriter& w) { w.value(bad); });
  EXPECT_EQ(text, dump(Json(bad)));
  EXPECT_FALSE(Json::parse(text, nullptr, false).is_discarded());
}

TEST(JsonWriterTest, RawValuesAreSeparated) {
  EXPECT_EQ(write([](JsonWriter& w) {
              w.beginArray().raw("{\"x\":1}").raw("2").endArray();
            }),
            "[{\"x\":1},2]");
}

TEST(JsonRopeTest, SharedFragmentsReadBackAsTheSameTextAtAnyOffsetAndChunk) {
  auto frag = [](std::string s) { return std::make_shared<const std::string>(std::move(s)); };
  auto writeDoc = [&](JsonWriter& w) {
    w.beginObject().key("tasks").beginArray();
    w.shared(frag("{\"id\":\"a\"}"));  // right after the array opens
    w.shared(frag("{\"id\":\"b\"}"));  // back to back: only a comma between
    w.shared(frag(""));                   // empty: still a (malformed) member, as raw("")
    w.value(3);
    w.shared(frag("{\"id\":\"c\"}"));
    w.endArray().field("n", 3).endObject();
  };
  std::string flat;
  JsonWriter fw(&flat);
  writeDoc(fw);

  JsonRope rope;
  JsonWriter rw(&rope);
  writeDoc(rw);
  rope.seal();
  ASSERT_EQ(rope.size(), flat.size());
  EXPECT_EQ(rope.flatten(), flat);
  // Every offset, several chunk sizes: the bytes are the flat document's.
  for (size_t chunk : {1u, 2u, 7u, 64u}) {
    for (size_t offset = 0; offset <= flat.size(); ++offset) {
      std::string got(chunk, '?');
      size_t n = rope.copy(offset, got.data(), chunk);
      ASSERT_EQ(n, std::min(chunk, flat.size() - offset)) << offset << " " << chunk;
      ASSERT_EQ(got.substr(0, n), flat.substr(offset, n)) << offset << " " << chunk;
    }
  }
  EXPECT_EQ(rope.copy(flat.size() + 5, nullptr, 10), 0u);
}

TEST(JsonRopeTest, AFragmentOnlyDocumentAndAnEmptyOne) {
  JsonRope only;
  JsonWriter w(&only);
  w.shared(std::make_shared<const std::string>("[1,2]"));
  only.seal();
  EXPECT_EQ(only.flatten(), "[1,2]");
  JsonRope empty;
  empty.seal();
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.flatten(), "");
}

}  // namespace
}  // namespace tutti::json
