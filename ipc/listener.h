#pragma once

// A listening Unix socket on an event loop, shared by the bridge host's IPC
// server and the supervisor's control socket: the owner lock, the accept
// loop with SO_PEERCRED, and two faults neither may turn into an outage.
//
// - Out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM from accept): the
//   pending connection stays in the backlog and the socket stays readable,
//   so retrying at once would spin the loop at full CPU. Accepting pauses
//   for kAcceptPause and resumes (logged once per episode); the waiting
//   peers are served then (fault catalogue #26).
// - The socket file removed or replaced while we serve (a tmp cleaner, an
//   operator's rm): with a path check period, the path is bound again when
//   it no longer names our socket (fault catalogue #22). Connected peers are
//   unaffected either way.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include "ipc/event_loop.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "ipc/unix_socket.h"

namespace hourglass::ipc {

class Listener {
 public:
  static constexpr std::chrono::milliseconds kAcceptPause{100};

  struct Options {
    std::string path;
    // Names the socket in log lines ("ipc", "control socket").
    std::string log_name;
    // How often to check that `path` still names our socket; 0: never.
    std::chrono::milliseconds path_check_period{0};
  };
  // Each accepted connection, non-blocking and close-on-exec, with its
  // peer's credentials from the kernel.
  using OnAccepted = std::function<void(UniqueFd fd, const PeerCredentials& peer)>;

  Listener(EventLoop& loop, Options options, OnAccepted on_accepted);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Takes the owner lock (<path>.lock), removes a stale socket, binds and
  // listens. Fails if another live process owns the path.
  Status Start();
  // Stops accepting, releases the lock, and removes the socket file if it is
  // still ours (something else put at the path is left alone).
  void Stop();
  bool listening() const { return static_cast<bool>(fd_); }
  const std::string& path() const { return options_.path; }

 private:
  void Watch();
  void OnAcceptable();
  void CheckPath();
  // Takes `fd` (bound at the path) as the listening socket.
  void Listen(UniqueFd fd);
  bool PathIsOurs() const;

  EventLoop& loop_;
  Options options_;
  OnAccepted on_accepted_;
  OwnerLock lock_;
  UniqueFd fd_;
  EventHandle accept_watch_;
  EventHandle pause_timer_;
  EventHandle path_check_timer_;
  // The socket file we bound (st_dev, st_ino): what the path must name.
  dev_t bound_dev_ = 0;
  ino_t bound_ino_ = 0;
  bool rebind_failure_logged_ = false;
  bool paused_ = false;  // accepting paused for want of descriptors
  bool shortage_logged_ = false;
};

}  // namespace hourglass::ipc
