// What the bridge host's process boundary costs, measured in one run:
//
// 1. Added latency per activation: replaying sdk-core's recorded
//    timer_workflow_history.bin in process (core::HistoryReplay called
//    directly) against the same replay through a real hourglass-bridgehost's
//    replayer over IPC (push, then one poll + one completion per activation).
//    Both sides run the same Core code; the difference is IPC and the loop.
// 2. Bridge-host memory per cached run: RSS of a real hourglass-bridgehost
//    before and after N workflows (on a real hourglass-devserver) each have
//    one activation completed and stay cached, waiting on a one-hour timer.
//
//   build/bin/bridgehost_bench [replays] [cached_runs]

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bridgehost/core/history_replay.h"
#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/blocking_frames.h"
#include "ipc/client.h"
#include "ipc/frame.h"
#include "ipc/unix_socket.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using namespace hourglass;
namespace v1 = ipc::v1;
using Clock = std::chrono::steady_clock;

temporal::api::history::v1::History LoadHistory() {
  std::ifstream in(std::string(HOURGLASS_HISTORIES_DIR) + "/timer_workflow_history.bin", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  temporal::api::history::v1::History h;
  h.ParseFromString(ss.str());
  return h;
}

// The commands the recorded workflow issued, for an activation.
coresdk::workflow_completion::WorkflowActivationCompletion Answer(
    const coresdk::workflow_activation::WorkflowActivation& a) {
  coresdk::workflow_completion::WorkflowActivationCompletion c;
  c.set_run_id(a.run_id());
  auto* ok = c.mutable_successful();
  for (const auto& job : a.jobs()) {
    if (job.has_initialize_workflow()) {
      auto* t = ok->add_commands()->mutable_start_timer();
      t->set_seq(0);
      t->mutable_start_to_fire_timeout()->set_seconds(1);
    }
    if (job.has_fire_timer()) ok->add_commands()->mutable_complete_workflow_execution();
  }
  return c;
}

int64_t RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

struct Bridge {
  testing::TempDir dir{"hg-bench"};  // first, so the process stops before it goes
  std::optional<testing::ChildProcess> process;
  std::string socket;
};

Bridge StartBridge(const std::string& target) {
  Bridge b;
  auto pair = ipc::MakeSocketPair();
  ipc::UniqueFd parent = std::move(pair->first);
  ipc::UniqueFd child = std::move(pair->second);
  auto p = testing::ChildProcess::Spawn({{testing::BinDir() + "/hourglass-bridgehost", "--target", target,
                                          "--runtime-dir", b.dir.path() + "/run", "--control-fd", "3",
                                          "--heartbeat-ms", "0", "--log-level", "error"},
                                         {{3, child.get()}},
                                         false,
                                         b.dir.path() + "/bridgehost.log"});
  b.process.emplace(std::move(*p));
  ipc::FrameDecoder decoder;
  for (v1::ControlMessage m; ipc::ReadMessage(parent.get(), decoder, m, std::chrono::seconds(20));) {
    if (m.has_ready()) {
      b.socket = m.ready().socket_path();
      break;
    }
  }
  // Keep the control channel open for the bridge's lifetime.
  static std::vector<ipc::UniqueFd> keep;
  keep.push_back(std::move(parent));
  return b;
}

ipc::BlockingClient Connect(const std::string& socket) {
  ipc::ClientOptions o;
  o.socket_path = socket;
  o.hello.set_role(v1::ROLE_WORKER);
  return std::move(ipc::BlockingClient::Connect(o, 5s)).value();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int replays = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int cached_runs = argc > 2 ? std::atoi(argv[2]) : 500;
  const auto history = LoadHistory();

  // --- 1. activation latency: in process vs through the bridge host ----------
  std::vector<double> direct_us;
  int activations_per_replay = 0;
  for (int i = 0; i < replays; ++i) {
    const auto t0 = Clock::now();
    bridgehost::core::HistoryReplay replay("wf", history);
    int n = 0;
    while (const auto* a = replay.activation()) {
      replay.Complete(Answer(*a));
      ++n;
    }
    direct_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    activations_per_replay = n;
  }

  Bridge bridge = StartBridge("127.0.0.1:1");  // the replayer needs no server
  auto c = Connect(bridge.socket);
  std::vector<double> ipc_us;
  for (int i = 0; i < replays; ++i) {
    const auto t0 = Clock::now();
    v1::Request create;
    create.mutable_replayer_new();
    const uint64_t id = c.Call(create, 5s)->replayer_new().replayer_id();
    v1::Request push;
    push.mutable_replayer_push_history()->set_replayer_id(id);
    push.mutable_replayer_push_history()->set_workflow_id("wf");
    *push.mutable_replayer_push_history()->mutable_history() = history;
    c.Call(push, 5s);
    for (;;) {
      v1::Request poll;
      poll.mutable_replayer_poll_activation()->set_replayer_id(id);
      auto r = c.Call(poll, 5s);
      if (!r.ok() || r->replayer_poll_activation().has_verdict()) break;
      v1::Request complete;
      complete.mutable_replayer_complete_activation()->set_replayer_id(id);
      *complete.mutable_replayer_complete_activation()->mutable_completion() =
          Answer(r->replayer_poll_activation().activation());
      c.Call(complete, 5s);
    }
    ipc_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  bridge.process.reset();
  const double direct = Median(direct_us);
  const double through = Median(ipc_us);
  // Per replay: activations_per_replay polls and completions, plus create,
  // push and the verdict poll.
  std::printf("Activations per replay: %d (timer_workflow_history.bin)\n", activations_per_replay);
  std::printf("Replay p50: in process %.1f us, through the bridge host %.1f us (%.1fx)\n", direct, through,
              through / direct);
  std::printf("Added latency per activation (p50): %.1f us\n",
              (through - direct) / activations_per_replay);

  // --- 2. RSS per cached run ------------------------------------------------------
  const testing::TempDir ds_dir("hg-bench-ds");
  auto devserver = testing::ChildProcess::Spawn({{testing::BinDir() + "/hourglass-devserver", "--port", "0",
                                                   "--log-level", "error"},
                                                  {},
                                                  true,
                                                  ds_dir.path() + "/devserver.log"});
  auto line = devserver->WaitForLine("ready on", 20s);
  Bridge cached = StartBridge(testing::AddressFromReadyLine(*line));
  auto w = Connect(cached.socket);
  v1::Request reg;
  reg.mutable_register_worker()->mutable_options()->set_task_queue("bench-q");
  reg.mutable_register_worker()->mutable_options()->set_max_cached_workflows(static_cast<uint32_t>(cached_runs) + 10);
  w.Call(reg, 10s);
  // Warm up the allocator and the gRPC channel with one run first.
  auto run_one = [&](int i) {
    v1::Request start;
    auto* s = start.mutable_start_workflow()->mutable_request();
    s->set_workflow_id("bench-" + std::to_string(i));
    s->mutable_workflow_type()->set_name("Wf");
    s->mutable_task_queue()->set_name("bench-q");
    w.Call(start, 10s);
    v1::Request poll;
    poll.mutable_poll_workflow_activation()->set_task_queue("bench-q");
    auto a = w.Call(poll, 30s);
    v1::Request complete;
    auto* cc = complete.mutable_complete_workflow_activation();
    cc->set_task_queue("bench-q");
    cc->mutable_completion()->set_run_id(a->poll_workflow_activation().activation().run_id());
    auto* t = cc->mutable_completion()->mutable_successful()->add_commands()->mutable_start_timer();
    t->set_seq(1);
    t->mutable_start_to_fire_timeout()->set_seconds(3600);
    w.Call(complete, 10s);
  };
  for (int i = 0; i < 20; ++i) run_one(-1 - i);
  std::this_thread::sleep_for(500ms);  // let the last answers reach the server
  const int64_t before = RssKb(cached.process->pid());
  for (int i = 0; i < cached_runs; ++i) run_one(i);
  std::this_thread::sleep_for(500ms);
  const int64_t after = RssKb(cached.process->pid());
  std::printf("Bridge-host RSS: %lld kB with 20 cached runs, %lld kB with %d more: %.1f kB per cached run\n",
              static_cast<long long>(before), static_cast<long long>(after), cached_runs,
              static_cast<double>(after - before) / cached_runs);
  return 0;
}
