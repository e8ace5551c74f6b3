// What a disarmed fault point costs (ipc/failpoint.h promises one relaxed
// atomic load): HOURGLASS_FAILPOINT in a loop against the same loop with
// nothing in it, both in this run. Prints ns per iteration and the ratio.
//
//   build/bin/failpoint_bench [--benchmark_min_time=1]

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "ipc/failpoint.h"

namespace {

void BM_EmptyLoop(benchmark::State& state) {
  bool value = false;
  for (auto _ : state) benchmark::DoNotOptimize(value);
}
BENCHMARK(BM_EmptyLoop);

void BM_DisarmedFailpoint(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(HOURGLASS_FAILPOINT("bench.disarmed"));
}
BENCHMARK(BM_DisarmedFailpoint);

// Remembers each benchmark's time per iteration for the ratio.
class Reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Iteration) ns_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
  }
  double ns(const std::string& name) const {
    auto it = ns_.find(name);
    return it == ns_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> ns_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double empty = reporter.ns("BM_EmptyLoop");
  const double point = reporter.ns("BM_DisarmedFailpoint");
  if (empty > 0 && point > 0) {
    std::printf(
        "disarmed fault point: %.3f ns/iteration, empty loop: %.3f ns/iteration, "
        "ratio %.2fx (the point adds %.3f ns)\n",
        point, empty, point / empty, point - empty);
  }
  benchmark::Shutdown();
  return 0;
}
