#pragma once

// How the CLI fails: one exit code per kind of failure (docs/cli.md), and one
// stderr line per error. Both transports answer in the IPC protocol's typed
// errors (ipc::Error), so the mapping to exit codes lives here and only here.

#include <stdexcept>
#include <string>

#include "ipc/result.h"

namespace hourglass::cli {

namespace exit_code {
inline constexpr int kOk = 0;
// result/execute: the workflow closed other than COMPLETED.
inline constexpr int kWorkflowNotCompleted = 1;
inline constexpr int kUsage = 2;
// The bridge host or Temporal could not be reached.
inline constexpr int kUnreachable = 3;
inline constexpr int kNotFound = 4;
inline constexpr int kAlreadyStarted = 5;
// Any other error the bridge host or the server answered.
inline constexpr int kServerError = 6;
}  // namespace exit_code

// A command line that parsed but cannot be acted on (e.g. --input that is not
// JSON). Thrown before any connection is made, so a usage error never depends
// on what is reachable.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int ExitCodeFor(const ipc::Error& error);

// The <kind> of "hourglass: <kind>: <message>": "unavailable", "not_found",
// "already_started", or the error kind in lower case ("deadline_exceeded").
std::string ErrorLabel(const ipc::Error& error);

// Writes "hourglass: <kind>: <message>" to stderr.
void PrintError(const std::string& kind, const std::string& message);

}  // namespace hourglass::cli
