#include "supervisor/shell/control_socket.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ipc/envelope.h"
#include "ipc/frame.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;

class ControlSocket::Connection : private ipc::FrameChannel::Delegate {
 public:
  Connection(ControlSocket& owner, ConnectionId id, ipc::UniqueFd fd, ipc::PeerCredentials peer)
      : owner_(owner), id_(id), peer_(peer), channel_(owner.loop_, std::move(fd), *this) {}

  ConnectionId id() const { return id_; }
  const ipc::PeerCredentials& peer() const { return peer_; }
  ipc::FrameChannel& channel() { return channel_; }

  // Requests not yet handed over; the front one is with the handler when
  // `busy`.
  std::deque<v1::CtlRequest> queue;
  bool busy = false;

  bool Send(const v1::CtlReply& reply) {
    auto frame = ipc::EncodeMessageFrame(reply, channel_.max_frame_bytes());
    if (!frame.ok()) {
      // Only a status of absurd size gets here; say so rather than drop it.
      auto fallback = ipc::EncodeMessageFrame(
          Error(v1::CTL_ERROR_KIND_PROTOCOL, "reply too large: " + frame.error().message()),
          channel_.max_frame_bytes());
      return fallback.ok() && channel_.SendFrame(std::move(*fallback));
    }
    return channel_.SendFrame(std::move(*frame));
  }

 private:
  void OnFrame(std::span<const uint8_t> body) override {
    v1::CtlRequest request;
    if (!request.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      spdlog::warn("control socket: pid {}: malformed request ({} bytes)", peer_.pid, body.size());
      Send(Error(v1::CTL_ERROR_KIND_PROTOCOL, "malformed CtlRequest"));
      return;
    }
    if (request.kind_case() == v1::CtlRequest::KIND_NOT_SET) {
      // An unknown field number parses as "nothing set": a newer client.
      Send(Error(v1::CTL_ERROR_KIND_PROTOCOL, "unknown or empty request"));
      return;
    }
    queue.push_back(std::move(request));
    owner_.Dispatch(*this);
  }
  void OnFrameError(const std::string& detail) override {
    spdlog::warn("control socket: pid {}: {}", peer_.pid, detail);
    Send(Error(v1::CTL_ERROR_KIND_PROTOCOL, detail));
  }
  void OnClosed(ipc::ChannelCloseReason, const std::string&) override { owner_.Closed(id_); }

  ControlSocket& owner_;
  ConnectionId id_;
  ipc::PeerCredentials peer_;
  ipc::FrameChannel channel_;
};

ControlSocket::ControlSocket(ipc::EventLoop& loop, std::string path,
                             std::vector<uid_t> allowed_uids, Handler& handler)
    : loop_(loop),
      allowed_uids_(std::move(allowed_uids)),
      handler_(handler),
      listener_(loop, ipc::Listener::Options{std::move(path), "control socket", kPathCheckPeriod},
                [this](ipc::UniqueFd fd, const ipc::PeerCredentials& peer) {
                  OnAccepted(std::move(fd), peer);
                }) {}

ControlSocket::~ControlSocket() { Stop(); }

ipc::Status ControlSocket::Start() { return listener_.Start(); }

void ControlSocket::Stop() {
  listener_.Stop();
  connections_.clear();
}

void ControlSocket::OnAccepted(ipc::UniqueFd fd, const ipc::PeerCredentials& peer) {
  const bool allowed =
      peer.uid == ::geteuid() ||
      std::find(allowed_uids_.begin(), allowed_uids_.end(), peer.uid) != allowed_uids_.end();
  const ConnectionId id = next_id_++;
  auto conn = std::make_unique<Connection>(*this, id, std::move(fd), peer);
  if (!allowed) {
    spdlog::warn("control socket: refused pid {} (uid {})", peer.pid, peer.uid);
    conn->Send(Error(v1::CTL_ERROR_KIND_REFUSED,
                     "uid " + std::to_string(peer.uid) + " may not control this supervisor"));
    conn->channel().CloseAfterFlush();
  }
  connections_.emplace(id, std::move(conn));
}

void ControlSocket::Dispatch(Connection& c) {
  if (c.busy || c.queue.empty()) return;
  c.busy = true;
  // The handler may answer synchronously (Reply erases nothing, so `c` stays
  // valid) or later.
  v1::CtlRequest request = c.queue.front();
  handler_.OnCtlRequest(c.id(), request);
}

bool ControlSocket::Reply(ConnectionId id, const v1::CtlReply& reply) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  Connection& c = *it->second;
  if (!c.busy) return false;
  c.busy = false;
  c.queue.pop_front();
  const bool sent = c.Send(reply);
  // The next request waits for the loop, not for this call stack.
  loop_.Post([this, id] {
    if (auto it2 = connections_.find(id); it2 != connections_.end()) Dispatch(*it2->second);
  });
  return sent;
}

void ControlSocket::ReplyAndFlush(ConnectionId id, const v1::CtlReply& reply) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Reply(id, reply);
  // Bounded: a peer that does not read gets what fitted in its socket buffer.
  ipc::FrameChannel& channel = it->second->channel();
  for (int i = 0; i < 50 && channel.open() && channel.queued_bytes() > 0; ++i) {
    pollfd p{channel.fd(), POLLOUT, 0};
    if (::poll(&p, 1, 20) > 0) loop_.RunOnce();
  }
}

void ControlSocket::Closed(ConnectionId id) {
  handler_.OnCtlDisconnected(id);
  // The channel is calling us: destroy it from the loop, not from here.
  loop_.Post([this, id] { connections_.erase(id); });
}

v1::CtlReply ControlSocket::Error(v1::CtlErrorKind kind, const std::string& message) {
  v1::CtlReply reply;
  reply.mutable_error()->set_kind(kind);
  reply.mutable_error()->set_message(message);
  return reply;
}

}  // namespace hourglass::supervisor
