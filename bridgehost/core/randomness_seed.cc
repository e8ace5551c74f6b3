#include "bridgehost/core/randomness_seed.h"

#include <bit>
#include <vector>

namespace hourglass::bridgehost::core {
namespace internal {
namespace {

struct SipState {
  // The initialisation constants ("somepseudorandomlygeneratedbytes") xored
  // with the keys; both keys are zero here, so they appear unchanged.
  uint64_t v0 = 0x736f6d6570736575ULL;
  uint64_t v1 = 0x646f72616e646f6dULL;
  uint64_t v2 = 0x6c7967656e657261ULL;
  uint64_t v3 = 0x7465646279746573ULL;

  void Round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // The "1" of SipHash-1-3: one round per 8-byte block.
  void Compress(uint64_t m) {
    v3 ^= m;
    Round();
    v0 ^= m;
  }
};

// SipHash reads blocks little-endian whatever the host byte order, so
// assemble them byte by byte rather than memcpy-ing.
uint64_t LoadLe(const uint8_t* p, size_t n) {
  uint64_t out = 0;
  for (size_t i = 0; i < n; ++i) out |= static_cast<uint64_t>(p[i]) << (8 * i);
  return out;
}

}  // namespace

uint64_t SipHash13(const uint8_t* data, size_t len) {
  SipState s;
  const size_t full = len - len % 8;
  for (size_t i = 0; i < full; i += 8) s.Compress(LoadLe(data + i, 8));
  // The final block carries the leftover bytes plus the total length modulo
  // 256 in its top byte, so inputs differing only in trailing zeros differ.
  s.Compress(LoadLe(data + full, len - full) | (static_cast<uint64_t>(len & 0xff) << 56));
  // The "3" of SipHash-1-3: three finalization rounds.
  s.v2 ^= 0xff;
  s.Round();
  s.Round();
  s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace internal

uint64_t RandomnessSeedFor(std::string_view original_execution_run_id) {
  // Rust's `impl Hash for str` writes the bytes and then a single 0xFF, which
  // cannot occur in UTF-8, so that ("ab","c") and ("a","bc") hash apart.
  // sdk-core feeds the run id through that impl into a default-keyed
  // SipHasher13, so the terminator is part of the seed.
  std::vector<uint8_t> bytes(original_execution_run_id.begin(), original_execution_run_id.end());
  bytes.push_back(0xff);
  return internal::SipHash13(bytes.data(), bytes.size());
}

}  // namespace hourglass::bridgehost::core
