#pragma once

// What the core asks the shell to do, in order. The shell performs each one
// and feeds the consequences back as events (Spawn -> ChildSpawned or
// SpawnFailed, a signal -> eventually ChildExited, ArmTimer -> TimerFired).
// Actions are only requests for I/O and reports: the core has already
// updated its state when it returns them.

#include <string>
#include <variant>

#include "supervisor/core/child_spec.h"
#include "supervisor/core/events.h"

namespace hourglass::supervisor::core {

// Start the child process `id` (its command comes from the shell's launch
// plan). Answer with ChildSpawned or SpawnFailed.
struct Spawn {
  std::string id{};
};

// Send `signo` to the child (kSigTerm, kSigCont, kSigKill). The shell sends
// SIGKILL to the child's whole process group (every child leads its own
// session), so grandchildren go with it.
struct SendSignal {
  std::string id{};
  int pid = 0;
  int signo = 0;
};

// Why a timer exists; for the shell's debug logs, and for tests.
enum class TimerKind {
  kShutdown,  // shutdown timeout: SIGKILL when it fires
  kRestart,   // restart delay / retry after a failed spawn
  kReady,     // ready timeout: kill a child that never reported READY
};
const char* ToString(TimerKind k);

// Call back with TimerFired{token} at `deadline` (monotonic).
struct ArmTimer {
  TimerToken token = 0;
  TimePoint deadline{};
  std::string id{};  // the node it is for
  TimerKind kind = TimerKind::kShutdown;
};
struct CancelTimer {
  TimerToken token = 0;
  std::string id{};
  TimerKind kind = TimerKind::kShutdown;
};

enum class Severity { kDebug, kInfo, kWarning, kError };
const char* ToString(Severity s);

// The supervisor reports, in OTP's words where OTP has one.
enum class Report {
  kProgress,                    // started, ready, stopped: routine
  kChildTerminated,             // a child ended on its own (every permanent end, abnormal others)
  kStartError,                  // a spawn failed
  kShutdownError,               // a child being stopped ended abnormally
  kReachedMaxRestartIntensity,  // the supervisor gives up
  kKilled,                      // SIGKILL: shutdown timeout, watchdog, ready timeout
  kRequest,                     // a control request was carried out
  kIgnored,                     // a stale or unknown event
};
const char* ToString(Report r);

struct Log {
  Severity severity = Severity::kInfo;
  Report report = Report::kProgress;
  std::string supervisor{};  // the supervisor node concerned
  std::string child{};       // the child concerned, "" for none
  std::string text{};        // one line, complete
};

// Facts for the shell's own bookkeeping (registry, launcher, watchdog,
// status); no reply expected.
enum class NodeEventKind {
  kSpawned,       // a child process exists: pid
  kReady,         // a child reported READY
  kExited,        // a child process is gone: pid; cause = how it ended
  kStarted,       // a supervisor finished starting its children (first start or
                  // restart by its parent): the launcher's cue for a worker group
  kCascadeBegun,  // a rest_for_one/one_for_all restart began; cause = the child
  kCascadeDone,   // ... and every child it restarts is up again
  kGaveUp,        // a supervisor exceeded its intensity and stops its children
  kStopped,       // a supervisor's children are all stopped
  kRemoved,       // a child's spec was dropped (temporary, or a dynamic child)
};
const char* ToString(NodeEventKind k);

struct NodeEvent {
  NodeEventKind kind = NodeEventKind::kSpawned;
  std::string id{};
  int pid = 0;
  std::string cause{};
};

// A request (AddChild, StopChild, RestartChild, StopTree, StartTree) was not
// carried out; `reason` is for the control-socket reply.
struct RequestRefused {
  std::string id{};
  std::string reason{};
};

// The supervisor process exits with `code`: exit_code::kOk after a requested
// stop, exit_code::kGaveUp when the root exceeded its intensity. The last
// action the core ever returns.
struct Exit {
  int code = 0;
};

using Action = std::variant<Spawn, SendSignal, ArmTimer, CancelTimer, Log, NodeEvent,
                            RequestRefused, Exit>;

}  // namespace hourglass::supervisor::core
