// What supervision costs, measured in one run against a real tree
// (hourglass-supervisor with its embedded dev server, the bridge host and N
// hourglass-workerproc workers):
//
// 1. Cascade latency: SIGKILL the bridge host, then time until a new bridge
//    host and N new workers are all READY (a worker reports READY once its
//    queue is registered with the bridge host; its poll loops start at that
//    moment). Baseline, same run: the same processes started directly by this
//    program (bridge host, wait for READY, then N workers, wait for every
//    READY) with no supervisor in between — the floor any supervisor pays.
// 2. Single-worker restart latency: SIGKILL one worker, time until its
//    replacement is READY; baseline: one worker started directly.
// 3. The supervisor's RSS and its idle wake-ups per second (context switches
//    over a quiet interval), per tree size.
//
//   build/bin/supervisor_bench [kills=50] [sizes=1,8,32]

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/ipc/v1/control.pb.h"
#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/blocking_frames.h"
#include "ipc/frame.h"
#include "ipc/unix_socket.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using namespace hourglass;
namespace v1 = ipc::v1;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

int64_t StatusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return -1;
}

// Thrown, not exit(): the destructors must stop the trees this run started
// (a supervisor is a daemon: it does not die with its parent).
[[noreturn]] void Fail(const std::string& why) { throw std::runtime_error(why); }

// One connection to the supervisor's control socket.
class Ctl {
 public:
  explicit Ctl(const std::string& socket) {
    for (int i = 0; i < 400 && !fd_; ++i) {
      if (auto fd = ipc::ConnectUnixSocket(socket); fd.ok()) {
        fd_ = std::move(fd).value();
      } else {
        std::this_thread::sleep_for(25ms);
      }
    }
    if (!fd_) Fail("cannot connect to " + socket);
  }
  v1::CtlReply Call(const v1::CtlRequest& request) {
    v1::CtlReply reply;
    if (!ipc::WriteMessage(fd_.get(), request) ||
        !ipc::ReadMessage(fd_.get(), decoder_, reply, 60s)) {
      Fail("control socket: no reply");
    }
    return reply;
  }
  // id -> (pid, running) for the children of `supervisor`.
  std::map<std::string, std::pair<int, bool>> Children(const std::string& supervisor) {
    v1::CtlRequest r;
    r.mutable_which_children()->set_supervisor(supervisor);
    std::map<std::string, std::pair<int, bool>> out;
    const v1::CtlReply reply = Call(r);  // kept alive: the loop reads into it
    for (const auto& c : reply.which_children().children())
      out[c.id()] = {c.pid(), c.state() == "running"};
    return out;
  }
  v1::CtlStatusReply Status() {
    v1::CtlRequest r;
    r.mutable_status()->set_stats_timeout_ms(200);
    return Call(r).status();
  }

 private:
  ipc::UniqueFd fd_;
  ipc::FrameDecoder decoder_;
};

// A tree of `n` workers under a real supervisor.
class Tree {
 public:
  explicit Tree(int n) {
    // Intensities out of the way: the bench kills far more often than a
    // production tree would tolerate.
    std::ofstream(dir_.path() + "/bench.toml")
        << "[application]\nmax_restarts = 1000\nperiod_ms = 1000\n"
           "[subsystem]\nmax_restarts = 1000\nperiod_ms = 1000\n"
           "[workers]\nmax_restarts = 1000\nperiod_ms = 1000\n";
    std::vector<std::string> argv = {testing::BinDir() + "/hourglass-supervisor",
                                     "--runtime-dir",
                                     dir_.path() + "/run",
                                     "--config",
                                     dir_.path() + "/bench.toml",
                                     "--log-level",
                                     "warn"};
    for (int i = 0; i < n; ++i) {
      argv.push_back("--queue");
      argv.push_back("q" + std::to_string(i));
    }
    auto p = testing::ChildProcess::Spawn({argv, {}, false, dir_.path() + "/supervisor.log"});
    if (!p) Fail("cannot start hourglass-supervisor");
    process_.emplace(std::move(*p));
    ctl_.emplace(dir_.path() + "/run/supervisor.sock");
    const auto deadline = Clock::now() + 60s;
    while (ReadyWorkers() < n) {
      if (Clock::now() > deadline) Fail("tree not ready; see " + dir_.path() + "/supervisor.log");
      std::this_thread::sleep_for(10ms);
    }
  }
  ~Tree() {
    try {
      v1::CtlRequest stop;
      stop.mutable_stop();
      if (ctl_) ctl_->Call(stop);
      if (process_) process_->Wait(30s);
    } catch (const std::exception&) {
      // Unresponsive: ChildProcess's destructor kills it.
    }
  }

