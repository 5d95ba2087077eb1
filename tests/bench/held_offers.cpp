// See held_offers.hpp.
#include "tests/bench/held_offers.hpp"

#include <algorithm>

namespace tutti::bench {

std::string HeldOffers::keyOf(const Offer& offer) {
  std::string key = offer.agentId.value;
  key += '\0';
  key += offer.allocationRole;
  return key;
}

void HeldOffers::add(Offer offer) {
  std::string key = keyOf(offer);
  capacity_ += tasksIn(offer);
  order_.push_back(std::move(offer));
  byAgent_[std::move(key)].push_back(std::prev(order_.end()));
}

void HeldOffers::unindex(Slot slot) {
  auto it = byAgent_.find(keyOf(*slot));
  if (it == byAgent_.end()) return;
  auto& slots = it->second;
  slots.erase(std::find(slots.begin(), slots.end(), slot));
  if (slots.empty()) byAgent_.erase(it);
}

std::vector<Offer> HeldOffers::takeOldestWithItsAgent() {
  auto it = byAgent_.find(keyOf(order_.front()));
  std::vector<Offer> out;
  out.reserve(it->second.size());
  // The oldest offer is the first of its agent's: the group comes out in
  // the order it arrived.
  for (Slot slot : it->second) {
    capacity_ -= tasksIn(*slot);
    out.push_back(std::move(*slot));
    order_.erase(slot);
  }
  byAgent_.erase(it);
  return out;
}

void HeldOffers::dropOldest() {
  capacity_ -= tasksIn(order_.front());
  unindex(order_.begin());
  order_.pop_front();
}

void HeldOffers::erase(const OfferID& id) {
  auto slot = std::find_if(order_.begin(), order_.end(),
                           [&](const Offer& o) { return o.id == id; });
  if (slot == order_.end()) return;
  capacity_ -= tasksIn(*slot);
  unindex(slot);
  order_.erase(slot);
}

std::vector<OfferID> HeldOffers::takeAllIds() {
  std::vector<OfferID> ids;
  ids.reserve(order_.size());
  for (auto& o : order_) ids.push_back(std::move(o.id));
  clear();
  return ids;
}

void HeldOffers::clear() {
  order_.clear();
  byAgent_.clear();
  capacity_ = 0;
}

}  // namespace tutti::bench
