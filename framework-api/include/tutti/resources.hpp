// Resources: the quantities an agent has and a task uses, with Mesos's
// text form and arithmetic.
//
// Text form (Mesos's): `cpus:4;mem:2048;disk:10000;ports:[31000-32000];
// gpus:0;cpus(eng):2;bugs:{a,b}`. `name(role)` is a static reservation for
// `role`; `*` is the unreserved pseudo-role. mem and disk are in MB.
// Scalars are kept in fixed point with three decimals (thousandths), so sums
// and differences are exact; parsing rounds to the nearest thousandth.
//
// Value type: copyable, no shared state, not thread-safe for concurrent
// mutation (like std::vector). Parsing never throws; malformed text gives an
// InvalidArgument Result whose message names the offending part.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tutti/status.hpp"

namespace tutti {

struct Label {
  std::string key;
  std::string value;
  bool operator==(const Label&) const = default;
};
using Labels = std::vector<Label>;

// An inclusive range of unsigned integers, as in `ports:[31000-32000]`.
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const Range&) const = default;
};

struct ReservationInfo {
  enum class Type { STATIC, DYNAMIC };
  Type type = Type::STATIC;
  std::string role;
  std::string principal;  // dynamic reservations: who reserved
  Labels labels;
  bool operator==(const ReservationInfo&) const = default;
};

// A persistent volume (Mesos's Resource.DiskInfo with persistence and a
// read-write volume): a `disk` scalar carved out of reserved disk by a
// CREATE operation. Its data lives on the agent, outside every sandbox, and
// outlives the tasks that use it until a DESTROY. A task that uses the
// volume sees it at `containerPath`, relative to its sandbox. Only RW
// volumes exist (as in Mesos, read-only persistent volumes are refused).
struct DiskInfo {
  std::string persistenceId;  // unique per role on an agent
  std::string principal;      // who created it (may be empty)
  std::string containerPath;  // relative to the sandbox, no `..`
  bool operator==(const DiskInfo&) const = default;
};