  Ctl& ctl() { return *ctl_; }
  pid_t pid() const { return process_->pid(); }
  std::string target() { return ctl_->Status().target(); }

  int ReadyWorkers() {
    int ready = 0;
    for (const auto& [id, c] : ctl_->Children("workers")) ready += c.second ? 1 : 0;
    return ready;
  }

  // SIGKILL the bridge host; ms until a new one and every worker (all new
  // pids) are READY.
  double KillBridge() {
    const auto before_sub = ctl_->Children("subsystem");
    const auto before = ctl_->Children("workers");
    const int old_bridge = before_sub.at("bridgehost").first;
    std::set<int> old_pids;
    for (const auto& [id, c] : before) old_pids.insert(c.first);
    const auto t0 = Clock::now();
    ::kill(old_bridge, SIGKILL);
    for (;;) {
      const auto sub = ctl_->Children("subsystem");
      const auto& bridge = sub.at("bridgehost");
      if (bridge.second && bridge.first != old_bridge) {
        const auto now = ctl_->Children("workers");
        bool all = now.size() == before.size();
        for (const auto& [id, c] : now) all = all && c.second && old_pids.count(c.first) == 0;
        if (all) return Ms(Clock::now() - t0);
      }
      if (Clock::now() - t0 > 30s) Fail("cascade did not finish in 30 s");
      std::this_thread::sleep_for(500us);
    }
  }

  // SIGKILL worker q0; ms until its replacement is READY.
  double KillWorker() {
    const int old = ctl_->Children("workers").at("worker:q0").first;
    const auto t0 = Clock::now();
    ::kill(old, SIGKILL);
    for (;;) {
      const auto now = ctl_->Children("workers");
      if (auto it = now.find("worker:q0");
          it != now.end() && it->second.second && it->second.first != old) {
        return Ms(Clock::now() - t0);
      }
      if (Clock::now() - t0 > 30s) Fail("worker restart did not finish in 30 s");
      std::this_thread::sleep_for(500us);
    }
  }

 private:
  testing::TempDir dir_{"hg-supbench"};
  std::optional<testing::ChildProcess> process_;
  std::optional<Ctl> ctl_;
};

// The baseline: the same binaries started directly, READY read from each
// one's control channel, no supervisor in between.
class Direct {
 public:
  explicit Direct(std::string target) : target_(std::move(target)) {}

  struct Started {
    std::optional<testing::ChildProcess> process;
    ipc::UniqueFd control;
    v1::Ready ready;
  };

  Started Start(std::vector<std::string> argv) {
    auto pair = ipc::MakeSocketPair();
    Started s;
    s.control = std::move(pair->first);
    auto p = testing::ChildProcess::Spawn(
        {std::move(argv), {{3, pair->second.get()}}, false, dir_.path() + "/log"});
    if (!p) Fail("cannot spawn " + argv.front());
    s.process.emplace(std::move(*p));
    return s;
  }
  static void AwaitReady(Started& s) {
    ipc::FrameDecoder decoder;
    for (v1::ControlMessage m; ipc::ReadMessage(s.control.get(), decoder, m, 30s);) {
      if (m.has_ready()) {
        s.ready = m.ready();
        return;
      }
    }
    Fail("a directly started process never reported READY");
  }
  Started Bridge() {
    return Start({testing::BinDir() + "/hourglass-bridgehost", "--target", target_, "--runtime-dir",
                  dir_.path() + "/run", "--control-fd", "3", "--log-level", "warn"});
  }
  Started Worker(const std::string& socket, const std::string& queue) {
    return Start({testing::BinDir() + "/hourglass-workerproc", "--bridge-socket", socket,
                  "--task-queue", queue, "--control-fd", "3", "--log-level", "warn"});
  }

  // Bridge host, READY, then n workers, all READY: what a cascade re-does.
  double Cascade(int n) {
    const auto t0 = Clock::now();
    Started bridge = Bridge();
    AwaitReady(bridge);
    std::vector<Started> workers;
    for (int i = 0; i < n; ++i)
      workers.push_back(Worker(bridge.ready.socket_path(), "base-q" + std::to_string(i)));
    for (auto& w : workers) AwaitReady(w);
    const double ms = Ms(Clock::now() - t0);
    for (auto& w : workers) w.process->Kill(SIGKILL);
    for (auto& w : workers) w.process->Wait(10s);
    bridge.process->Kill(SIGKILL);
    bridge.process->Wait(10s);
    return ms;
  }

