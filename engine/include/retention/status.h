// Errors as values: Status for operations without a result, Result<T> for those with
// one (shaped like std::expected). No exceptions cross the public API.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace retention {

class Status;
namespace detail {
// Prints "retention: value() called on an error result: <message>" to stderr and aborts.
[[noreturn]] void BadResultAccess(const Status& status) noexcept;
}  // namespace detail

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kIoError, kFailedPrecondition, kUnavailable, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status IoError(std::string m) { return Status(Code::kIoError, std::move(m)); }
  static Status FailedPrecondition(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
  // A store or service could not be reached (connection refused, server down).
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. Check ok() before value(): value()
// (and * and ->) on an error is a programming error, which aborts the process with the
// error's message (never an exception, never undefined behaviour).
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit like std::expected
  Result(Status status) : state_(std::move(status)) {}  // NOLINT

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return Checked(), *std::get_if<T>(&state_); }
  T& value() & { return Checked(), *std::get_if<T>(&state_); }
  T&& value() && { return Checked(), std::move(*std::get_if<T>(&state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : *std::get_if<Status>(&state_); }

 private:
  void Checked() const {
    if (!ok()) detail::BadResultAccess(*std::get_if<Status>(&state_));
  }
  std::variant<T, Status> state_;
};

}  // namespace retention
