// The chaos soak (issue 7, item 3): N KitchenSink workflows run on a real
// supervisor tree while a killer thread SIGKILLs a random process of that
// tree every 100-1000 ms (the bridge host, a worker of either queue, a
// process-isolated activity executor, the dev server). Once the killing
// stops and every workflow closed (bounded wait), each history is read back
// from the dev server and checked: every workflow COMPLETED with the result
// its input asks for, each workflow id has exactly one run and one close
// event, every scheduled activity was started at least once; and the tree's
// log shows no crash the killer did not cause (SIGSEGV, SIGABRT, a sanitizer
// report). A summary table follows; the exit code is 0 only when nothing was
// lost, nothing closed twice, every result is right and nothing crashed.
//
//   build/bin/chaos_soak [--workflows N] [--duration-s S] [--seed X]
//                        [--min-kill-ms 100] [--max-kill-ms 1000]
//                        [--kill-tail-s 5] [--close-timeout-s 180] [--max-p99-ms 30000]
//                        [--weights bridgehost=2,worker=4,executor=2,devserver=1]
//
// Workflows are started at a steady rate over --duration-s; the killer runs
// from the first start until --kill-tail-s after the last one. The client
// talks gRPC straight to the dev server (the address `ctl status` reports as
// the target: a restarted dev server binds the same port), retrying
// UNAVAILABLE; workflow ids and request ids are deterministic, so a retried
// start is idempotent. The tree's directory (supervisor.log with every
// child's output, kills.log with every kill and its moment, the dev server's
// database) is kept when the soak fails, or always with
// HOURGLASS_KEEP_TEST_DIRS=1.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/testing/supervisor_process.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace v1 = hourglass::ipc::v1;
namespace wsv = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
namespace common_pb = temporal::api::common::v1;
namespace history_pb = temporal::api::history::v1;
using hourglass::testing::SupervisorOptions;
using hourglass::testing::SupervisorProcess;

constexpr const char* kNamespace = "default";
constexpr const char* kThreadQueue = "soak-thread";
constexpr const char* kProcessQueue = "soak-proc";

// Set by SIGINT/SIGTERM: every phase winds down and the tree is stopped, so
// an interrupted soak leaves no supervisor behind (it is a daemon: it would
// outlive us).
std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted = true; }

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Sleeps up to `d`, waking early once `stop` is set.
void SleepUnless(const std::atomic<bool>& stop, Clock::duration d) {
  const auto until = Clock::now() + d;
  while (!stop && !g_interrupted && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(until - Clock::now(), 20ms));
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// --- Options -------------------------------------------------------------------------

struct Options {
  int workflows = 200;
  double duration_s = 45;  // the start phase: starts spread evenly over it
  uint64_t seed = 0;
  bool seed_given = false;
  int min_kill_ms = 100;
  int max_kill_ms = 1000;
  double kill_tail_s = 5;        // killing goes on this long after the last start
  double close_timeout_s = 180;  // then every workflow must close within this
  int task_timeout_s = 4;        // workflow task timeout: how soon a lost task is redelivered
  double max_p99_ms = 30000;     // the p99 start->close latency must stay below this
  std::map<std::string, int> weights = {
      {"bridgehost", 2}, {"worker", 4}, {"executor", 2}, {"devserver", 1}};
  bool verbose = false;  // every kill on stdout
  double hold_s = 0;     // on a hang, keep the tree up this long for a look
  std::string bin_dir;   // the tree's binaries (a sanitizer build of one of them)
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "chaos_soak: " << why
            << "\nusage: chaos_soak [--workflows N] [--duration-s S] [--seed X]"
               " [--min-kill-ms MS] [--max-kill-ms MS] [--kill-tail-s S]"
               " [--close-timeout-s S] [--task-timeout-s S] [--max-p99-ms MS] [--hold-s S]"
               " [--bin-dir DIR]"
               " [--weights bridgehost=W,worker=W,executor=W,devserver=W] [--verbose]\n";
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string value = argv[++i];
    try {
      if (flag == "--workflows") {
        o.workflows = std::stoi(value);
      } else if (flag == "--duration-s") {
        o.duration_s = std::stod(value);
      } else if (flag == "--seed") {
        o.seed = std::stoull(value);
        o.seed_given = true;
      } else if (flag == "--min-kill-ms") {
        o.min_kill_ms = std::stoi(value);
      } else if (flag == "--max-kill-ms") {
        o.max_kill_ms = std::stoi(value);
      } else if (flag == "--kill-tail-s") {
        o.kill_tail_s = std::stod(value);
      } else if (flag == "--close-timeout-s") {
        o.close_timeout_s = std::stod(value);
      } else if (flag == "--task-timeout-s") {
        o.task_timeout_s = std::stoi(value);
      } else if (flag == "--bin-dir") {
        o.bin_dir = value;
      } else if (flag == "--hold-s") {
        o.hold_s = std::stod(value);
      } else if (flag == "--max-p99-ms") {
        o.max_p99_ms = std::stod(value);
      } else if (flag == "--weights") {
        std::istringstream in(value);
        for (std::string kv; std::getline(in, kv, ',');) {
          const auto eq = kv.find('=');
          const std::string k = kv.substr(0, eq);
          if (eq == std::string::npos || !o.weights.count(k)) Usage("bad --weights entry " + kv);
          o.weights[k] = std::stoi(kv.substr(eq + 1));
        }
      } else {
        Usage("unknown flag " + flag);
      }
    } catch (const std::logic_error&) {
      Usage("bad value for " + flag + ": " + value);
    }
  }
  if (o.workflows < 1) Usage("--workflows must be at least 1");
  if (o.min_kill_ms < 1 || o.max_kill_ms < o.min_kill_ms) Usage("need 1 <= min-kill-ms <= max");
  if (!o.seed_given) o.seed = std::random_device{}();
  return o;
}

