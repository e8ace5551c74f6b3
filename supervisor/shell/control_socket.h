#pragma once

// hourglass-supervisor's control socket (<runtime_dir>/supervisor.sock, the
// protocol in proto/hourglass/ipc/v1/ctl.proto): accepts peers whose uid is
// allowed (SO_PEERCRED), reads CtlRequest frames, hands each to the handler,
// and writes the handler's CtlReply. Requests on one connection are handed
// over one at a time, so replies come in request order even when a request
// (start-worker, restart) is answered only once the tree settled.
//
// Runs on the supervisor's one loop; never blocks it.

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/event_loop.h"
#include "ipc/frame_channel.h"
#include "ipc/listener.h"
#include "ipc/result.h"
#include "ipc/unix_socket.h"

namespace hourglass::supervisor {

class ControlSocket {
 public:
  using ConnectionId = uint64_t;

  class Handler {
   public:
    virtual ~Handler() = default;
    // Answer with Reply(id, ...) now or later; exactly once.
    virtual void OnCtlRequest(ConnectionId id, const ipc::v1::CtlRequest& request) = 0;
    // The peer left; a pending answer for it is no longer needed.
    virtual void OnCtlDisconnected(ConnectionId id) {}
  };

  ControlSocket(ipc::EventLoop& loop, std::string path, std::vector<uid_t> allowed_uids,
                Handler& handler);
  ~ControlSocket();
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

  // Takes <path>.lock (a second supervisor on the same runtime directory is
  // refused with the owner's pid), removes a stale socket, listens. The path
  // is checked every kPathCheckPeriod and bound again if it was removed
  // (ipc/listener.h): `hourglass ctl` must not lose the supervisor for good.
  ipc::Status Start();
  static constexpr std::chrono::milliseconds kPathCheckPeriod{5000};
  // Closes every connection and removes the socket file.
  void Stop();

  // Answers the request the connection is waiting on. False when the peer is
  // gone.
  bool Reply(ConnectionId id, const ipc::v1::CtlReply& reply);
  // Reply, then writes out everything queued on that connection before it
  // returns (blocking, bounded): for `ctl stop`, answered right before the
  // supervisor exits.
  void ReplyAndFlush(ConnectionId id, const ipc::v1::CtlReply& reply);

  const std::string& path() const { return listener_.path(); }
  size_t connection_count() const { return connections_.size(); }

  static ipc::v1::CtlReply Error(ipc::v1::CtlErrorKind kind, const std::string& message);

 private:
  class Connection;
  void OnAccepted(ipc::UniqueFd fd, const ipc::PeerCredentials& peer);
  void Dispatch(Connection& c);
  void Closed(ConnectionId id);

  ipc::EventLoop& loop_;
  std::vector<uid_t> allowed_uids_;
  Handler& handler_;
  ipc::Listener listener_;
  ConnectionId next_id_ = 1;
  std::map<ConnectionId, std::unique_ptr<Connection>> connections_;
};

}  // namespace hourglass::supervisor
