#include "tests/testing/stack.h"

#include <unistd.h>

#include "ipc/blocking_frames.h"
#include "ipc/unix_socket.h"

namespace hourglass::testing {

DevServerProcess::DevServerProcess(std::chrono::milliseconds ready_timeout) {
  auto p = ChildProcess::Spawn({{BinDir() + "/hourglass-devserver", "--port", "0", "--db-filename",
                                 dir_.path() + "/dev.db", "--log-level", "warn"},
                                {},
                                true,
                                dir_.path() + "/devserver.log"});
  if (!p) return;
  process_.emplace(std::move(*p));
  if (auto line = process_->WaitForLine("ready on", ready_timeout)) address_ = AddressFromReadyLine(*line);
}

BridgeHostProcess::BridgeHostProcess(const std::string& target, std::chrono::milliseconds ready_timeout) {
  runtime_dir_ = dir_.path() + "/run";
  log_path_ = dir_.path() + "/bridgehost.log";
  auto pair = ipc::MakeSocketPair();
  if (!pair.ok()) return;
  control_ = std::move(pair->first);
  ipc::UniqueFd child_end = std::move(pair->second);
  auto p = ChildProcess::Spawn({{BinDir() + "/hourglass-bridgehost", "--target", target, "--runtime-dir",
                                 runtime_dir_, "--control-fd", "3", "--log-level", "warn"},
                                {{3, child_end.get()}},
                                false,
                                log_path_});
  if (!p) return;
  process_.emplace(std::move(*p));
  auto ready = ReadControl(ready_timeout);
  if (!ready || !ready->has_ready()) return;
  socket_path_ = ready->ready().socket_path();
  epoch_ = ready->ready().bridge_epoch();
}

std::optional<ipc::v1::ControlMessage> BridgeHostProcess::ReadControl(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    ipc::v1::ControlMessage m;
    if (left.count() <= 0 || !ipc::ReadMessage(control_.get(), control_decoder_, m, left)) return std::nullopt;
    if (!m.has_heartbeat()) return m;
  }
}

bool BridgeHostProcess::SendControl(const ipc::v1::ControlMessage& message) {
  return ipc::WriteMessage(control_.get(), message);
}

}  // namespace hourglass::testing
