#pragma once

// Named fault points (docs/fault-injection.md): a point is declared where it
// is evaluated,
//
//   if (HOURGLASS_FAILPOINT("bridgehost.register_worker.before_reply")) {
//     return responder.ReplyError(failpoint::ErrorFor(...));  // "error" armed
//   }
//
// and does nothing until armed, from HOURGLASS_FAILPOINTS at start or over
// the control channel (FailpointCommand) at run time. Armed, it crashes
// (SIGKILL self), aborts, hangs (SIGSTOP self), sleeps, or returns true so
// the call site answers with its own typed error; "N*action" acts on the Nth
// hit only, then disarms.
//
// Disarmed cost: one relaxed atomic load (bench/failpoint_bench.cc). Every
// point is registered at static initialisation (the macro instantiates a
// namespace-scope object per name), so a process lists all of its points
// before any was reached. In hourglass_ipc because every process of the tree
// links it and it links no grpc++.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hourglass/ipc/v1/control.pb.h"

namespace hourglass::failpoint {

// The environment variable read by ArmFromEnvironment.
inline constexpr const char* kEnvVar = "HOURGLASS_FAILPOINTS";

enum class Kind { kOff, kCrash, kAbort, kHang, kDelay, kError };

struct Action {
  Kind kind = Kind::kOff;
  uint32_t delay_ms = 0;  // kDelay
  uint32_t nth = 0;       // 0: every hit; N: only the Nth hit after arming, then off
  bool operator==(const Action&) const = default;
};

// Longest delay(N) accepted: an hour. Anything longer is a typo, and "hang"
// says "forever" better.
inline constexpr uint32_t kMaxDelayMs = 3'600'000;

// The grammar (sans-IO): "off", "crash", "abort", "hang", "error",
// "delay(MS)", each optionally prefixed "N*" (N >= 1). Nothing when `text` is
// not one of them; then *error says why, naming the text.
std::optional<Action> ParseAction(std::string_view text, std::string* error);
// The canonical text of an action: ParseAction(FormatAction(a)) == a.
std::string FormatAction(const Action& action);

// HOURGLASS_FAILPOINTS: "name=action;name2=action2". Empty entries (a
// trailing ';') are skipped; a bad entry is reported in `errors` and the
// others are kept.
struct SpecEntry {
  std::string name;
  Action action;
};
struct Spec {
  std::vector<SpecEntry> entries;
  std::vector<std::string> errors;
};
Spec ParseSpec(std::string_view text);

class Point {
 public:
  // Registers the point under `name` (which must outlive it: the macro passes
  // a static string). A second point of the same name is a bug; it is logged
  // and left unregistered.
  explicit Point(const char* name);
  ~Point();
  Point(const Point&) = delete;
  Point& operator=(const Point&) = delete;

  // True when the point is armed with "error" and fired: the call site
  // returns its typed error. Crash, abort and hang do not return (hang
  // returns once someone sends SIGCONT); delay returns false after sleeping.
  [[nodiscard]] bool Hit() {
    if (!armed_.load(std::memory_order_relaxed)) [[likely]] {
      return false;
    }
    return HitArmed();
  }

  const char* name() const { return name_; }

 private:
  friend class Registry;
  bool HitArmed();

  const char* name_;
  std::atomic<bool> armed_{false};
  // Guarded by the registry's mutex.
  Action action_;
  uint64_t hits_ = 0;  // since the last arming
};

struct PointState {
  std::string name;
  Action action;  // kOff when disarmed
  uint64_t hits = 0;
};

// Every registered point of this process, by name.
std::vector<PointState> List();
// Arms (or, with kOff, disarms) a registered point and resets its hit count.
// False for an unknown name, with *error listing the known ones.
bool Arm(std::string_view name, const Action& action, std::string* error);

// Applies a control-channel command: OP_SET (the action in the grammar),
// OP_CLEAR, OP_LIST (every point: its action, or "off", and its hits).
ipc::v1::FailpointReply HandleCommand(const ipc::v1::FailpointCommand& command);

// Arms the points named in $HOURGLASS_FAILPOINTS that belong to this
// process. Names are prefixed by process role (bridgehost., worker.,
// executor., devserver.); the variable reaches every process of the tree,
// so an entry for another role's point is skipped silently. A bad action, an
// unknown point of a role this process serves, or an unknown role is logged
// as an error, never fatal. Runs once; later calls do nothing.
void ArmFromEnvironment();

// The armed points whose names start with `prefix`, in HOURGLASS_FAILPOINTS'
// syntax, for a worker to hand its executor.* points to the executor process
// it spawns. A one-shot point ("N*action") is disarmed here as it is handed
// on, so exactly one executor gets it (and counts its own hits).
std::string HandOn(std::string_view prefix);

// "failpoint <name>": the message a call site's typed error carries.
std::string ErrorMessage(const Point& point);
std::string ErrorMessage(std::string_view name);

namespace internal {

// A string literal as a template argument, so each point name gets its own
// namespace-scope Point (registered before main) from the call site alone.
template <size_t N>
struct Name {
  char text[N];
  constexpr Name(const char (&s)[N]) {  // NOLINT(runtime/explicit): CTAD from a literal
    for (size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};

template <Name kName>
struct Site {
  static inline Point point{kName.text};
};

}  // namespace internal
}  // namespace hourglass::failpoint

// Evaluates (and declares) the fault point `name`, a string literal such as
// "bridgehost.poll_workflow_activation.before_send". True when armed with
// "error" and fired.
#define HOURGLASS_FAILPOINT(name) (::hourglass::failpoint::internal::Site<name>::point.Hit())
// The Point object of `name`, e.g. for ErrorMessage.
#define HOURGLASS_FAILPOINT_OBJECT(name) (::hourglass::failpoint::internal::Site<name>::point)
