#pragma once

// Small helpers shared by the files of Shell (shell.cc, shell_ctl.cc,
// shell_executors.cc).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "hourglass/ipc/v1/ctl.pb.h"

namespace hourglass::supervisor::shell_internal {

inline ipc::v1::CtlReply Done(const std::string& message) {
  ipc::v1::CtlReply reply;
  reply.mutable_done()->set_message(message);
  return reply;
}

// Executors are adopted under ids of their own making ("executor:<pid>");
// nothing else in the tree uses that prefix.
inline constexpr char kExecutorPrefix[] = "executor:";

inline bool IsExecutor(const std::string& id) { return id.rfind(kExecutorPrefix, 0) == 0; }

inline uint64_t Millis(std::chrono::steady_clock::duration d) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

}  // namespace hourglass::supervisor::shell_internal
