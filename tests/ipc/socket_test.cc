// Runtime directory, owner lock, stale socket cleanup, socket permissions and
// SO_PEERCRED refusal, on the real filesystem and real sockets.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "ipc/envelope.h"
#include "ipc/server.h"
#include "ipc/unix_socket.h"
#include "tests/ipc/test_server.h"

namespace hourglass::ipc {
namespace {

using testing::ScriptedHandler;
using testing::ServerThread;
using testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode;
}

TEST(PrivateDirectory, CreatedWithMode0700IncludingParents) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/run";
  ASSERT_TRUE(EnsurePrivateDirectory(dir).ok());
  EXPECT_EQ(ModeOf(dir) & 0777, 0700u);
  EXPECT_EQ(ModeOf(tmp.path() + "/a") & 0777, 0700u);
  EXPECT_TRUE(EnsurePrivateDirectory(dir).ok()) << "idempotent";
}

TEST(PrivateDirectory, LooseModeIsTightened) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/run";
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  ASSERT_TRUE(EnsurePrivateDirectory(dir).ok());
  EXPECT_EQ(ModeOf(dir) & 0777, 0700u);
}

TEST(PrivateDirectory, SymlinkAndRegularFileAreRefused) {
  TempDir tmp;
  const std::string target = tmp.path() + "/real";
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  const std::string link = tmp.path() + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto st = EnsurePrivateDirectory(link);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);

  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  EXPECT_FALSE(EnsurePrivateDirectory(file).ok());
}

TEST(OwnerLock, SecondOwnerIsRefusedWithTheHoldersPid) {
  TempDir tmp;
  const std::string path = tmp.path() + "/lock";
  auto first = OwnerLock::Acquire(path);
  ASSERT_TRUE(first.ok());
  auto second = OwnerLock::Acquire(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind(), v1::ERROR_KIND_UNAVAILABLE);
  EXPECT_NE(second.error().message().find(std::to_string(::getpid())), std::string::npos);
  first = OwnerLock();  // released
  EXPECT_TRUE(OwnerLock::Acquire(path).ok());
}

TEST(ListenUnixSocket, StaleSocketIsReplacedAndOnlyTheOwnerMayConnect) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  {
    auto stale = ListenUnixSocket(path);
    ASSERT_TRUE(stale.ok());
  }  // closed without unlink: a dead owner's leftover
  ASSERT_TRUE(std::filesystem::exists(path));
  auto fresh = ListenUnixSocket(path);
  ASSERT_TRUE(fresh.ok()) << Describe(fresh.error());
  EXPECT_TRUE(S_ISSOCK(ModeOf(path)));
  EXPECT_EQ(ModeOf(path) & 077, 0u) << "bound under umask 077: no access for group or others";
  EXPECT_TRUE(ConnectUnixSocket(path).ok());
}

TEST(ListenUnixSocket, RegularFileInTheWayIsNotRemoved) {
  TempDir tmp;
  const std::string path = tmp.path() + "/s.sock";
  std::ofstream(path) << "precious";
  auto fd = ListenUnixSocket(path);
  ASSERT_FALSE(fd.ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
}

TEST(ListenUnixSocket, OverlongPathIsAnInvalidArgument) {
  auto fd = ListenUnixSocket("/tmp/" + std::string(200, 'x'));
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
}

TEST(ConnectUnixSocket, NobodyListeningIsUnavailable) {
  TempDir tmp;
  auto fd = ConnectUnixSocket(tmp.path() + "/absent.sock");
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().kind(), v1::ERROR_KIND_UNAVAILABLE);
}

TEST(Server, SecondServerOnTheSameSocketIsRefusedSocketRemovedOnStop) {
  TempDir tmp;
  ScriptedHandler handler;
  ServerOptions options;
  options.socket_path = tmp.path() + "/bridge.sock";
  auto first = std::make_unique<ServerThread>(options, handler);
  ASSERT_TRUE(first->Start().ok());
  ServerThread second(options, handler);
  auto st = second.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind(), v1::ERROR_KIND_UNAVAILABLE);
  EXPECT_TRUE(std::filesystem::exists(options.socket_path)) << "the loser must not unlink it";
  first.reset();
  EXPECT_FALSE(std::filesystem::exists(options.socket_path));
  ServerThread third(options, handler);
  EXPECT_TRUE(third.Start().ok());
}

