// HeldOffers (tests/bench/held_offers.hpp): the emulated frameworks' held
// offers, oldest first and gathered by agent and role.
#include "tests/bench/held_offers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tutti::bench {
namespace {

Offer offer(const std::string& id, const std::string& agent, const std::string& role = "r",
            const std::string& resources = "cpus:1") {
  Offer o;
  o.id = OfferID(id);
  o.agentId = AgentID(agent);
  o.allocationRole = role;
  o.resources = *Resources::parse(resources);
  return o;
}

std::vector<std::string> idsOf(const std::vector<Offer>& offers) {
  std::vector<std::string> out;
  for (const auto& o : offers) out.push_back(o.id.value);
  return out;
}

TEST(HeldOffersTest, TakesTheOldestWithEveryOfferOfItsAgentAndRole) {
  HeldOffers held;
  held.add(offer("o1", "a1"));
  held.add(offer("o2", "a2"));
  held.add(offer("o3", "a1"));
  held.add(offer("o4", "a1", "other"));  // same agent, another role: not grouped
  held.add(offer("o5", "a1"));
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o1", "o3", "o5"}));
  EXPECT_EQ(held.size(), 2u);
  EXPECT_EQ(held.oldest().id.value, "o2");
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o2"}));
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o4"}));
  EXPECT_TRUE(held.empty());
}

TEST(HeldOffersTest, ErasedAndDroppedOffersLeaveTheirAgentsGroup) {
  HeldOffers held;
  held.add(offer("o1", "a1"));
  held.add(offer("o2", "a1"));
  held.add(offer("o3", "a2"));
  held.add(offer("o4", "a1"));
  held.erase(OfferID("o2"));
  held.erase(OfferID("unknown"));
  held.dropOldest();  // o1
  EXPECT_EQ(held.size(), 2u);
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o3"}));
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o4"}));
  EXPECT_TRUE(held.empty());
}

TEST(HeldOffersTest, TakeAllIdsEmptiesInArrivalOrder) {
  HeldOffers held;
  held.add(offer("o1", "a1"));
  held.add(offer("o2", "a2"));
  held.add(offer("o3", "a1"));
  std::vector<OfferID> ids = held.takeAllIds();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0].value, "o1");
  EXPECT_EQ(ids[2].value, "o3");
  EXPECT_TRUE(held.empty());
  held.add(offer("o6", "a1"));  // nothing of the old index is left behind
  EXPECT_EQ(idsOf(held.takeOldestWithItsAgent()), (std::vector<std::string>{"o6"}));
}

TEST(HeldOffersTest, CapacityFollowsEveryWayAnOfferComesAndGoes) {
  // Tasks of cpus:0.5;mem:256, as the emulated frameworks count them.
  HeldOffers held([](const Offer& o) {
    return std::min(o.resources.scalarMillis("cpus") / 500, o.resources.scalarMillis("mem") / 256000);
  });
  held.add(offer("o1", "a1", "r", "cpus:2;mem:1024"));  // 4
  held.add(offer("o2", "a2", "r", "cpus:4;mem:512"));   // 2: memory bounds it
  held.add(offer("o3", "a1", "r", "cpus:0.25;mem:64"));  // none on its own
  held.add(offer("o4", "a3", "r", "cpus:1;mem:256"));   // 1
  EXPECT_EQ(held.capacity(), 7);
  held.erase(OfferID("o4"));
  EXPECT_EQ(held.capacity(), 6);
  held.takeOldestWithItsAgent();  // o1 and o3
  EXPECT_EQ(held.capacity(), 2);
  held.add(offer("o5", "a4", "r", "cpus:1;mem:512"));  // 2
  held.dropOldest();                                   // o2
  EXPECT_EQ(held.capacity(), 2);
  held.takeAllIds();
  EXPECT_EQ(held.capacity(), 0);
  HeldOffers uncounted;
  uncounted.add(offer("o6", "a1"));
  EXPECT_EQ(uncounted.capacity(), 0);
}

}  // namespace
}  // namespace tutti::bench
