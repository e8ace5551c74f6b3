#include "bridgehost/core/randomness_seed.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace hourglass::bridgehost::core {
namespace {

uint64_t Raw(std::string_view s) {
  return internal::SipHash13(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The two vectors the reference gives (§2.2 row 1); sdk-core computed them.
TEST(RandomnessSeedTest, MatchesSdkCoreForTimerWorkflowRunId) {
  EXPECT_EQ(RandomnessSeedFor("8212ae33-7a76-4bb1-8496-5e0515d2ce1a"), 3173600465606032170ULL);
}

TEST(RandomnessSeedTest, MatchesSdkCoreForEmptyRunId) {
  EXPECT_EQ(RandomnessSeedFor(""), 3476900567878811119ULL);
}

TEST(RandomnessSeedTest, IsDeterministic) {
  const std::string run_id = "0b0f1a5e-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
  EXPECT_EQ(RandomnessSeedFor(run_id), RandomnessSeedFor(std::string(run_id)));
}

TEST(RandomnessSeedTest, DifferentRunIdsGiveDifferentSeeds) {
  EXPECT_NE(RandomnessSeedFor("run-a"), RandomnessSeedFor("run-b"));
  EXPECT_NE(RandomnessSeedFor("a"), RandomnessSeedFor("a "));
}

// The seed hashes the run id plus Rust's 0xFF str terminator, not the bare
// bytes; forgetting the terminator is the easy mistake this guards against.
TEST(RandomnessSeedTest, IncludesTheStrTerminator) {
  EXPECT_NE(RandomnessSeedFor("a"), Raw("a"));
  EXPECT_EQ(RandomnessSeedFor("a"), Raw(std::string("a") + '\xff'));
  EXPECT_EQ(RandomnessSeedFor(""), Raw("\xff"));
}

// Independent SipHash-1-3 (keys 0, 0) values, cross-checked against CPython
// 3.11, whose bytes hash is SipHash-1-3 with an all-zero key under
// PYTHONHASHSEED=0: a partial block, exactly one full block (so the length
// lives alone in the final block), and two blocks plus one byte.
TEST(SipHash13Test, KnownValues) {
  EXPECT_EQ(Raw("a"), 4644417185603328019ULL);
  EXPECT_EQ(Raw("a\xff"), 8186225505942432243ULL);
  EXPECT_EQ(Raw("abcdefgh"), 4574395652268504554ULL);
  EXPECT_EQ(Raw("abcdefghijklmnopq"), 7044894726457044172ULL);
}

TEST(SipHash13Test, EmptyInputNeedsNoData) { EXPECT_EQ(internal::SipHash13(nullptr, 0), Raw("")); }

}  // namespace
}  // namespace hourglass::bridgehost::core
