#include "cli/errors.h"

#include <cctype>
#include <cstdio>

namespace hourglass::cli {

namespace v1 = ::hourglass::ipc::v1;

namespace {

// gRPC's UNAVAILABLE. The bridge host also reports a few other gRPC codes as
// UNAVAILABLE (they are worth a retry there), but for the CLI they mean Temporal
// was reached and said something else, so they are not "cannot reach".
constexpr int kGrpcUnavailable = 14;

bool Unreachable(const ipc::Error& error) {
  return error.kind() == v1::ERROR_KIND_UNAVAILABLE &&
         (error.grpc_code() == 0 || error.grpc_code() == kGrpcUnavailable);
}

}  // namespace

int ExitCodeFor(const ipc::Error& error) {
  if (Unreachable(error)) return exit_code::kUnreachable;
  switch (error.kind()) {
    case v1::ERROR_KIND_NOT_FOUND:
      return exit_code::kNotFound;
    case v1::ERROR_KIND_ALREADY_STARTED:
      return exit_code::kAlreadyStarted;
    default:
      return exit_code::kServerError;
  }
}

std::string ErrorLabel(const ipc::Error& error) {
  if (Unreachable(error)) return "unavailable";
  std::string label = ipc::ErrorKindName(error.kind());
  for (char& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return label;
}

void PrintError(const std::string& kind, const std::string& message) {
  std::fprintf(stderr, "hourglass: %s: %s\n", kind.c_str(), message.c_str());
}

}  // namespace hourglass::cli
