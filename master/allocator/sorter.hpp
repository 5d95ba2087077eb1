// DrfSorter: the clients of one level of the role tree (child roles, or the
// frameworks of one role) in ascending order of weighted dominant share.
//
// A client's dominant share is the largest, over the resource names in the
// ShareBasis, of (its allocation of that name / the cluster's total of it);
// the sorter orders by that share divided by the client's weight. Names left
// out of fair sharing (AllocatorOptions::fairSharingExcludedResourceNames)
// and non-scalar resources have no denominator in the basis, so they never
// count. Ties go to the client offered fewer times (so equal clients take
// turns), then to the one added first (deterministic, and no string
// comparisons on the hot path).
//
// Kept sorted incrementally: a change to one client's allocation, weight or
// activity recomputes that client's share and moves that one entry
// (O(names + log clients)); nothing else moves, because no other share
// depends on it. Only a change of the cluster totals (a new ShareBasis
// version: agents added, removed or resized) changes every share; the sorter
// notices the new version on its next use and re-sorts once (O(n log n)).
//
// Quantities are ScalarVec: thousandths per resource-name id, ids handed out
// by ResourceNames. Only active clients are in the order; inactive ones keep
// their allocation (it still counts towards their parents' shares).
//
// Ownership: the sorter owns its client records; the ShareBasis is owned by
// the caller and must outlive the sorter. Handles stay valid until remove().
// Not thread-safe (the allocator's loop thread only). Misuse (an unknown
// handle) is a programming error and is checked with DCHECK-style asserts.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tutti::master {

// Scalar quantities in thousandths, indexed by resource-name id. Shorter
// vectors read as zero beyond their end.
using ScalarVec = std::vector<int64_t>;

// a += b (grows a as needed).
void addScalars(ScalarVec& a, const ScalarVec& b);
// a -= b (grows a as needed).
void subtractScalars(ScalarVec& a, const ScalarVec& b);
inline int64_t scalarAt(const ScalarVec& v, size_t i) { return i < v.size() ? v[i] : 0; }
bool allZero(const ScalarVec& v);

// Interns resource names into small dense ids for ScalarVec. Ids are never
// reused; there are only as many as distinct names ever seen (a handful).
class ResourceNames {
 public:
  // The id of `name`, assigning the next one for a new name.
  size_t id(std::string_view name);
  // The id of `name`, or -1 when it was never seen.
  long find(std::string_view name) const;
  const std::string& name(size_t id) const { return names_[id]; }
  size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;  // linear search: a handful of names beats hashing
};

// The denominators of dominant shares: 1 / cluster total per name id, 0 for
// excluded names and names the cluster has none of. `version` changes with
// every new basis so that sorters re-sort.
struct ShareBasis {
  std::vector<double> inverseTotal;
  uint64_t version = 0;
};

class DrfSorter {
 public:
  using Handle = uint32_t;

  // One entry of the order; `share` is the weighted dominant share.
  struct Entry {
    double share;
    uint64_t offers;
    uint64_t seq;  // order of add(): the last tie-breaker
    Handle handle;
  };

  explicit DrfSorter(const ShareBasis& basis);
  DrfSorter(const DrfSorter&) = delete;
  DrfSorter& operator=(const DrfSorter&) = delete;

  // A new client, inactive, with nothing allocated.
  Handle add(double weight = 1.0);
  void remove(Handle h);
  void setActive(Handle h, bool active);
  bool active(Handle h) const { return clients_[h].active; }
  void setWeight(Handle h, double weight);

  // Changes the client's allocation by +delta / -delta and re-positions it;
  // `countOffer` also counts one offer to it (the tie-breaker).
  void allocate(Handle h, const ScalarVec& delta, bool countOffer = false);
  void unallocate(Handle h, const ScalarVec& delta);
  // Counts one offer to the client (the tie-breaker); re-positions it.
  void countOffer(Handle h);

  const ScalarVec& allocation(Handle h) const { return clients_[h].allocation; }
  // Weighted dominant share under the current basis.
  double share(Handle h);
  size_t activeCount() const { return order_.size(); }

  // Active clients, lowest weighted share first. Any mutation of the sorter
  // invalidates iterators into it.
  const auto& order() {
    refresh();
    return order_;
  }

 private:
  struct Client {
    uint64_t seq = 0;
    double weight = 1.0;
    ScalarVec allocation;
    double share = 0;
    uint64_t offers = 0;
    bool active = false;
    bool used = false;  // false: a free slot
  };
  struct Less {
    bool operator()(const Entry& a, const Entry& b) const {
      if (a.share != b.share) return a.share < b.share;
      if (a.offers != b.offers) return a.offers < b.offers;
      return a.seq < b.seq;
    }
  };

  double computeShare(const Client& c) const;
  // Applies `change` to the client, re-computes its share and moves its
  // entry. The set node is re-used (extract/insert): no allocation.
  template <typename Change>
  void update(Handle h, Change change) {
    Client& c = clients_[h];
    if (!c.active) {
      change(c);
      c.share = computeShare(c);
      return;
    }
    auto node = order_.extract(entryOf(h));
    change(c);
    c.share = computeShare(c);
    node.value() = entryOf(h);
    order_.insert(std::move(node));
  }
  Entry entryOf(Handle h) const {
    const Client& c = clients_[h];
    return Entry{c.share, c.offers, c.seq, h};
  }
  // Re-computes every share when the basis changed since the last sort.
  void refresh();

  const ShareBasis& basis_;
  uint64_t basisVersion_ = 0;
  std::vector<Client> clients_;
  std::vector<Handle> freeSlots_;
  uint64_t nextSeq_ = 0;
  std::set<Entry, Less> order_;
};

}  // namespace tutti::master
