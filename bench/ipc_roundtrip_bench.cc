// One IPC request/reply through the Hourglass channel (BlockingClient ->
// libevent Server -> handler -> reply) against raw socketpair ping-pong with
// the same payload, both measured in this process, in this run. Prints p50 and
// p99 per round trip and the ratio ipc/raw.
//
//   build/bin/ipc_roundtrip_bench [--benchmark_min_time=2]

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "ipc/client.h"
#include "ipc/unix_socket.h"
#include "tests/ipc/test_server.h"

namespace hourglass::ipc {
namespace {

using Clock = std::chrono::steady_clock;

struct Percentiles {
  double p50_us = 0;
  double p99_us = 0;
};

Percentiles Summarize(std::vector<double>& samples_us) {
  if (samples_us.empty()) return {};
  std::sort(samples_us.begin(), samples_us.end());
  auto at = [&](double q) {
    return samples_us[std::min(samples_us.size() - 1, static_cast<size_t>(q * samples_us.size()))];
  };
  return {at(0.50), at(0.99)};
}

void Report(benchmark::State& state, std::vector<double>& samples_us) {
  auto p = Summarize(samples_us);
  state.counters["p50_us"] = p.p50_us;
  state.counters["p99_us"] = p.p99_us;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0) * 2);
}

bool ReadFully(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool WriteFully(int fd, const char* buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    const ssize_t w = ::write(fd, buf + put, n - put);
    if (w <= 0) return false;
    put += static_cast<size_t>(w);
  }
  return true;
}

// Baseline: the same bytes to a thread that reads them and writes them back,
// with blocking reads and writes and nothing else.
void BM_RawSocketpairPingPong(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  auto pair = MakeSocketPair();
  if (!pair) {
    state.SkipWithError("socketpair failed");
    return;
  }
  int client = pair->first.get();
  int server = pair->second.get();
  std::thread echo([server, size] {
    std::string buf(size, '\0');
    while (ReadFully(server, buf.data(), size) && WriteFully(server, buf.data(), size)) {
    }
  });
  std::string out(size, 'p');
  std::string in(size, '\0');
  std::vector<double> samples;
  samples.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (!WriteFully(client, out.data(), size) || !ReadFully(client, in.data(), size)) {
      state.SkipWithError("raw ping-pong broke");
      break;
    }
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  ::shutdown(client, SHUT_RDWR);
  echo.join();
  Report(state, samples);
}

void BM_IpcRequestReply(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  testing::TempDir dir;
  testing::ScriptedHandler handler;
  ServerOptions options;
  options.socket_path = dir.path() + "/bench.sock";
  testing::ServerThread server(options, handler);
  if (!server.Start().ok()) {
    state.SkipWithError("server did not start");
    return;
  }
  ClientOptions copts;
  copts.socket_path = options.socket_path;
  copts.hello.set_role(v1::ROLE_CLIENT);
  auto client = BlockingClient::Connect(copts, std::chrono::seconds(5));
  if (!client) {
    state.SkipWithError("connect failed");
    return;
  }
  // The payload of a ping carries `size` bytes; the envelope adds a few.
  v1::Request request;
  request.mutable_ping()->set_payload(std::string(size, 'p'));
  std::vector<double> samples;
  samples.reserve(1 << 16);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto reply = client->Call(request, std::chrono::milliseconds(0));
    if (!reply || reply->ping().payload().size() != size) {
      state.SkipWithError("ipc round trip failed");
      break;
    }
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  Report(state, samples);
}

BENCHMARK(BM_RawSocketpairPingPong)->Arg(64)->Arg(4096)->Arg(1 << 20)->UseRealTime();
BENCHMARK(BM_IpcRequestReply)->Arg(64)->Arg(4096)->Arg(1 << 20)->UseRealTime();

// Collects each run's p50/p99 so main() can print the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const std::string name = run.benchmark_name();
      const auto slash = name.find('/');
      const std::string family = name.substr(0, slash);
      const std::string arg = name.substr(slash + 1, name.find('/', slash + 1) - slash - 1);
      auto get = [&](const char* key) {
        auto it = run.counters.find(key);
        return it == run.counters.end() ? 0.0 : static_cast<double>(it->second);
      };
      results_[std::stol(arg)][family] = {get("p50_us"), get("p99_us")};
    }
  }

  void PrintRatios() const {
    std::printf("\nIPC request/reply vs raw socketpair ping-pong (same payload, same run)\n");
    std::printf("%-10s %12s %12s %12s %12s %10s %10s\n", "payload", "raw p50 us", "ipc p50 us",
                "raw p99 us", "ipc p99 us", "p50 ratio", "p99 ratio");
    for (const auto& [arg, families] : results_) {
      auto raw = families.find("BM_RawSocketpairPingPong");
      auto ipc = families.find("BM_IpcRequestReply");
      if (raw == families.end() || ipc == families.end()) continue;
      std::printf("%-10ld %12.2f %12.2f %12.2f %12.2f %9.2fx %9.2fx\n", arg,
                  raw->second.p50_us, ipc->second.p50_us, raw->second.p99_us, ipc->second.p99_us,
                  ipc->second.p50_us / raw->second.p50_us, ipc->second.p99_us / raw->second.p99_us);
    }
    std::printf("Goal: p50 ratio <= 2.00x at 64 bytes.\n");
  }

 private:
  // payload bytes -> benchmark family -> figures
  std::map<long, std::map<std::string, Percentiles>> results_;
};

}  // namespace
}  // namespace hourglass::ipc

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hourglass::ipc::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
