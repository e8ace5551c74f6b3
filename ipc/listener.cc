#include "ipc/listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hourglass::ipc {

Listener::Listener(EventLoop& loop, Options options, OnAccepted on_accepted)
    : loop_(loop), options_(std::move(options)), on_accepted_(std::move(on_accepted)) {}

Listener::~Listener() { Stop(); }

Status Listener::Start() {
  auto lock = OwnerLock::Acquire(options_.path + ".lock");
  if (!lock) return lock.error();
  auto fd = ListenUnixSocket(options_.path);
  if (!fd) return fd.error();
  lock_ = std::move(lock).value();
  Listen(std::move(fd).value());
  if (options_.path_check_period.count() > 0) {
    path_check_timer_ = loop_.AddPeriodicTimer(options_.path_check_period, [this] { CheckPath(); });
  }
  return OkStatus();
}

void Listener::Stop() {
  if (!fd_) return;
  path_check_timer_.Reset();
  pause_timer_.Reset();
  paused_ = false;
  accept_watch_.Reset();
  fd_.Reset();
  if (PathIsOurs()) ::unlink(options_.path.c_str());
  lock_ = OwnerLock();
}

void Listener::Listen(UniqueFd fd) {
  fd_ = std::move(fd);
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) == 0) {
    bound_dev_ = st.st_dev;
    bound_ino_ = st.st_ino;
  }
  // During a pause the timer re-arms the watch on the new socket.
  if (!paused_) Watch();
}

void Listener::Watch() {
  accept_watch_ = loop_.WatchFd(fd_.get(), kReadable, [this](short) { OnAcceptable(); });
}

bool Listener::PathIsOurs() const {
  struct stat st {};
  return ::stat(options_.path.c_str(), &st) == 0 && st.st_dev == bound_dev_ &&
         st.st_ino == bound_ino_;
}

void Listener::OnAcceptable() {
  for (;;) {
    UniqueFd fd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      const int error = errno;
      if (error == EINTR || error == ECONNABORTED) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      if (KindForErrno(error, v1::ERROR_KIND_INTERNAL) == v1::ERROR_KIND_UNAVAILABLE) {
        // Once per shortage, not every pause.
        if (!shortage_logged_) {
          spdlog::error("{}: accept on {}: {}: not accepting for {} ms at a time until it works",
                        options_.log_name, options_.path, std::strerror(error),
                        kAcceptPause.count());
          shortage_logged_ = true;
        }
        accept_watch_.Reset();
        paused_ = true;
        // The handle stays until the next pause or Stop replaces it: a timer
        // is not destroyed inside its own callback.
        pause_timer_ = loop_.AddTimer(kAcceptPause, [this] {
          paused_ = false;
          if (fd_) Watch();
        });
        return;
      }
      spdlog::error("{}: accept on {}: {}", options_.log_name, options_.path, std::strerror(error));
      return;
    }
    if (shortage_logged_) {
      spdlog::info("{}: accepting on {} again", options_.log_name, options_.path);
      shortage_logged_ = false;
    }
    auto peer = GetPeerCredentials(fd.get());
    if (!peer) {
      spdlog::warn("{}: refused a connection: {}", options_.log_name, Describe(peer.error()));
      continue;
    }
    on_accepted_(std::move(fd), *peer);
  }
}

void Listener::CheckPath() {
  if (!fd_) return;
  if (PathIsOurs()) {
    rebind_failure_logged_ = false;
    return;
  }
  // We hold the owner lock, so whatever is at the path now is not another
  // live listener's; ListenUnixSocket replaces a socket file and refuses
  // anything else.
  auto fd = ListenUnixSocket(options_.path);
  if (!fd) {
    // Once, not every period: the state is the same until someone acts.
    if (!rebind_failure_logged_) {
      spdlog::error("{}: {} no longer names our socket, and binding it again failed: {}",
                    options_.log_name, options_.path, Describe(fd.error()));
      rebind_failure_logged_ = true;
    }
    return;
  }
  rebind_failure_logged_ = false;
  accept_watch_.Reset();
  Listen(std::move(fd).value());
  spdlog::warn("{}: {} had been removed or replaced: bound it again", options_.log_name,
               options_.path);
}

}  // namespace hourglass::ipc
