// OfferManager: turns allocations into offers, and tracks them until they
// are accepted, declined, rescinded or time out (--offer_timeout).
// Loop thread only.
#pragma once

#include <map>
#include <unordered_map>
#include <optional>

#include "common/metrics.hpp"
#include "common/wire.hpp"
#include "master/state.hpp"

namespace tutti::master {

class Master;

class OfferManager {
 public:
  explicit OfferManager(Master& master);

  // The allocator's OfferCallback.
  void onAllocation(const FrameworkID& framework,
                    const std::map<std::string, std::map<AgentID, Resources>>& resources);
  void onDecline(const ConnectionId& from, const wire::DeclineCall& m);

  const OfferRecord* find(const OfferID& id) const;
  // Removes an offer that an accept uses; its resources stay allocated.
  // Null for an unknown offer.
  std::shared_ptr<const Offer> take(const OfferID& id);
  // Removes an offer and gives its resources back to the allocator.
  void remove(const OfferID& id, const std::optional<Filters>& filters);
  // The agent is gone: its offers are rescinded, nothing is recovered.
  void rescindOffersOfAgent(const AgentID& agent);
  // Withdraws every offer on the agent (frameworks get RescindEvent) and
  // gives the resources back, e.g. before an operator reservation.
  void rescindOffersOfAgentAndRecover(const AgentID& agent);
  // The framework left or failed over: its offers are withdrawn and their
  // resources recovered; with `rescind`, it is told (RescindEvent).
  void removeOffersOfFramework(const FrameworkID& framework, bool rescind);

  size_t size() const { return offers_.size(); }
  // Offers sent in one OffersEvent at most (an offer encodes to ~1 KB).
  static constexpr size_t kMaxOffersPerEvent = 1000;
  const std::unordered_map<OfferID, OfferRecord>& all() const { return offers_; }

 private:
  void erase(std::unordered_map<OfferID, OfferRecord>::iterator it);
  // erase() and give the offer's resources back to the allocator.
  void removeAt(std::unordered_map<OfferID, OfferRecord>::iterator it,
                const std::optional<Filters>& filters);
  void onOfferTimeout(const OfferID& id);

  Master& master_;
  std::unordered_map<OfferID, OfferRecord> offers_;
  uint64_t nextOfferNumber_ = 0;
  Counter& offersSent_;
  Counter& offersDeclined_;
  Counter& offersRescinded_;
};

}  // namespace tutti::master
