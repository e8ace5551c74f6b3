#pragma once

// Evaluator threads: activations from the workflow poll loop are evaluated on
// a small pool of threads (different runs in parallel; one run is never
// evaluated twice at once because Core sends it one activation at a time),
// and their completions sent to the bridge host.
//
// Deadlock detection: workflow code must yield. An evaluation that runs past
// `deadlock_timeout` (the thread is blocked: a mutex, a sleep, a busy loop)
// is reported as a failed workflow task naming the run, the run is dropped
// from the cache, and a fresh thread replaces the stuck one, which is
// abandoned (its eventual result is discarded). Core then evicts the run and
// the server retries the task, so a fix that is deployed un-sticks it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "workerproc/sdk/src/bridge_link.h"
#include "workerproc/sdk/src/slots.h"
#include "workerproc/sdk/src/workflow_instance.h"

namespace hourglass::sdk {

struct EvaluatorOptions {
  std::string task_queue;
  std::string namespace_name;
  uint32_t threads = 2;
  uint32_t max_outstanding = 4;  // activations being evaluated or queued
  std::chrono::milliseconds deadlock_timeout{2000};
};

class WorkflowEvaluator {
 public:
  WorkflowEvaluator(BridgeLink& link, EvaluatorOptions options);
  ~WorkflowEvaluator();

  Slots& slots() { return slots_; }
  // Queues an activation; the slot taken for its poll is released once its
  // completion has been sent.
  void Submit(act::WorkflowActivation activation);
  // Called periodically (from the event loop): abandons evaluations past the
  // deadlock timeout. Returns how many were abandoned.
  int CheckDeadlines(std::chrono::steady_clock::time_point now);
  // Stops the threads once the queue is empty and joins them. Abandoned
  // threads are detached and may still run: a worker that has any must leave
  // with _Exit, never by destroying this object.
  void Stop();

  uint32_t in_flight() const { return slots_.in_use(); }
  size_t cached_runs() const { return runs_.size(); }
  uint64_t deadlocks() const { return deadlocks_.load(); }

 private:
  struct Busy {
    std::string run_id;
    std::chrono::steady_clock::time_point started;
    std::atomic<bool> abandoned{false};
  };
  void StartThread();
  void ThreadMain(std::shared_ptr<Busy> busy_slot);

  BridgeLink& link_;
  EvaluatorOptions options_;
  WorkflowRuns runs_;
  Slots slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<act::WorkflowActivation> queue_;
  bool stopping_ = false;
  // One entry per thread that is not abandoned; an evaluating thread fills in
  // its Busy's run_id and start time (under mu_).
  struct Evaluator {
    std::thread thread;
    std::shared_ptr<Busy> busy;
  };
  std::list<Evaluator> evaluators_;
  std::atomic<uint64_t> deadlocks_{0};
};

}  // namespace hourglass::sdk
