#include "ipc/server_session.h"

#include <gtest/gtest.h>

namespace hourglass::ipc {
namespace {

using Kind = ServerSession::Decision::Kind;
constexpr uint64_t kEpoch = 7;

std::string Hello(uint64_t id, v1::ProtocolVersion version = v1::PROTOCOL_VERSION_1) {
  v1::Envelope env;
  env.set_request_id(id);
  env.mutable_request()->mutable_hello()->set_protocol_version(version);
  env.mutable_request()->mutable_hello()->set_role(v1::ROLE_WORKER);
  return env.SerializeAsString();
}

std::string Ping(uint64_t id, uint64_t epoch = 0) {
  v1::Envelope env;
  env.set_request_id(id);
  env.mutable_request()->set_epoch(epoch);
  env.mutable_request()->mutable_ping()->set_payload("p");
  return env.SerializeAsString();
}

ServerSession::Decision Feed(ServerSession& s, const std::string& bytes) {
  return s.OnFrame({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

ErrorKind ReplyKind(const ServerSession::Decision& d) {
  if (!d.reply) return v1::ERROR_KIND_UNSPECIFIED;
  if (d.reply->has_event()) return d.reply->event().protocol_error().kind();
  return d.reply->response().error().kind();
}

ServerSession OpenSession() {
  ServerSession s(kEpoch);
  EXPECT_EQ(Feed(s, Hello(1)).kind, Kind::kHello);
  s.AcceptHello();
  return s;
}

TEST(ServerSession, Handshake_HelloFirstIsHandedToTheShell) {
  ServerSession s(kEpoch);
  auto d = Feed(s, Hello(1));
  EXPECT_EQ(d.kind, Kind::kHello);
  EXPECT_EQ(d.request_id, 1u);
  EXPECT_EQ(d.request.hello().role(), v1::ROLE_WORKER);
  EXPECT_FALSE(s.open());
}

TEST(ServerSession, Handshake_RequestBeforeHelloIsRefusedAndCloses) {
  ServerSession s(kEpoch);
  auto d = Feed(s, Ping(5));
  EXPECT_EQ(d.kind, Kind::kReply);
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_EQ(d.reply->request_id(), 5u);
  EXPECT_TRUE(d.close_after_reply);
}

TEST(ServerSession, Handshake_WrongProtocolVersionIsRefusedAndCloses) {
  ServerSession s(kEpoch);
  auto d = Feed(s, Hello(1, static_cast<v1::ProtocolVersion>(2)));
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_TRUE(d.close_after_reply);
  EXPECT_NE(d.problem.find("version 2"), std::string::npos);
}

TEST(ServerSession, Handshake_SecondHelloIsAProtocolErrorButKeepsTheConnection) {
  auto s = OpenSession();
  auto d = Feed(s, Hello(2));
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_FALSE(d.close_after_reply);
}

TEST(ServerSession, Dispatch_RequestsAreTrackedUntilComplete) {
  auto s = OpenSession();
  auto d = Feed(s, Ping(2));
  EXPECT_EQ(d.kind, Kind::kDispatch);
  EXPECT_TRUE(d.request.has_ping());
  EXPECT_TRUE(s.IsInFlight(2));
  EXPECT_TRUE(s.Complete(2));
  EXPECT_FALSE(s.Complete(2)) << "a second answer must be refused";
}

TEST(ServerSession, Dispatch_DuplicateInFlightIdIsRefused) {
  auto s = OpenSession();
  EXPECT_EQ(Feed(s, Ping(2)).kind, Kind::kDispatch);
  auto d = Feed(s, Ping(2));
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_TRUE(s.IsInFlight(2)) << "the original stays in flight";
}

TEST(ServerSession, Dispatch_RequestIdZeroIsRefused) {
  auto s = OpenSession();
  auto d = Feed(s, Ping(0));
  EXPECT_EQ(d.kind, Kind::kReply);
  EXPECT_TRUE(d.reply->has_event()) << "no id to answer under: an event";
}

TEST(ServerSession, Dispatch_StaleEpochIsRefusedCurrentAndZeroPass) {
  auto s = OpenSession();
  EXPECT_EQ(ReplyKind(Feed(s, Ping(2, kEpoch - 1))), v1::ERROR_KIND_STALE_EPOCH);
  EXPECT_EQ(Feed(s, Ping(3, kEpoch)).kind, Kind::kDispatch);
  EXPECT_EQ(Feed(s, Ping(4, 0)).kind, Kind::kDispatch);
}

TEST(ServerSession, Malformed_AnsweredUnderTheRecoveredIdAndKeepsTheConnection) {
  auto s = OpenSession();
  std::string bytes = Ping(9) + "\x12\x80";  // a truncated trailing field
  auto d = Feed(s, bytes);
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_EQ(d.reply->request_id(), 9u);
  EXPECT_FALSE(d.close_after_reply);
  EXPECT_EQ(Feed(s, Ping(10)).kind, Kind::kDispatch);
}

TEST(ServerSession, Malformed_WithoutAnIdBecomesAnEvent) {
  auto s = OpenSession();
  auto d = Feed(s, std::string("\xff\xff\xff", 3));
  EXPECT_EQ(d.kind, Kind::kReply);
  ASSERT_TRUE(d.reply->has_event());
  EXPECT_EQ(d.reply->event().protocol_error().kind(), v1::ERROR_KIND_PROTOCOL);
}

TEST(ServerSession, Unknown_RequestKindIsNamedInTheError) {
  auto s = OpenSession();
  // request_id=3, request={field 999: ""}
  std::string req("\xba\x3e\x00", 3);
  std::string bytes = std::string("\x08\x03\x12", 3) + static_cast<char>(req.size()) + req;
  auto d = Feed(s, bytes);
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_NE(d.reply->response().error().message().find("unknown field 999"), std::string::npos);
}

TEST(ServerSession, Unknown_EmptyEnvelopeIsRefused) {
  auto s = OpenSession();
  EXPECT_EQ(ReplyKind(Feed(s, "")), v1::ERROR_KIND_PROTOCOL);
}

TEST(ServerSession, Unknown_ResponseFromAPeerIsRefused) {
  auto s = OpenSession();
  v1::Envelope env;
  env.set_request_id(4);
  env.mutable_response()->mutable_ping();
  EXPECT_EQ(ReplyKind(Feed(s, env.SerializeAsString())), v1::ERROR_KIND_PROTOCOL);
}

TEST(ServerSession, Cancel_OfAnInFlightRequestIsReported) {
  auto s = OpenSession();
  Feed(s, Ping(2));
  v1::Envelope env;
  env.mutable_event()->mutable_cancel_request()->set_request_id(2);
  auto d = Feed(s, env.SerializeAsString());
  EXPECT_EQ(d.kind, Kind::kCancel);
  EXPECT_EQ(d.request_id, 2u);
}

TEST(ServerSession, Cancel_OfAnUnknownRequestIsIgnored) {
  auto s = OpenSession();
  v1::Envelope env;
  env.mutable_event()->mutable_cancel_request()->set_request_id(77);
  EXPECT_EQ(Feed(s, env.SerializeAsString()).kind, Kind::kNone);
}

TEST(ServerSession, Cancel_BeforeHelloIsRefusedAndCloses) {
  ServerSession s(kEpoch);
  v1::Envelope env;
  env.mutable_event()->mutable_cancel_request()->set_request_id(1);
  auto d = Feed(s, env.SerializeAsString());
  EXPECT_EQ(ReplyKind(d), v1::ERROR_KIND_PROTOCOL);
  EXPECT_TRUE(d.close_after_reply);
}

}  // namespace
}  // namespace hourglass::ipc
