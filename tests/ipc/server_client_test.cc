// The ipc server and both clients over real Unix sockets: handshake, out-of-
// order replies, deadlines, and every kind of bad input, each without effect on
// other connections.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <thread>

#include "ipc/client.h"
#include "ipc/envelope.h"
#include "ipc/frame.h"
#include "tests/ipc/test_server.h"

namespace hourglass::ipc {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedHandler;
using testing::ServerThread;
using testing::TempDir;

constexpr uint64_t kEpoch = 41;

class ServerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.socket_path = dir_.path() + "/bridge.sock";
    options.max_frame_bytes = 4u << 20;
    options.welcome.set_bridge_epoch(kEpoch);
    options.welcome.set_namespace_("default");
    server_ = std::make_unique<ServerThread>(options, handler_);
    ASSERT_TRUE(server_->Start().ok());
  }

  ClientOptions Options() {
    ClientOptions o;
    o.socket_path = dir_.path() + "/bridge.sock";
    o.hello.set_role(v1::ROLE_WORKER);
    o.hello.set_task_queue("q1");
    o.max_frame_bytes = 4u << 20;
    return o;
  }

  BlockingClient Connect() {
    auto c = BlockingClient::Connect(Options(), 5s);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : Describe(c.error()));
    return std::move(c).value();
  }

  static v1::Request Ping(const std::string& payload) {
    v1::Request r;
    r.mutable_ping()->set_payload(payload);
    return r;
  }

  static std::string RawFrame(const v1::Envelope& env) {
    auto frame = EncodeMessageFrame(env, kDefaultMaxFrameBytes);
    return std::move(frame).value();
  }

  TempDir dir_;
  ScriptedHandler handler_;
  std::unique_ptr<ServerThread> server_;
};

TEST_F(ServerClientTest, Handshake_WelcomeCarriesEpochPidAndLimit) {
  auto c = Connect();
  EXPECT_EQ(c.welcome().bridge_epoch(), kEpoch);
  EXPECT_EQ(c.welcome().bridge_pid(), ::getpid());
  EXPECT_EQ(c.welcome().max_frame_bytes(), 4u << 20);
  EXPECT_EQ(c.welcome().namespace_(), "default");
  EXPECT_EQ(c.welcome().protocol_version(), v1::PROTOCOL_VERSION_1);
}

TEST_F(ServerClientTest, Ping_EchoesSmallAndLargePayloads) {
  auto c = Connect();
  for (size_t size : {size_t{0}, size_t{64}, size_t{4096}, size_t{1} << 20}) {
    std::string payload(size, 'z');
    auto r = c.Call(Ping(payload), 5s);
    ASSERT_TRUE(r.ok()) << Describe(r.error());
    EXPECT_EQ(r->ping().payload(), payload);
  }
}

TEST_F(ServerClientTest, OutOfOrder_ParkedRequestDoesNotBlockLaterOnes) {
  EventLoop loop;
  AsyncClient client(loop, Options());
  std::vector<std::string> order;
  client.Connect(5s, [&](Result<v1::Welcome> w) {
    ASSERT_TRUE(w.ok());
    client.Call(Ping("park"), 5s, [&](Result<v1::Response> r) {
      ASSERT_TRUE(r.ok());
      order.push_back("park:" + r->ping().payload());
    });
    client.Call(Ping("quick"), 5s, [&](Result<v1::Response> r) {
      ASSERT_TRUE(r.ok());
      order.push_back(r->ping().payload());
      client.Call(Ping("release"), 5s, [&](Result<v1::Response> r2) {
        ASSERT_TRUE(r2.ok());
        order.push_back(r2->ping().payload());
        loop.Stop();
      });
    });
  });
  auto guard = loop.AddTimer(10s, [&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(order, (std::vector<std::string>{"quick", "park:parked", "release"}));
}

TEST_F(ServerClientTest, Deadline_ClientGivesUpAndTheServerReleasesThePoll) {
  auto c = Connect();
  v1::Request poll;
  poll.mutable_poll_workflow_activation()->set_task_queue("q1");
  auto r = c.Call(poll, 100ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_DEADLINE_EXCEEDED);
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.cancelled_.size() == 1; }));
  // The parked poll's responder must report that its reply went nowhere.
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.late_reply_delivered_.size() == 1; }));
  EXPECT_FALSE(handler_.late_reply_delivered_[0]);
  // And the connection carries on.
  EXPECT_TRUE(c.Call(Ping("after"), 5s).ok());
}

TEST_F(ServerClientTest, Deadline_ServerAnswersDeadlineExceededItself) {
  auto c = Connect();
  v1::Envelope env;
  env.set_request_id(500);
  env.mutable_request()->set_timeout_ms(50);
  env.mutable_request()->mutable_poll_workflow_activation()->set_task_queue("q1");
  ASSERT_TRUE(c.SendRaw(RawFrame(env), 5s).ok());
  auto reply = c.ReadEnvelope(5s);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->request_id(), 500u);
  EXPECT_EQ(reply->response().error().kind(), v1::ERROR_KIND_DEADLINE_EXCEEDED);
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.cancelled_.size() == 1; }));
}

