// The worker process: one bridge-host connection, two supervised poll loops,
// evaluator threads, activity executors, the control channel, and the
// shutdown order DESIGN §1 asks for (unregister first, then let the loops see
// SHUTDOWN, then let in-flight work finish within the grace period).

#include "hourglass/worker.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "ipc/log_sink.h"
#include "ipc/control_channel.h"
#include "ipc/event_loop.h"
#include "ipc/exit_codes.h"
#include "ipc/failpoint.h"
#include "ipc/unix_socket.h"
#include "workerproc/sdk/src/activity_executor.h"
#include "workerproc/sdk/src/bridge_link.h"
#include "workerproc/sdk/src/poll_loop.h"
#include "workerproc/sdk/src/process_executor.h"
#include "workerproc/sdk/src/registry.h"
#include "workerproc/sdk/src/replay.h"
#include "workerproc/sdk/src/workflow_evaluator.h"

namespace hourglass {

namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;

std::string BridgeSocketFor(const WorkerOptions& o) {
  return o.bridge_socket.empty() ? ipc::DefaultBridgeSocket() : o.bridge_socket;
}

sdk::PollOutcome Classify(const ipc::Error& error, bool connected) {
  switch (error.kind()) {
    case v1::ERROR_KIND_SHUTDOWN:
      return sdk::PollOutcome::kShutdown;
    case v1::ERROR_KIND_WORKER_NOT_REGISTERED:
      return sdk::PollOutcome::kNotRegistered;
    case v1::ERROR_KIND_STALE_EPOCH:
      return sdk::PollOutcome::kStaleEpoch;
    case v1::ERROR_KIND_DEADLINE_EXCEEDED:
      return sdk::PollOutcome::kIdle;
    case v1::ERROR_KIND_UNAVAILABLE:
      return connected ? sdk::PollOutcome::kServerUnavailable : sdk::PollOutcome::kDisconnected;
    default:
      return sdk::PollOutcome::kUnexpected;
  }
}

// Leaves without running destructors: for when threads may still run
// (abandoned evaluators, activities past their grace) or the bridge is gone.
[[noreturn]] void FastExit(int code) {
  spdlog::default_logger()->flush();
  std::_Exit(code);
}

class Worker {
 public:
  explicit Worker(const WorkerOptions& options)
      : options_(options),
        link_(loop_, ClientOptionsFor(options)),
        evaluator_(link_, sdk::EvaluatorOptions{options.task_queue, options.namespace_name,
                                                options.evaluator_threads,
                                                options.max_concurrent_workflow_tasks,
                                                options.deadlock_timeout}),
        executor_(link_,
                  sdk::ExecutorConfig{"/proc/self/exe", BridgeSocketFor(options),
                                      options.task_queue, options.log_level},
                  options.max_concurrent_activities, options.default_isolation),
        workflow_loop_("workflow", WorkflowHooks()),
        activity_loop_("activity", ActivityHooks()) {}

  int Run() {
    if (options_.control_fd >= 0) {
      // Die with the supervisor; and if it died before this line, notice now.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() == 1) return exit_code::kSupervisorGone;
      if (!OpenControlChannel()) return exit_code::kUsage;
    }
    auto term = loop_.WatchSignal(
        SIGTERM, [this] { BeginShutdown(exit_code::kOk, "SIGTERM", options_.graceful_shutdown); });
    auto intr = loop_.WatchSignal(
        SIGINT, [this] { BeginShutdown(exit_code::kOk, "SIGINT", options_.graceful_shutdown); });
    auto watchdog = loop_.AddPeriodicTimer(
        100ms, [this] { evaluator_.CheckDeadlines(std::chrono::steady_clock::now()); });
    link_.set_disconnect_callback([this] {
      // Nothing can be completed any more; the cascade restarts us.
      FastExit(stopping_ ? exit_code_ : exit_code::kBridgeLost);
    });
    loop_.Post([this] { Connect(std::chrono::steady_clock::now() + options_.connect_timeout); });
    loop_.RunForever();
    return Teardown();
  }

