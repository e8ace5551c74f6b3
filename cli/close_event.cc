#include "cli/close_event.h"

namespace hourglass::cli {

namespace enums = ::temporal::api::enums::v1;

std::string CloseStatus(const ::temporal::api::history::v1::HistoryEvent& event) {
  switch (event.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return "COMPLETED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      return "FAILED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      return "CANCELED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      return "TERMINATED";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      return "TIMED_OUT";
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return "CONTINUED_AS_NEW";
    default:
      return "";
  }
}

std::string NextRunId(const ::temporal::api::history::v1::HistoryEvent& event) {
  switch (event.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return event.workflow_execution_completed_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      return event.workflow_execution_failed_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      return event.workflow_execution_timed_out_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return event.workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
    default:
      return "";
  }
}

}  // namespace hourglass::cli
