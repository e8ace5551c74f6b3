#pragma once

// The real Hourglass processes an integration test stands up: a dev server on
// a free port with its own database, and a bridge host started the way the
// supervisor starts it (control channel on fd 3, READY read from it).

#include <chrono>
#include <optional>
#include <string>

#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/frame.h"
#include "ipc/unique_fd.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::testing {

class DevServerProcess {
 public:
  // Starts hourglass-devserver and waits for its ready line; ok() says
  // whether that worked.
  explicit DevServerProcess(std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  bool ok() const { return !address_.empty(); }
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  const std::string& dir() const { return dir_.path(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

 private:
  TempDir dir_{"hg-dev"};
  std::optional<ChildProcess> process_;
  std::string address_;
};

class BridgeHostProcess {
 public:
  // Starts hourglass-bridgehost against `target` with a fresh runtime
  // directory and waits for READY on its control channel.
  explicit BridgeHostProcess(const std::string& target,
                             std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  bool ok() const { return !socket_path_.empty(); }
  const std::string& socket_path() const { return socket_path_; }
  const std::string& runtime_dir() const { return runtime_dir_; }
  const std::string& log_path() const { return log_path_; }
  uint64_t epoch() const { return epoch_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  ChildProcess& process() { return *process_; }

  // The next control message other than a heartbeat, or nothing on timeout
  // or EOF.
  std::optional<ipc::v1::ControlMessage> ReadControl(std::chrono::milliseconds timeout);
  // Sends one control message to the bridge host.
  bool SendControl(const ipc::v1::ControlMessage& message);
  // Closes the supervisor's end: to the bridge host, the supervisor is gone.
  void CloseControl() { control_.Reset(); }

 private:
  TempDir dir_{"hg-bh"};
  std::string runtime_dir_;
  std::string log_path_;
  ipc::UniqueFd control_;
  ipc::FrameDecoder control_decoder_;
  std::optional<ChildProcess> process_;
  std::string socket_path_;
  uint64_t epoch_ = 0;
};

}  // namespace hourglass::testing
