#pragma once

// The process-wide registry of workflow and activity types, filled by
// HOURGLASS_WORKFLOW / HOURGLASS_ACTIVITY at static-initialisation time and
// read-only once the worker runs.

#include <map>
#include <string>
#include <vector>

#include "hourglass/activity.h"
#include "hourglass/workflow.h"

namespace hourglass::sdk {

struct RegisteredActivity {
  ActivityFunction fn;
  ActivityRegistrationOptions options;
};

class Registry {
 public:
  static Registry& Global();

  void AddWorkflow(const std::string& name, WorkflowFunction fn);
  void AddActivity(const std::string& name, ActivityFunction fn, ActivityRegistrationOptions options);

  const WorkflowFunction* FindWorkflow(const std::string& name) const;
  const RegisteredActivity* FindActivity(const std::string& name) const;
  std::vector<std::string> WorkflowNames() const;
  std::vector<std::string> ActivityNames() const;

 private:
  std::map<std::string, WorkflowFunction> workflows_;
  std::map<std::string, RegisteredActivity> activities_;
};

// "a, b, c" for error messages.
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace hourglass::sdk
