#pragma once

// The listening side of the bridge-host socket: accepts peers of allowed uids
// (SO_PEERCRED), runs the handshake, and hands each request to a
// RequestHandler together with a Responder that answers it once, whenever the
// handler is ready. Long polls simply keep their Responder.
//
// Everything here runs on one EventLoop thread. A handler that finishes work
// on another thread posts to the loop before it replies.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/event_loop.h"
#include "ipc/frame.h"
#include "ipc/frame_channel.h"
#include "ipc/listener.h"
#include "ipc/result.h"
#include "ipc/server_session.h"
#include "ipc/unix_socket.h"

namespace hourglass::ipc {

class Server;
using ConnectionId = uint64_t;

// One accepted, handshaken peer.
class Connection : private FrameChannel::Delegate {
 public:
  ConnectionId id() const { return id_; }
  const PeerCredentials& peer() const { return peer_; }
  const v1::Hello& hello() const { return hello_; }
  bool open() const { return channel_.open(); }
  size_t in_flight() const { return session_.in_flight(); }

  // Sends an unsolicited event. False if the connection is closed.
  bool SendEvent(const v1::Event& event);
  // Closes after queued output is written; the handler sees OnDisconnected.
  void CloseAfterFlush() { channel_.CloseAfterFlush(); }

 private:
  friend class Server;
  Connection(Server& server, ConnectionId id, UniqueFd fd, PeerCredentials peer,
             uint32_t max_frame_bytes, uint64_t epoch);

  void OnFrame(std::span<const uint8_t> body) override;
  void OnFrameError(const std::string& detail) override;
  void OnClosed(ChannelCloseReason reason, const std::string& detail) override;
  bool SendEnvelope(const v1::Envelope& env);
  void ArmDeadline(uint64_t request_id, uint64_t timeout_ms);

  Server& server_;
  ConnectionId id_;
  PeerCredentials peer_;
  v1::Hello hello_;
  ServerSession session_;
  std::unordered_map<uint64_t, EventHandle> deadlines_;
  FrameChannel channel_;  // last: its callbacks use the members above
};

// Answers one request, exactly once. Move-only. If it is destroyed unused, it
// answers INTERNAL itself, so no caller ever waits for a reply that a bug lost.
// Use on the loop thread only.
class Responder {
 public:
  Responder() = default;
  ~Responder();
  Responder(Responder&& other) noexcept;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // True if the reply was queued to a live connection. False if the
  // connection is gone, or the request was already answered (for example by
  // its deadline) or cancelled: the caller then still owns whatever it meant
  // to hand over (an activation goes to the next poller).
  bool Reply(v1::Response response);
  bool ReplyError(Error error);

  // Whether a reply would still be delivered.
  bool Pending() const;
  uint64_t request_id() const { return request_id_; }
  ConnectionId connection_id() const { return connection_id_; }
  explicit operator bool() const { return !server_.expired(); }

 private:
  friend class Server;
  Responder(std::weak_ptr<Server*> server, ConnectionId connection_id, uint64_t request_id)
      : server_(std::move(server)), connection_id_(connection_id), request_id_(request_id) {}

  std::weak_ptr<Server*> server_;
  ConnectionId connection_id_ = 0;
  uint64_t request_id_ = 0;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // After the version check. Return an error to refuse the peer (it is sent
  // and the connection closed), or nothing to accept it.
  virtual std::optional<Error> OnHello(Connection& connection, const v1::Hello& hello) {
    return std::nullopt;
  }
  virtual void OnRequest(Connection& connection, v1::Request request, Responder responder) = 0;
  // The peer gave up on a request (CancelRequest, or its deadline passed and
  // the server answered DEADLINE_EXCEEDED). Its Responder now returns false.
  virtual void OnCancel(Connection& connection, uint64_t request_id) {}
  // The connection is closed; every Responder for it returns false from now.
  virtual void OnDisconnected(Connection& connection) {}
};

struct ServerOptions {
  std::string socket_path;
  // Peers whose uid is not ours and not listed here are refused.
  std::vector<uid_t> allowed_uids;
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
  // Sent to every peer after its Hello; protocol_version, bridge_pid and
  // max_frame_bytes are filled in by the server.
  v1::Welcome welcome;
  // How often to check that socket_path still names our socket; 0: never.
  // If the file was removed (a tmp cleaner, an operator's rm) or replaced,
  // connected peers are unaffected but nobody new could reach us: the
  // server binds the path again (fault catalogue #22).
  std::chrono::milliseconds path_check_period{0};
};

class Server {
 public:
  Server(EventLoop& loop, ServerOptions options, RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Takes the owner lock (<socket>.lock), removes a stale socket, binds and
  // listens. Fails if another live process owns the socket.
  Status Start();
  // Stops accepting, closes every connection, removes the socket file.
  void Stop();

  Connection* Find(ConnectionId id);
  template <typename Fn>
  void ForEachConnection(Fn&& fn) {
    for (auto& [id, conn] : connections_) {
      if (conn->open()) fn(*conn);
    }
  }
  size_t connection_count() const { return connections_.size(); }
  uint64_t epoch() const { return options_.welcome.bridge_epoch(); }
  const std::string& socket_path() const { return options_.socket_path; }

 private:
  friend class Connection;
  friend class Responder;

  void OnAccepted(UniqueFd fd, const PeerCredentials& peer);
  bool PeerAllowed(const PeerCredentials& peer) const;
  bool Deliver(ConnectionId id, uint64_t request_id, v1::Response response);
  bool IsPending(ConnectionId id, uint64_t request_id);
  void Dispatch(Connection& conn, ServerSession::Decision decision);
  void ConnectionClosed(Connection& conn);

  EventLoop& loop_;
  ServerOptions options_;
  RequestHandler& handler_;
  Listener listener_;
  ConnectionId next_id_ = 1;
  std::map<ConnectionId, std::unique_ptr<Connection>> connections_;
  // Responders hold a weak reference, so one outliving the server is inert.
  std::shared_ptr<Server*> self_;
};

}  // namespace hourglass::ipc
