// libFuzzer target: what the bridge host sends a worker as a workflow
// activation, against runs of the kitchen-sink workflow in the middle of
// their lives (pending timers, activities, a child, a signal wait, a
// concurrent block). The bytes are parsed as an activation and applied twice
// (once to the run they name, once to a live run). Crashes, leaks and
// sanitizer reports are bugs; failed completions are the expected outcome.

#include <cstddef>
#include <cstdint>

#include "workerproc/sdk/src/convert.h"
#include "workerproc/sdk/src/workflow_instance.h"

namespace {

namespace sdk = hourglass::sdk;

sdk::act::WorkflowActivation StartKitchenSink() {
  sdk::act::WorkflowActivation a;
  a.set_run_id("run-1");
  auto* init = a.add_jobs()->mutable_initialize_workflow();
  init->set_workflow_type("KitchenSink");
  init->set_workflow_id("wf");
  init->set_randomness_seed(1);
  const char* input = R"({"signals":["go"],"actions":[
      {"concurrent":[{"timer":10},{"activity":"noop"},{"signal":"go"},
                     {"child":{"actions":[{"return":1}]}}]},
      {"activity":"delay","args":[5]},{"return":"done"}]})";
  *init->add_arguments() = sdk::ToProto(hourglass::JsonPayload(nlohmann::json::parse(input)));
  return a;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sdk::act::WorkflowActivation fuzzed;
  if (!fuzzed.ParseFromArray(data, static_cast<int>(size))) return 0;
  sdk::WorkflowRuns runs(sdk::InstanceOptions{"default", "q"});
  (void)runs.Activate(StartKitchenSink());
  (void)runs.Activate(fuzzed);
  fuzzed.set_run_id("run-1");
  (void)runs.Activate(fuzzed);
  return 0;
}