// --- The workload -----------------------------------------------------------------------

// Ids are fixed by the seed and the index, so a start retried after an
// UNAVAILABLE (that the server may have committed) names the same workflow.
std::string WorkflowId(const Options& o, int i) {
  return "chaos-" + std::to_string(o.seed) + "-" + std::to_string(i);
}
std::string QueueOf(int i) { return i % 2 == 0 ? kThreadQueue : kProcessQueue; }
json Expected(const Options& o, int i) { return json{{"i", i}, {"id", WorkflowId(o, i)}}; }
std::string ChildResult(int i) { return "child-" + std::to_string(i); }

// An activity action. Short start-to-close and a flat 200 ms retry: a thread
// worker killed mid-attempt leaves the attempt to its timeout, and the soak
// should spend its time on the next kill, not waiting out 10 s defaults.
json Activity(const std::string& type, json args) {
  return json{{"activity", type},
              {"args", std::move(args)},
              {"start_to_close_ms", 3000},
              {"retry", {{"initial_ms", 200}, {"backoff", 1.0}}}};
}

// Every workflow: the three plain activities, a timer running beside one,
// a signal the soak sends, a child workflow with an activity of its own, and
// an activity that fails on purpose before it succeeds. The mix varies with
// the index only, so the expected result is known in advance.
json Input(const Options& o, int i) {
  json actions = json::array();
  actions.push_back(Activity("noop", json::array()));
  json side_by_side = json::array();
  side_by_side.push_back(Activity("delay", json::array({50 + (i * 37) % 250})));
  side_by_side.push_back(json{{"timer", 100 + (i * 53) % 400}});
  actions.push_back(json{{"concurrent", side_by_side}});
  actions.push_back(Activity("payload", json::array({1024 * (1 + i % 4)})));
  actions.push_back(json{{"signal", "go"}});
  actions.push_back(json{{"child",
                          {{"actions", json::array({Activity("noop", json::array()),
                                                    json{{"return", ChildResult(i)}}})}}}});
  actions.push_back(Activity("retryable_error", json::array({1 + i % 2})));
  actions.push_back(json{{"return", Expected(o, i)}});
  return json{{"signals", json::array({"go"})}, {"actions", actions}};
}

common_pb::Payload JsonPayload(const json& value) {
  common_pb::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(value.dump());
  return p;
}

