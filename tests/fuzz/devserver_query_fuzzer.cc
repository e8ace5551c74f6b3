// libFuzzer target: what a dev-server client controls as raw text or opaque
// bytes — a visibility query (ListWorkflowExecutions / Count), and the task and
// page tokens it echoes back. Parsing must never crash, hang or leak, and a
// parsed query must evaluate against any run.

#include <cstddef>
#include <cstdint>
#include <string>

#include "devserver/devserver_state.pb.h"
#include "devserver/engine/visibility_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ds = hourglass::devserver;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto query = ds::ParseVisibilityQuery(text);
  if (query.ok()) {
    ds::v1::RunState run;
    run.set_workflow_id("wf");
    run.mutable_started()->mutable_workflow_type()->set_name("T");
    (*run.mutable_search_attributes()->mutable_indexed_fields())["K"].set_data(text);
    (void)ds::Matches(*query, run);
  }
  ds::v1::TaskToken token;
  (void)token.ParseFromString(text);
  ds::v1::HistoryPageToken page;
  (void)page.ParseFromString(text);
  ds::v1::ListPageToken list;
  (void)list.ParseFromString(text);
  return 0;
}
