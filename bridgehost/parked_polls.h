#pragma once

// Language-side polls parked on a worker, oldest first. A poller whose
// connection died or whose request was cancelled is skipped, so what was
// meant for it goes to the next one instead of being lost.

#include <deque>
#include <optional>

#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/server.h"

namespace hourglass::bridgehost {

class ParkedPolls {
 public:
  void Park(ipc::Responder responder) { parked_.push_back(std::move(responder)); }

  // The caller of request `request_id` on `connection` gave up.
  void Cancel(ipc::ConnectionId connection, uint64_t request_id) {
    for (auto it = parked_.begin(); it != parked_.end(); ++it) {
      if (it->connection_id() == connection && it->request_id() == request_id) {
        parked_.erase(it);
        return;
      }
    }
  }

  // Gives `response` to the oldest live poller: the connection it went to,
  // or nothing if nobody took it.
  std::optional<ipc::ConnectionId> Offer(const ipc::v1::Response& response) {
    while (!parked_.empty()) {
      ipc::Responder r = std::move(parked_.front());
      parked_.pop_front();
      const ipc::ConnectionId connection = r.connection_id();
      if (r.Reply(response)) return connection;
    }
    return std::nullopt;
  }

  // Forgets pollers that are gone, so nobody polls the server on their behalf.
  void DropDead() {
    while (!parked_.empty() && !parked_.front().Pending()) parked_.pop_front();
  }

  void AnswerAll(const ipc::Error& error) {
    auto parked = std::move(parked_);
    parked_.clear();
    for (auto& r : parked) r.ReplyError(error);
  }

  bool empty() const { return parked_.empty(); }
  size_t size() const { return parked_.size(); }

 private:
  std::deque<ipc::Responder> parked_;
};

}  // namespace hourglass::bridgehost