std::optional<json> PayloadJson(const common_pb::Payloads& payloads) {
  if (payloads.payloads_size() != 1) return std::nullopt;
  const auto& p = payloads.payloads(0);
  auto enc = p.metadata().find("encoding");
  if (enc == p.metadata().end() || enc->second != "json/plain") return std::nullopt;
  json j = json::parse(p.data(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

int64_t Ms(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One line per event, for the post-mortem of an offending workflow: its id,
// wall-clock time (to line up with kills.log), type, and what matters for
// the soak (attempts, failures, results).
std::string HistoryText(const history_pb::History& h) {
  std::ostringstream out;
  for (const auto& e : h.events()) {
    out << e.event_id() << "  " << Ms(e.event_time()) << "  "
        << enums::EventType_Name(e.event_type());
    if (e.has_activity_task_scheduled_event_attributes()) {
      out << " " << e.activity_task_scheduled_event_attributes().activity_type().name();
    } else if (e.has_activity_task_started_event_attributes()) {
      const auto& a = e.activity_task_started_event_attributes();
      out << " scheduled " << a.scheduled_event_id() << " attempt " << a.attempt() << " by "
          << a.identity();
    } else if (e.has_activity_task_failed_event_attributes()) {
      out << " " << e.activity_task_failed_event_attributes().failure().message();
    } else if (e.has_activity_task_timed_out_event_attributes()) {
      out << " " << e.activity_task_timed_out_event_attributes().failure().message();
    } else if (e.has_workflow_task_started_event_attributes()) {
      out << " by " << e.workflow_task_started_event_attributes().identity();
    } else if (e.has_workflow_task_failed_event_attributes()) {
      const auto& a = e.workflow_task_failed_event_attributes();
      out << " " << enums::WorkflowTaskFailedCause_Name(a.cause()) << ": " << a.failure().message();
    } else if (e.has_workflow_task_timed_out_event_attributes()) {
      out << " "
          << enums::TimeoutType_Name(e.workflow_task_timed_out_event_attributes().timeout_type());
    } else if (e.has_workflow_execution_completed_event_attributes()) {
      out << " " << e.workflow_execution_completed_event_attributes().result().ShortDebugString();
    } else if (e.has_workflow_execution_failed_event_attributes()) {
      out << " " << e.workflow_execution_failed_event_attributes().failure().message();
    } else if (e.has_workflow_execution_signaled_event_attributes()) {
      out << " " << e.workflow_execution_signaled_event_attributes().signal_name();
    }
    out << "\n";
  }
  return out.str();
}

// --- The client ----------------------------------------------------------------------------

// The dev server's gRPC frontend, retried through its restarts.
class Frontend {
 public:
  explicit Frontend(const std::string& target) {
    // gRPC's default reconnect backoff grows to 120 s; a dev server that
    // comes back within a second must be seen within a second.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxReceiveMessageSize(64 << 20);
    stub_ = wsv::WorkflowService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }

  // One call, retried on what a killed or restarting server answers until
  // `give_up`; the last status.
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (wsv::WorkflowService::Stub::*method)(grpc::ClientContext*,
                                                                       const Req&, Resp*),
                    const Req& req, Resp* resp, Clock::time_point give_up,
                    std::chrono::milliseconds per_call = 5s) {
    auto backoff = 50ms;
    for (;;) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + per_call);
      resp->Clear();
      const grpc::Status st = (stub_.get()->*method)(&context, req, resp);
      if (st.ok() || !Transient(st.error_code()) || Clock::now() >= give_up || g_interrupted) {
        return st;
      }
      ++retries_;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  uint64_t retries() const { return retries_; }

 private:
  // A connection refused or reset, a call cut by the server's death, or a
  // deadline passed while it restarted. UNKNOWN covers a stream reset that
  // gRPC could not classify.
  static bool Transient(grpc::StatusCode c) {
    return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
           c == grpc::StatusCode::UNKNOWN || c == grpc::StatusCode::ABORTED ||
           c == grpc::StatusCode::RESOURCE_EXHAUSTED || c == grpc::StatusCode::INTERNAL;
  }

  std::unique_ptr<wsv::WorkflowService::Stub> stub_;
  std::atomic<uint64_t> retries_{0};
};

std::string Describe(const grpc::Status& st) {
  return "gRPC " + std::to_string(static_cast<int>(st.error_code())) + " " + st.error_message();
}

// --- The tree -------------------------------------------------------------------------------

// Two queues, one with thread executors and one with process-isolated
// executors (so the `executors` group has members to kill), and restart
// intensities far above what the killer can reach: the soak measures
// recovery, not the tree's decision to give up.
std::string TreeConfig() {
  return std::string(
             "[application]\nmax_restarts = 1000\nperiod_ms = 1000\n"
             "[subsystem]\nmax_restarts = 1000\nperiod_ms = 1000\n"
             "[workers]\nmax_restarts = 1000\nperiod_ms = 1000\n"
             "[[queue]]\nname = \"") +
         kThreadQueue + "\"\nisolation = \"thread\"\n[[queue]]\nname = \"" + kProcessQueue +
         "\"\nisolation = \"process\"\n";
}

// ctl status without SupervisorProcess::Status: that one remembers every pid
// it sees for the teardown to SIGKILL, and over a long soak (pid_max is
// 32768 here) those pids are reused by unrelated processes.
std::optional<v1::CtlStatusReply> CtlStatus(SupervisorProcess& sup) {
  v1::CtlRequest r;
  r.mutable_status()->set_stats_timeout_ms(50);
  auto reply = sup.Ctl(r, 5s);
  if (!reply || !reply->has_status()) return std::nullopt;
  return reply->status();
}

bool TreeReady(const v1::CtlStatusReply& s) {
  if (s.bridge_epoch() == 0 || s.launcher_queues().empty()) return false;
  for (const auto& q : s.launcher_queues()) {
    const auto* e = hourglass::testing::FindEntry(s, q);
    if (e == nullptr || !e->ready() || e->pid() <= 0) return false;
  }
  return true;
}

// A process as /proc/<pid>/stat shows it: its parent, and its start time
// (clock ticks since boot), which tells a process from a later one that
// reused its pid.
struct ProcInfo {
  pid_t ppid = -1;
  uint64_t start = 0;
  bool zombie = false;
};

std::optional<ProcInfo> ReadProc(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // fields[0] is stat's field 3 (state), so starttime (field 22) is [19].
  if (fields.size() < 20) return std::nullopt;
  ProcInfo p;
  p.zombie = fields[0] == "Z" || fields[0] == "X";
  p.ppid = static_cast<pid_t>(std::stol(fields[1]));
  p.start = std::stoull(fields[19]);
  return p;
}

pid_t ParentOf(pid_t pid) {
  auto p = ReadProc(pid);
  return p ? p->ppid : -1;
}

// --- The soak --------------------------------------------------------------------------------

struct Kill {
  double t_ms;
  std::string kind;  // bridgehost, worker:<queue>, executor, devserver
  std::string id;
  pid_t pid;
};

struct Verdict {
  std::vector<std::string> lost;        // not COMPLETED (id: why)
  std::vector<std::string> wrong;       // COMPLETED with another result
  std::vector<std::string> duplicates;  // more than one run or close event
  std::vector<std::string> children;    // a child workflow with a problem
  std::vector<std::string> activities;  // a scheduled activity never started
  int completed = 0;
  int children_completed = 0;
  int64_t scheduled = 0;
  int64_t attempts = 0;
  std::vector<double> latency_ms;
};

class Soak {
 public:
  explicit Soak(Options o) : o_(std::move(o)) {}

  int Run();

 private:
  bool StartTree();
  bool StopTree();
  void Starter();
  void Signaller();
  void Killer();
  bool AwaitClose();
  Verdict Verify();
  void PrintSummary(const Verdict& v, double wall_s);
  void Progress(const std::string& phase);
  int CountRunning();

  Options o_;
  std::string dir_;
  std::unique_ptr<SupervisorProcess> sup_;
  std::unique_ptr<Frontend> fe_;
  Clock::time_point t0_;
  std::chrono::system_clock::time_point t0_wall_;  // history timestamps are wall clock
  Clock::time_point kill_until_;

  // Starts: one slot per workflow, written by the starter only.
  std::vector<std::atomic<int>> started_;  // 0 not yet, 1 started, -1 failed
  std::vector<std::string> start_errors_;
  std::atomic<int> starts_done_{0};
  std::atomic<int> already_started_{0};
  std::atomic<bool> starting_done_{false};

  // Signals the soak still owes: (due, index).
  std::mutex signal_mu_;
  std::condition_variable signal_cv_;
  std::priority_queue<std::pair<Clock::time_point, int>,
                      std::vector<std::pair<Clock::time_point, int>>, std::greater<>>
      signals_due_;
  std::atomic<int> signals_sent_{0};
  std::vector<std::string> signal_errors_;  // guarded by signal_mu_

  std::atomic<bool> stop_killing_{false};
  std::mutex kill_mu_;
  std::vector<Kill> kills_;
  std::map<std::string, int> no_target_;  // picked a kind with nothing to kill
  std::ofstream kill_log_;
  std::ofstream start_log_;  // starter thread only
  int histories_written_ = 0;
};

bool Soak::StartTree() {
  char tmpl[] = "/tmp/hg-chaos-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return false;
  dir_ = tmpl;
  kill_log_.open(dir_ + "/kills.log");
  start_log_.open(dir_ + "/starts.log");
  SupervisorOptions options{.config_toml = TreeConfig(), .dir = dir_, .log_level = "info"};
  if (!o_.bin_dir.empty()) options.args = {"--bin-dir", o_.bin_dir};
  sup_ = std::make_unique<SupervisorProcess>(options);
  if (!sup_->Start()) return false;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline && !g_interrupted) {
    if (auto s = CtlStatus(*sup_); s && TreeReady(*s)) {
      if (s->target().empty()) return false;
      std::cout << "tree ready in " << dir_ << ": dev server " << s->target() << ", queues "
                << kThreadQueue << " (thread), " << kProcessQueue << " (process)\n";
      fe_ = std::make_unique<Frontend>(s->target());
      return true;
    }
    if (sup_->Exited()) break;
    std::this_thread::sleep_for(50ms);
  }
  std::cerr << "the tree never became ready\n";
  sup_->DumpLog(std::cerr, 60);
  return false;
}

// Stops the tree (SIGTERM, the orderly stop) and makes sure nothing it
// started survives; false when the stop was not clean (no exit 0 within a
// minute, or a process of the tree still alive after the supervisor's exit).
// Then the log is moved aside: SupervisorProcess's destructor SIGKILLs every
// pid the log says was started, and after thousands of spawns many of those
// pids belong to unrelated processes.
bool Soak::StopTree() {
  if (!sup_) return false;
  bool clean = true;
  if (!sup_->Exited()) {
    std::vector<std::pair<pid_t, uint64_t>> below;
    for (pid_t p : hourglass::testing::Descendants(sup_->pid())) {
      if (auto info = ReadProc(p)) below.push_back({p, info->start});
    }
    sup_->Signal(SIGTERM);
    const auto st = sup_->WaitExit(60s);
    std::cout << "tree stopped: supervisor " << hourglass::testing::DescribeStatus(st) << "\n";
    if (!hourglass::testing::ExitedWith(st, 0)) {
      clean = false;
      if (!st) {
        sup_->Signal(SIGKILL);
        sup_->WaitExit(10s);
      }
    }
    for (const auto& [pid, start] : below) {
      auto info = ReadProc(pid);
      if (info && !info->zombie && info->start == start) {
        std::cout << "LEFTOVER: pid " << pid << " outlived the tree: SIGKILL\n";
        ::kill(pid, SIGKILL);
        clean = false;
      }
    }
  } else {
    clean = false;
  }
  std::error_code ignored;
  std::filesystem::rename(sup_->log_path(), dir_ + "/tree.log", ignored);
  sup_.reset();
  return clean;
}

void Soak::Starter() {
  const double interval_ms = o_.duration_s * 1000.0 / o_.workflows;
  for (int i = 0; i < o_.workflows && !g_interrupted; ++i) {
    const auto due = t0_ + std::chrono::microseconds(static_cast<int64_t>(i * interval_ms * 1000));
    std::this_thread::sleep_until(due);
    wsv::StartWorkflowExecutionRequest req;
    req.set_namespace_(kNamespace);
    req.set_workflow_id(WorkflowId(o_, i));
    req.mutable_workflow_type()->set_name("KitchenSink");
    req.mutable_task_queue()->set_name(QueueOf(i));
    req.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    *req.mutable_input()->add_payloads() = JsonPayload(Input(o_, i));
    req.mutable_workflow_task_timeout()->set_seconds(o_.task_timeout_s);
    // Never a second run for an id: a start retried after the first closed
    // must not start the workflow again.
    req.set_workflow_id_reuse_policy(enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE);
    req.set_request_id("start-" + WorkflowId(o_, i));
    req.set_identity("chaos_soak");
    wsv::StartWorkflowExecutionResponse resp;
    const grpc::Status st = fe_->Call(&wsv::WorkflowService::Stub::StartWorkflowExecution, req,
                                      &resp, Clock::now() + 120s);
    if (st.ok() || st.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      if (!st.ok()) ++already_started_;
      started_[static_cast<size_t>(i)] = 1;
      start_log_ << MsSince(t0_) << " " << EpochMs() << " " << WorkflowId(o_, i) << " "
                 << QueueOf(i) << (st.ok() ? "" : " (already started)") << "\n";
      std::lock_guard<std::mutex> lock(signal_mu_);
      signals_due_.push({Clock::now() + std::chrono::milliseconds(200 + (i * 131) % 1000), i});
      signal_cv_.notify_one();
    } else {
      started_[static_cast<size_t>(i)] = -1;
      start_errors_[static_cast<size_t>(i)] = Describe(st);
      std::cerr << "start " << WorkflowId(o_, i) << " failed: " << Describe(st) << "\n";
    }
    ++starts_done_;
  }
  starting_done_ = true;
  signal_cv_.notify_one();
}

// Sends each workflow's "go" some time after its start, so that the signal
// arrives sometimes before, sometimes while the workflow waits for it. The
// request id makes a retried signal count once.
void Soak::Signaller() {
  std::unique_lock<std::mutex> lock(signal_mu_);
  for (;;) {
    if (g_interrupted) return;
    if (signals_due_.empty()) {
      if (starting_done_) return;
      signal_cv_.wait_for(lock, 100ms);
      continue;
    }
    const auto [due, i] = signals_due_.top();
    if (Clock::now() < due) {
      signal_cv_.wait_until(lock, std::min(due, Clock::now() + 100ms));
      continue;
    }
    signals_due_.pop();
    lock.unlock();
    wsv::SignalWorkflowExecutionRequest req;
    req.set_namespace_(kNamespace);
    req.mutable_workflow_execution()->set_workflow_id(WorkflowId(o_, i));
    req.set_signal_name("go");
    req.set_request_id("signal-" + WorkflowId(o_, i));
    req.set_identity("chaos_soak");
    wsv::SignalWorkflowExecutionResponse resp;
    const grpc::Status st = fe_->Call(&wsv::WorkflowService::Stub::SignalWorkflowExecution, req,
                                      &resp, Clock::now() + 120s);
    lock.lock();
    if (st.ok()) {
      ++signals_sent_;
    } else {
      signal_errors_.push_back(WorkflowId(o_, i) + ": " + Describe(st));
      std::cerr << "signal " << WorkflowId(o_, i) << " failed: " << Describe(st) << "\n";
    }
  }
}

// Every 100-1000 ms (uniform, seeded) one SIGKILL to a process of the tree,
// its kind drawn by weight among the kinds that have a live process now.
void Soak::Killer() {
  std::mt19937_64 rng(o_.seed);
  std::uniform_int_distribution<int> pause(o_.min_kill_ms, o_.max_kill_ms);
  while (!stop_killing_ && !g_interrupted && Clock::now() < kill_until_) {
    SleepUnless(stop_killing_, std::chrono::milliseconds(pause(rng)));
    if (stop_killing_ || g_interrupted || Clock::now() >= kill_until_) break;
    auto status = CtlStatus(*sup_);
    if (!status) continue;
    // Candidates per kind: (id, pid) of running processes whose parent is
    // the supervisor or a worker (an executor's parent), so a pid that ended
    // and was reused since the status was taken is never shot.
    std::set<pid_t> parents{sup_->pid()};
    std::map<std::string, std::vector<std::pair<std::string, pid_t>>> candidates;
    for (const auto& n : status->nodes()) {
      if (n.parent() == "workers" && n.pid() > 0) parents.insert(n.pid());
    }
    for (const auto& n : status->nodes()) {
      if (n.kind() != "child" || n.pid() <= 0 || n.state() != "running") continue;
      std::string kind;
      if (n.id() == "devserver" || n.id() == "bridgehost") {
        kind = n.id();
      } else if (n.parent() == "workers") {
        kind = "worker";
      } else if (n.parent() == "executors") {
        kind = "executor";
      } else {
        continue;
      }
      candidates[kind].push_back({n.id(), n.pid()});
    }
    // The kind first, by weight, as if every kind had a target; a kind with
    // none right now (no executor running) is counted and skipped, so the
    // weights stay what they say.
    int total = 0;
    for (const auto& [k, w] : o_.weights) total += w;
    if (total <= 0) continue;
    int pick = std::uniform_int_distribution<int>(0, total - 1)(rng);
    std::string kind;
    for (const auto& [k, w] : o_.weights) {
      if (pick < w) {
        kind = k;
        break;
      }
      pick -= w;
    }
    auto& list = candidates[kind];
    if (list.empty()) {
      std::lock_guard<std::mutex> lock(kill_mu_);
      ++no_target_[kind];
      continue;
    }
    const auto [id, pid] = list[std::uniform_int_distribution<size_t>(0, list.size() - 1)(rng)];
    if (!parents.count(ParentOf(pid))) continue;
    if (::kill(pid, SIGKILL) != 0) continue;
    Kill k{MsSince(t0_), kind == "worker" ? id : kind, id, pid};
    {
      std::lock_guard<std::mutex> lock(kill_mu_);
      kills_.push_back(k);
    }
    char line[200];
    std::snprintf(line, sizeof(line), "%10.1f ms  %lld  SIGKILL %-20s pid %d", k.t_ms,
                  static_cast<long long>(EpochMs()), id.c_str(), pid);
    kill_log_ << line << std::endl;
    if (o_.verbose) std::cout << line << "\n";
  }
}

// Top-level workflows still running, from the dev server's visibility.
int Soak::CountRunning() {
  wsv::CountWorkflowExecutionsRequest req;
  req.set_namespace_(kNamespace);
  req.set_query("ExecutionStatus = 'Running'");
  wsv::CountWorkflowExecutionsResponse resp;
  if (!fe_->Call(&wsv::WorkflowService::Stub::CountWorkflowExecutions, req, &resp,
                 Clock::now() + 10s)
           .ok()) {
    return -1;
  }
  return static_cast<int>(resp.count());
}

void Soak::Progress(const std::string& phase) {
  size_t kills;
  {
    std::lock_guard<std::mutex> lock(kill_mu_);
    kills = kills_.size();
  }
  std::printf("[%6.1f s] %-8s started %d/%d  signalled %d  running %d  kills %zu\n",
              MsSince(t0_) / 1000, phase.c_str(), starts_done_.load(), o_.workflows,
              signals_sent_.load(), CountRunning(), kills);
  std::fflush(stdout);
}

// Waits until no run is open (children included) and the starts and signals
// are all done; false on timeout, an interrupt or a supervisor that exited.
bool Soak::AwaitClose() {
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o_.close_timeout_s * 1000));
  auto next_progress = Clock::now();
  while (Clock::now() < deadline && !g_interrupted) {
    if (sup_->Exited()) {
      std::cerr << "the supervisor exited: "
                << hourglass::testing::DescribeStatus(sup_->WaitExit(0ms)) << "\n";
      return false;
    }
    bool signals_owed;
    {
      std::lock_guard<std::mutex> lock(signal_mu_);
      signals_owed = !signals_due_.empty();
    }
    if (starting_done_ && !signals_owed && CountRunning() == 0) return true;
    if (Clock::now() >= next_progress) {
      Progress("draining");
      next_progress = Clock::now() + 5s;
    }
    std::this_thread::sleep_for(500ms);
  }
  return false;
}