  // One worker against a running bridge host.
  std::vector<double> WorkerRestarts(int count) {
    Started bridge = Bridge();
    AwaitReady(bridge);
    std::vector<double> out;
    for (int i = 0; i < count; ++i) {
      const auto t0 = Clock::now();
      Started w = Worker(bridge.ready.socket_path(), "base-single");
      AwaitReady(w);
      out.push_back(Ms(Clock::now() - t0));
      w.process->Kill(SIGKILL);
      w.process->Wait(10s);
    }
    bridge.process->Kill(SIGKILL);
    bridge.process->Wait(10s);
    return out;
  }

 private:
  std::string target_;
  testing::TempDir dir_{"hg-supbench-direct"};
};

std::vector<int> ParseSizes(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoi(item));
  return out;
}

}  // namespace

int Run(int argc, char** argv) {
  const int kills = argc > 1 ? std::atoi(argv[1]) : 50;
  const std::vector<int> sizes = ParseSizes(argc > 2 ? argv[2] : "1,8,32");

  std::printf(
      "hourglass-supervisor: %d SIGKILLs per measurement; baseline = the same processes started "
      "directly\n\n",
      kills);
  std::printf("%-44s %4s %9s %9s %9s %10s %8s %8s\n", "measurement", "N", "p50 ms", "p99 ms",
              "max ms", "base p50", "x p50", "x p99");
  struct Idle {
    int n;
    int64_t rss_kb;
    double wakeups;
  };
  std::vector<Idle> idle;
  for (int n : sizes) {
    Tree tree(n);
    Direct direct(tree.target());

    std::vector<double> cascade, base_cascade;
    for (int i = 0; i < kills; ++i) {
      cascade.push_back(tree.KillBridge());
      std::this_thread::sleep_for(50ms);
    }
    for (int i = 0; i < std::max(5, kills / 5); ++i) base_cascade.push_back(direct.Cascade(n));
    const double b50 = Percentile(base_cascade, 0.5);
    std::printf("%-44s %4d %9.1f %9.1f %9.1f %10.1f %8.2f %8.2f\n",
                "cascade: bridge SIGKILL -> all READY", n, Percentile(cascade, 0.5),
                Percentile(cascade, 0.99), Percentile(cascade, 1.0), b50,
                Percentile(cascade, 0.5) / b50, Percentile(cascade, 0.99) / b50);
    std::fflush(stdout);

    if (n == sizes.front()) {
      std::vector<double> restart;
      for (int i = 0; i < kills; ++i) {
        restart.push_back(tree.KillWorker());
        std::this_thread::sleep_for(20ms);
      }
      const auto base = direct.WorkerRestarts(std::max(5, kills / 5));
      const double w50 = Percentile(base, 0.5);
      std::printf("%-44s %4d %9.1f %9.1f %9.1f %10.1f %8.2f %8.2f\n",
                  "worker SIGKILL -> replacement READY", n, Percentile(restart, 0.5),
                  Percentile(restart, 0.99), Percentile(restart, 1.0), w50,
                  Percentile(restart, 0.5) / w50, Percentile(restart, 0.99) / w50);
      std::fflush(stdout);
    }

    // Quiet interval: only heartbeats (1 s period per child) and the
    // watchdog tick wake the supervisor.
    std::this_thread::sleep_for(1s);
    const pid_t pid = tree.pid();
    const int64_t before = StatusField(pid, "voluntary_ctxt_switches") +
                           StatusField(pid, "nonvoluntary_ctxt_switches");
    std::this_thread::sleep_for(5s);
    const int64_t after = StatusField(pid, "voluntary_ctxt_switches") +
                          StatusField(pid, "nonvoluntary_ctxt_switches");
    idle.push_back({n, StatusField(pid, "VmRSS"), static_cast<double>(after - before) / 5.0});
  }
  std::printf("\n%-44s %4s %9s %14s\n", "supervisor at rest", "N", "RSS kB", "wake-ups / s");
  for (const auto& i : idle)
    std::printf("%-44s %4d %9lld %14.1f\n", "", i.n, static_cast<long long>(i.rss_kb), i.wakeups);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "supervisor_bench: %s\n", e.what());
    return 1;
  }
}