 private:
  static ipc::ClientOptions ClientOptionsFor(const WorkerOptions& o) {
    ipc::ClientOptions c;
    c.socket_path = BridgeSocketFor(o);
    c.hello.set_role(v1::ROLE_WORKER);
    c.hello.set_task_queue(o.task_queue);
    c.hello.set_client_name("worker " + o.task_queue);
    return c;
  }

  sdk::PollLoop::Hooks WorkflowHooks() {
    return {[this] {
              if (!evaluator_.slots().Acquire()) return sdk::PollOutcome::kShutdown;
              v1::Request r;
              r.mutable_poll_workflow_activation()->set_task_queue(options_.task_queue);
              ++parked_workflow_polls_;
              auto reply = link_.Call(std::move(r), kPollTimeout);
              --parked_workflow_polls_;
              if (!reply.ok()) {
                evaluator_.slots().Release();
                return Classify(reply.error(), link_.connected());
              }
              evaluator_.Submit(
                  std::move(*reply->mutable_poll_workflow_activation()->mutable_activation()));
              return sdk::PollOutcome::kItem;
            },
            [this] { return registration_pending_.load(); },
            [this](int code) { loop_.Post([code] { FastExit(code); }); }};
  }

  sdk::PollLoop::Hooks ActivityHooks() {
    return {[this] {
              if (!executor_.slots().Acquire()) return sdk::PollOutcome::kShutdown;
              v1::Request r;
              r.mutable_poll_activity_task()->set_task_queue(options_.task_queue);
              ++parked_activity_polls_;
              auto reply = link_.Call(std::move(r), kPollTimeout);
              --parked_activity_polls_;
              if (!reply.ok()) {
                executor_.slots().Release();
                return Classify(reply.error(), link_.connected());
              }
              auto* task = reply->mutable_poll_activity_task()->mutable_task();
              if (task->has_start()) {
                executor_.Start(std::move(*task));
              } else {
                executor_.slots().Release();
                executor_.Cancel(*task);
              }
              return sdk::PollOutcome::kItem;
            },
            [this] { return registration_pending_.load(); },
            [this](int code) { loop_.Post([code] { FastExit(code); }); }};
  }

  static uint32_t InFlight(uint32_t slots_in_use, uint32_t parked) {
    return slots_in_use > parked ? slots_in_use - parked : 0;
  }

  bool OpenControlChannel() {
    ipc::ControlChannel::Handlers h;
    h.stats = [this](v1::Stats& s) {
      s.set_task_queue(options_.task_queue);
      s.set_bridge_epoch(link_.epoch());
      s.set_workflow_poll_loop(workflow_loop_.state());
      s.set_activity_poll_loop(activity_loop_.state());
      s.set_workflow_poll_loop_restarts(workflow_loop_.restarts());
      s.set_activity_poll_loop_restarts(activity_loop_.restarts());
      // A poll holds its slot while parked (slots bound the polls); it is
      // not work in flight.
      s.set_inflight_activations(InFlight(evaluator_.in_flight(), parked_workflow_polls_));
      s.set_inflight_activities(InFlight(executor_.in_flight(), parked_activity_polls_));
      s.set_cached_runs(static_cast<uint32_t>(evaluator_.cached_runs()));
    };
    h.drain = [this](const v1::Drain& d) {
      BeginShutdown(exit_code::kOk, "drain: " + d.reason(),
                    d.deadline_ms() > 0 ? std::chrono::milliseconds(d.deadline_ms())
                                        : options_.graceful_shutdown);
    };
    h.shutdown = [this](const std::string& reason) {
      BeginShutdown(exit_code::kOk, "shutdown: " + reason, options_.graceful_shutdown);
    };
    h.lost = [this] {
      BeginShutdown(exit_code::kSupervisorGone, "the supervisor is gone", 1000ms);
    };
    control_ = ipc::ControlChannel::FromFd(loop_, options_.control_fd, std::move(h),
                                           options_.heartbeat_period);
    if (!control_) {
      spdlog::critical("--control-fd {} is not an open socket", options_.control_fd);
      return false;
    }
    // Process-isolated executors outlive us (DESIGN §5), so the supervisor
    // adopts each one into its executors group: it lists them, stops them
    // with the tree, and accounts their exits. Reported from the attempt's
    // thread; the channel belongs to the loop.
    executor_.set_on_process_started(
        [this](pid_t pid, const coresdk::activity_task::ActivityTask& task) {
          v1::ControlMessage m;
          auto* started = m.mutable_executor_started();
          started->set_pid(static_cast<int32_t>(pid));
          started->set_task_queue(options_.task_queue);
          started->set_activity_type(task.start().activity_type());
          started->set_activity_id(task.start().activity_id());
          loop_.Post([this, m = std::move(m)] { control_->Send(m); });
        });
    return true;
  }

