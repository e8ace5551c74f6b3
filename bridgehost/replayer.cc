#include "bridgehost/replayer.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;

void Replayer::Push(std::string workflow_id, temporal::api::history::v1::History history) {
  queued_.emplace_back(std::move(workflow_id), std::move(history));
  if (!current_) StartNext();
  Deliver();
}

void Replayer::StartNext() {
  current_.reset();
  activation_delivered_ = false;
  while (!current_ && !queued_.empty()) {
    auto [workflow_id, history] = std::move(queued_.front());
    queued_.pop_front();
    current_workflow_id_ = workflow_id;
    current_ = std::make_unique<core::HistoryReplay>(workflow_id, std::move(history));
    if (current_->activation() == nullptr) {
      // Rejected before any activation (e.g. no WorkflowExecutionStarted).
      v1::ReplayVerdict v;
      v.set_workflow_id(workflow_id);
      v.set_ok(false);
      v.set_failure_cause(current_->verdict() ? current_->verdict()->failure_cause : "fatal");
      v.set_message(current_->verdict() ? current_->verdict()->message : "history could not be replayed");
      verdicts_.push_back(std::move(v));
      current_.reset();
    }
  }
}

void Replayer::Poll(ipc::Responder responder) {
  parked_.push_back(std::move(responder));
  Deliver();
}

void Replayer::Deliver() {
  while (!parked_.empty()) {
    v1::Response out;
    if (!verdicts_.empty()) {
      *out.mutable_replayer_poll_activation()->mutable_verdict() = verdicts_.front();
      ipc::Responder r = std::move(parked_.front());
      parked_.pop_front();
      if (r.Reply(std::move(out))) verdicts_.pop_front();
      continue;
    }
    if (current_ && current_->activation() != nullptr && !activation_delivered_) {
      *out.mutable_replayer_poll_activation()->mutable_activation() = *current_->activation();
      ipc::Responder r = std::move(parked_.front());
      parked_.pop_front();
      if (r.Reply(std::move(out))) activation_delivered_ = true;
      continue;
    }
    if (!current_ && queued_.empty() && feeder_closed_) {
      ipc::Responder r = std::move(parked_.front());
      parked_.pop_front();
      r.ReplyError(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "every pushed history has been replayed"));
      continue;
    }
    return;
  }
}

std::optional<ipc::Error> Replayer::Complete(const coresdk::workflow_completion::WorkflowActivationCompletion& c) {
  if (!current_ || current_->activation() == nullptr || !activation_delivered_) {
    return ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "no replay activation is waiting for a completion");
  }
  if (c.run_id() != current_->activation()->run_id()) {
    return ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                          "completion for run " + c.run_id() + ", the activation is for run " +
                              current_->activation()->run_id());
  }
  activation_delivered_ = false;
  current_->Complete(c);
  if (current_->activation() == nullptr) {
    const auto& verdict = current_->verdict();
    v1::ReplayVerdict v;
    v.set_workflow_id(current_workflow_id_);
    v.set_run_id(current_->run_id());
    v.set_ok(verdict && verdict->ok);
    if (verdict) {
      v.set_failure_cause(verdict->failure_cause);
      v.set_message(verdict->message);
    }
    verdicts_.push_back(std::move(v));
    StartNext();
  }
  Deliver();
  return std::nullopt;
}

void Replayer::CloseFeeder() {
  feeder_closed_ = true;
  Deliver();
}

void Replayer::Shutdown() {
  auto parked = std::move(parked_);
  parked_.clear();
  for (auto& r : parked) r.ReplyError(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "replayer closed"));
}

}  // namespace hourglass::bridgehost
