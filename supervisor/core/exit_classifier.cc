#include "supervisor/core/exit_classifier.h"

#include <sys/wait.h>

#include "ipc/exit_codes.h"

namespace hourglass::supervisor::core {

std::string SignalName(int signo) {
  switch (signo) {
    case SIGHUP:
      return "SIGHUP";
    case SIGINT:
      return "SIGINT";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGILL:
      return "SIGILL";
    case SIGTRAP:
      return "SIGTRAP";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGKILL:
      return "SIGKILL";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGUSR2:
      return "SIGUSR2";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGALRM:
      return "SIGALRM";
    case SIGTERM:
      return "SIGTERM";
    case SIGCONT:
      return "SIGCONT";
    case SIGSTOP:
      return "SIGSTOP";
    case SIGXCPU:
      return "SIGXCPU";
    case SIGXFSZ:
      return "SIGXFSZ";
    case SIGSYS:
      return "SIGSYS";
    default:
      return "signal " + std::to_string(signo);
  }
}

// The W* macros only pick bits out of the status word: no system call.
ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return Signaled(WTERMSIG(wait_status), WCOREDUMP(wait_status) != 0);
  }
  return Exited(WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0);
}

std::string DescribeExit(const ExitStatus& status) {
  if (status.kind == ExitStatus::Kind::kExited) return "exit " + std::to_string(status.code);
  std::string text = "killed by " + SignalName(status.signo);
  if (status.core_dumped) text += " (core dumped)";
  return text;
}

const char* ToString(ExitClass c) {
  switch (c) {
    case ExitClass::kNormal:
      return "normal";
    case ExitClass::kShutdown:
      return "shutdown";
    case ExitClass::kAbnormal:
      return "abnormal";
  }
  return "?";
}

ExitClass ClassifyExit(const ExitStatus& status, const ExitContext& context) {
  // A failed child stays failed even if it managed a clean exit between the
  // watchdog's verdict and the SIGKILL: it was hung, and the restart it
  // earns must not depend on that race.
  if (context.killed_as_failed) return ExitClass::kAbnormal;
  switch (status.kind) {
    case ExitStatus::Kind::kExited:
      if (status.code == exit_code::kOk) return ExitClass::kNormal;
      if (status.code == exit_code::kShutdown) return ExitClass::kShutdown;
      return ExitClass::kAbnormal;
    case ExitStatus::Kind::kSignaled:
      return context.SentForStop(status.signo) ? ExitClass::kShutdown : ExitClass::kAbnormal;
  }
  return ExitClass::kAbnormal;
}

bool ShouldRestart(RestartType restart, ExitClass exit_class) {
  switch (restart) {
    case RestartType::kPermanent:
      return true;
    case RestartType::kTransient:
      return exit_class == ExitClass::kAbnormal;
    case RestartType::kTemporary:
      return false;
  }
  return false;
}

}  // namespace hourglass::supervisor::core
