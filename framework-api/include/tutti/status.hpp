// Status and Result<T>: how errors cross every module boundary in tutti.
//
// A Status is either OK or a code with a human-readable message meant for the
// person who will read the log or the HTTP body. Result<T> holds a value or a
// non-OK Status. Neither throws; accessing the value of an error Result is a
// programming error (checked with assert in debug builds).
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>

namespace tutti {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // the caller's input is malformed or impossible
    kNotFound,         // an id or path that does not exist
    kAlreadyExists,    // a duplicate id
    kFailedPrecondition,  // valid input in the wrong state (e.g. stale offer)
    kPermissionDenied,    // not allowed (e.g. a path outside a sandbox)
    kUnavailable,         // a peer or resource is away; retrying may help
    kIoError,             // the disk or a system call failed
    kInternal,            // a bug: an invariant did not hold
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  // The same error with `prefix` before its message (OK stays OK).
  Status prefixed(const std::string& prefix) const {
    return ok() ? Status() : Status(code_, prefix + message_);
  }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string toString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* codeName(Status::Code code);

inline std::string Status::toString() const {
  if (ok()) return "OK";
  return std::string(codeName(code_)) + ": " + message_;
}

inline const char* codeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kInvalidArgument: return "Invalid argument";
    case Status::Code::kNotFound: return "Not found";
    case Status::Code::kAlreadyExists: return "Already exists";
    case Status::Code::kFailedPrecondition: return "Failed precondition";
    case Status::Code::kPermissionDenied: return "Permission denied";
    case Status::Code::kUnavailable: return "Unavailable";
    case Status::Code::kIoError: return "I/O error";
    case Status::Code::kInternal: return "Internal error";
  }
  return "Unknown";
}

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.toString(); }

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error; Status::OK() when this holds a value.
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }
  const std::string& error() const {
    static const std::string kEmpty;
    return ok() ? kEmpty : std::get<Status>(v_).message();
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tutti

