#include "ipc/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace hourglass::ipc {
namespace {

Error SysError(ErrorKind kind, const std::string& what, int err) {
  return MakeError(kind, what + ": " + std::strerror(err));
}

Result<sockaddr_un> MakeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() > kMaxSocketPathBytes) {
    return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                     "socket path must be 1.." + std::to_string(kMaxSocketPathBytes) +
                         " bytes, got " + std::to_string(path.size()) + ": " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// RAII umask: bind() creates the socket file with the process umask applied.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

}  // namespace

Status EnsurePrivateDirectory(const std::string& path) {
  if (path.empty()) return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "empty directory path");
  // Parents: created 0700 too when missing; existing ones are left alone.
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    const std::string parent = path.substr(0, pos);
    if (::mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return SysError(v1::ERROR_KIND_INTERNAL, "mkdir " + parent, errno);
    }
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return SysError(v1::ERROR_KIND_INTERNAL, "mkdir " + path, errno);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return SysError(v1::ERROR_KIND_INTERNAL, "lstat " + path, errno);
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                     path + " is not a directory (a symlink is refused too)");
  }
  if (st.st_uid != ::geteuid()) {
    return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                     path + " belongs to uid " + std::to_string(st.st_uid) + ", not to us (uid " +
                         std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0 && ::chmod(path.c_str(), 0700) != 0) {
    return SysError(v1::ERROR_KIND_INTERNAL, "chmod 0700 " + path, errno);
  }
  return OkStatus();
}

Result<OwnerLock> OwnerLock::Acquire(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return SysError(v1::ERROR_KIND_INTERNAL, "open " + path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      char buf[32] = {};
      const ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
      std::string owner = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
      return MakeError(v1::ERROR_KIND_UNAVAILABLE,
                       path + " is held by another live process (pid " + owner + ")");
    }
    return SysError(v1::ERROR_KIND_INTERNAL, "flock " + path, err);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return SysError(v1::ERROR_KIND_INTERNAL, "write pid to " + path, errno);
  }
  return OwnerLock(path, std::move(fd));
}

Result<UniqueFd> ListenUnixSocket(const std::string& path, int backlog) {
  auto addr = MakeAddress(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return SysError(v1::ERROR_KIND_INTERNAL, "socket", errno);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                       path + " exists and is not a socket; refusing to remove it");
    }
    // The caller holds the owner lock, so this is a dead owner's leftover.
    if (::unlink(path.c_str()) != 0) {
      return SysError(v1::ERROR_KIND_INTERNAL, "unlink stale socket " + path, errno);
    }
  }
  {
    ScopedUmask umask(077);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
      return SysError(v1::ERROR_KIND_INTERNAL, "bind " + path, errno);
    }
  }
  if (::listen(fd.get(), backlog) != 0) {
    return SysError(v1::ERROR_KIND_INTERNAL, "listen " + path, errno);
  }
  return fd;
}

Result<UniqueFd> ConnectUnixSocket(const std::string& path, bool nonblocking) {
  auto addr = MakeAddress(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return SysError(v1::ERROR_KIND_INTERNAL, "socket", errno);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return SysError(v1::ERROR_KIND_UNAVAILABLE, "connect " + path, errno);
  if (nonblocking) {
    auto st = SetNonBlocking(fd.get(), true);
    if (!st) return st.error();
  }
  return fd;
}

Result<PeerCredentials> GetPeerCredentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return SysError(v1::ERROR_KIND_INTERNAL, "getsockopt(SO_PEERCRED)", errno);
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Result<std::pair<UniqueFd, UniqueFd>> MakeSocketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    const int error = errno;
    return SysError(KindForErrno(error, v1::ERROR_KIND_INTERNAL), "socketpair", error);
  }
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

Status SetNonBlocking(int fd, bool nonblocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return SysError(v1::ERROR_KIND_INTERNAL, "fcntl(F_GETFL)", errno);
  const int want = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) != 0) {
    return SysError(v1::ERROR_KIND_INTERNAL, "fcntl(F_SETFL)", errno);
  }
  return OkStatus();
}

std::string DefaultRuntimeDir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/hourglass";
  }
  return "/tmp/hourglass-" + std::to_string(::geteuid());
}

std::string DefaultBridgeSocket() { return DefaultRuntimeDir() + "/bridge.sock"; }

}  // namespace hourglass::ipc
