#pragma once

// Exit codes of every Hourglass process, written down once (docs/exit-codes.md
// explains each and what the supervisor does about it). Keep the two in step:
// a test checks that every code here is documented.

namespace hourglass::exit_code {

inline constexpr int kOk = 0;
// A bug: an invariant broke. Logged with the reason before exiting.
inline constexpr int kInternal = 1;
// Bad command line or configuration.
inline constexpr int kUsage = 2;
// A worker could not reach the bridge host's socket at start.
inline constexpr int kBridgeUnreachable = 3;
// The dev server could not open or load its database (same number, another
// role: codes are read together with who exited).
inline constexpr int kDevServerStorage = 3;
// The bridge host could not create or bind its socket directory.
inline constexpr int kSocket = 4;
// The dev server could not listen on its address.
inline constexpr int kDevServerListen = 4;
// The supervisor is gone (control channel EOF, or orphaned at start).
inline constexpr int kSupervisorGone = 5;
// A worker lost its bridge host: the connection closed, or a request came
// back STALE_EPOCH (the bridge host was restarted or reloaded). The
// supervisor's cascade restarts the worker against the new bridge host.
inline constexpr int kBridgeLost = 6;
// The bridge host refused the worker's registration (the queue is already
// registered by another process, or the options are invalid).
inline constexpr int kRegistrationRefused = 7;
// A poll loop failed and was restarted more often than its intensity allows.
inline constexpr int kPollLoopFailed = 8;
// hourglass-supervisor: restarts exceeded the root's intensity; the tree was
// stopped (OTP: reached_max_restart_intensity at the top). systemd or
// Kubernetes decide what happens next.
inline constexpr int kGaveUp = 9;
// A child ended on purpose and must not be restarted, even when transient
// (OTP's {shutdown, Reason}); normal to its supervisor.
inline constexpr int kShutdown = 10;

}  // namespace hourglass::exit_code