Verdict Soak::Verify() {
  Verdict v;
  const auto give_up = Clock::now() + 120s;
  // Every run in the namespace, by workflow id.
  std::map<std::string, std::vector<std::pair<std::string, enums::WorkflowExecutionStatus>>> runs;
  std::string token;
  do {
    wsv::ListWorkflowExecutionsRequest req;
    req.set_namespace_(kNamespace);
    req.set_page_size(1000);
    req.set_next_page_token(token);
    wsv::ListWorkflowExecutionsResponse resp;
    const grpc::Status st =
        fe_->Call(&wsv::WorkflowService::Stub::ListWorkflowExecutions, req, &resp, give_up, 30s);
    if (!st.ok()) {
      v.lost.push_back("(all): ListWorkflowExecutions failed: " + Describe(st));
      return v;
    }
    for (const auto& e : resp.executions()) {
      runs[e.execution().workflow_id()].push_back({e.execution().run_id(), e.status()});
    }
    token = resp.next_page_token();
  } while (!token.empty());

  auto history_of = [&](const std::string& id, const std::string& run_id,
                        history_pb::History* h) -> grpc::Status {
    wsv::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_(kNamespace);
    req.mutable_execution()->set_workflow_id(id);
    req.mutable_execution()->set_run_id(run_id);
    req.set_maximum_page_size(1000);
    for (;;) {
      wsv::GetWorkflowExecutionHistoryResponse page;
      const grpc::Status st = fe_->Call(&wsv::WorkflowService::Stub::GetWorkflowExecutionHistory,
                                        req, &page, give_up, 30s);
      if (!st.ok()) return st;
      for (const auto& e : page.history().events()) *h->add_events() = e;
      if (page.next_page_token().empty()) return st;
      req.set_next_page_token(page.next_page_token());
    }
  };

  // What one history says: its close events, the result, the activities.
  struct Read {
    int closes = 0;
    const history_pb::HistoryEvent* completed = nullptr;
    const history_pb::HistoryEvent* started = nullptr;
    std::vector<std::string> child_ids;
    std::vector<json> child_results;
    std::string problem;
  };
  auto read = [&](const history_pb::History& h, Verdict& out, const std::string& id) {
    Read r;
    std::map<int64_t, uint32_t> attempts;  // scheduled event id -> highest started attempt
    std::set<int64_t> scheduled;
    for (const auto& e : h.events()) {
      switch (e.event_type()) {
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
          r.started = &e;
          break;
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
          ++r.closes;
          r.completed = &e;
          break;
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
          ++r.closes;
          r.problem = enums::EventType_Name(e.event_type()) + " (event " +
                      std::to_string(e.event_id()) + ")";
          if (e.has_workflow_execution_failed_event_attributes()) {
            r.problem += ": " + e.workflow_execution_failed_event_attributes().failure().message();
          }
          break;
        case enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
          scheduled.insert(e.event_id());
          break;
        case enums::EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const auto& a = e.activity_task_started_event_attributes();
          auto& best = attempts[a.scheduled_event_id()];
          best = std::max(best, static_cast<uint32_t>(a.attempt()));
          break;
        }
        case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
          r.child_ids.push_back(
              e.start_child_workflow_execution_initiated_event_attributes().workflow_id());
          break;
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
          r.child_results.push_back(
              PayloadJson(e.child_workflow_execution_completed_event_attributes().result())
                  .value_or(json("(not one json/plain payload)")));
          break;
        default:
          break;
      }
    }
    for (int64_t s : scheduled) {
      auto it = attempts.find(s);
      ++out.scheduled;
      if (it == attempts.end() || it->second < 1) {
        out.activities.push_back(id + ": activity scheduled at event " + std::to_string(s) +
                                 " has no ActivityTaskStarted with attempt >= 1");
      } else {
        out.attempts += it->second;
      }
    }
    return r;
  };

  // The histories of the first offenders go to <dir>/histories for the
  // post-mortem (the dev server is gone by then).
  auto problems = [&v] {
    return v.lost.size() + v.wrong.size() + v.duplicates.size() + v.children.size() +
           v.activities.size();
  };
  auto keep_history = [&](const std::string& id, const std::string& run_id,
                          const history_pb::History& h) {
    if (histories_written_ >= 50) return;
    if (histories_written_++ == 0) std::filesystem::create_directories(dir_ + "/histories");
    std::ofstream(dir_ + "/histories/" + id + "." + run_id + ".txt") << HistoryText(h);
  };

  std::set<std::string> ours;
  for (int i = 0; i < o_.workflows; ++i) {
    const std::string id = WorkflowId(o_, i);
    ours.insert(id);
    auto it = runs.find(id);
    if (it == runs.end()) {
      const std::string why = started_[static_cast<size_t>(i)] == 1
                                  ? "started, but the server has no run"
                                  : "never started: " + start_errors_[static_cast<size_t>(i)];
      v.lost.push_back(id + ": " + why);
      continue;
    }
    if (it->second.size() != 1) {
      v.duplicates.push_back(id + ": " + std::to_string(it->second.size()) + " runs");
    }
    bool counted = false;
    for (const auto& [run_id, status] : it->second) {
      const size_t before = problems();
      history_pb::History h;
      if (const auto st = history_of(id, run_id, &h); !st.ok()) {
        v.lost.push_back(id + ": history unreadable: " + Describe(st));
        continue;
      }
      // One run's checks; its history is kept when any of them failed.
      [&] {
        const Read r = read(h, v, id);
        if (r.closes > 1) {
          v.duplicates.push_back(id + " run " + run_id + ": " + std::to_string(r.closes) +
                                 " close events");
        }
        if (status != enums::WORKFLOW_EXECUTION_STATUS_COMPLETED || r.completed == nullptr) {
          v.lost.push_back(id + ": " + enums::WorkflowExecutionStatus_Name(status) +
                           (r.problem.empty() ? "" : ", " + r.problem));
          return;
        }
        const auto result =
            PayloadJson(r.completed->workflow_execution_completed_event_attributes().result());
        if (!result || *result != Expected(o_, i)) {
          v.wrong.push_back(id + ": result " + (result ? result->dump() : "(not json)") +
                            ", expected " + Expected(o_, i).dump());
        } else if (r.child_results.size() != 1 || r.child_results[0] != json(ChildResult(i))) {
          v.wrong.push_back(id + ": child results " + json(r.child_results).dump() +
                            ", expected [\"" + ChildResult(i) + "\"]");
        } else if (!counted) {
          ++v.completed;
          counted = true;
        }
        if (r.started != nullptr) {
          v.latency_ms.push_back(
              static_cast<double>(Ms(r.completed->event_time()) - Ms(r.started->event_time())));
        }
      }();
      if (problems() != before || it->second.size() != 1) keep_history(id, run_id, h);
    }
  }
  // The children: one run each, closed once, completed.
  for (const auto& [id, list] : runs) {
    if (ours.count(id)) continue;
    if (list.size() != 1) {
      v.duplicates.push_back("child " + id + ": " + std::to_string(list.size()) + " runs");
    }
    for (const auto& [run_id, status] : list) {
      history_pb::History h;
      if (const auto st = history_of(id, run_id, &h); !st.ok()) {
        v.children.push_back(id + ": history unreadable: " + Describe(st));
        continue;
      }
      const size_t before = problems();
      const Read r = read(h, v, "child " + id);
      if (r.closes > 1) {
        v.duplicates.push_back("child " + id + " run " + run_id + ": " + std::to_string(r.closes) +
                               " close events");
      }
      if (status != enums::WORKFLOW_EXECUTION_STATUS_COMPLETED) {
        v.children.push_back(id + ": " + enums::WorkflowExecutionStatus_Name(status) +
                             (r.problem.empty() ? "" : ", " + r.problem));
      } else {
        ++v.children_completed;
      }
      if (problems() != before || list.size() != 1) keep_history(id, run_id, h);
    }
  }
  return v;
}

