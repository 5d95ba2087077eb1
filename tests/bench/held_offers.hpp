// HeldOffers: the offers an emulated framework holds, oldest first and found
// by agent, so that an accept can gather every held offer of one agent
// without walking all of them.
//
// At 50,000 agents a busy emulated framework holds a few thousand small
// offers (the pieces finished tasks free one at a time); a scan per accept,
// and an erase from the middle of a deque, made that quadratic on the CPU the
// emulators share with the master they measure.
//
// Not thread-safe: the framework emulator guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "tutti/types.hpp"

namespace tutti::bench {

class HeldOffers {
 public:
  // `tasksIn`: how many of the holder's tasks one offer fits on its own
  // (capacity() sums it); none: capacity() stays 0.
  explicit HeldOffers(std::function<int64_t(const Offer&)> tasksIn = {})
      : tasksIn_(std::move(tasksIn)) {}

  void add(Offer offer);
  bool empty() const { return order_.empty(); }
  size_t size() const { return order_.size(); }
  const Offer& oldest() const { return order_.front(); }
  // Tasks the held offers fit, each offer counted on its own: a lower
  // bound, as pieces of one agent's resources fit more together.
  int64_t capacity() const { return capacity_; }

  // Removes and returns the oldest offer and every other held offer of the
  // same agent and allocation role (Mesos accepts several offers of one
  // agent at once), oldest first. Requires !empty().
  std::vector<Offer> takeOldestWithItsAgent();
  // Removes the oldest offer. Requires !empty().
  void dropOldest();
  // Removes the offer with this id, if held.
  void erase(const OfferID& id);
  // Removes every offer and returns their ids, oldest first.
  std::vector<OfferID> takeAllIds();
  void clear();

 private:
  using Slot = std::list<Offer>::iterator;
  static std::string keyOf(const Offer& offer);
  void unindex(Slot slot);
  int64_t tasksIn(const Offer& offer) const { return tasksIn_ ? tasksIn_(offer) : 0; }

  std::function<int64_t(const Offer&)> tasksIn_;
  int64_t capacity_ = 0;

  std::list<Offer> order_;  // oldest first
  // Agent id and role -> its offers' slots, oldest first.
  std::unordered_map<std::string, std::vector<Slot>> byAgent_;
};

}  // namespace tutti::bench
