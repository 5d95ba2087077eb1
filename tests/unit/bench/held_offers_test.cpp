// HeldOffers (tests/bench/held_offers.hpp): the emulated frameworks' held
// offers, oldest first and gathered by agent and role.
#include "tests/bench/held_offers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tutti::bench {
namespace {

Offer offer(const std::string& id, const std::string& agent, const std::string& role = "r") {
  Offer o;
  o.id = OfferID(id);
  o.agentId = AgentID(agent);
  o.allocationRole = role;
  o.resources = *Resources::parse("cpus:1");
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

}  // namespace
}  // namespace tutti::bench