  void Connect(std::chrono::steady_clock::time_point deadline) {
    link_.Connect(2s, [this, deadline](ipc::Result<v1::Welcome> welcome) {
      if (stopping_) return;
      if (!welcome.ok()) {
        if (std::chrono::steady_clock::now() >= deadline) {
          spdlog::critical("cannot reach the bridge host: {}", ipc::Describe(welcome.error()));
          exit_code_ = exit_code::kBridgeUnreachable;
          loop_.Stop();
          return;
        }
        retry_timer_ = loop_.AddTimer(200ms, [this, deadline] { Connect(deadline); });
        return;
      }
      spdlog::info("connected to bridge host pid {} (epoch {}, namespace {})",
                   welcome->bridge_pid(), welcome->bridge_epoch(), welcome->namespace_());
      Register();
    });
  }

  void Register() {
    v1::Request r;
    auto* o = r.mutable_register_worker()->mutable_options();
    o->set_task_queue(options_.task_queue);
    o->set_namespace_(options_.namespace_name);
    if (options_.max_cached_workflows) o->set_max_cached_workflows(*options_.max_cached_workflows);
    o->set_max_outstanding_workflow_tasks(options_.max_concurrent_workflow_tasks);
    o->set_max_outstanding_activities(options_.max_concurrent_activities);
    o->set_graceful_shutdown_period_ms(static_cast<uint32_t>(options_.graceful_shutdown.count()));
    o->set_identity(options_.identity);
    if (sdk::Registry::Global().WorkflowNames().empty()) o->set_no_workflows(true);
    if (sdk::Registry::Global().ActivityNames().empty()) o->set_no_remote_activities(true);
    registration_pending_ = true;
    link_.CallOnLoop(std::move(r), 30s, [this](ipc::Result<v1::Response> reply) {
      if (stopping_) return;
      if (!reply.ok()) {
        const auto kind = reply.error().kind();
        if (kind == v1::ERROR_KIND_UNAVAILABLE || kind == v1::ERROR_KIND_DEADLINE_EXCEEDED) {
          spdlog::warn("registration of {} not done yet ({}); retrying", options_.task_queue,
                       ipc::Describe(reply.error()));
          retry_timer_ = loop_.AddTimer(1000ms, [this] { Register(); });
          return;
        }
        spdlog::critical("registration of {} refused: {}", options_.task_queue,
                         ipc::Describe(reply.error()));
        registration_pending_ = false;
        exit_code_ = exit_code::kRegistrationRefused;
        loop_.Stop();
        return;
      }
      registration_pending_ = false;
      registered_ = true;
      spdlog::info("serving task queue {} (workflows: {}; activities: {})", options_.task_queue,
                   sdk::JoinNames(sdk::Registry::Global().WorkflowNames()),
                   sdk::JoinNames(sdk::Registry::Global().ActivityNames()));
      if (!sdk::Registry::Global().WorkflowNames().empty()) workflow_loop_.Start();
      if (!sdk::Registry::Global().ActivityNames().empty()) activity_loop_.Start();
      if (control_) {
        v1::Ready ready;
        ready.set_pid(static_cast<int32_t>(::getpid()));
        ready.set_task_queue(options_.task_queue);
        ready.set_bridge_epoch(link_.epoch());
        control_->SendReady(ready);
      }
    });
  }

