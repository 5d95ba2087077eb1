// Parsing untrusted JSON: depth-bounded, never throwing.
#include <gtest/gtest.h>

#include <string>

#include "common/json.hpp"

namespace tutti::json {
namespace {

std::string nested(size_t depth) {
  return std::string(depth, '[') + "1" + std::string(depth, ']');
}

TEST(JsonTest, DepthIsBoundedBeforeParsing) {
  EXPECT_FALSE(nestedTooDeeply(nested(kMaxJsonDepth)));
  EXPECT_TRUE(nestedTooDeeply(nested(kMaxJsonDepth + 1)));
  EXPECT_EQ(parse(nested(kMaxJsonDepth)).size(), 1u);
  EXPECT_TRUE(parse(nested(kMaxJsonDepth + 1)).is_discarded());
  // Unbalanced openers count too (the text is never parsed).
  EXPECT_TRUE(parse(std::string(1000000, '{')).is_discarded());
  // Brackets inside strings, escaped quotes included, are not nesting.
  std::string inString = "{\"k\": \"" + std::string(500, '[') + "\\\"" + std::string(500, '{') + "\"}";
  EXPECT_FALSE(nestedTooDeeply(inString));
  EXPECT_TRUE(parse(inString).is_object());
  // Siblings do not add up.
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += (i ? "," : "") + nested(50);
  wide += "]";
  EXPECT_EQ(parse(wide).size(), 1000u);
}

TEST(JsonTest, ParseCheckedSaysWhatIsWrong) {
  auto deep = parseChecked(nested(200), "The request body");
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().message(),
            "The request body nests arrays or objects more than 100 levels deep");
  auto bad = parseChecked("{nope", "The request body");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "The request body is not valid JSON");
  auto ok = parseChecked(R"({"a": [1, 2]})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"].size(), 2u);
}

TEST(JsonTest, PersistentVolumesRoundTripInMesosFullForm) {
  Resources r{persistentVolume(64, {{ReservationInfo::Type::DYNAMIC, "eng", "alice", {}}}, "db",
                               "data", "alice")};
  Json full = resourcesFull(r);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0]["disk"]["persistence"]["id"], "db");
  EXPECT_EQ(full[0]["disk"]["volume"]["container_path"], "data");
  EXPECT_EQ(full[0]["disk"]["volume"]["mode"], "RW");
  auto back = parseResources(full);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, r);

  full[0]["disk"]["volume"]["mode"] = "RO";
  auto ro = parseResources(full);
  ASSERT_FALSE(ro.ok());
  EXPECT_NE(ro.error().find("read-only"), std::string::npos) << ro.error();
  full[0]["disk"] = {{"volume", {{"container_path", "x"}}}};
  EXPECT_FALSE(parseResources(full).ok());
  full[0]["disk"] = {{"persistence", {{"id", 7}}}, {"volume", {{"container_path", "x"}}}};
  EXPECT_FALSE(parseResources(full).ok());
  full[0]["disk"] = {{"persistence", {{"id", "db"}}},
                     {"volume", {{"container_path", "x"}}},
                     {"source", {{"type", "MOUNT"}}}};
  EXPECT_FALSE(parseResources(full).ok());
}

TEST(JsonTest, MesosPre14ReservationFormIsDynamic) {
  // As Mesos's /create-volumes documentation writes a volume.
  auto r = parseResources(Json::parse(R"([{"name": "disk", "type": "SCALAR",
      "scalar": {"value": 64}, "role": "eng", "reservation": {"principal": "ops"},
      "disk": {"persistence": {"id": "db", "principal": "ops"},
               "volume": {"mode": "RW", "container_path": "data"}}}])"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->toString(), "disk(reservations: [(DYNAMIC,eng,ops)])(volume: db,data,ops):64");
  auto statik = parseResources(Json::parse(R"([{"name": "cpus", "scalar": {"value": 1},
      "role": "eng"}])"));
  ASSERT_TRUE(statik.ok()) << statik.error();
  EXPECT_EQ(statik->toString(), "cpus(eng):1");
}

}  // namespace
}  // namespace tutti::json
