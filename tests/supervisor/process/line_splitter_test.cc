#include "supervisor/process/line_splitter.h"

#include <gtest/gtest.h>

namespace hourglass::supervisor {
namespace {

using Lines = std::vector<std::string>;

TEST(LineSplitter, Lines_SplitAtNewlinesAcrossArbitraryChunks) {
  LineSplitter s;
  const std::string text = "first line\nsecond\n\nthird";
  Lines got;
  for (char c : text) {  // one byte at a time: the worst chunking
    for (auto& l : s.Feed(std::string_view(&c, 1))) got.push_back(l);
  }
  for (auto& l : s.Finish()) got.push_back(l);
  EXPECT_EQ(got, (Lines{"first line", "second", "", "third"}));
}

TEST(LineSplitter, LongLine_CutAtTheLimitMarkedAndTheRestDropped) {
  LineSplitter s(8);
  Lines got = s.Feed("0123456789abcdef");
  EXPECT_EQ(got, (Lines{"01234567 [line truncated]"}));
  got = s.Feed("ghij\nnext\n");
  EXPECT_EQ(got, (Lines{"next"}));
  EXPECT_EQ(s.truncated(), 1u);
  EXPECT_TRUE(s.Finish().empty());
}

TEST(LineSplitter, ExactlyTheLimit_IsNotTruncated) {
  LineSplitter s(4);
  EXPECT_EQ(s.Feed("abcd\n"), (Lines{"abcd"}));
  EXPECT_EQ(s.truncated(), 0u);
}

}  // namespace
}  // namespace hourglass::supervisor
