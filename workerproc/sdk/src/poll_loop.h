#pragma once

// A poll loop as a supervised thread: runs `poll_once` until the policy
// (poll_loop_policy.h) says stop, backing off or restarting as it decides.
// An exception from `poll_once` counts as an unexpected failure.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "hourglass/ipc/v1/control.pb.h"
#include "workerproc/sdk/src/poll_loop_policy.h"

namespace hourglass::sdk {

class PollLoop {
 public:
  struct Hooks {
    std::function<PollOutcome()> poll_once;
    std::function<bool()> registration_pending;
    // The policy decided the whole worker must exit.
    std::function<void(int exit_code)> exit_process;
  };
  PollLoop(std::string name, Hooks hooks, PollLoopLimits limits = {});
  ~PollLoop();

  void Start();
  // Wakes a backing-off loop so it ends; a loop parked in a poll ends when
  // the poll returns (unregistering makes the bridge host answer SHUTDOWN).
  void RequestStop();
  void Join();

  ipc::v1::PollLoopState state() const { return state_.load(); }
  uint32_t restarts() const { return restarts_.load(); }
  bool started() const { return started_.load(); }
  bool stopped() const { return state_.load() == ipc::v1::POLL_LOOP_STATE_STOPPED; }

 private:
  void Run();
  bool SleepUnlessStopped(std::chrono::milliseconds delay);

  std::string name_;
  Hooks hooks_;
  PollLoopPolicy policy_;
  std::thread thread_;
  std::atomic<ipc::v1::PollLoopState> state_{ipc::v1::POLL_LOOP_STATE_STARTING};
  std::atomic<uint32_t> restarts_{0};
  std::atomic<bool> started_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
};

}  // namespace hourglass::sdk
