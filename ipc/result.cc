#include "ipc/result.h"

#include <cerrno>
#include <string_view>

namespace hourglass::ipc {

Error MakeError(ErrorKind kind, std::string message) {
  Error error;
  error.set_kind(kind);
  error.set_message(std::move(message));
  return error;
}

std::string ErrorKindName(ErrorKind kind) {
  constexpr std::string_view kPrefix = "ERROR_KIND_";
  std::string name = v1::ErrorKind_Name(kind);
  if (name.empty()) return "UNKNOWN(" + std::to_string(static_cast<int>(kind)) + ")";
  if (std::string_view(name).starts_with(kPrefix)) name.erase(0, kPrefix.size());
  return name;
}

std::string Describe(const Error& error) {
  return ErrorKindName(error.kind()) + ": " + error.message();
}

ErrorKind KindForErrno(int error, ErrorKind otherwise) {
  switch (error) {
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
      return v1::ERROR_KIND_UNAVAILABLE;
    default:
      return otherwise;
  }
}

}  // namespace hourglass::ipc