TEST_F(ServerClientTest, Malformed_EnvelopeAnsweredUnderItsIdConnectionSurvives) {
  auto c = Connect();
  // request_id = 77, then a length-delimited field that claims more than is there.
  std::string body("\x08\x4d\x12\x7f\x01", 5);
  ASSERT_TRUE(
      c.SendRaw(EncodeFrame({reinterpret_cast<const uint8_t*>(body.data()), body.size()}), 5s)
          .ok());
  auto reply = c.ReadEnvelope(5s);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->request_id(), 77u);
  EXPECT_EQ(reply->response().error().kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_TRUE(c.Call(Ping("still here"), 5s).ok());
}

TEST_F(ServerClientTest, Oversized_FrameGetsAnErrorEventThenCloseOthersUnaffected) {
  auto bystander = Connect();
  auto c = Connect();
  const uint8_t header[kFrameHeaderBytes] = {0x04, 0x00, 0x00, 0x00};  // 64 MiB
  ASSERT_TRUE(c.SendRaw({reinterpret_cast<const char*>(header), kFrameHeaderBytes}, 5s).ok());
  auto reply = c.ReadEnvelope(5s);
  ASSERT_TRUE(reply.ok());
  ASSERT_TRUE(reply->has_event());
  EXPECT_EQ(reply->event().protocol_error().kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_NE(reply->event().protocol_error().message().find("67108864"), std::string::npos);
  auto after = c.ReadEnvelope(5s);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().kind(), v1::ERROR_KIND_UNAVAILABLE) << Describe(after.error());
  EXPECT_TRUE(bystander.Call(Ping("unaffected"), 5s).ok());
}

TEST_F(ServerClientTest, Truncated_FrameThenHangupOthersUnaffected) {
  auto bystander = Connect();
  {
    auto c = Connect();
    const uint8_t partial[] = {0x00, 0x00, 0x01, 0x00, 0x08, 0x01};  // 256-byte frame, 2 sent
    ASSERT_TRUE(c.SendRaw({reinterpret_cast<const char*>(partial), sizeof(partial)}, 5s).ok());
  }
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.disconnects_ == 1; }));
  EXPECT_TRUE(bystander.Call(Ping("unaffected"), 5s).ok());
}

TEST_F(ServerClientTest, Unknown_RequestKindIsAProtocolErrorNamingTheField) {
  auto c = Connect();
  std::string req("\xba\x3e\x00", 3);  // field 999
  std::string body = std::string("\x08\x05\x12", 3) + static_cast<char>(req.size()) + req;
  ASSERT_TRUE(
      c.SendRaw(EncodeFrame({reinterpret_cast<const uint8_t*>(body.data()), body.size()}), 5s)
          .ok());
  auto reply = c.ReadEnvelope(5s);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->request_id(), 5u);
  EXPECT_EQ(reply->response().error().kind(), v1::ERROR_KIND_PROTOCOL);
  EXPECT_NE(reply->response().error().message().find("999"), std::string::npos);
}

TEST_F(ServerClientTest, Handshake_RequestBeforeHelloIsRefusedAndClosed) {
  auto fd = ConnectUnixSocket(dir_.path() + "/bridge.sock");
  ASSERT_TRUE(fd.ok());
  v1::Envelope env;
  env.set_request_id(1);
  env.mutable_request()->mutable_ping();
  const std::string frame = RawFrame(env);
  ASSERT_EQ(::write(fd->get(), frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  FrameDecoder decoder;
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd->get(), buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "the server must close the connection";
  decoder.Feed({reinterpret_cast<const uint8_t*>(got.data()), got.size()});
  auto item = decoder.Next();
  ASSERT_EQ(item.status, FrameDecoder::Status::kFrame);
  v1::Envelope reply;
  ASSERT_TRUE(reply.ParseFromArray(item.body.data(), static_cast<int>(item.body.size())));
  EXPECT_EQ(reply.response().error().kind(), v1::ERROR_KIND_PROTOCOL);
}

TEST_F(ServerClientTest, StaleEpoch_IsRefusedCurrentEpochPasses) {
  auto c = Connect();
  v1::Request stale = Ping("x");
  stale.set_epoch(kEpoch - 1);
  auto r = c.Call(stale, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_STALE_EPOCH);
  v1::Request current = Ping("y");
  current.set_epoch(kEpoch);
  EXPECT_TRUE(c.Call(current, 5s).ok());
}

TEST_F(ServerClientTest, Disconnect_WhileParkedReportsNonDelivery) {
  {
    auto c = Connect();
    v1::Envelope env;
    env.set_request_id(9);
    env.mutable_request()->mutable_poll_workflow_activation()->set_task_queue("q1");
    ASSERT_TRUE(c.SendRaw(RawFrame(env), 5s).ok());
    ASSERT_TRUE(handler_.WaitFor([&] { return handler_.polls_.size() == 1; }));
  }
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.late_reply_delivered_.size() == 1; }));
  EXPECT_FALSE(handler_.late_reply_delivered_[0]);
}

