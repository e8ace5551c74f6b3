#pragma once

// What the supervision tree is made of, as plain data: child process specs
// and supervisor specs (OTP's child_spec and sup_flags), with OTP's
// vocabulary and defaults. docs/supervision.md explains every field.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hourglass::supervisor::core {

using Duration = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class Strategy { kOneForOne, kRestForOne, kOneForAll };

// When a child that ended on its own is restarted (OTP restart types):
// permanent always, transient only after an abnormal exit, temporary never
// (not even when a sibling's cascade stopped it; its spec is then dropped).
enum class RestartType { kPermanent, kTransient, kTemporary };

// How a child is stopped. kTimeout: SIGTERM (+SIGCONT), then SIGKILL once
// `timeout` has passed. kBrutalKill: SIGKILL at once. kInfinity: SIGTERM
// (+SIGCONT) and wait for as long as it takes.
struct Shutdown {
  enum class Kind { kTimeout, kBrutalKill, kInfinity };
  Kind kind = Kind::kTimeout;
  Duration timeout{5000};  // OTP's default for workers

  static Shutdown Timeout(Duration t) { return {Kind::kTimeout, t}; }
  static Shutdown BrutalKill() { return {Kind::kBrutalKill, Duration{0}}; }
  static Shutdown Infinity() { return {Kind::kInfinity, Duration{0}}; }
  bool operator==(const Shutdown&) const = default;
};

// A child process.
struct ChildSpec {
  std::string id{};  // unique in the whole tree; events and actions name it
  RestartType restart = RestartType::kPermanent;
  Shutdown shutdown{};
  // The child reports READY on its control channel; until then it counts as
  // starting, and its next sibling is not started.
  bool needs_ready = false;
  // With needs_ready: a child still not READY after this long is killed and
  // its exit counts as abnormal (a hung start must not stall the tree).
  std::optional<Duration> ready_timeout{};
};

struct SupervisorSpec;

// One node of the tree: a child process or a nested supervisor. A value
// (copies are deep); the supervisor is boxed because it contains NodeSpecs.
class NodeSpec {
 public:
  // Implicit on purpose, so a tree reads as nested braces:
  // SupervisorSpec{.id = "app", .children = {ChildSpec{...}, SupervisorSpec{...}}}.
  NodeSpec(ChildSpec child);            // NOLINT(google-explicit-constructor)
  NodeSpec(SupervisorSpec supervisor);  // NOLINT(google-explicit-constructor)
  NodeSpec(const NodeSpec& other);
  NodeSpec& operator=(const NodeSpec& other);
  NodeSpec(NodeSpec&& other) noexcept;
  NodeSpec& operator=(NodeSpec&& other) noexcept;
  ~NodeSpec();

  const std::string& id() const;
  bool is_supervisor() const { return supervisor_ != nullptr; }
  // Exactly one of these is non-null.
  const ChildSpec* child() const { return child_ ? &*child_ : nullptr; }
  const SupervisorSpec* supervisor() const { return supervisor_.get(); }

 private:
  std::optional<ChildSpec> child_;
  std::unique_ptr<SupervisorSpec> supervisor_;
};

// A supervisor: a logical node (no process of its own) that starts its
// children left to right and restarts them per `strategy`.
struct SupervisorSpec {
  std::string id{};
  Strategy strategy = Strategy::kOneForOne;
  // At most `intensity` restarts in any `period` (sliding window); one more
  // and the supervisor gives up. OTP's defaults: 1 in 5 s.
  int intensity = 1;
  Duration period{5000};
  // Minimum time between two spawns of the same child (s6's one second,
  // systemd's RestartSec). 0 restarts at once, like OTP. It also spaces the
  // retries after a failed spawn. It never replaces the intensity check.
  Duration restart_delay{0};
  // A dynamic group (OTP simple_one_for_one, Elixir DynamicSupervisor): no
  // static children, one_for_one; children are added and removed at run
  // time, stopped all at once (no order), and forgotten when the group stops.
  bool dynamic = false;
  // Restart type of this supervisor as a child of its parent.
  RestartType restart = RestartType::kPermanent;
  std::vector<NodeSpec> children{};
};

// Problems with a tree spec ("" ids, duplicate ids, intensity < 0, period
// <= 0, a dynamic group with static children or another strategy, negative
// timeouts, ready_timeout without needs_ready). Empty when valid.
std::vector<std::string> ValidateTree(const SupervisorSpec& root);
// The same checks for a child added at run time (ids are checked by the tree).
std::vector<std::string> ValidateChild(const ChildSpec& spec);

const char* ToString(Strategy s);
const char* ToString(RestartType r);
std::string ToString(const Shutdown& s);

}  // namespace hourglass::supervisor::core
