#pragma once

#include <string>
#include <utility>
#include <variant>

#include "hourglass/ipc/v1/ipc.pb.h"

namespace hourglass::ipc {

using ErrorKind = ::hourglass::ipc::v1::ErrorKind;
using Error = ::hourglass::ipc::v1::Error;

// Builds the typed error every side of the protocol uses.
Error MakeError(ErrorKind kind, std::string message);

// "SHUTDOWN", "STALE_EPOCH", ...: the kind without its proto prefix, as
// docs/ipc-protocol.md names it.
std::string ErrorKindName(ErrorKind kind);

// "STALE_EPOCH: handle from epoch 3, bridge is at 4".
std::string Describe(const Error& error);

// The kind for a failed system call: UNAVAILABLE (retry later) when `error`
// means the process is short of processes, descriptors or memory (EAGAIN,
// EMFILE, ENFILE, ENOMEM, ENOBUFS), else `otherwise`.
ErrorKind KindForErrno(int error, ErrorKind otherwise);

// A value or a typed error. Small on purpose: std::expected is C++23.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(runtime/explicit)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(runtime/explicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations with nothing to return.
struct Ok {};
using Status = Result<Ok>;
inline Status OkStatus() { return Ok{}; }

}  // namespace hourglass::ipc
