#include "ipc/envelope.h"

#include <gtest/gtest.h>

#include "ipc/frame.h"

namespace hourglass::ipc {
namespace {

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(PeekRequestId, FindsTheIdOfAWellFormedEnvelope) {
  v1::Envelope env;
  env.set_request_id(123456789);
  env.mutable_request()->mutable_ping()->set_payload("abc");
  EXPECT_EQ(PeekRequestId(AsBytes(env.SerializeAsString())), 123456789u);
}

TEST(PeekRequestId, FindsTheIdBeforeGarbage) {
  v1::Envelope env;
  env.set_request_id(42);
  std::string bytes = env.SerializeAsString() + "\x12\xff\xff\xff";  // truncated field 2
  v1::Envelope parsed;
  EXPECT_FALSE(parsed.ParseFromString(bytes));
  EXPECT_EQ(PeekRequestId(AsBytes(bytes)), 42u);
}

TEST(PeekRequestId, NothingFromEmptyOrGarbage) {
  EXPECT_EQ(PeekRequestId({}), std::nullopt);
  EXPECT_EQ(PeekRequestId(AsBytes("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")), std::nullopt);
  EXPECT_EQ(PeekRequestId(AsBytes("\x0f")), std::nullopt);  // wire type 7
}

TEST(RequestKindName, NamesKnownAndUnknownKinds) {
  v1::Request r;
  r.mutable_poll_workflow_activation()->set_task_queue("q");
  EXPECT_EQ(RequestKindName(r), "poll_workflow_activation");

  // Field 999, length-delimited, empty: what a newer peer's request looks like.
  v1::Request unknown;
  ASSERT_TRUE(unknown.ParseFromString(std::string("\xba\x3e\x00", 3)));
  EXPECT_EQ(unknown.kind_case(), v1::Request::KIND_NOT_SET);
  EXPECT_EQ(RequestKindName(unknown), "unknown field 999");

  EXPECT_EQ(RequestKindName(v1::Request()), "no request kind");
}

TEST(EncodeMessageFrame, RefusesOversizedMessagesWithATypedError) {
  v1::Envelope env;
  env.mutable_request()->mutable_ping()->set_payload(std::string(2000, 'x'));
  auto frame = EncodeMessageFrame(env, 1000);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);

  auto ok = EncodeMessageFrame(env, kDefaultMaxFrameBytes);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(DecodeFrameHeader(reinterpret_cast<const uint8_t*>(ok->data())),
            ok->size() - kFrameHeaderBytes);
}

TEST(ErrorKindName, StripsThePrefix) {
  EXPECT_EQ(ErrorKindName(v1::ERROR_KIND_STALE_EPOCH), "STALE_EPOCH");
  EXPECT_EQ(Describe(MakeError(v1::ERROR_KIND_SHUTDOWN, "bye")), "SHUTDOWN: bye");
  EXPECT_EQ(ErrorKindName(static_cast<ErrorKind>(77)), "UNKNOWN(77)");
}

}  // namespace
}  // namespace hourglass::ipc
