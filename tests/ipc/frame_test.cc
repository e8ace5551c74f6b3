#include "ipc/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hourglass::ipc {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string FrameOf(const std::string& body) { return EncodeFrame(Bytes(body)); }

// Drains every complete frame the decoder holds.
std::vector<std::string> Drain(FrameDecoder& d) {
  std::vector<std::string> out;
  for (;;) {
    auto item = d.Next();
    if (item.status != FrameDecoder::Status::kFrame) break;
    out.emplace_back(item.body.begin(), item.body.end());
  }
  return out;
}

TEST(FrameHeader, RoundTripsBigEndian) {
  uint8_t h[kFrameHeaderBytes];
  EncodeFrameHeader(0x01020304u, h);
  EXPECT_EQ(h[0], 1);
  EXPECT_EQ(h[3], 4);
  EXPECT_EQ(DecodeFrameHeader(h), 0x01020304u);
}

TEST(FrameDecoder, WholeFrameAtOnce) {
  FrameDecoder d;
  d.Feed(Bytes(FrameOf("hello")));
  EXPECT_EQ(Drain(d), std::vector<std::string>{"hello"});
  EXPECT_EQ(d.Next().status, FrameDecoder::Status::kNeedMore);
}

TEST(FrameDecoder, EmptyBodyIsAFrame) {
  FrameDecoder d;
  d.Feed(Bytes(FrameOf("")));
  EXPECT_EQ(Drain(d), std::vector<std::string>{""});
}

TEST(FrameDecoder, SplitAtEveryByteOfThreeFrames) {
  const std::vector<std::string> bodies = {"a", std::string(300, 'x'), "", "last frame"};
  std::string stream;
  for (const auto& b : bodies) stream += FrameOf(b);
  // Every pair of cut points: three pieces, each fed separately.
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) {
      FrameDecoder d;
      std::vector<std::string> got;
      for (auto [from, to] : {std::pair{size_t{0}, i}, {i, j}, {j, stream.size()}}) {
        d.Feed(Bytes(stream.substr(from, to - from)));
        auto more = Drain(d);
        got.insert(got.end(), more.begin(), more.end());
      }
      ASSERT_EQ(got, bodies) << "cuts at " << i << " and " << j;
      EXPECT_EQ(d.buffered(), 0u);
    }
  }
}

TEST(FrameDecoder, OneByteAtATime) {
  const std::string stream = FrameOf("xyz") + FrameOf(std::string(1000, 'q'));
  FrameDecoder d;
  std::vector<std::string> got;
  for (char c : stream) {
    d.Feed(Bytes(std::string(1, c)));
    auto more = Drain(d);
    got.insert(got.end(), more.begin(), more.end());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"xyz", std::string(1000, 'q')}));
}

TEST(FrameDecoder, ZeroCopyWritableSpan) {
  const std::string stream = FrameOf("zero-copy");
  FrameDecoder d;
  auto span = d.WritableSpan(stream.size());
  ASSERT_GE(span.size(), stream.size());
  std::copy(stream.begin(), stream.end(), span.begin());
  d.Commit(stream.size());
  EXPECT_EQ(Drain(d), std::vector<std::string>{"zero-copy"});
}

TEST(FrameDecoder, ExactlyAtLimitIsAccepted) {
  FrameDecoder d(/*max_frame_bytes=*/16);
  d.Feed(Bytes(FrameOf(std::string(16, 'm'))));
  EXPECT_EQ(Drain(d).size(), 1u);
}

TEST(FrameDecoder, OverLimitFailsBeforeTheBodyArrivesAndStaysFailed) {
  FrameDecoder d(/*max_frame_bytes=*/16);
  uint8_t h[kFrameHeaderBytes];
  EncodeFrameHeader(17, h);
  d.Feed({h, kFrameHeaderBytes});
  auto item = d.Next();
  EXPECT_EQ(item.status, FrameDecoder::Status::kError);
  EXPECT_EQ(item.error, FrameError::kTooLarge);
  EXPECT_EQ(item.declared_bytes, 17u);
  EXPECT_TRUE(d.failed());
  d.Feed(Bytes(FrameOf("ok")));
  EXPECT_EQ(d.Next().status, FrameDecoder::Status::kError);
}

TEST(FrameDecoder, HugeDeclaredLengthNeverAllocates) {
  FrameDecoder d;
  const uint8_t h[kFrameHeaderBytes] = {0xff, 0xff, 0xff, 0xff};
  d.Feed({h, kFrameHeaderBytes});
  auto item = d.Next();
  EXPECT_EQ(item.status, FrameDecoder::Status::kError);
  EXPECT_EQ(item.declared_bytes, 0xffffffffu);
}

TEST(FrameDecoder, BytesWantedTracksTheCurrentFrame) {
  FrameDecoder d;
  EXPECT_EQ(d.BytesWanted(), kFrameHeaderBytes);
  const std::string stream = FrameOf(std::string(100, 'b'));
  d.Feed(Bytes(stream.substr(0, 2)));
  EXPECT_EQ(d.BytesWanted(), 2u);
  d.Feed(Bytes(stream.substr(2, 10)));
  EXPECT_EQ(d.BytesWanted(), stream.size() - 12);
}

TEST(FrameDecoder, ManyFramesInOneFeed) {
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += FrameOf(std::to_string(i));
  FrameDecoder d;
  d.Feed(Bytes(stream));
  auto got = Drain(d);
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(got[999], "999");
}

}  // namespace
}  // namespace hourglass::ipc
