#include "master/allocator/sorter.hpp"

#include <algorithm>
#include <cassert>

namespace tutti::master {

void addScalars(ScalarVec& a, const ScalarVec& b) {
  if (a.size() < b.size()) a.resize(b.size(), 0);
  for (size_t i = 0; i < b.size(); ++i) a[i] += b[i];
}

void subtractScalars(ScalarVec& a, const ScalarVec& b) {
  if (a.size() < b.size()) a.resize(b.size(), 0);
  for (size_t i = 0; i < b.size(); ++i) a[i] -= b[i];
}

bool allZero(const ScalarVec& v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

size_t ResourceNames::id(std::string_view name) {
  long found = find(name);
  if (found >= 0) return static_cast<size_t>(found);
  names_.emplace_back(name);
  return names_.size() - 1;
}

long ResourceNames::find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<long>(i);
  }
  return -1;
}

DrfSorter::DrfSorter(const ShareBasis& basis)
    : basis_(basis), basisVersion_(basis.version) {}

DrfSorter::Handle DrfSorter::add(double weight) {
  Handle h;
  if (!freeSlots_.empty()) {
    h = freeSlots_.back();
    freeSlots_.pop_back();
  } else {
    h = static_cast<Handle>(clients_.size());
    clients_.emplace_back();
  }
  Client& c = clients_[h];
  c = Client{};
  c.seq = nextSeq_++;
  c.weight = weight > 0 ? weight : 1.0;
  c.used = true;
  c.share = computeShare(c);
  return h;
}

void DrfSorter::remove(Handle h) {
  assert(h < clients_.size() && clients_[h].used);
  if (clients_[h].active) order_.erase(entryOf(h));
  clients_[h] = Client{};
  freeSlots_.push_back(h);
}

void DrfSorter::setActive(Handle h, bool active) {
  Client& c = clients_[h];
  assert(c.used);
  if (c.active == active) return;
  c.active = active;
  if (active) {
    c.share = computeShare(c);
    order_.insert(entryOf(h));
  } else {
    order_.erase(entryOf(h));
  }
}

void DrfSorter::setWeight(Handle h, double weight) {
  update(h, [&](Client& c) { c.weight = weight > 0 ? weight : 1.0; });
}

void DrfSorter::allocate(Handle h, const ScalarVec& delta, bool countOffer) {
  update(h, [&](Client& c) {
    addScalars(c.allocation, delta);
    if (countOffer) ++c.offers;
  });
}

void DrfSorter::unallocate(Handle h, const ScalarVec& delta) {
  update(h, [&](Client& c) { subtractScalars(c.allocation, delta); });
}

void DrfSorter::countOffer(Handle h) {
  update(h, [](Client& c) { ++c.offers; });
}

double DrfSorter::share(Handle h) {
  refresh();
  return clients_[h].share;
}

double DrfSorter::computeShare(const Client& c) const {
  const auto& inverse = basis_.inverseTotal;
  size_t n = std::min(inverse.size(), c.allocation.size());
  double dominant = 0;
  for (size_t i = 0; i < n; ++i) {
    dominant = std::max(dominant, static_cast<double>(c.allocation[i]) * inverse[i]);
  }
  return dominant / c.weight;
}

void DrfSorter::refresh() {
  if (basisVersion_ == basis_.version) return;
  basisVersion_ = basis_.version;
  order_.clear();
  for (Handle h = 0; h < clients_.size(); ++h) {
    Client& c = clients_[h];
    if (!c.used) continue;
    c.share = computeShare(c);
    if (c.active) order_.insert(entryOf(h));
  }
}

}  // namespace tutti::master