  // Unregister first (so the bridge host stops handing us work and answers
  // our parked polls with SHUTDOWN), then wait for the loops to end and the
  // work in flight to finish, up to `grace`.
  void BeginShutdown(int code, const std::string& why, std::chrono::milliseconds grace) {
    if (stopping_) return;
    stopping_ = true;
    exit_code_ = code;
    spdlog::info("worker {}: stopping ({})", options_.task_queue, why);
    shutdown_deadline_ = std::chrono::steady_clock::now() + grace;
    if (registered_) {
      v1::Request r;
      r.mutable_unregister_worker()->set_task_queue(options_.task_queue);
      link_.CallOnLoop(std::move(r), 5s, [this](ipc::Result<v1::Response> reply) {
        if (!reply.ok()) spdlog::warn("unregister failed: {}", ipc::Describe(reply.error()));
        unregistered_ = true;
      });
    } else {
      unregistered_ = true;
    }
    drain_timer_ = loop_.AddPeriodicTimer(20ms, [this] {
      const bool loops_done = LoopDone(workflow_loop_) && LoopDone(activity_loop_);
      const bool idle = evaluator_.in_flight() == 0 && executor_.in_flight() == 0;
      if ((unregistered_ && loops_done && idle) ||
          std::chrono::steady_clock::now() >= shutdown_deadline_) {
        if (!idle) {
          spdlog::warn(
              "worker {}: grace period over with {} activations and {} activities in flight",
              options_.task_queue, evaluator_.in_flight(), executor_.in_flight());
          unclean_ = true;
        }
        drain_timer_.Reset();
        loop_.Stop();
      }
    });
  }

  bool LoopDone(const sdk::PollLoop& loop) const {
    // A loop that never started (no workflows or no activities) is done.
    return !loop.started() || loop.stopped();
  }

  int Teardown() {
    evaluator_.slots().Close();
    executor_.slots().Close();
    if (unclean_ || evaluator_.deadlocks() > 0 ||
        !(LoopDone(workflow_loop_) && LoopDone(activity_loop_))) {
      // Threads may still be running user code or parked on the loop we
      // just stopped: leave without joining them.
      FastExit(exit_code_);
    }
    workflow_loop_.Join();
    activity_loop_.Join();
    evaluator_.Stop();
    link_.Close();
    spdlog::info("worker {}: stopped", options_.task_queue);
    return exit_code_;
  }

  static constexpr std::chrono::milliseconds kPollTimeout{60000};

  WorkerOptions options_;
  ipc::EventLoop loop_;
  sdk::BridgeLink link_;
  sdk::WorkflowEvaluator evaluator_;
  sdk::ActivityExecutor executor_;
  sdk::PollLoop workflow_loop_;
  sdk::PollLoop activity_loop_;
  std::unique_ptr<ipc::ControlChannel> control_;
  ipc::EventHandle retry_timer_;
  ipc::EventHandle drain_timer_;
  std::atomic<bool> registration_pending_{false};
  // Polls parked in the bridge host, each holding a slot.
  std::atomic<uint32_t> parked_workflow_polls_{0};
  std::atomic<uint32_t> parked_activity_polls_{0};
  bool registered_ = false;
  bool unregistered_ = false;
  bool stopping_ = false;
  bool unclean_ = false;
  int exit_code_ = exit_code::kOk;
  std::chrono::steady_clock::time_point shutdown_deadline_;
};

}  // namespace

int RunWorker(const WorkerOptions& options) {
  // The worker must not die on a write to a closed socket; errors are
  // handled where they happen.
  ::signal(SIGPIPE, SIG_IGN);
  failpoint::ArmFromEnvironment();  // docs/fault-injection.md
  Worker worker(options);
  return worker.Run();
}

