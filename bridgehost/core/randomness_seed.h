#pragma once

// The seed Core hands lang in InitializeWorkflow / UpdateRandomSeed
// (reference §2.2 rows 1 and 4). Lang seeds its deterministic PRNG with it, so
// it must match sdk-core bit for bit or replays of TypeScript histories would
// take different random branches.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hourglass::bridgehost::core {

// The workflow's deterministic randomness seed, as sdk-core computes it:
// SipHash-1-3 with keys (0, 0) over the UTF-8 bytes of original_execution_run_id
// followed by one 0xFF byte (Rust's `str` Hash impl).
uint64_t RandomnessSeedFor(std::string_view original_execution_run_id);

namespace internal {

// SipHash-1-3 (one compression round per block, three finalization rounds,
// 64-bit output) keyed with k0 = k1 = 0, over exactly `len` bytes. Exposed so
// tests can show that RandomnessSeedFor adds the 0xFF terminator.
uint64_t SipHash13(const uint8_t* data, size_t len);

}  // namespace internal
}  // namespace hourglass::bridgehost::core