void Soak::PrintSummary(const Verdict& v, double wall_s) {
  std::map<std::string, int> by_kind;
  for (const auto& k : kills_) ++by_kind[k.kind];
  // Restarts as the tree counts them (a worker's count starts again at 0
  // when a cascade re-adds it, so spawns from the log are shown beside).
  std::map<std::string, int> spawns;
  int adopted = 0;
  for (const auto& line : sup_->LogLines()) {
    const auto s = line.find("started '");
    if (s != std::string::npos) {
      const auto e = line.find('\'', s + 9);
      if (e != std::string::npos) ++spawns[line.substr(s + 9, e - s - 9)];
    }
    if (line.find(": adopting it as executor:") != std::string::npos) ++adopted;
  }
  const auto status = CtlStatus(*sup_);

  std::printf("\n== chaos soak summary (seed %llu) ==\n", static_cast<unsigned long long>(o_.seed));
  std::printf("%-34s %s\n", "command",
              ("chaos_soak --workflows " + std::to_string(o_.workflows) + " --duration-s " +
               std::to_string(static_cast<int>(o_.duration_s)) + " --seed " +
               std::to_string(o_.seed) + " --min-kill-ms " + std::to_string(o_.min_kill_ms) +
               " --max-kill-ms " + std::to_string(o_.max_kill_ms))
                  .c_str());
  size_t total_kills = 0;
  for (const auto& [k, n] : by_kind) total_kills += static_cast<size_t>(n);
  std::printf("%-34s %zu\n", "kills", total_kills);
  for (const auto& [k, n] : by_kind) std::printf("  %-32s %d\n", k.c_str(), n);
  for (const auto& [k, n] : no_target_) {
    std::printf("  %-32s %d\n", ("(" + k + ": none running)").c_str(), n);
  }
  if (status) {
    std::printf("%-34s %u\n", "cascades (bridge host)", status->cascades());
    for (const auto& n : status->nodes()) {
      if (n.kind() != "child" || n.parent() == "executors") continue;
      std::printf("  %-32s restarts %d, spawns %d\n", n.id().c_str(), n.restart_count(),
                  spawns[n.id()]);
    }
  }
  std::printf("%-34s %d\n", "executors adopted", adopted);
  std::printf("%-34s %d/%d (+%d children)\n", "workflows completed", v.completed, o_.workflows,
              v.children_completed);
  std::printf("%-34s %d\n", "lost (N - completed)", o_.workflows - v.completed);
  std::printf("%-34s %zu\n", "duplicates closed", v.duplicates.size());
  std::printf("%-34s %zu\n", "wrong results", v.wrong.size());
  std::printf("%-34s %lld scheduled, %lld attempts (%lld retries)\n", "activities",
              static_cast<long long>(v.scheduled), static_cast<long long>(v.attempts),
              static_cast<long long>(v.attempts - v.scheduled));
  std::printf("%-34s %d (%d already started), %llu gRPC retries\n", "starts", starts_done_.load(),
              already_started_.load(), static_cast<unsigned long long>(fe_->retries()));
  std::printf("%-34s p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", "start->close latency",
              Percentile(v.latency_ms, 0.5), Percentile(v.latency_ms, 0.99),
              Percentile(v.latency_ms, 1.0));
  std::printf("%-34s %.1f s\n", "wall time", wall_s);
  std::fflush(stdout);
}

