#pragma once

// Starting one child of hourglass-supervisor: fork, set the child up, exec at
// once. The supervisor is single-threaded (it never starts threads, so fork
// is safe and cheap while it stays small), which lets the child do what
// posix_spawn cannot: drop every capability, set no_new_privs, switch user.
//
// In the child, before exec, in this order: a new session (setsid: killpg
// reaches the child's descendants, and signals aimed at the supervisor's
// group do not hit it); default dispositions for every signal and an empty
// mask (an ignored SIGPIPE would otherwise survive exec); the explicit fd map
// (everything else closed); the bounding and ambient capability sets emptied
// (so even a root child gains nothing at exec); the user switched (--user);
// the permitted/effective/inheritable sets emptied; no_new_privs; exec.
//
// A failure of any step is reported through a close-on-exec pipe ("exec:
// No such file or directory"); EOF on that pipe means exec succeeded, so
// Launch() returns only once the child is running the new program.

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace hourglass::supervisor {

struct LaunchSpec {
  std::string id;                 // for messages
  std::vector<std::string> argv;  // argv[0]: the executable's path
  // Added to (or replacing in) the supervisor's environment, less systemd's
  // NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the supervisor's alone).
  std::vector<std::pair<std::string, std::string>> env;
  // (child fd, supervisor fd): these and only these, plus 0-2, are open in
  // the child. stdin is /dev/null; stdout and stderr are pipes to the
  // supervisor when capture_output, else inherited.
  std::vector<std::pair<int, int>> fd_map;
  bool capture_output = true;
  bool drop_capabilities = true;
  bool no_new_privs = true;
  // Switch to this user (the supervisor must be root).
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct LaunchedChild {
  pid_t pid = -1;
  // Readable when the child exits; for race-free signalling
  // (pidfd_send_signal) and reaping (waitid P_PIDFD).
  ipc::UniqueFd pidfd;
  // Non-blocking read ends of the child's stdout and stderr (capture_output).
  ipc::UniqueFd stdout_fd;
  ipc::UniqueFd stderr_fd;
};

// Errors: INVALID_ARGUMENT for an empty argv; for a failed step, with the
// step and errno ("launch bridgehost: exec /x: No such file or directory"),
// UNAVAILABLE when the errno means a shortage of processes, descriptors or
// memory (EAGAIN, EMFILE, ENFILE, ENOMEM: worth retrying later), INTERNAL
// otherwise. The child has been reaped in that case.
ipc::Result<LaunchedChild> Launch(const LaunchSpec& spec);

// Sends `signo` through the pidfd (never by a pid that may be reused).
bool SignalChild(int pidfd, int signo);

}  // namespace hourglass::supervisor
