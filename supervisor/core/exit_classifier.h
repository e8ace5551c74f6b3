#pragma once

// How the supervisor reads a child's end (OTP's exit reasons, mapped onto
// processes; docs/supervision.md, docs/exit-codes.md):
//   exit 0                                   -> normal
//   exit_code::kShutdown                     -> shutdown (ended on purpose)
//   killed by a signal the supervisor itself
//   sent to stop it (SIGTERM, SIGKILL)       -> shutdown
//   anything else: another code, another
//   signal, a kill for a failed watchdog or
//   ready timeout                            -> abnormal
// Normal and shutdown are both "normal" to OTP: a transient child is
// restarted only after an abnormal end.

#include <csignal>
#include <cstdint>
#include <string>

#include "supervisor/core/child_spec.h"

namespace hourglass::supervisor::core {

// The signals the core asks the shell to send, as plain numbers (the shell
// passes them to pidfd_send_signal / killpg unchanged).
inline constexpr int kSigTerm = SIGTERM;
inline constexpr int kSigKill = SIGKILL;
inline constexpr int kSigCont = SIGCONT;

// "SIGTERM", "SIGSEGV", ... ; "signal 42" for the rest.
std::string SignalName(int signo);

// How a process ended, as waitpid reports it.
struct ExitStatus {
  enum class Kind { kExited, kSignaled };
  Kind kind = Kind::kExited;
  int code = 0;   // kExited
  int signo = 0;  // kSignaled
  bool core_dumped = false;

  static ExitStatus Exited(int code) { return {Kind::kExited, code, 0, false}; }
  static ExitStatus Signaled(int signo, bool core_dumped = false) {
    return {Kind::kSignaled, 0, signo, core_dumped};
  }
  // From a waitpid/waitid status word (WIFEXITED, WTERMSIG, WCOREDUMP).
  static ExitStatus FromWaitStatus(int wait_status);
  bool operator==(const ExitStatus&) const = default;
};

// "exit 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)": the same
// words as the Reaper's DescribeWaitStatus, so logs read alike.
std::string DescribeExit(const ExitStatus& status);

enum class ExitClass { kNormal, kShutdown, kAbnormal };
const char* ToString(ExitClass c);

// What the supervisor did to the child before it ended.
struct ExitContext {
  // Signals sent to stop it (bit `signo`): only these make a death by signal
  // a shutdown. A SIGTERM from someone else is a crash like any other.
  uint64_t stop_signals = 0;
  // Killed because it failed (watchdog, ready timeout): abnormal, whatever
  // status the kill produced.
  bool killed_as_failed = false;

  void AddStopSignal(int signo) {
    if (signo > 0 && signo < 64) stop_signals |= uint64_t{1} << signo;
  }
  bool SentForStop(int signo) const {
    return signo > 0 && signo < 64 && (stop_signals & (uint64_t{1} << signo)) != 0;
  }
};

ExitClass ClassifyExit(const ExitStatus& status, const ExitContext& context);

// OTP's do_restart: permanent always; transient only after an abnormal end;
// temporary never.
bool ShouldRestart(RestartType restart, ExitClass exit_class);

}  // namespace hourglass::supervisor::core
