#include "workerproc/sdk/src/workflow_instance.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "workerproc/sdk/src/convert.h"
#include "workerproc/sdk/src/registry.h"

namespace hourglass::detail {

void ScopeState::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  // Hooks may add or remove hooks (a cancelled condition cancels its timer).
  auto hooks = std::exchange(hooks_, {});
  for (auto& [id, hook] : hooks) hook();
  for (auto& weak : children_) {
    if (auto child = weak.lock(); child && !child->detached()) child->Cancel();
  }
}

uint64_t ScopeState::AddHook(std::function<void()> hook) {
  const uint64_t id = next_hook_++;
  hooks_.emplace(id, std::move(hook));
  return id;
}

}  // namespace hourglass::detail

namespace hourglass {

void CancellationScope::Cancel() {
  if (state_) state_->Cancel();
}

bool CancellationScope::cancelled() const { return state_ && state_->cancelled(); }

std::string WorkflowContext::NewUuid() {
  const uint64_t hi = Random();
  const uint64_t lo = Random();
  uint8_t b[16];
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

void WorkflowContext::UpsertSearchAttributes(const std::map<std::string, nlohmann::json>& attributes) {
  rt_->UpsertSearchAttributes(sdk::JsonFields(attributes));
}

void WorkflowContext::UpsertMemo(const std::map<std::string, nlohmann::json>& memo) {
  rt_->UpsertMemo(sdk::JsonFields(memo));
}

}  // namespace hourglass

namespace hourglass::sdk {

namespace {

template <typename E>
std::exception_ptr Error(E e) {
  return std::make_exception_ptr(std::move(e));
}

bool IsFailureOrContinueAsNew(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Failure&) {
    return true;
  } catch (const ContinueAsNewRequest&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

WorkflowInstance::WorkflowInstance(WorkflowFunction fn, std::string run_id, InstanceOptions options)
    : fn_(std::move(fn)), root_scope_(std::make_shared<detail::ScopeState>(false)) {
  info_.run_id = std::move(run_id);
  info_.namespace_name = std::move(options.namespace_name);
  info_.task_queue = std::move(options.task_queue);
  context_ = std::make_unique<WorkflowContext>(*this);
}

WorkflowInstance::~WorkflowInstance() {
  // Coroutine frames first: their locals hold Futures that point back here.
  spawned_.clear();
  main_ = Task<Payload>();
}

cmp::WorkflowActivationCompletion WorkflowInstance::Activate(const act::WorkflowActivation& activation) {
  commands_.clear();
  task_error_ = nullptr;
  now_ = FromProto(activation.timestamp());
  replaying_ = activation.is_replaying();
  continue_as_new_suggested_ = activation.continue_as_new_suggested();
  history_length_ = activation.history_length();

  std::vector<const act::QueryWorkflow*> queries;
  bool non_query_jobs = false;
  for (const auto& job : activation.jobs()) {
    if (job.has_query_workflow()) {
      queries.push_back(&job.query_workflow());
      continue;
    }
    non_query_jobs = true;
    if (finished_) continue;  // nothing after the terminal command matters
    try {
      ApplyJob(job);
    } catch (...) {
      RecordError(std::current_exception());
    }
  }
  if (non_query_jobs && !finished_) {
    RunUntilBlocked();
    Conclude();
  }

  cmp::WorkflowActivationCompletion completion;
  completion.set_run_id(activation.run_id());
  if (task_error_) {
    completion = FailedCompletion(activation.run_id(), ExceptionMessage(task_error_), ExceptionTypeName(task_error_));
    commands_.clear();
    return completion;
  }
  auto* success = completion.mutable_successful();
  for (auto& c : commands_) *success->add_commands() = std::move(c);
  commands_.clear();
  // Queries see the state after this activation's jobs; their answers go
  // after the commands.
  for (const auto* q : queries) *success->add_commands() = RespondToQuery(*q);
  return completion;
}

void WorkflowInstance::ApplyJob(const act::WorkflowActivationJob& job) {
  using J = act::WorkflowActivationJob;
  switch (job.variant_case()) {
    case J::kInitializeWorkflow:
      Initialize(job.initialize_workflow());
      break;
    case J::kFireTimer:
      ResolveTimer(job.fire_timer().seq());
      break;
    case J::kUpdateRandomSeed:
      rng_.seed(job.update_random_seed().randomness_seed());
      break;
    case J::kCancelWorkflow:
      cancel_requested_ = true;
      root_scope_->Cancel();
      break;
    case J::kSignalWorkflow:
      DeliverSignal(job.signal_workflow().signal_name(), FromProto(job.signal_workflow().input()));
      break;
    case J::kNotifyHasPatch:
      notified_patches_.insert(job.notify_has_patch().patch_id());
      break;
    case J::kResolveActivity: {
      const auto& r = job.resolve_activity();
      auto it = activities_.find(r.seq());
      if (it == activities_.end()) break;
      Pending p = std::move(it->second);
      activities_.erase(it);
      Untrack(p);
      const auto& res = r.result();
      if (res.has_completed()) {
        p.state->Resolve(std::any(FromProto(res.completed().result())));
      } else if (res.has_failed()) {
        p.state->Reject(FailureExceptionFromProto(res.failed().failure()));
      } else if (res.has_cancelled()) {
        p.state->Reject(FailureExceptionFromProto(res.cancelled().failure()));
      } else {
        p.state->Reject(Error(std::logic_error("activity resolution asks for a local-activity backoff, which this "
                                               "SDK does not schedule")));
      }
      break;
    }
    case J::kResolveChildWorkflowExecutionStart: {
      const auto& r = job.resolve_child_workflow_execution_start();
      auto it = children_.find(r.seq());
      if (it == children_.end()) break;
      PendingChild& child = it->second;
      if (r.has_succeeded()) {
        child.start.state->Resolve(
            std::any(ChildWorkflowHandle(child.workflow_id, r.succeeded().run_id(), Future<Payload>(child.result))));
        // Stays pending until its result, and stays in its scope: cancelling
        // the scope (or the workflow) now cancels the running child.
        break;
      }
      Untrack(child.start);
      std::exception_ptr error;
      if (r.has_failed()) {
        error = Error(WorkflowAlreadyStartedError("child workflow " + r.failed().workflow_id() + " already started",
                                                  r.failed().workflow_id(), r.failed().workflow_type()));
      } else {
        error = FailureExceptionFromProto(r.cancelled().failure());
      }
      child.start.state->Reject(error);
      child.result->Reject(error);
      children_.erase(it);
      break;
    }
    case J::kResolveChildWorkflowExecution: {
      const auto& r = job.resolve_child_workflow_execution();
      auto it = children_.find(r.seq());
      if (it == children_.end()) break;
      PendingChild child = std::move(it->second);
      children_.erase(it);
      Untrack(child.start);
      const auto& res = r.result();
      if (res.has_completed()) {
        child.result->Resolve(std::any(FromProto(res.completed().result())));
      } else {
        child.result->Reject(
            FailureExceptionFromProto(res.has_failed() ? res.failed().failure() : res.cancelled().failure()));
      }
      break;
    }
    case J::kResolveSignalExternalWorkflow:
    case J::kResolveRequestCancelExternalWorkflow: {
      const bool is_signal = job.has_resolve_signal_external_workflow();
      const uint32_t seq = is_signal ? job.resolve_signal_external_workflow().seq()
                                     : job.resolve_request_cancel_external_workflow().seq();
      const auto& failure = is_signal ? job.resolve_signal_external_workflow().failure()
                                      : job.resolve_request_cancel_external_workflow().failure();
      const bool failed = is_signal ? job.resolve_signal_external_workflow().has_failure()
                                    : job.resolve_request_cancel_external_workflow().has_failure();
      auto& table = is_signal ? signals_ : cancels_;
      auto it = table.find(seq);
      if (it == table.end()) break;
      Pending p = std::move(it->second);
      table.erase(it);
      Untrack(p);
      if (failed) {
        p.state->Reject(FailureExceptionFromProto(failure));
      } else {
        p.state->Resolve(std::any());
      }
      break;
    }
    case J::kDoUpdate:
      throw std::logic_error("workflow updates are not supported by this SDK yet (update \"" +
                             job.do_update().name() + "\")");
    case J::kResolveNexusOperationStart:
    case J::kResolveNexusOperation:
      throw std::logic_error("Nexus operations are not supported by this SDK");
    case J::kRemoveFromCache:
      // Handled by WorkflowRuns; a lone instance has nothing to do.
      break;
    case J::kQueryWorkflow:
    case J::VARIANT_NOT_SET:
      break;
  }
}

void WorkflowInstance::Initialize(const act::InitializeWorkflow& init) {
  if (main_started_) throw std::logic_error("InitializeWorkflow for run " + info_.run_id + ", which already started");
  info_.workflow_type = init.workflow_type();
  info_.workflow_id = init.workflow_id();
  info_.first_execution_run_id = init.first_execution_run_id();
  info_.continued_from_run_id = init.continued_from_execution_run_id();
  info_.attempt = init.attempt();
  if (init.has_parent_workflow_info()) {
    info_.parent_workflow_id = init.parent_workflow_info().workflow_id();
    info_.parent_run_id = init.parent_workflow_info().run_id();
  }
  info_.start_time = FromProto(init.start_time());
  info_.execution_timeout = FromProto(init.workflow_execution_timeout());
  info_.run_timeout = FromProto(init.workflow_run_timeout());
  info_.task_timeout = FromProto(init.workflow_task_timeout());
  info_.memo = FromProto(init.memo().fields());
  info_.search_attributes = FromProto(init.search_attributes().indexed_fields());
  if (init.has_continued_failure()) info_.continued_failure_message = init.continued_failure().message();
  rng_.seed(init.randomness_seed());
  main_ = fn_(*context_, FromProto(init.arguments()));
  main_started_ = true;
  Schedule(main_.handle());
}

void WorkflowInstance::DeliverSignal(const std::string& name, const Payloads& input) {
  auto it = signal_handlers_.find(name);
  if (it == signal_handlers_.end()) {
    buffered_signals_.emplace_back(name, input);
    return;
  }
  it->second(input);
}

void WorkflowInstance::SetSignalHandler(const std::string& name, std::function<void(const Payloads&)> handler) {
  signal_handlers_[name] = std::move(handler);
  // Signals that came before the handler, in arrival order.
  std::vector<std::pair<std::string, Payloads>> keep;
  for (auto& [signal, input] : std::exchange(buffered_signals_, {})) {
    if (signal == name) {
      signal_handlers_[name](input);
    } else {
      keep.emplace_back(std::move(signal), std::move(input));
    }
  }
  buffered_signals_.insert(buffered_signals_.begin(), std::make_move_iterator(keep.begin()),
                           std::make_move_iterator(keep.end()));
}

void WorkflowInstance::SetQueryHandler(const std::string& name, std::function<Payload(const Payloads&)> handler) {
  query_handlers_[name] = std::move(handler);
}

wfc::WorkflowCommand WorkflowInstance::RespondToQuery(const act::QueryWorkflow& query) {
  wfc::WorkflowCommand command;
  auto* result = command.mutable_respond_to_query();
  result->set_query_id(query.query_id());
  auto fail = [&](std::exception_ptr error) { *result->mutable_failed() = ExceptionToProto(error); };
  auto it = query_handlers_.find(query.query_type());
  if (it == query_handlers_.end()) {
    std::vector<std::string> known;
    for (const auto& [n, _] : query_handlers_) known.push_back(n);
    fail(Error(ApplicationError("workflow " + info_.workflow_type + " has no handler for query \"" +
                                    query.query_type() + "\"; known queries: " + JoinNames(known),
                                {.type = "QueryNotRegistered"})));
    return command;
  }
  try {
    *result->mutable_succeeded()->mutable_response() = ToProto(it->second(FromProto(query.arguments())));
  } catch (...) {
    fail(std::current_exception());
  }
  return command;
}

void WorkflowInstance::RunUntilBlocked() {
  for (;;) {
    while (!ready_.empty()) {
      auto h = ready_.front();
      ready_.pop_front();
      h.resume();
    }
    CheckRoots();
    if (!CheckConditions()) break;
  }
}

bool WorkflowInstance::CheckConditions() {
  bool progressed = false;
  // A resolved condition's waiter may add or satisfy others: loop by index
  // over a stable snapshot of ids.
  for (size_t i = 0; i < conditions_.size();) {
    bool holds = false;
    try {
      holds = conditions_[i].predicate();
    } catch (...) {
      RecordError(std::current_exception());
      holds = false;
    }
    if (!holds) {
      ++i;
      continue;
    }
    PendingCondition c = std::move(conditions_[i]);
    conditions_.erase(conditions_.begin() + static_cast<std::ptrdiff_t>(i));
    Untrack(c.pending);
    if (c.timer_seq) CancelTimerCommand(*c.timer_seq);
    c.pending.state->Resolve(std::any(true));
    progressed = true;
  }
  return progressed;
}

void WorkflowInstance::CheckRoots() {
  for (auto it = spawned_.begin(); it != spawned_.end();) {
    if (!it->done()) {
      ++it;
      continue;
    }
    try {
      it->TakeResult();
    } catch (...) {
      RecordError(std::current_exception());
    }
    it = spawned_.erase(it);
  }
}

void WorkflowInstance::RecordError(std::exception_ptr error) {
  if (IsFailureOrContinueAsNew(error)) {
    if (!workflow_error_) workflow_error_ = error;
  } else if (!task_error_) {
    task_error_ = error;
  }
}

void WorkflowInstance::Conclude() {
  if (task_error_ || finished_) return;
  std::exception_ptr error = workflow_error_;
  std::optional<Payload> result;
  if (!error && main_started_ && main_.done()) {
    try {
      result = main_.TakeResult();
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (!error && !result) return;  // still running
  if (result) {
    *AddCommand().mutable_complete_workflow_execution()->mutable_result() = ToProto(*result);
    finished_ = true;
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const ContinueAsNewRequest& can) {
    auto* c = AddCommand().mutable_continue_as_new_workflow_execution();
    c->set_workflow_type(can.options.workflow_type.empty() ? info_.workflow_type : can.options.workflow_type);
    c->set_task_queue(can.options.task_queue.empty() ? info_.task_queue : can.options.task_queue);
    ToProto(can.arguments, c->mutable_arguments());
    if (can.options.run_timeout.count() > 0) *c->mutable_workflow_run_timeout() = ToProto(can.options.run_timeout);
    if (can.options.task_timeout.count() > 0) *c->mutable_workflow_task_timeout() = ToProto(can.options.task_timeout);
    ToProto(JsonFields(can.options.memo), c->mutable_memo());
    ToProto(JsonFields(can.options.search_attributes), c->mutable_search_attributes()->mutable_indexed_fields());
    if (can.options.retry_policy) *c->mutable_retry_policy() = ToProto(*can.options.retry_policy);
  } catch (const Failure& f) {
    if (cancel_requested_ && IsCancellation(f)) {
      AddCommand().mutable_cancel_workflow_execution();
    } else {
      *AddCommand().mutable_fail_workflow_execution()->mutable_failure() = FailureToProto(f);
    }
  } catch (...) {
    // Not a Failure: fail the task, not the run (a deployment can fix it).
    task_error_ = std::current_exception();
    return;
  }
  finished_ = true;
}

wfc::WorkflowCommand& WorkflowInstance::AddCommand() {
  if (finished_) throw std::logic_error("workflow issued a command after it finished");
  return commands_.emplace_back();
}

std::shared_ptr<detail::ScopeState> WorkflowInstance::ScopeOf(const CancellationScope& scope) const {
  return scope ? scope.state() : root_scope_;
}

template <typename T>
Future<T> WorkflowInstance::Rejected(std::exception_ptr error) {
  auto state = NewState();
  state->Reject(std::move(error));
  return Future<T>(state);
}

WorkflowInstance::Pending WorkflowInstance::Track(std::shared_ptr<detail::FutureState> state,
                                                  std::shared_ptr<detail::ScopeState> scope,
                                                  std::function<void()> on_cancel) {
  Pending p;
  p.state = std::move(state);
  p.scope = std::move(scope);
  p.hook = p.scope->AddHook(std::move(on_cancel));
  return p;
}

void WorkflowInstance::Untrack(Pending& p) {
  if (p.scope && p.hook != 0) p.scope->RemoveHook(p.hook);
  p.hook = 0;
}

CancellationScope WorkflowInstance::NewScope(const CancellationScope& parent, bool detached) {
  auto state = std::make_shared<detail::ScopeState>(detached);
  if (!detached) {
    auto p = ScopeOf(parent);
    p->AddChild(state);
    if (p->cancelled()) state->Cancel();
  }
  return CancellationScope(state);
}

uint32_t WorkflowInstance::StartTimerCommand(Duration duration) {
  const uint32_t seq = ++timer_seq_;
  auto* t = AddCommand().mutable_start_timer();
  t->set_seq(seq);
  *t->mutable_start_to_fire_timeout() = ToProto(duration);
  return seq;
}

void WorkflowInstance::CancelTimerCommand(uint32_t seq) {
  timers_.erase(seq);
  condition_timers_.erase(seq);
  if (!finished_) AddCommand().mutable_cancel_timer()->set_seq(seq);
}

Future<void> WorkflowInstance::Sleep(Duration duration, const CancellationScope& scope) {
  auto s = ScopeOf(scope);
  if (s->cancelled()) return Rejected<void>(Error(CancelledError("timer cancelled before it started")));
  auto state = NewState();
  if (duration.count() <= 0) {
    state->Resolve(std::any());
    return Future<void>(state);
  }
  const uint32_t seq = StartTimerCommand(duration);
  timers_.emplace(seq, Track(state, s, [this, seq] {
                    auto it = timers_.find(seq);
                    if (it == timers_.end()) return;
                    auto st = it->second.state;
                    CancelTimerCommand(seq);
                    st->Reject(Error(CancelledError("timer cancelled")));
                  }));
  return Future<void>(state);
}

void WorkflowInstance::ResolveTimer(uint32_t seq) {
  if (auto c = condition_timers_.find(seq); c != condition_timers_.end()) {
    const uint64_t id = c->second;
    condition_timers_.erase(c);
    auto it = std::find_if(conditions_.begin(), conditions_.end(), [id](const auto& pc) { return pc.id == id; });
    if (it == conditions_.end()) return;
    PendingCondition pc = std::move(*it);
    conditions_.erase(it);
    Untrack(pc.pending);
    pc.pending.state->Resolve(std::any(false));
    return;
  }
  auto it = timers_.find(seq);
  if (it == timers_.end()) return;
  Pending p = std::move(it->second);
  timers_.erase(it);
  Untrack(p);
  p.state->Resolve(std::any());
}

Future<bool> WorkflowInstance::Condition(std::function<bool()> predicate, std::optional<Duration> timeout,
                                         const CancellationScope& scope) {
  auto s = ScopeOf(scope);
  if (s->cancelled()) return Rejected<bool>(Error(CancelledError("condition cancelled before it started")));
  auto state = NewState();
  if (predicate()) {
    state->Resolve(std::any(true));
    return Future<bool>(state);
  }
  if (timeout && timeout->count() <= 0) {
    state->Resolve(std::any(false));
    return Future<bool>(state);
  }
  const uint64_t id = ++condition_id_;
  PendingCondition pc;
  pc.id = id;
  pc.predicate = std::move(predicate);
  pc.pending = Track(state, s, [this, id] {
    auto it = std::find_if(conditions_.begin(), conditions_.end(), [id](const auto& c) { return c.id == id; });
    if (it == conditions_.end()) return;
    PendingCondition c = std::move(*it);
    conditions_.erase(it);
    if (c.timer_seq) CancelTimerCommand(*c.timer_seq);
    c.pending.state->Reject(Error(CancelledError("condition cancelled")));
  });
  if (timeout) {
    pc.timer_seq = StartTimerCommand(*timeout);
    condition_timers_[*pc.timer_seq] = id;
  }
  conditions_.push_back(std::move(pc));
  return Future<bool>(state);
}

Future<Payload> WorkflowInstance::ScheduleActivity(const std::string& type, const ActivityOptions& options,
                                                   Payloads arguments) {
  if (options.schedule_to_close_timeout.count() <= 0 && options.start_to_close_timeout.count() <= 0) {
    throw std::invalid_argument("activity " + type +
                                ": set schedule_to_close_timeout or start_to_close_timeout (or both)");
  }
  auto s = ScopeOf(options.scope);
  if (s->cancelled()) return Rejected<Payload>(Error(CancelledError("activity cancelled before it was scheduled")));
  const uint32_t seq = ++activity_seq_;
  auto* a = AddCommand().mutable_schedule_activity();
  a->set_seq(seq);
  a->set_activity_id(options.activity_id.empty() ? std::to_string(seq) : options.activity_id);
  a->set_activity_type(type);
  a->set_task_queue(options.task_queue.empty() ? info_.task_queue : options.task_queue);
  ToProto(arguments, a->mutable_arguments());
  if (options.schedule_to_close_timeout.count() > 0) {
    *a->mutable_schedule_to_close_timeout() = ToProto(options.schedule_to_close_timeout);
  }
  if (options.schedule_to_start_timeout.count() > 0) {
    *a->mutable_schedule_to_start_timeout() = ToProto(options.schedule_to_start_timeout);
  }
  if (options.start_to_close_timeout.count() > 0) {
    *a->mutable_start_to_close_timeout() = ToProto(options.start_to_close_timeout);
  }
  if (options.heartbeat_timeout.count() > 0) *a->mutable_heartbeat_timeout() = ToProto(options.heartbeat_timeout);
  if (options.retry_policy) *a->mutable_retry_policy() = ToProto(*options.retry_policy);
  switch (options.cancellation_type) {
    case ActivityCancellationType::kTryCancel: a->set_cancellation_type(wfc::TRY_CANCEL); break;
    case ActivityCancellationType::kWaitCancellationCompleted:
      a->set_cancellation_type(wfc::WAIT_CANCELLATION_COMPLETED);
      break;
    case ActivityCancellationType::kAbandon: a->set_cancellation_type(wfc::ABANDON); break;
  }
  auto state = NewState();
  activities_.emplace(seq, Track(state, s, [this, seq] {
                        auto it = activities_.find(seq);
                        if (it == activities_.end() || it->second.cancel_sent || finished_) return;
                        it->second.cancel_sent = true;
                        // Core resolves the activity per its cancellation type.
                        AddCommand().mutable_request_cancel_activity()->set_seq(seq);
                      }));
  return Future<Payload>(state);
}

Future<ChildWorkflowHandle> WorkflowInstance::StartChild(const std::string& type, const ChildWorkflowOptions& options,
                                                         Payloads arguments) {
  auto s = ScopeOf(options.scope);
  if (s->cancelled()) {
    return Rejected<ChildWorkflowHandle>(Error(CancelledError("child workflow cancelled before it started")));
  }
  const uint32_t seq = ++child_seq_;
  // A random id, not "<parent>-<seq>": a continued-as-new parent restarts
  // its sequence numbers while an abandoned child may still run.
  const std::string workflow_id = options.workflow_id.empty() ? context_->NewUuid() : options.workflow_id;
  auto* c = AddCommand().mutable_start_child_workflow_execution();
  c->set_seq(seq);
  c->set_namespace_(options.namespace_name.empty() ? info_.namespace_name : options.namespace_name);
  c->set_workflow_id(workflow_id);
  c->set_workflow_type(type);
  c->set_task_queue(options.task_queue.empty() ? info_.task_queue : options.task_queue);
  ToProto(arguments, c->mutable_input());
  if (options.execution_timeout.count() > 0) *c->mutable_workflow_execution_timeout() = ToProto(options.execution_timeout);
  if (options.run_timeout.count() > 0) *c->mutable_workflow_run_timeout() = ToProto(options.run_timeout);
  if (options.task_timeout.count() > 0) *c->mutable_workflow_task_timeout() = ToProto(options.task_timeout);
  if (options.retry_policy) *c->mutable_retry_policy() = ToProto(*options.retry_policy);
  c->set_parent_close_policy(static_cast<coresdk::child_workflow::ParentClosePolicy>(options.parent_close_policy));
  c->set_cancellation_type(static_cast<coresdk::child_workflow::ChildWorkflowCancellationType>(options.cancellation_type));
  ToProto(JsonFields(options.memo), c->mutable_memo());
  ToProto(JsonFields(options.search_attributes), c->mutable_search_attributes()->mutable_indexed_fields());

  PendingChild child;
  child.workflow_id = workflow_id;
  child.result = NewState();
  auto start_state = NewState();
  child.start = Track(start_state, s, [this, seq] {
    auto it = children_.find(seq);
    if (it == children_.end() || it->second.start.cancel_sent || finished_) return;
    it->second.start.cancel_sent = true;
    AddCommand().mutable_cancel_child_workflow_execution()->set_child_workflow_seq(seq);
  });
  children_.emplace(seq, std::move(child));
  return Future<ChildWorkflowHandle>(start_state);
}

Future<void> WorkflowInstance::SignalExternal(const std::string& workflow_id, const std::string& run_id,
                                              const std::string& signal, Payloads arguments, bool to_child,
                                              const CancellationScope& scope) {
  auto s = ScopeOf(scope);
  if (s->cancelled()) return Rejected<void>(Error(CancelledError("signal cancelled before it was sent")));
  const uint32_t seq = ++signal_seq_;
  auto* c = AddCommand().mutable_signal_external_workflow_execution();
  c->set_seq(seq);
  if (to_child) {
    c->set_child_workflow_id(workflow_id);
  } else {
    auto* we = c->mutable_workflow_execution();
    we->set_namespace_(info_.namespace_name);
    we->set_workflow_id(workflow_id);
    we->set_run_id(run_id);
  }
  c->set_signal_name(signal);
  ToProto(arguments, c->mutable_args());
  auto state = NewState();
  signals_.emplace(seq, Track(state, s, [this, seq] {
                     auto it = signals_.find(seq);
                     if (it == signals_.end() || it->second.cancel_sent || finished_) return;
                     it->second.cancel_sent = true;
                     AddCommand().mutable_cancel_signal_workflow()->set_seq(seq);
                   }));
  return Future<void>(state);
}

Future<void> WorkflowInstance::CancelExternal(const std::string& workflow_id, const std::string& run_id) {
  const uint32_t seq = ++cancel_external_seq_;
  auto* c = AddCommand().mutable_request_cancel_external_workflow_execution();
  c->set_seq(seq);
  auto* we = c->mutable_workflow_execution();
  we->set_namespace_(info_.namespace_name);
  we->set_workflow_id(workflow_id);
  we->set_run_id(run_id);
  auto state = NewState();
  // Asking another workflow to cancel is not itself cancellable.
  Pending p;
  p.state = state;
  cancels_.emplace(seq, std::move(p));
  return Future<void>(state);
}

bool WorkflowInstance::Patched(const std::string& patch_id, bool deprecated) {
  if (auto it = patch_memo_.find(patch_id); it != patch_memo_.end()) return it->second;
  // New code runs when this is the first execution of this point, or when
  // history says the first execution already ran the new code.
  const bool use = !replaying_ || notified_patches_.contains(patch_id);
  if (use) {
    auto* m = AddCommand().mutable_set_patch_marker();
    m->set_patch_id(patch_id);
    m->set_deprecated(deprecated);
  }
  patch_memo_[patch_id] = use;
  return use;
}

void WorkflowInstance::UpsertSearchAttributes(std::map<std::string, Payload> attributes) {
  auto* c = AddCommand().mutable_upsert_workflow_search_attributes();
  ToProto(attributes, c->mutable_search_attributes()->mutable_indexed_fields());
  for (auto& [k, v] : attributes) info_.search_attributes[k] = std::move(v);
}

void WorkflowInstance::UpsertMemo(std::map<std::string, Payload> memo) {
  auto* c = AddCommand().mutable_modify_workflow_properties();
  ToProto(memo, c->mutable_upserted_memo()->mutable_fields());
  for (auto& [k, v] : memo) info_.memo[k] = std::move(v);
}

void WorkflowInstance::Spawn(Task<void> task) {
  Schedule(task.handle());
  spawned_.push_back(std::move(task));
}

cmp::WorkflowActivationCompletion FailedCompletion(const std::string& run_id, const std::string& message,
                                                   const std::string& type) {
  cmp::WorkflowActivationCompletion completion;
  completion.set_run_id(run_id);
  auto* f = completion.mutable_failed()->mutable_failure();
  f->set_message(message);
  f->set_source(kFailureSource);
  f->mutable_application_failure_info()->set_type(type);
  return completion;
}

cmp::WorkflowActivationCompletion WorkflowRuns::Activate(const act::WorkflowActivation& activation) {
  const std::string& run_id = activation.run_id();
  // Eviction: forget the run and acknowledge with an empty success (Core's
  // rule: an eviction is answered, never failed).
  for (const auto& job : activation.jobs()) {
    if (job.has_remove_from_cache()) {
      Evict(run_id);
      cmp::WorkflowActivationCompletion done;
      done.set_run_id(run_id);
      done.mutable_successful();
      return done;
    }
  }
  std::shared_ptr<WorkflowInstance> instance;
  {
    std::lock_guard lock(mu_);
    if (auto it = runs_.find(run_id); it != runs_.end()) instance = it->second;
  }
  if (!instance) {
    const act::InitializeWorkflow* init = nullptr;
    for (const auto& job : activation.jobs()) {
      if (job.has_initialize_workflow()) init = &job.initialize_workflow();
    }
    if (init == nullptr) {
      return FailedCompletion(run_id, "activation for run " + run_id + " that this worker does not hold",
                              "UnknownRun");
    }
    const WorkflowFunction* fn = Registry::Global().FindWorkflow(init->workflow_type());
    if (fn == nullptr) {
      return FailedCompletion(run_id,
                              "workflow type \"" + init->workflow_type() +
                                  "\" is not registered with this worker; registered: " +
                                  JoinNames(Registry::Global().WorkflowNames()),
                              "NotFoundError");
    }
    instance = std::make_shared<WorkflowInstance>(*fn, run_id, options_);
    std::lock_guard lock(mu_);
    runs_[run_id] = instance;
  }
  return instance->Activate(activation);
}

}  // namespace hourglass::sdk