// An optional value kept on the heap, the size of a pointer when empty: a
// Resource is copied and kept by the million (every task's), and few are
// volumes. Compares by value, like std::optional.
template <typename T>
class HeapOptional {
 public:
  HeapOptional() = default;
  HeapOptional(std::nullopt_t) {}  // NOLINT: as std::optional
  HeapOptional(T value) : p_(std::make_unique<T>(std::move(value))) {}  // NOLINT
  HeapOptional(const HeapOptional& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  HeapOptional(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(const HeapOptional& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  HeapOptional& operator=(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(T value) {
    p_ = std::make_unique<T>(std::move(value));
    return *this;
  }
  bool has_value() const { return p_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  const T& operator*() const { return *p_; }
  T& operator*() { return *p_; }
  const T* operator->() const { return p_.get(); }
  T* operator->() { return p_.get(); }
  void reset() { p_.reset(); }
  friend bool operator==(const HeapOptional& a, const HeapOptional& b) {
    return a.has_value() == b.has_value() && (!a.has_value() || *a.p_ == *b.p_);
  }

 private:
  std::unique_ptr<T> p_;
};

// One named quantity of one kind (reservation stack, allocation role and,
// for persistent volumes, the volume).
struct Resource {
  enum class Type { SCALAR, RANGES, SET };

  std::string name;
  Type type = Type::SCALAR;
  int64_t scalarMillis = 0;       // SCALAR: thousandths of a unit
  std::vector<Range> ranges;      // RANGES: sorted, disjoint, coalesced
  std::set<std::string> set;      // SET
  std::vector<ReservationInfo> reservations;  // outermost first; empty: unreserved
  std::optional<std::string> allocationRole;  // set on offered and used resources
  HeapOptional<DiskInfo> disk;                // persistent volumes only


  // The role this resource is reserved for ("*" when unreserved).
  const std::string& reservationRole() const;
  bool isReserved() const { return !reservations.empty(); }
  bool isPersistentVolume() const { return disk.has_value(); }
  bool isEmpty() const;
  double scalar() const { return static_cast<double>(scalarMillis) / 1000.0; }

  // Same name, type, reservations, allocation role and volume: values can
  // be added.
  bool sameKind(const Resource& other) const;
  bool operator==(const Resource&) const = default;
};

// Returns an error unless `role` is a valid role name: not empty, not `.` or
// `..`, no leading `-`, no whitespace or control characters, `/`-separated
// components that are themselves not empty, `.`, `..` or `*` and do not
// start with `-`, none of `()[]{}:;,` (they delimit the text form). `*` is
// valid.
Status validateRoleName(std::string_view role);

// A persistence id: 1 to 255 of `A-Za-z0-9._-`, not `.` or `..` (it names a
// directory on the agent).
Status validatePersistenceId(std::string_view id);
// A volume's container path: relative, 1 to 4096 bytes, `/`-separated
// components none of which is empty, `.` or `..`, no whitespace, control
// characters or `()[]{}:;,`.
Status validateContainerPath(std::string_view path);

// Converts a decimal text ("0.5", "2048") to thousandths, rounding to the
// nearest. Rejects negatives, NaN, infinities, exponents and values above
// 2^53 thousandths.
Result<int64_t> parseScalarMillis(std::string_view text);
// Prints thousandths without trailing zeros ("0.5", "2048").
std::string formatScalarMillis(int64_t millis);

// A multiset of Resource kept in canonical form: one entry per kind, no empty
// entries, kinds in a stable order (by name, then type, reservations, role).
class Resources {
 public:
  Resources() = default;
  Resources(std::initializer_list<Resource> list);

  // Parses Mesos's text form. Entries without an explicit role are reserved
  // for `defaultRole` (unreserved when it is "*").
  static Result<Resources> parse(std::string_view text, std::string_view defaultRole = "*");
  // Validates then adds: returns an error for a malformed resource (empty
  // name, bad ranges, negative scalar, invalid role).
  static Result<Resources> fromList(const std::vector<Resource>& list);
  static Status validate(const Resource& resource);

  // Mesos's text form, extended for what Mesos writes only as JSON:
  // `(allocated: ROLE)`, `(reservations: [(DYNAMIC,ROLE,PRINCIPAL),...])`
  // and persistent volumes, `disk(eng)(volume: ID,PATH[,PRINCIPAL]):64`.
  // parse(toString()) gives back an equal Resources.
  std::string toString() const;

  const std::vector<Resource>& list() const { return list_ ? *list_ : noEntries(); }
  bool empty() const { return !list_ || list_->empty(); }
  size_t size() const { return list_ ? list_->size() : 0; }
  auto begin() const { return list().begin(); }
  auto end() const { return list().end(); }

  Resources& operator+=(const Resource& r);
  Resources& operator+=(const Resources& r);
  // Subtracts what is present; a kind never goes below zero (subtracting
  // what is not contained removes only the overlap).
  Resources& operator-=(const Resource& r);
  Resources& operator-=(const Resources& r);
  Resources operator+(const Resources& r) const;
  Resources operator-(const Resources& r) const;
  bool operator==(const Resources& r) const { return list_ == r.list_ || list() == r.list(); }
  bool operator!=(const Resources& r) const { return !(*this == r); }

  // True when every kind of `r` is present here in at least that amount.
  bool contains(const Resources& r) const;
  bool contains(const Resource& r) const;

  // Mesos's Resources::find: resources from these with the quantities of
  // `wanted` whatever their reservations (say `cpus:1;mem:128` out of an
  // offer holding `cpus(eng):0.5;cpus:4;mem:1024`). Reserved resources are
  // taken first, then unreserved ones; `wanted`'s allocation role must
  // match. Ranges and set items must be
  // present as asked. nullopt when these do not hold enough.
  std::optional<Resources> find(const Resources& wanted) const;

  Resources filter(const std::function<bool(const Resource&)>& keep) const;
  // Resources reserved for exactly `role` (innermost reservation).
  Resources reserved(std::string_view role) const;
  Resources reserved() const;    // all reserved resources
  Resources unreserved() const;  // resources with no reservation
  // Unreserved resources plus those reserved for `role` or an ancestor of it:
  // what a framework in `role` may be offered.
  Resources allocatableTo(std::string_view role) const;

  // Sets (or clears) the allocation role of every entry.
  Resources allocate(std::string_view role) const;
  Resources unallocate() const;
  // Roles the entries are allocated to.
  std::set<std::string> allocationRoles() const;

  // Without reservations, allocation roles or volumes: the raw quantities.
  Resources flatten() const;
  // The persistent volumes, and these with every volume turned back into
  // the plain (reserved) disk it was created from.
  Resources volumes() const;
  Resources stripVolumes() const;
  // Adds a reservation on top of each entry's stack (dynamic reserve) and
  // removes the innermost one (unreserve).
  Resources pushReservation(const ReservationInfo& reservation) const;
  Resources popReservation() const;

  // Scalar sums over all kinds with this name (0 when absent).
  double scalar(std::string_view name) const;
  int64_t scalarMillis(std::string_view name) const;
  std::optional<double> cpus() const;
  std::optional<double> mem() const;
  std::optional<double> disk() const;
  std::optional<double> gpus() const;
  // Ranges named `ports`, merged across kinds.
  std::vector<Range> ports() const;
  std::set<std::string> names() const;

 private:
  void addUnchecked(const Resource& r);
  // The entries for a change: copied first when another Resources shares
  // them.
  std::vector<Resource>& mut();
  static const std::vector<Resource>& noEntries();

  // The entries, shared copy-on-write between copies: copying a Resources
  // (an agent's total kept by the registry, the agent record and the
  // allocator; an offer's resources) takes a reference, and the first change
  // to a shared list copies it. Null when there are none. A Resources is a
  // value: one thread changes one object; copies may live on other threads.
  std::shared_ptr<std::vector<Resource>> list_;
};

std::ostream& operator<<(std::ostream& os, const Resources& r);

// A persistent volume of `mb` megabytes made of disk reserved by
// `reservations` (as offers show them, outermost first), seen by tasks at
// `containerPath` in their sandbox. Pass it to Offer::Operation::create(),
// then put it in a task's resources to give the task the volume.
Resource persistentVolume(double mb, std::vector<ReservationInfo> reservations,
                          std::string persistenceId, std::string containerPath,
                          std::string principal = "");

// Range helpers (inclusive ranges, canonical: sorted, disjoint, coalesced).
std::vector<Range> coalesceRanges(std::vector<Range> ranges);
std::string formatRanges(const std::vector<Range>& ranges);  // "[1-10, 20-30]"

}  // namespace tutti
