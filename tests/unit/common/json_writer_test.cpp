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

}  // namespace
}  // namespace tutti::json
