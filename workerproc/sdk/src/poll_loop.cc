#include "workerproc/sdk/src/poll_loop.h"

#include <spdlog/spdlog.h>

namespace hourglass::sdk {

PollLoop::PollLoop(std::string name, Hooks hooks, PollLoopLimits limits)
    : name_(std::move(name)), hooks_(std::move(hooks)), policy_(limits) {}

PollLoop::~PollLoop() {
  RequestStop();
  Join();
}

void PollLoop::Start() {
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void PollLoop::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
}

void PollLoop::Join() {
  if (thread_.joinable()) thread_.join();
}

bool PollLoop::SleepUnlessStopped(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stop_requested_; });
}

void PollLoop::Run() {
  using A = PollDecision::Action;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_requested_) break;
    }
    state_ = ipc::v1::POLL_LOOP_STATE_POLLING;
    PollOutcome outcome;
    try {
      outcome = hooks_.poll_once();
    } catch (const std::exception& e) {
      spdlog::error("{} poll loop: unexpected exception: {}", name_, e.what());
      outcome = PollOutcome::kUnexpected;
    }
    const PollDecision d =
        policy_.OnOutcome(outcome, hooks_.registration_pending(), PollLoopPolicy::Clock::now());
    restarts_ = policy_.restarts();
    switch (d.action) {
      case A::kPollAgain:
        continue;
      case A::kBackOff:
      case A::kRestart:
        if (d.action == A::kRestart) {
          spdlog::warn("{} poll loop: restarting in {} ms (restart {})", name_, d.delay.count(), policy_.restarts());
        }
        state_ = ipc::v1::POLL_LOOP_STATE_BACKING_OFF;
        if (!SleepUnlessStopped(d.delay)) break;
        continue;
      case A::kStop:
        break;
      case A::kExitProcess:
        spdlog::error("{} poll loop: the worker must exit (code {})", name_, d.exit_code);
        hooks_.exit_process(d.exit_code);
        break;
    }
    break;
  }
  state_ = ipc::v1::POLL_LOOP_STATE_STOPPED;
}

}  // namespace hourglass::sdk
