#include "master/offer_manager.hpp"

#include <glog/logging.h>

#include <algorithm>
#include <iterator>

#include "master/master.hpp"

namespace tutti::master {

OfferManager::OfferManager(Master& master)
    : master_(master),
      offersSent_(master.metrics().counter("master/outstanding_offers_sent")),
      offersDeclined_(master.metrics().counter("master/offers_declined")),
      offersRescinded_(master.metrics().counter("master/offers_rescinded")) {}

const OfferRecord* OfferManager::find(const OfferID& id) const {
  auto it = offers_.find(id);
  return it == offers_.end() ? nullptr : &it->second;
}

void OfferManager::onAllocation(
    const FrameworkID& frameworkId,
    const std::map<std::string, std::map<AgentID, Resources>>& resources) {
  FrameworkRecord* fw = master_.frameworks().find(frameworkId);
  if (!fw || fw->state != FrameworkState::kActive) {
    for (const auto& [role, byAgent] : resources) {
      for (const auto& [agentId, r] : byAgent) {
        master_.allocator().recoverResources(frameworkId, agentId, r, std::nullopt);
      }
    }
    return;
  }

  wire::OffersEvent event;
  for (const auto& [role, byAgent] : resources) {
    for (const auto& [agentId, r] : byAgent) {
      AgentRecord* agent = master_.agents().findRegistered(agentId);
      if (!agent) {
        master_.allocator().recoverResources(frameworkId, agentId, r, std::nullopt);
        continue;
      }
      Offer offer;
      offer.id = OfferID(master_.info().id.value + "-O" + std::to_string(nextOfferNumber_++));
      offer.frameworkId = frameworkId;
      offer.agentId = agentId;
      offer.resources = r;
      offer.allocationRole = role;
      offer.unavailability = master_.maintenance().unavailabilityOf(agent->info);
      // The master keeps the offer as it stands here: what accepts, declines
      // and the state endpoints read. Hostname, url, attributes and executor
      // ids, added below, only go to the framework (about a third of the
      // offer's memory; a large cluster holds a few offers per agent).
      OfferRecord& rec = offers_[offer.id];
      rec.offer = std::make_shared<const Offer>(offer);
      offer.hostname = agent->info.hostname;
      offer.attributes = agent->info.attributes;
      auto ex = agent->executors.find(frameworkId);
      if (ex != agent->executors.end()) {
        for (const auto& [exId, _] : ex->second) offer.executorIds.push_back(exId);
      }
      offer.url = "http://" + agent->info.hostname + ":" + std::to_string(agent->info.port);
      if (master_.options().offerTimeout) {
        OfferID id = offer.id;
        rec.timeoutTimer = master_.loop().after(*master_.options().offerTimeout,
                                                "master.offer_timeout",
                                                [this, id] { onOfferTimeout(id); });
      }
      agent->offers.insert(offer.id);
      agent->offered += r;
      fw->offers.insert(offer.id);
      fw->offered += r;
      event.offers.push_back(std::move(offer));
    }
  }
  if (event.offers.empty()) return;
  offersSent_.inc(static_cast<int64_t>(event.offers.size()));
  VLOG(1) << "Sending " << event.offers.size() << " offers to framework " << frameworkId;
  // One event per kMaxOffersPerEvent offers: a framework that gets a whole
  // large cluster at once must not get a frame beyond the decode limit.
  // A failed send disconnects the framework, which withdraws these offers.
  // Moved into the payload: an OffersEvent converted from an lvalue would
  // copy every offer in it once more.
  if (event.offers.size() <= kMaxOffersPerEvent) {
    master_.frameworks().send(*fw, std::move(event));
    return;
  }
  for (size_t i = 0; i < event.offers.size(); i += kMaxOffersPerEvent) {
    size_t end = std::min(event.offers.size(), i + kMaxOffersPerEvent);
    wire::OffersEvent part;
    part.offers.assign(std::make_move_iterator(event.offers.begin() + static_cast<long>(i)),
                       std::make_move_iterator(event.offers.begin() + static_cast<long>(end)));
    if (!master_.frameworks().send(*fw, std::move(part))) return;
  }
}

void OfferManager::erase(std::unordered_map<OfferID, OfferRecord>::iterator it) {
  const Offer& offer = *it->second.offer;
  if (it->second.timeoutTimer) master_.loop().cancel(it->second.timeoutTimer);
  if (AgentRecord* agent = master_.agents().find(offer.agentId)) {
    agent->offers.erase(offer.id);
    agent->offered -= offer.resources;
  }
  if (FrameworkRecord* fw = master_.frameworks().find(offer.frameworkId)) {
    fw->offers.erase(offer.id);
    fw->offered -= offer.resources;
  }
  offers_.erase(it);
}

std::shared_ptr<const Offer> OfferManager::take(const OfferID& id) {
  auto it = offers_.find(id);
  if (it == offers_.end()) return nullptr;
  std::shared_ptr<const Offer> offer = it->second.offer;
  erase(it);
  return offer;
}

void OfferManager::remove(const OfferID& id, const std::optional<Filters>& filters) {
  auto it = offers_.find(id);
  if (it != offers_.end()) removeAt(it, filters);
}

void OfferManager::removeAt(std::unordered_map<OfferID, OfferRecord>::iterator it,
                            const std::optional<Filters>& filters) {
  std::shared_ptr<const Offer> offer = it->second.offer;
  erase(it);
  master_.allocator().recoverResources(offer->frameworkId, offer->agentId, offer->resources,
                                       filters);
  master_.requestAllocation();
}

void OfferManager::onDecline(const ConnectionId& from, const wire::DeclineCall& m) {
  FrameworkRecord* fw = master_.frameworks().authorize(from, m.frameworkId, "DECLINE");
  if (!fw) return;
  for (const auto& id : m.offerIds) {
    auto it = offers_.find(id);
    if (it == offers_.end() || it->second.offer->frameworkId != fw->id) {
      VLOG(1) << "Ignoring decline of unknown offer " << id;
      continue;
    }
    offersDeclined_.inc();
    removeAt(it, m.filters);
  }
}

void OfferManager::rescindOffersOfAgent(const AgentID& agentId) {
  AgentRecord* agent = master_.agents().find(agentId);
  if (!agent) return;
  std::vector<OfferID> ids(agent->offers.begin(), agent->offers.end());
  for (const auto& id : ids) {
    auto it = offers_.find(id);
    if (it == offers_.end()) continue;
    FrameworkID fwId = it->second.offer->frameworkId;
    erase(it);
    offersRescinded_.inc();
    if (FrameworkRecord* fw = master_.frameworks().find(fwId)) {
      master_.frameworks().send(*fw, wire::RescindEvent{id});
    }
  }
}

void OfferManager::rescindOffersOfAgentAndRecover(const AgentID& agentId) {
  AgentRecord* agent = master_.agents().find(agentId);
  if (!agent) return;
  std::vector<OfferID> ids(agent->offers.begin(), agent->offers.end());
  for (const auto& id : ids) {
    auto it = offers_.find(id);
    if (it == offers_.end()) continue;
    FrameworkID fwId = it->second.offer->frameworkId;
    offersRescinded_.inc();
    if (FrameworkRecord* fw = master_.frameworks().find(fwId)) {
      master_.frameworks().send(*fw, wire::RescindEvent{id});
    }
    remove(id, std::nullopt);
  }
}

void OfferManager::removeOffersOfFramework(const FrameworkID& frameworkId, bool rescind) {
  FrameworkRecord* fw = master_.frameworks().find(frameworkId);
  if (!fw) return;
  std::vector<OfferID> ids(fw->offers.begin(), fw->offers.end());
  for (const auto& id : ids) {
    if (rescind) {
      offersRescinded_.inc();
      master_.frameworks().send(*fw, wire::RescindEvent{id});
    }
    remove(id, std::nullopt);
  }
}

void OfferManager::onOfferTimeout(const OfferID& id) {
  auto it = offers_.find(id);
  if (it == offers_.end()) return;
  it->second.timeoutTimer = 0;
  FrameworkID fwId = it->second.offer->frameworkId;
  LOG(INFO) << "Offer " << id << " to framework " << fwId << " timed out";
  offersRescinded_.inc();
  if (FrameworkRecord* fw = master_.frameworks().find(fwId)) {
    master_.frameworks().send(*fw, wire::RescindEvent{id});
  }
  remove(id, std::nullopt);
}

}  // namespace tutti::master
