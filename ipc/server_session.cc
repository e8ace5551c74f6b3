#include "ipc/server_session.h"

#include "ipc/envelope.h"

namespace hourglass::ipc {

ServerSession::Decision ServerSession::Refuse(uint64_t request_id, ErrorKind kind,
                                              std::string message, bool close) {
  Decision d;
  d.kind = Decision::Kind::kReply;
  d.request_id = request_id;
  d.problem = message;
  d.reply = request_id != 0 ? MakeErrorResponse(request_id, MakeError(kind, std::move(message)))
                            : MakeProtocolErrorEvent(MakeError(kind, std::move(message)));
  d.close_after_reply = close;
  return d;
}

ServerSession::Decision ServerSession::OnFrame(std::span<const uint8_t> body) {
  v1::Envelope env;
  if (!env.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    const uint64_t id = PeekRequestId(body).value_or(0);
    return Refuse(id, v1::ERROR_KIND_PROTOCOL,
                  "malformed envelope (" + std::to_string(body.size()) + " bytes do not parse)",
                  /*close=*/false);
  }
  const uint64_t id = env.request_id();
  switch (env.body_case()) {
    case v1::Envelope::BODY_NOT_SET:
      return Refuse(id, v1::ERROR_KIND_PROTOCOL, "envelope has no request, response or event",
                    !open_);
    case v1::Envelope::kResponse:
      return Refuse(0, v1::ERROR_KIND_PROTOCOL,
                    "unexpected response for request id " + std::to_string(id) +
                        ": the bridge host sends no requests",
                    !open_);
    case v1::Envelope::kEvent: {
      const auto& event = env.event();
      if (!open_) {
        return Refuse(0, v1::ERROR_KIND_PROTOCOL, "expected Hello before any event", true);
      }
      if (event.has_cancel_request()) {
        Decision d;
        const uint64_t target = event.cancel_request().request_id();
        if (in_flight_.contains(target)) {
          d.kind = Decision::Kind::kCancel;
          d.request_id = target;
        }
        return d;
      }
      if (event.has_protocol_error()) {
        Decision d;  // the peer complains about something we sent: log it
        d.problem = "peer reported: " + Describe(event.protocol_error());
        return d;
      }
      return Refuse(0, v1::ERROR_KIND_PROTOCOL, "event not accepted by the bridge host", false);
    }
    case v1::Envelope::kRequest:
      break;
  }

  v1::Request& request = *env.mutable_request();
  if (id == 0) {
    return Refuse(0, v1::ERROR_KIND_PROTOCOL, "request id 0 is reserved for events", !open_);
  }
  if (!open_) {
    if (!request.has_hello()) {
      return Refuse(id, v1::ERROR_KIND_PROTOCOL,
                    "expected Hello as the first request, got " + RequestKindName(request), true);
    }
    if (request.hello().protocol_version() != v1::PROTOCOL_VERSION_1) {
      return Refuse(id, v1::ERROR_KIND_PROTOCOL,
                    "protocol version " + std::to_string(request.hello().protocol_version()) +
                        " not supported; this bridge host speaks version 1",
                    true);
    }
    Decision d;
    d.kind = Decision::Kind::kHello;
    d.request_id = id;
    d.request = std::move(request);
    return d;
  }
  if (request.has_hello()) {
    return Refuse(id, v1::ERROR_KIND_PROTOCOL, "Hello was already exchanged", false);
  }
  if (request.kind_case() == v1::Request::KIND_NOT_SET) {
    return Refuse(id, v1::ERROR_KIND_PROTOCOL,
                  "unknown request (" + RequestKindName(request) + ")", false);
  }
  if (in_flight_.contains(id)) {
    return Refuse(id, v1::ERROR_KIND_PROTOCOL,
                  "request id " + std::to_string(id) + " is already in flight", false);
  }
  if (request.epoch() != 0 && request.epoch() != bridge_epoch_) {
    return Refuse(id, v1::ERROR_KIND_STALE_EPOCH,
                  "handle from bridge epoch " + std::to_string(request.epoch()) +
                      ", the bridge host is at epoch " + std::to_string(bridge_epoch_),
                  false);
  }
  in_flight_.insert(id);
  Decision d;
  d.kind = Decision::Kind::kDispatch;
  d.request_id = id;
  d.request = std::move(request);
  return d;
}

}  // namespace hourglass::ipc
