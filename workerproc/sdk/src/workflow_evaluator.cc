#include "workerproc/sdk/src/workflow_evaluator.h"

#include <spdlog/spdlog.h>

#include "ipc/failpoint.h"

namespace hourglass::sdk {

WorkflowEvaluator::WorkflowEvaluator(BridgeLink& link, EvaluatorOptions options)
    : link_(link),
      options_(std::move(options)),
      runs_(InstanceOptions{options_.namespace_name, options_.task_queue}),
      slots_(options_.max_outstanding) {
  for (uint32_t i = 0; i < options_.threads; ++i) StartThread();
}

WorkflowEvaluator::~WorkflowEvaluator() { Stop(); }

void WorkflowEvaluator::StartThread() {
  auto busy = std::make_shared<Busy>();
  std::lock_guard lock(mu_);
  evaluators_.push_back(Evaluator{std::thread([this, busy] { ThreadMain(busy); }), busy});
}

void WorkflowEvaluator::Submit(act::WorkflowActivation activation) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(activation));
  }
  cv_.notify_one();
}

void WorkflowEvaluator::ThreadMain(std::shared_ptr<Busy> busy) {
  for (;;) {
    act::WorkflowActivation activation;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      activation = std::move(queue_.front());
      queue_.pop_front();
      busy->run_id = activation.run_id();
      busy->started = std::chrono::steady_clock::now();
    }
    // Fault point: the activation arrived, evaluation has not begun. "error"
    // fails the workflow task (the server retries it; the run replays).
    cmp::WorkflowActivationCompletion completion;
    if (HOURGLASS_FAILPOINT("worker.activation.before_evaluate")) {
      runs_.Evict(activation.run_id());
      completion = FailedCompletion(activation.run_id(),
                                    failpoint::ErrorMessage("worker.activation.before_evaluate"),
                                    "FailpointError");
    } else {
      completion = runs_.Activate(activation);
    }
    {
      std::lock_guard lock(mu_);
      busy->run_id.clear();
    }
    if (busy->abandoned.load()) {
      // The watchdog already answered for this activation and replaced us.
      spdlog::warn("run {}: evaluation finished after being abandoned; result discarded", activation.run_id());
      return;
    }
    if (completion.has_failed()) {
      spdlog::warn("run {}: workflow task failed: {}", activation.run_id(), completion.failed().failure().message());
    }
    ipc::v1::Request r;
    auto* c = r.mutable_complete_workflow_activation();
    c->set_task_queue(options_.task_queue);
    *c->mutable_completion() = std::move(completion);
    auto reply = link_.Call(std::move(r), std::chrono::seconds(30));
    if (!reply.ok()) {
      spdlog::warn("run {}: completion not delivered: {}", activation.run_id(), ipc::Describe(reply.error()));
    }
    slots_.Release();
  }
}

int WorkflowEvaluator::CheckDeadlines(std::chrono::steady_clock::time_point now) {
  std::vector<std::string> stuck;
  {
    std::lock_guard lock(mu_);
    for (auto it = evaluators_.begin(); it != evaluators_.end();) {
      Busy& b = *it->busy;
      if (!b.run_id.empty() && now - b.started > options_.deadlock_timeout) {
        b.abandoned.store(true);
        stuck.push_back(b.run_id);
        it->thread.detach();
        it = evaluators_.erase(it);
        continue;
      }
      ++it;
    }
  }
  for (const auto& run_id : stuck) {
    ++deadlocks_;
    spdlog::error("run {}: workflow code blocked its evaluator thread for more than {} ms; failing the task and "
                  "abandoning the thread",
                  run_id, options_.deadlock_timeout.count());
    runs_.Evict(run_id);
    ipc::v1::Request r;
    auto* c = r.mutable_complete_workflow_activation();
    c->set_task_queue(options_.task_queue);
    *c->mutable_completion() = FailedCompletion(
        run_id,
        "[TMPRL1101] Potential deadlock detected: workflow code did not yield within " +
            std::to_string(options_.deadlock_timeout.count()) +
            " ms (blocking calls, sleeps and busy loops are not allowed in workflow code)",
        "DeadlockError");
    link_.Send(std::move(r), std::chrono::seconds(30), "deadlock report");
    slots_.Release();
    StartThread();
  }
  return static_cast<int>(stuck.size());
}

void WorkflowEvaluator::Stop() {
  std::list<Evaluator> evaluators;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    evaluators = std::move(evaluators_);
    evaluators_.clear();
  }
  cv_.notify_all();
  for (auto& e : evaluators) e.thread.join();
}

}  // namespace hourglass::sdk
