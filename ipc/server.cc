#include "ipc/server.h"

#include <errno.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "ipc/envelope.h"

namespace hourglass::ipc {

// --- Connection ---------------------------------------------------------------

Connection::Connection(Server& server, ConnectionId id, UniqueFd fd, PeerCredentials peer,
                       uint32_t max_frame_bytes, uint64_t epoch)
    : server_(server),
      id_(id),
      peer_(peer),
      session_(epoch),
      channel_(server.loop_, std::move(fd), *this, max_frame_bytes) {}

bool Connection::SendEnvelope(const v1::Envelope& env) {
  auto frame = EncodeMessageFrame(env, channel_.max_frame_bytes());
  if (!frame) {
    // Our own reply is too large for the peer: tell it so under the same id.
    spdlog::error("ipc: reply to conn {} request {} not sent: {}", id_, env.request_id(),
                  Describe(frame.error()));
    if (env.has_response() && !env.response().has_error()) {
      return SendEnvelope(MakeErrorResponse(
          env.request_id(),
          MakeError(v1::ERROR_KIND_INTERNAL, "reply too large: " + frame.error().message())));
    }
    return false;
  }
  return channel_.SendFrame(std::move(frame).value());
}

bool Connection::SendEvent(const v1::Event& event) {
  v1::Envelope env;
  *env.mutable_event() = event;
  return SendEnvelope(env);
}

void Connection::OnFrame(std::span<const uint8_t> body) {
  server_.Dispatch(*this, session_.OnFrame(body));
}

void Connection::OnFrameError(const std::string& detail) {
  spdlog::warn("ipc: closing conn {} (pid {}): {}", id_, peer_.pid, detail);
  SendEnvelope(MakeProtocolErrorEvent(MakeError(v1::ERROR_KIND_PROTOCOL, detail)));
}

void Connection::OnClosed(ChannelCloseReason reason, const std::string& detail) {
  if (reason == ChannelCloseReason::kIoError || reason == ChannelCloseReason::kFrameTooLarge) {
    spdlog::info("ipc: conn {} (pid {}) closed: {} {}", id_, peer_.pid, ToString(reason), detail);
  } else {
    spdlog::debug("ipc: conn {} (pid {}) closed: {}", id_, peer_.pid, ToString(reason));
  }
  deadlines_.clear();
  server_.ConnectionClosed(*this);
}

void Connection::ArmDeadline(uint64_t request_id, uint64_t timeout_ms) {
  deadlines_[request_id] =
      server_.loop_.AddTimer(std::chrono::milliseconds(timeout_ms), [this, request_id, timeout_ms] {
        deadlines_.erase(request_id);
        if (!session_.Complete(request_id)) return;
        SendEnvelope(MakeErrorResponse(
            request_id,
            MakeError(v1::ERROR_KIND_DEADLINE_EXCEEDED,
                      "no answer within the request's " + std::to_string(timeout_ms) + " ms")));
        server_.handler_.OnCancel(*this, request_id);
      });
}

// --- Responder ----------------------------------------------------------------

Responder::~Responder() {
  if (Pending()) {
    ReplyError(MakeError(v1::ERROR_KIND_INTERNAL, "request dropped without an answer"));
  }
}

Responder::Responder(Responder&& other) noexcept
    : server_(std::move(other.server_)),
      connection_id_(other.connection_id_),
      request_id_(other.request_id_) {
  other.server_.reset();
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (Pending()) {
      ReplyError(MakeError(v1::ERROR_KIND_INTERNAL, "request dropped without an answer"));
    }
    server_ = std::move(other.server_);
    connection_id_ = other.connection_id_;
    request_id_ = other.request_id_;
    other.server_.reset();
  }
  return *this;
}

bool Responder::Reply(v1::Response response) {
  auto server = server_.lock();
  server_.reset();
  if (!server) return false;
  return (*server)->Deliver(connection_id_, request_id_, std::move(response));
}

bool Responder::ReplyError(Error error) {
  v1::Response response;
  *response.mutable_error() = std::move(error);
  return Reply(std::move(response));
}

bool Responder::Pending() const {
  auto server = server_.lock();
  return server && (*server)->IsPending(connection_id_, request_id_);
}

// --- Server -------------------------------------------------------------------

Server::Server(EventLoop& loop, ServerOptions options, RequestHandler& handler)
    : loop_(loop),
      options_(std::move(options)),
      handler_(handler),
      listener_(
          loop, Listener::Options{options_.socket_path, "ipc", options_.path_check_period},
          [this](UniqueFd fd, const PeerCredentials& peer) { OnAccepted(std::move(fd), peer); }),
      self_(std::make_shared<Server*>(this)) {
  options_.welcome.set_protocol_version(v1::PROTOCOL_VERSION_1);
  options_.welcome.set_bridge_pid(static_cast<int32_t>(::getpid()));
  options_.welcome.set_max_frame_bytes(options_.max_frame_bytes);
}

