#pragma once

// The bridge-host side of one connection's protocol rules, without I/O:
// frames in, decisions out. The Server shell does the sockets and timers.
//
// Rules (docs/ipc-protocol.md, "Handshake" and "Errors"):
// - the first request must be Hello with our protocol version; anything else
//   is answered with PROTOCOL and the connection closes;
// - a frame that does not parse is answered with PROTOCOL under its own
//   request id if one can be recovered, else as a protocol_error event; the
//   connection stays open (framing is intact);
// - request id 0, a request id already in flight, an empty envelope, an
//   unknown request kind, or a response sent to us: PROTOCOL;
// - a request carrying another bridge epoch: STALE_EPOCH.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>

#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/result.h"

namespace hourglass::ipc {

class ServerSession {
 public:
  struct Decision {
    enum class Kind {
      kNone,      // nothing to do (e.g. a cancel for an id no longer in flight)
      kReply,     // send `reply`; close afterwards if `close_after_reply`
      kHello,     // the peer's Hello: the shell accepts (Welcome) or refuses
      kDispatch,  // a request for the handler
      kCancel,    // the peer gave up on `request_id`
    };
    Kind kind = Kind::kNone;
    uint64_t request_id = 0;
    std::optional<v1::Envelope> reply;
    bool close_after_reply = false;
    v1::Request request;  // kHello, kDispatch
    // For the log: what was wrong, when something was.
    std::string problem;
  };

  explicit ServerSession(uint64_t bridge_epoch) : bridge_epoch_(bridge_epoch) {}

  Decision OnFrame(std::span<const uint8_t> body);

  // The shell accepted the Hello and sent Welcome.
  void AcceptHello() { open_ = true; }
  // The request was answered (or abandoned). False if it was not in flight,
  // which means a second answer: the shell must not send it.
  bool Complete(uint64_t request_id) { return in_flight_.erase(request_id) == 1; }

  bool open() const { return open_; }
  bool IsInFlight(uint64_t request_id) const { return in_flight_.contains(request_id); }
  size_t in_flight() const { return in_flight_.size(); }

 private:
  Decision Refuse(uint64_t request_id, ErrorKind kind, std::string message, bool close);

  uint64_t bridge_epoch_;
  bool open_ = false;
  std::unordered_set<uint64_t> in_flight_;
};

}  // namespace hourglass::ipc