// Crashes the killer did not cause: a child that died of a signal that marks
// a bug (SIGSEGV, SIGABRT, ...), and sanitizer reports (a run with
// --bin-dir pointing at the asan build). Read from the tree's log; the first
// few lines are returned.
std::vector<std::string> CrashesIn(const std::string& log_path, size_t* count) {
  static const char* const kMarks[] = {
      "killed by SIGSEGV", "killed by SIGABRT", "killed by SIGBUS", "killed by SIGFPE",
      "killed by SIGILL", "ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer"};
  std::vector<std::string> first;
  *count = 0;
  std::ifstream in(log_path);
  for (std::string line; std::getline(in, line);) {
    for (const char* mark : kMarks) {
      if (line.find(mark) == std::string::npos) continue;
      ++*count;
      if (first.size() < 10) first.push_back(line);
      break;
    }
  }
  return first;
}

int Soak::Run() {
  const auto wall0 = Clock::now();
  std::cout << "chaos soak: seed " << o_.seed << ", " << o_.workflows << " workflows over "
            << o_.duration_s << " s, a SIGKILL every " << o_.min_kill_ms << "-" << o_.max_kill_ms
            << " ms until " << o_.kill_tail_s << " s after the last start\n";
  std::cout.flush();
  if (!StartTree()) {
    StopTree();
    return 1;
  }
  started_ = std::vector<std::atomic<int>>(static_cast<size_t>(o_.workflows));
  start_errors_.assign(static_cast<size_t>(o_.workflows), "");

  t0_ = Clock::now();
  t0_wall_ = std::chrono::system_clock::now();
  kill_log_ << "# ms since the first start, wall clock (epoch ms), what was killed\n";
  start_log_ << "# ms since the first start, wall clock (epoch ms), workflow id, queue\n";
  kill_until_ = t0_ + std::chrono::milliseconds(
                          static_cast<int64_t>((o_.duration_s + o_.kill_tail_s) * 1000));
  std::thread starter([this] { Starter(); });
  std::thread signaller([this] { Signaller(); });
  std::thread killer([this] { Killer(); });
  while (Clock::now() < kill_until_ && !g_interrupted && !sup_->Exited()) {
    Progress("killing");
    SleepUnless(stop_killing_, std::min<Clock::duration>(5s, kill_until_ - Clock::now()));
  }
  stop_killing_ = true;
  killer.join();
  std::printf("[%6.1f s] killing stopped\n", MsSince(t0_) / 1000);
  const bool closed = AwaitClose();
  if (!closed) g_interrupted = true;  // winds the starter and signaller down
  starter.join();
  signaller.join();

  Verdict v;
  bool tree_alive = !sup_->Exited();
  if (!closed) {
    std::cout << "HANG: not every workflow closed within " << o_.close_timeout_s
              << " s of the end of the killing; the tree's own figures now:\n";
    // Which side holds the stuck work: the bridge host's parked polls, each
    // worker's poll loops, in-flight activations and cached runs.
    if (auto s = CtlStatus(*sup_)) {
      for (const auto& n : s->nodes()) {
        if (n.kind() == "child" && n.has_stats()) {
          std::cout << "  " << n.id() << " (pid " << n.pid()
                    << "): " << n.stats().ShortDebugString() << "\n";
        }
      }
    }
    if (o_.hold_s > 0 && !sup_->Exited()) {
      std::cout << "holding the tree for " << o_.hold_s << " s: dev server "
                << (CtlStatus(*sup_) ? CtlStatus(*sup_)->target() : "?") << ", ctl socket "
                << sup_->control_socket() << "\n";
      std::cout.flush();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(static_cast<int64_t>(o_.hold_s * 1000)));
    }
  }
  if (tree_alive || closed) {
    g_interrupted = false;  // Verify's calls must not give up at once
    v = Verify();
  }
  PrintSummary(v, std::chrono::duration<double>(Clock::now() - wall0).count());

  const bool p99_ok = Percentile(v.latency_ms, 0.99) <= o_.max_p99_ms;
  if (!p99_ok) {
    std::printf("p99 start->close latency above %.0f ms\n", o_.max_p99_ms);
  }
  bool ok = closed && tree_alive && p99_ok && v.lost.empty() && v.duplicates.empty() &&
            v.wrong.empty() && v.children.empty() && v.activities.empty() &&
            v.completed == o_.workflows;
  auto list = [](const char* what, const std::vector<std::string>& items) {
    if (items.empty()) return;
    std::printf("%s (%zu):\n", what, items.size());
    for (size_t i = 0; i < items.size() && i < 50; ++i) std::printf("  %s\n", items[i].c_str());
    if (items.size() > 50) std::printf("  ... %zu more\n", items.size() - 50);
  };
  list("LOST", v.lost);
  list("DUPLICATE CLOSE", v.duplicates);
  list("WRONG RESULT", v.wrong);
  list("CHILD WORKFLOW PROBLEM", v.children);
  list("ACTIVITY NEVER STARTED", v.activities);
  {
    std::lock_guard<std::mutex> lock(signal_mu_);
    list("SIGNAL FAILED", signal_errors_);
  }
  if (!ok) sup_->DumpLog(std::cerr, 60);
  if (!StopTree()) {
    std::printf("the tree did not stop cleanly (see above)\n");
    ok = false;
  }
  // Every death should be one of ours: a crash is a bug even when the tree
  // recovered from it and every workflow completed.
  size_t crashes = 0;
  const auto crash_lines = CrashesIn(dir_ + "/tree.log", &crashes);
  std::printf("%-34s %zu\n", "crashes (not the killer's)", crashes);
  list("CRASH", crash_lines);
  if (crashes > 0) ok = false;
  const char* keep = ::getenv("HOURGLASS_KEEP_TEST_DIRS");
  if (ok && !(keep != nullptr && *keep == '1')) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  } else {
    std::printf("kept %s (tree.log: every process's output; kills.log: every kill)\n",
                dir_.c_str());
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  Soak soak(o);
  return soak.Run();
}
