#include "supervisor/process/child_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>

extern char** environ;

namespace hourglass::supervisor {

namespace {

namespace v1 = ipc::v1;

// What the child writes to the error pipe when a step fails: the step's name
// and errno, fixed size so one write is atomic.
struct StepFailure {
  char step[48];
  int error;
};

[[noreturn]] void FailStep(int pipe_fd, const char* step, int error) {
  StepFailure f{};
  std::snprintf(f.step, sizeof(f.step), "%s", step);
  f.error = error;
  ssize_t ignored = ::write(pipe_fd, &f, sizeof(f));
  (void)ignored;
  ::_exit(127);
}

// The child side, between fork and exec. The supervisor is single-threaded,
// so everything here is safe after fork; still, all allocation is done
// beforehand where it is easy.
[[noreturn]] void RunChild(const LaunchSpec& spec, char* const* argv, char* const* envp, int out_w,
                           int err_w, int error_pipe) {
  if (::setsid() < 0) FailStep(error_pipe, "setsid", errno);
  // The raw syscall, not sigaction(): glibc refuses the two signals it keeps
  // for itself (32 and 33), and an ignored one would survive exec all the
  // same. Fails harmlessly for KILL and STOP.
  struct KernelSigaction {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } dfl{};  // handler nullptr == SIG_DFL
  for (int s = 1; s < NSIG; ++s) ::syscall(SYS_rt_sigaction, s, &dfl, nullptr, sizeof(dfl.mask));
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // Move every source fd out of the way first, so a source that happens to
  // sit on another mapping's target number is not overwritten.
  const int kHigh = 1000;
  std::vector<std::pair<int, int>> moved;  // (target, temporary)
  auto stash = [&](int target, int source) {
    const int tmp = ::fcntl(source, F_DUPFD_CLOEXEC, kHigh);
    if (tmp < 0) FailStep(error_pipe, "dup fd", errno);
    moved.emplace_back(target, tmp);
  };
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) FailStep(error_pipe, "open /dev/null", errno);
  stash(0, devnull);
  if (spec.capture_output) {
    stash(1, out_w);
    stash(2, err_w);
  }
  for (const auto& [child_fd, parent_fd] : spec.fd_map) stash(child_fd, parent_fd);
  // The error pipe must stay open (close-on-exec) above everything else.
  const int err_fd = ::fcntl(error_pipe, F_DUPFD_CLOEXEC, kHigh + 500);
  if (err_fd < 0) FailStep(error_pipe, "dup error pipe", errno);
  error_pipe = err_fd;
  for (const auto& [target, tmp] : moved) {
    if (::dup2(tmp, target) < 0) FailStep(error_pipe, "dup2", errno);  // dup2 clears CLOEXEC
  }
  // Close everything that is not a target, keeping the error pipe.
  std::vector<int> keep{0, 1, 2};
  for (const auto& [child_fd, _] : spec.fd_map) keep.push_back(child_fd);
  std::sort(keep.begin(), keep.end());
  int from = 0;
  for (int k : keep) {
    if (k > from) ::close_range(static_cast<unsigned>(from), static_cast<unsigned>(k - 1), 0);
    from = k + 1;
  }
  if (from < error_pipe)
    ::close_range(static_cast<unsigned>(from), static_cast<unsigned>(error_pipe - 1), 0);
  ::close_range(static_cast<unsigned>(error_pipe + 1), ~0U, 0);

  if (spec.drop_capabilities) {
    // Empty bounding and ambient sets: even a uid-0 child gets no
    // capability back at exec. Needs CAP_SETPCAP; without it (an
    // unprivileged supervisor) the bounding set cannot matter anyway.
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EPERM && errno != EINVAL) {
        FailStep(error_pipe, "drop bounding capability", errno);
      }
    }
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  }
  if (spec.gid) {
    if (::setgroups(0, nullptr) < 0) FailStep(error_pipe, "setgroups", errno);
    if (::setgid(*spec.gid) < 0) FailStep(error_pipe, "setgid", errno);
  }
  if (spec.uid && ::setuid(*spec.uid) < 0) FailStep(error_pipe, "setuid", errno);
  if (spec.drop_capabilities) {
    cap_t empty = cap_init();  // all sets empty
    if (empty == nullptr || cap_set_proc(empty) < 0)
      FailStep(error_pipe, "drop capabilities", errno);
    cap_free(empty);
  }
  if (spec.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    FailStep(error_pipe, "no_new_privs", errno);
  ::execve(argv[0], argv, envp);
  FailStep(error_pipe, "exec", errno);
}

}  // namespace

ipc::Result<LaunchedChild> Launch(const LaunchSpec& spec) {
  if (spec.argv.empty())
    return ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "launch " + spec.id + ": empty argv");
  // Everything the child needs, built before fork.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // systemd's variables address the supervisor only (sd_notify.h): a child
  // that inherited NOTIFY_SOCKET could report READY=1 or STOPPING=1 for the
  // whole service (NotifyAccess=all), and one that inherited WATCHDOG_USEC
  // without WATCHDOG_PID would believe the watchdog is its own. Children
  // report over their control channel.
  for (const char* name : {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}) env_map.erase(name);
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  auto fail = [&](const std::string& what, int error) {
    // Short of processes, descriptors or memory (here or in the child before
    // exec): UNAVAILABLE, retry later. Anything else will fail the same way
    // again.
    return ipc::MakeError(ipc::KindForErrno(error, v1::ERROR_KIND_INTERNAL),
                          "launch " + spec.id + ": " + what + ": " + ::strerror(error));
  };
  int error_pipe[2];
  if (::pipe2(error_pipe, O_CLOEXEC) < 0) return fail("pipe", errno);
  ipc::UniqueFd error_r(error_pipe[0]), error_w(error_pipe[1]);
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (spec.capture_output) {
    if (::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0) return fail("pipe", errno);
  }
  ipc::UniqueFd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);

  const pid_t pid = ::fork();
  if (pid < 0) return fail("fork", errno);
  if (pid == 0) RunChild(spec, argv.data(), envp.data(), out_w.get(), err_w.get(), error_w.get());

  error_w.Reset();
  out_w.Reset();
  err_w.Reset();
  // Opened before anyone can reap the child (the supervisor reaps through
  // pidfds and sweeps only unknown pids), so it cannot name a reused pid.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  StepFailure failure{};
  ssize_t n;
  do {
    n = ::read(error_r.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (pidfd >= 0) ::close(pidfd);
    failure.step[sizeof(failure.step) - 1] = '\0';
    std::string step = failure.step;
    if (step == "exec") step += " " + spec.argv[0];
    return fail(step, failure.error);
  }
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return fail("pidfd_open", e);
  }
  LaunchedChild child;
  child.pid = pid;
  child.pidfd = ipc::UniqueFd(pidfd);
  if (spec.capture_output) {
    ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);
    child.stdout_fd = std::move(out_r);
    child.stderr_fd = std::move(err_r);
  }
  return child;
}

bool SignalChild(int pidfd, int signo) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signo, nullptr, 0) == 0;
}

}  // namespace hourglass::supervisor
