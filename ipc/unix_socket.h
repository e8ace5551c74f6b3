#pragma once

// Unix-socket plumbing shared by every process: the private runtime
// directory, the owner lock, listening, connecting, and peer credentials.
// Every descriptor made here is close-on-exec.

#include <sys/types.h>

#include <string>
#include <utility>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace hourglass::ipc {

// sun_path holds 108 bytes including the terminating NUL.
inline constexpr size_t kMaxSocketPathBytes = 107;

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Creates `path` (and missing parents) with mode 0700. An existing directory
// must be ours and not a symlink; group/other permission bits on it are
// removed. Anything else is refused with a message saying what is wrong.
Status EnsurePrivateDirectory(const std::string& path);

// Where every Hourglass process looks by default: $XDG_RUNTIME_DIR/hourglass,
// else /tmp/hourglass-<euid>; the bridge host binds <that>/bridge.sock.
std::string DefaultRuntimeDir();
std::string DefaultBridgeSocket();

// An exclusive flock on a file, held for the lifetime of this object. Guards a
// runtime directory or socket against a second owner; the kernel drops it when
// the owner dies, so a crashed owner never blocks its successor.
class OwnerLock {
 public:
  // Fails at once (no waiting) if another process holds the lock; the message
  // names that process's pid when the lock file records it.
  static Result<OwnerLock> Acquire(const std::string& path);

  OwnerLock() = default;
  const std::string& path() const { return path_; }

 private:
  OwnerLock(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  std::string path_;
  UniqueFd fd_;
};

// Binds and listens on `path` (non-blocking). The caller must hold the owner
// lock for it: a socket file already there is then a stale leftover of a dead
// owner and is removed. Binds under umask 077, so the socket is never
// reachable by others, even for an instant.
Result<UniqueFd> ListenUnixSocket(const std::string& path, int backlog = 128);

// Connects to `path`. Blocking unless `nonblocking`.
Result<UniqueFd> ConnectUnixSocket(const std::string& path, bool nonblocking = false);

Result<PeerCredentials> GetPeerCredentials(int fd);

// A connected pair of Unix stream sockets (both close-on-exec).
Result<std::pair<UniqueFd, UniqueFd>> MakeSocketPair();

Status SetNonBlocking(int fd, bool nonblocking);

}  // namespace hourglass::ipc
