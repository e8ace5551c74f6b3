#include "workerproc/sdk/src/registry.h"

#include <cstdio>
#include <cstdlib>

namespace hourglass::sdk {

Registry& Registry::Global() {
  // Function-local: safe to use from other translation units' static
  // initialisers, whatever their order.
  static Registry registry;
  return registry;
}

void Registry::AddWorkflow(const std::string& name, WorkflowFunction fn) {
  if (name.empty() || !workflows_.emplace(name, std::move(fn)).second) {
    // Static initialisation: no logger yet, and no way to report but to stop.
    std::fprintf(stderr, "hourglass: workflow type \"%s\" registered twice (or empty name)\n", name.c_str());
    std::abort();
  }
}

void Registry::AddActivity(const std::string& name, ActivityFunction fn, ActivityRegistrationOptions options) {
  if (name.empty() || !activities_.emplace(name, RegisteredActivity{std::move(fn), options}).second) {
    std::fprintf(stderr, "hourglass: activity type \"%s\" registered twice (or empty name)\n", name.c_str());
    std::abort();
  }
}

const WorkflowFunction* Registry::FindWorkflow(const std::string& name) const {
  auto it = workflows_.find(name);
  return it == workflows_.end() ? nullptr : &it->second;
}

const RegisteredActivity* Registry::FindActivity(const std::string& name) const {
  auto it = activities_.find(name);
  return it == activities_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::WorkflowNames() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : workflows_) out.push_back(name);
  return out;
}

std::vector<std::string> Registry::ActivityNames() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : activities_) out.push_back(name);
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace hourglass::sdk

namespace hourglass {

void RegisterWorkflowFunction(const std::string& name, WorkflowFunction fn) {
  sdk::Registry::Global().AddWorkflow(name, std::move(fn));
}

void RegisterActivityFunction(const std::string& name, ActivityFunction fn, ActivityRegistrationOptions options) {
  sdk::Registry::Global().AddActivity(name, std::move(fn), options);
}

}  // namespace hourglass