TEST_F(ServerClientTest, DroppedResponder_AnswersInternalInsteadOfHanging) {
  auto c = Connect();
  auto r = c.Call(Ping("drop"), 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_INTERNAL);
}

TEST_F(ServerClientTest, Oversized_RequestIsRefusedAtTheSender) {
  auto c = Connect();
  auto r = c.Call(Ping(std::string(5u << 20, 'x')), 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
  EXPECT_TRUE(c.Call(Ping("fine"), 5s).ok());
}

TEST_F(ServerClientTest, AsyncClient_PendingCallsFailUnavailableWhenTheServerGoes) {
  EventLoop loop;
  AsyncClient client(loop, Options());
  std::optional<Error> failure;
  bool disconnected = false;
  client.set_disconnect_callback([&](const Error&) { disconnected = true; });
  client.Connect(5s, [&](Result<v1::Welcome> w) {
    ASSERT_TRUE(w.ok());
    client.Call(Ping("park"), 0ms, [&](Result<v1::Response> r) {
      if (!r.ok()) failure = r.error();
      loop.Stop();
    });
  });
  std::thread stopper([&] {
    handler_.WaitFor([&] { return handler_.parked_.size() == 1; });
    // The parked Responder is destroyed with the handler state below, after
    // the server closes the connection: it must not be able to answer.
    server_->Stop();
  });
  auto guard = loop.AddTimer(10s, [&] { loop.Stop(); });
  loop.Run();
  stopper.join();
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind(), v1::ERROR_KIND_UNAVAILABLE);
  EXPECT_TRUE(disconnected);
}

TEST_F(ServerClientTest, AsyncClient_ManyConcurrentCallsAllAnswered) {
  EventLoop loop;
  AsyncClient client(loop, Options());
  int answered = 0;
  constexpr int kCalls = 500;
  client.Connect(5s, [&](Result<v1::Welcome> w) {
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < kCalls; ++i) {
      client.Call(Ping(std::to_string(i)), 5s, [&, i](Result<v1::Response> r) {
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->ping().payload(), std::to_string(i));
        if (++answered == kCalls) loop.Stop();
      });
    }
  });
  auto guard = loop.AddTimer(10s, [&] { loop.Stop(); });
  loop.Run();
  EXPECT_EQ(answered, kCalls);
}

// A server that checks its socket path every 20 ms, and one peer connected
// before anything happens to the path.
class ServerSocketPath : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.socket_path = path_;
    options.path_check_period = 20ms;
    server_ = std::make_unique<ServerThread>(options, handler_);
    ASSERT_TRUE(server_->Start().ok());
    auto c = Connect();
    ASSERT_TRUE(c.ok()) << Describe(c.error());
    before_.emplace(std::move(c).value());
  }

  Result<BlockingClient> Connect() {
    ClientOptions o;
    o.socket_path = path_;
    o.hello.set_role(v1::ROLE_WORKER);
    o.hello.set_task_queue("q1");
    return BlockingClient::Connect(o, 5s);
  }

  // Pings over `client`; the echoed payload, or the error.
  static std::string Ping(BlockingClient& client, const std::string& payload) {
    v1::Request ping;
    ping.mutable_ping()->set_payload(payload);
    auto r = client.Call(ping, 5s);
    return r.ok() ? r->ping().payload() : Describe(r.error());
  }

  TempDir dir_;
  const std::string path_ = dir_.path() + "/bridge.sock";
  ScriptedHandler handler_;
  std::unique_ptr<ServerThread> server_;
  std::optional<BlockingClient> before_;
};

// Fault catalogue #22: someone removes the socket file while the server
// lives. Connected peers never notice; the server binds the path again on
// its next check, so peers that start later reach it too.
TEST_F(ServerSocketPath, Removed_IsBoundAgainAndEarlierConnectionsStay) {
  struct stat original {};
  ASSERT_EQ(::stat(path_.c_str(), &original), 0);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  // Polled: the check runs on the server's timer.
  struct stat again {};
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::stat(path_.c_str(), &again) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(S_ISSOCK(again.st_mode)) << "the path was not bound again";
  EXPECT_EQ(again.st_mode & 0777, original.st_mode & 0777);

  auto after = Connect();
  ASSERT_TRUE(after.ok()) << Describe(after.error());
  EXPECT_EQ(Ping(*after, "new"), "new");
  EXPECT_EQ(Ping(*before_, "old"), "old");
}

// Something that is not a socket put at the path is not ours to remove: the
// server leaves it (and says so), and keeps serving its connected peers.
TEST_F(ServerSocketPath, ReplacedByAFile_IsLeftAloneAndServingGoesOn) {
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  { std::ofstream(path_) << "not a socket"; }
  std::this_thread::sleep_for(100ms);  // several checks
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "a regular file at the path was replaced";
  EXPECT_EQ(Ping(*before_, "still"), "still");
  server_->Stop();
  EXPECT_EQ(::stat(path_.c_str(), &st), 0) << "stopping removed a file not ours";
}

}  // namespace
}  // namespace hourglass::ipc