Server::~Server() {
  Stop();
  self_.reset();
}

Status Server::Start() {
  if (auto st = listener_.Start(); !st) return st;
  spdlog::info("ipc: listening on {} (epoch {})", options_.socket_path, epoch());
  return OkStatus();
}

void Server::Stop() {
  if (!listener_.listening()) return;
  listener_.Stop();
  // Closing reports OnDisconnected for each. Destruction waits for the next
  // loop turn: Stop() may be called from inside a connection's own callback.
  for (auto& [id, conn] : connections_) conn->channel_.Close();
  auto doomed = std::make_shared<decltype(connections_)>(std::move(connections_));
  connections_.clear();
  loop_.Post([doomed] {});
}

bool Server::PeerAllowed(const PeerCredentials& peer) const {
  if (peer.uid == ::geteuid()) return true;
  return std::find(options_.allowed_uids.begin(), options_.allowed_uids.end(), peer.uid) !=
         options_.allowed_uids.end();
}

void Server::OnAccepted(UniqueFd fd, const PeerCredentials& peer) {
  if (!PeerAllowed(peer)) {
    spdlog::warn(
        "ipc: refused a connection from pid {} uid {}: only uid {} and the allowed "
        "uids may connect",
        peer.pid, peer.uid, ::geteuid());
    return;
  }
  const ConnectionId id = next_id_++;
  connections_.emplace(id, std::unique_ptr<Connection>(new Connection(
                               *this, id, std::move(fd), peer, options_.max_frame_bytes, epoch())));
  spdlog::debug("ipc: conn {} accepted from pid {} uid {}", id, peer.pid, peer.uid);
}

void Server::Dispatch(Connection& conn, ServerSession::Decision d) {
  using Kind = ServerSession::Decision::Kind;
  switch (d.kind) {
    case Kind::kNone:
      if (!d.problem.empty()) spdlog::warn("ipc: conn {}: {}", conn.id_, d.problem);
      return;
    case Kind::kReply:
      spdlog::warn("ipc: conn {} (pid {}): {}", conn.id_, conn.peer_.pid, d.problem);
      conn.SendEnvelope(*d.reply);
      if (d.close_after_reply) conn.channel_.CloseAfterFlush();
      return;
    case Kind::kHello: {
      const v1::Hello& hello = d.request.hello();
      if (hello.pid() != 0 && hello.pid() != conn.peer_.pid) {
        spdlog::warn("ipc: conn {} says pid {} but SO_PEERCRED says {}; trusting the kernel",
                     conn.id_, hello.pid(), conn.peer_.pid);
      }
      conn.hello_ = hello;
      if (auto refusal = handler_.OnHello(conn, hello)) {
        spdlog::warn("ipc: conn {} refused at hello: {}", conn.id_, Describe(*refusal));
        conn.SendEnvelope(MakeErrorResponse(d.request_id, std::move(*refusal)));
        conn.channel_.CloseAfterFlush();
        return;
      }
      conn.session_.AcceptHello();
      v1::Envelope env;
      env.set_request_id(d.request_id);
      *env.mutable_response()->mutable_welcome() = options_.welcome;
      conn.SendEnvelope(env);
      return;
    }
    case Kind::kDispatch: {
      if (d.request.timeout_ms() > 0) conn.ArmDeadline(d.request_id, d.request.timeout_ms());
      handler_.OnRequest(conn, std::move(d.request), Responder(self_, conn.id_, d.request_id));
      return;
    }
    case Kind::kCancel:
      conn.deadlines_.erase(d.request_id);
      conn.session_.Complete(d.request_id);
      handler_.OnCancel(conn, d.request_id);
      return;
  }
}

bool Server::IsPending(ConnectionId id, uint64_t request_id) {
  auto it = connections_.find(id);
  return it != connections_.end() && it->second->open() &&
         it->second->session_.IsInFlight(request_id);
}

bool Server::Deliver(ConnectionId id, uint64_t request_id, v1::Response response) {
  auto it = connections_.find(id);
  if (it == connections_.end() || !it->second->open()) return false;
  Connection& conn = *it->second;
  if (!conn.session_.Complete(request_id)) return false;
  conn.deadlines_.erase(request_id);
  v1::Envelope env;
  env.set_request_id(request_id);
  *env.mutable_response() = std::move(response);
  return conn.SendEnvelope(env);
}

void Server::ConnectionClosed(Connection& conn) {
  handler_.OnDisconnected(conn);
  // Destroy later: we are inside the connection's own callback.
  const ConnectionId id = conn.id_;
  std::weak_ptr<Server*> weak = self_;
  loop_.Post([weak, id] {
    if (auto server = weak.lock()) (*server)->connections_.erase(id);
  });
}

}  // namespace hourglass::ipc
