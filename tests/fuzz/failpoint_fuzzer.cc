// libFuzzer target: the fault-point grammar (ipc/failpoint.h), which reads
// HOURGLASS_FAILPOINTS from the environment and actions from the control
// channel. Parsing must never crash, hang or leak, and whatever parses must
// print back to the same action.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ipc/failpoint.h"

namespace fp = ::hourglass::failpoint;

namespace {
void CheckRoundTrip(const fp::Action& action) {
  std::string error;
  auto again = fp::ParseAction(fp::FormatAction(action), &error);
  if (!again || !(*again == action)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (auto action = fp::ParseAction(text, &error)) {
    CheckRoundTrip(*action);
  } else if (error.empty()) {
    std::abort();  // a refusal must say why
  }
  const fp::Spec spec = fp::ParseSpec(text);
  for (const auto& e : spec.entries) {
    if (e.name.empty()) std::abort();
    CheckRoundTrip(e.action);
  }
  return 0;
}