int RunWorker(int argc, char** argv) {
  CLI::App app{"Hourglass worker: serves one task queue through the bridge host"};
  WorkerOptions o;
  int64_t deadlock_ms = o.deadlock_timeout.count();
  int64_t grace_ms = o.graceful_shutdown.count();
  int64_t heartbeat_ms = o.heartbeat_period.count();
  int64_t connect_ms = o.connect_timeout.count();
  std::optional<uint32_t> max_cached;
  std::string isolation = "thread";
  bool run_activity = false;
  bool replay = false;
  std::vector<std::string> replay_files;
  int activity_fd = sdk::kExecutorFd;
  app.add_option("--bridge-socket", o.bridge_socket,
                 "The bridge host's socket (default: <runtime dir>/bridge.sock)");
  app.add_option("--task-queue", o.task_queue, "Task queue to serve")->capture_default_str();
  app.add_option("--namespace", o.namespace_name, "Namespace (default: the bridge host's)");
  app.add_option("--identity", o.identity, "Worker identity (default: pid@host)");
  app.add_option("--control-fd", o.control_fd, "Control channel to the supervisor (it passes 3)");
  app.add_option("--max-cached-workflows", max_cached,
                 "Runs kept between tasks (default 1000; 0: none)");
  app.add_option("--max-concurrent-workflow-tasks", o.max_concurrent_workflow_tasks)
      ->capture_default_str();
  app.add_option("--evaluator-threads", o.evaluator_threads)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--max-concurrent-activities", o.max_concurrent_activities)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--deadlock-timeout-ms", deadlock_ms, "Workflow code must yield within this")
      ->capture_default_str();
  app.add_option("--graceful-shutdown-ms", grace_ms, "Time in-flight work gets on SIGTERM")
      ->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "Control-channel heartbeat period")
      ->capture_default_str();
  app.add_option("--connect-timeout-ms", connect_ms, "How long to retry reaching the bridge host")
      ->capture_default_str();
  app.add_option("--isolation", isolation, "Where activities run by default: thread or process")
      ->check(CLI::IsMember({"thread", "process"}))
      ->capture_default_str();
  app.add_flag("--replay", replay,
               "Replay history files against this binary's workflows and exit (hourglass replay)");
  app.add_option("files", replay_files,
                 "History files for --replay (binary History proto or proto3 JSON)");
  // Internal: how a worker starts a process-isolated activity attempt.
  app.add_flag("--run-activity", run_activity)->group("");
  app.add_option("--activity-fd", activity_fd)->group("");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_code::kOk : exit_code::kUsage;
  }
  if (o.max_concurrent_workflow_tasks == 0) o.max_concurrent_workflow_tasks = 1;
  o.max_cached_workflows = max_cached;
  o.deadlock_timeout = std::chrono::milliseconds(deadlock_ms);
  o.graceful_shutdown = std::chrono::milliseconds(grace_ms);
  o.heartbeat_period = std::chrono::milliseconds(heartbeat_ms);
  o.connect_timeout = std::chrono::milliseconds(connect_ms);
  o.default_isolation = isolation == "process" ? Isolation::kProcess : Isolation::kThread;
  spdlog::set_default_logger(logging::NonBlockingLogger(run_activity ? "executor" : "worker"));
  spdlog::set_level(spdlog::level::from_str(o.log_level));
  if (replay) {
    if (replay_files.empty()) {
      spdlog::error("--replay needs at least one history file");
      return exit_code::kUsage;
    }
    return sdk::RunReplay({BridgeSocketFor(o), replay_files});
  }
  if (run_activity) {
    ::signal(SIGPIPE, SIG_IGN);
    // An executor runs exactly one attempt and then exits, so a stop request
    // (the supervisor's SIGTERM when the tree stops) means "finish it and
    // deliver the result": the attempt is not thrown away for the server to
    // retry. The supervisor's shutdown timeout, then SIGKILL, bounds it.
    ::signal(SIGTERM, SIG_IGN);
    failpoint::ArmFromEnvironment();
    sdk::ExecutorConfig config{"", BridgeSocketFor(o), o.task_queue, o.log_level};
    // _Exit: the thread reading cancellations may still be blocked.
    FastExit(sdk::RunExecutorProcess(config, activity_fd));
  }
  return RunWorker(o);
}

}  // namespace hourglass
