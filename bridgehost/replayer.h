#pragma once

// A replayer over IPC (reference §7): the language side pushes recorded
// histories, polls activations (one history at a time, as a replay worker
// does), answers them, and receives one verdict per history. No server is
// involved. Runs on the bridge host's loop thread.

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "bridgehost/core/history_replay.h"
#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/server.h"

namespace hourglass::bridgehost {

class Replayer {
 public:
  explicit Replayer(ipc::ConnectionId owner) : owner_(owner) {}

  void Push(std::string workflow_id, temporal::api::history::v1::History history);
  void Poll(ipc::Responder responder);
  // Errors (no activation outstanding, wrong run) are returned typed.
  std::optional<ipc::Error> Complete(const coresdk::workflow_completion::WorkflowActivationCompletion& c);
  void CloseFeeder();
  // Answers parked polls SHUTDOWN.
  void Shutdown();
  ipc::ConnectionId owner() const { return owner_; }

 private:
  void StartNext();
  void Deliver();

  ipc::ConnectionId owner_;
  std::deque<std::pair<std::string, temporal::api::history::v1::History>> queued_;
  std::unique_ptr<core::HistoryReplay> current_;
  std::string current_workflow_id_;
  bool activation_delivered_ = false;
  std::deque<ipc::v1::ReplayVerdict> verdicts_;
  std::deque<ipc::Responder> parked_;
  bool feeder_closed_ = false;
};

}  // namespace hourglass::bridgehost
