#include "supervisor/core/child_spec.h"

#include <set>

namespace hourglass::supervisor::core {

NodeSpec::NodeSpec(ChildSpec child) : child_(std::move(child)) {}
NodeSpec::NodeSpec(SupervisorSpec supervisor)
    : supervisor_(std::make_unique<SupervisorSpec>(std::move(supervisor))) {}
NodeSpec::NodeSpec(const NodeSpec& other)
    : child_(other.child_),
      supervisor_(other.supervisor_ ? std::make_unique<SupervisorSpec>(*other.supervisor_)
                                    : nullptr) {}
NodeSpec& NodeSpec::operator=(const NodeSpec& other) {
  if (this != &other) *this = NodeSpec(other);
  return *this;
}
NodeSpec::NodeSpec(NodeSpec&& other) noexcept = default;
NodeSpec& NodeSpec::operator=(NodeSpec&& other) noexcept = default;
NodeSpec::~NodeSpec() = default;

const std::string& NodeSpec::id() const { return supervisor_ ? supervisor_->id : child_->id; }

namespace {

void CheckChild(const ChildSpec& c, std::vector<std::string>& errors) {
  const std::string where = "child '" + c.id + "': ";
  if (c.shutdown.kind == Shutdown::Kind::kTimeout && c.shutdown.timeout < Duration{0}) {
    errors.push_back(where + "shutdown timeout must be >= 0");
  }
  if (c.ready_timeout && !c.needs_ready) {
    errors.push_back(where + "ready_timeout without needs_ready");
  }
  if (c.ready_timeout && *c.ready_timeout <= Duration{0}) {
    errors.push_back(where + "ready_timeout must be > 0");
  }
}

void CheckSupervisor(const SupervisorSpec& s, std::set<std::string>& ids,
                     std::vector<std::string>& errors) {
  const std::string where = "supervisor '" + s.id + "': ";
  if (s.intensity < 0) errors.push_back(where + "intensity must be >= 0");
  if (s.period <= Duration{0}) errors.push_back(where + "period must be > 0");
  if (s.restart_delay < Duration{0}) errors.push_back(where + "restart_delay must be >= 0");
  if (s.dynamic && s.strategy != Strategy::kOneForOne) {
    errors.push_back(where + "a dynamic group is one_for_one");
  }
  if (s.dynamic && !s.children.empty()) {
    errors.push_back(where + "a dynamic group has no static children");
  }
  for (const NodeSpec& child : s.children) {
    const std::string& id = child.id();
    if (id.empty()) {
      errors.push_back(where + "a child has an empty id");
    } else if (!ids.insert(id).second) {
      errors.push_back("duplicate id '" + id + "'");
    }
    if (const SupervisorSpec* sup = child.supervisor()) {
      CheckSupervisor(*sup, ids, errors);
    } else {
      CheckChild(*child.child(), errors);
    }
  }
}

}  // namespace

std::vector<std::string> ValidateTree(const SupervisorSpec& root) {
  std::vector<std::string> errors;
  std::set<std::string> ids;
  if (root.id.empty()) {
    errors.push_back("the root supervisor has an empty id");
  } else {
    ids.insert(root.id);
  }
  CheckSupervisor(root, ids, errors);
  return errors;
}

std::vector<std::string> ValidateChild(const ChildSpec& spec) {
  std::vector<std::string> errors;
  if (spec.id.empty()) errors.push_back("a child has an empty id");
  CheckChild(spec, errors);
  return errors;
}

const char* ToString(Strategy s) {
  switch (s) {
    case Strategy::kOneForOne:
      return "one_for_one";
    case Strategy::kRestForOne:
      return "rest_for_one";
    case Strategy::kOneForAll:
      return "one_for_all";
  }
  return "?";
}

const char* ToString(RestartType r) {
  switch (r) {
    case RestartType::kPermanent:
      return "permanent";
    case RestartType::kTransient:
      return "transient";
    case RestartType::kTemporary:
      return "temporary";
  }
  return "?";
}

std::string ToString(const Shutdown& s) {
  switch (s.kind) {
    case Shutdown::Kind::kTimeout:
      return std::to_string(s.timeout.count()) + "ms";
    case Shutdown::Kind::kBrutalKill:
      return "brutal_kill";
    case Shutdown::Kind::kInfinity:
      return "infinity";
  }
  return "?";
}

}  // namespace hourglass::supervisor::core