TEST(PeerCredentials, SocketPairReportsOurOwnProcess) {
  auto pair = MakeSocketPair();
  ASSERT_TRUE(pair.ok());
  auto cred = GetPeerCredentials(pair->first.get());
  ASSERT_TRUE(cred.ok());
  EXPECT_EQ(cred->pid, ::getpid());
  EXPECT_EQ(cred->uid, ::geteuid());
}

// Forks a child that switches to `uid`, connects, sends Hello, and exits 0 if
// the server closed the connection without a word, 2 if it answered.
int HelloFromUid(const std::string& path, uid_t uid) {
  v1::Envelope env;
  env.set_request_id(1);
  env.mutable_request()->mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  const std::string frame = std::move(EncodeMessageFrame(env, 1024)).value();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only syscalls from here: the parent has threads.
    if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ::_exit(11);
    if (::write(fd, frame.data(), frame.size()) < 0) ::_exit(0);  // already closed: refused
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 10000) != 1) ::_exit(12);
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    ::_exit(n > 0 ? 2 : 0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

constexpr uid_t kNobody = 65534;

TEST(PeerCredentials, OtherUidIsRefusedUnlessAllowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  TempDir tmp;
  // The socket lives in a 0700 directory: let the other uid reach it for this
  // test only, so that the peer check itself is what refuses it.
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0711), 0);
  ScriptedHandler handler;
  ServerOptions options;
  options.socket_path = tmp.path() + "/bridge.sock";
  {
    ServerThread server(options, handler);
    ASSERT_TRUE(server.Start().ok());
    ASSERT_EQ(::chmod(options.socket_path.c_str(), 0666), 0);
    EXPECT_EQ(HelloFromUid(options.socket_path, kNobody), 0) << "refused without a Welcome";
  }
  options.allowed_uids = {kNobody};
  ServerThread server(options, handler);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_EQ(::chmod(options.socket_path.c_str(), 0666), 0);
  EXPECT_EQ(HelloFromUid(options.socket_path, kNobody), 2) << "an allowed uid gets its Welcome";
}

}  // namespace
}  // namespace hourglass::ipc

namespace hourglass::ipc {
namespace {

// Records the delegate upcalls of a FrameChannel.
class RecordingDelegate : public FrameChannel::Delegate {
 public:
  void OnFrame(std::span<const uint8_t>) override {}
  void OnFrameError(const std::string&) override {}
  void OnClosed(ChannelCloseReason reason, const std::string&) override {
    ++closed;
    last_reason = reason;
  }
  int closed = 0;
  ChannelCloseReason last_reason = ChannelCloseReason::kLocalClose;
};

// One end of a socket pair whose other end is already closed.
UniqueFd SocketWithAGonePeer() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::close(fds[1]);
  return UniqueFd(fds[0]);
}

std::string Frame(const std::string& body) {
  return EncodeFrame(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
}

// A send that finds the peer gone closes the channel but reports it on a
// later loop turn: the sender (a bridge-host worker answering a completion
// before applying it) must not have its owner torn down under it. The
// chaos soak found exactly that as a use-after-free.
TEST(FrameChannel, SendToAGonePeer_ClosesButReportsOnTheNextLoopTurn) {
  EventLoop loop;
  RecordingDelegate delegate;
  FrameChannel channel(loop, SocketWithAGonePeer(), delegate);
  EXPECT_FALSE(channel.SendFrame(Frame("hello")));
  EXPECT_FALSE(channel.open());
  EXPECT_EQ(delegate.closed, 0) << "OnClosed must not run inside SendFrame";
  loop.RunOnce();
  EXPECT_EQ(delegate.closed, 1);
  EXPECT_EQ(delegate.last_reason, ChannelCloseReason::kIoError);
}

// Destroyed before the loop turn: nothing is reported to a delegate that may
// be gone with it.
TEST(FrameChannel, DestroyedBeforeTheDeferredCloseReportsNothing) {
  EventLoop loop;
  RecordingDelegate delegate;
  {
    FrameChannel channel(loop, SocketWithAGonePeer(), delegate);
    EXPECT_FALSE(channel.SendFrame(Frame("x")));
  }
  loop.RunOnce();
  EXPECT_EQ(delegate.closed, 0);
}

}  // namespace
}  // namespace hourglass::ipc
