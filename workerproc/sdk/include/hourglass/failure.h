#pragma once

// Temporal failures as C++ exceptions. Each class is one kind of Temporal
// Failure (temporal.api.failure.v1.Failure): what a workflow sees when an
// activity or child fails, and what workflow and activity code throws to fail
// on purpose. Every failure may carry a cause (an activity failure caused by an
// application error, a child failure caused by a timeout, ...).
//
// In a workflow: throwing any Failure fails the workflow execution; throwing
// anything else fails only the workflow *task*, which the server retries (the
// fix for a bug is a new deployment, not a failed execution) — the official
// TypeScript SDK's rule.
// In an activity: anything thrown fails the attempt; ApplicationError sets the
// type, details and non-retryable flag the retry policy looks at.

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "hourglass/payload.h"

namespace hourglass {

class Failure : public std::runtime_error {
 public:
  explicit Failure(const std::string& message, std::shared_ptr<const Failure> cause = nullptr)
      : std::runtime_error(message), cause_(std::move(cause)) {}

  std::string message() const { return what(); }
  const std::shared_ptr<const Failure>& cause() const { return cause_; }
  // The stack trace another SDK attached, if any.
  const std::string& stack_trace() const { return stack_trace_; }
  void set_stack_trace(std::string trace) { stack_trace_ = std::move(trace); }

  // Rethrows this failure as its most derived type.
  [[noreturn]] virtual void Throw() const = 0;
  virtual std::shared_ptr<const Failure> Clone() const = 0;

 private:
  std::shared_ptr<const Failure> cause_;
  std::string stack_trace_;
};

// A failure thrown by user code (or by another SDK's user code).
class ApplicationError : public Failure {
 public:
  struct Options {
    std::string type{};
    bool non_retryable = false;
    Payloads details{};
    // Overrides the retry policy's next interval when set.
    std::optional<std::chrono::milliseconds> next_retry_delay{};
    std::shared_ptr<const Failure> cause{};
  };
  explicit ApplicationError(const std::string& message) : ApplicationError(message, Options{}) {}
  ApplicationError(const std::string& message, Options options)
      : Failure(message, options.cause), options_(std::move(options)) {}

  const std::string& type() const { return options_.type; }
  bool non_retryable() const { return options_.non_retryable; }
  const Payloads& details() const { return options_.details; }
  const std::optional<std::chrono::milliseconds>& next_retry_delay() const { return options_.next_retry_delay; }

  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<ApplicationError>(*this); }

 private:
  Options options_;
};

// Something was cancelled: a workflow, an activity, a timer, a scope.
class CancelledError : public Failure {
 public:
  explicit CancelledError(const std::string& message = "cancelled", Payloads details = {})
      : Failure(message), details_(std::move(details)) {}
  const Payloads& details() const { return details_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<CancelledError>(*this); }

 private:
  Payloads details_;
};

enum class TimeoutType { kUnspecified, kStartToClose, kScheduleToStart, kScheduleToClose, kHeartbeat };

class TimeoutError : public Failure {
 public:
  TimeoutError(const std::string& message, TimeoutType type, Payloads last_heartbeat_details = {})
      : Failure(message), type_(type), last_heartbeat_details_(std::move(last_heartbeat_details)) {}
  TimeoutType timeout_type() const { return type_; }
  const Payloads& last_heartbeat_details() const { return last_heartbeat_details_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<TimeoutError>(*this); }

 private:
  TimeoutType type_;
  Payloads last_heartbeat_details_;
};

class TerminatedError : public Failure {
 public:
  explicit TerminatedError(const std::string& message = "terminated") : Failure(message) {}
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<TerminatedError>(*this); }
};

// A failure the server produced (for example a request it refused).
class ServerError : public Failure {
 public:
  ServerError(const std::string& message, bool non_retryable) : Failure(message), non_retryable_(non_retryable) {}
  bool non_retryable() const { return non_retryable_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<ServerError>(*this); }

 private:
  bool non_retryable_;
};

// An activity failed, timed out or was cancelled; cause() says which.
class ActivityError : public Failure {
 public:
  struct Info {
    std::string activity_type{};
    std::string activity_id{};
    std::string identity{};
    int64_t scheduled_event_id = 0;
    int64_t started_event_id = 0;
    int retry_state = 0;  // temporal.api.enums.v1.RetryState
  };
  ActivityError(const std::string& message, Info info, std::shared_ptr<const Failure> cause)
      : Failure(message, std::move(cause)), info_(std::move(info)) {}
  const Info& info() const { return info_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<ActivityError>(*this); }

 private:
  Info info_;
};

// A child workflow failed, timed out, was cancelled or terminated.
class ChildWorkflowError : public Failure {
 public:
  struct Info {
    std::string namespace_name{};
    std::string workflow_id{};
    std::string run_id{};
    std::string workflow_type{};
    int64_t initiated_event_id = 0;
    int64_t started_event_id = 0;
    int retry_state = 0;
  };
  ChildWorkflowError(const std::string& message, Info info, std::shared_ptr<const Failure> cause)
      : Failure(message, std::move(cause)), info_(std::move(info)) {}
  const Info& info() const { return info_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override { return std::make_shared<ChildWorkflowError>(*this); }

 private:
  Info info_;
};

// A child workflow (or signal-with-start) could not start: the id is taken.
class WorkflowAlreadyStartedError : public Failure {
 public:
  WorkflowAlreadyStartedError(const std::string& message, std::string workflow_id, std::string workflow_type)
      : Failure(message), workflow_id_(std::move(workflow_id)), workflow_type_(std::move(workflow_type)) {}
  const std::string& workflow_id() const { return workflow_id_; }
  const std::string& workflow_type() const { return workflow_type_; }
  [[noreturn]] void Throw() const override { throw *this; }
  std::shared_ptr<const Failure> Clone() const override {
    return std::make_shared<WorkflowAlreadyStartedError>(*this);
  }

 private:
  std::string workflow_id_;
  std::string workflow_type_;
};

// True for a CancelledError, or a failure caused (at any depth) by one: an
// activity or child that was cancelled.
bool IsCancellation(const std::exception& e);

}  // namespace hourglass
