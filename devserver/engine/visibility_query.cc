#include "devserver/engine/visibility_query.h"

#include <cctype>
#include <optional>

#include "temporal/api/enums/v1/workflow.pb.h"

namespace hourglass::devserver {
namespace {

namespace enums = temporal::api::enums::v1;

ipc::Error Bad(const std::string& why) {
  return ipc::MakeError(ipc::v1::ERROR_KIND_INVALID_ARGUMENT, "unsupported visibility query: " + why);
}

class Lexer {
 public:
  explicit Lexer(const std::string& s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' || s_[pos_] == '.')) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  std::string Operator() {
    SkipSpace();
    if (s_.compare(pos_, 2, "!=") == 0) {
      pos_ += 2;
      return "!=";
    }
    if (pos_ < s_.size() && s_[pos_] == '=') {
      ++pos_;
      return "=";
    }
    return "";
  }
  // A quoted string ('...' or "..."), or a bare number.
  bool Value(std::string& out) {
    SkipSpace();
    if (pos_ >= s_.size()) return false;
    const char q = s_[pos_];
    if (q == '\'' || q == '"') {
      size_t end = s_.find(q, pos_ + 1);
      if (end == std::string::npos) return false;
      out = s_.substr(pos_ + 1, end - pos_ - 1);
      pos_ = end + 1;
      return true;
    }
    out = Word();
    return !out.empty();
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

bool IEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// "Running", "Completed", ... or the number.
bool StatusMatches(enums::WorkflowExecutionStatus status, const std::string& value) {
  std::string name = enums::WorkflowExecutionStatus_Name(status);  // WORKFLOW_EXECUTION_STATUS_RUNNING
  const std::string prefix = "WORKFLOW_EXECUTION_STATUS_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  std::string compact;
  for (char c : name) {
    if (c != '_') compact += c;
  }
  std::string v;
  for (char c : value) {
    if (c != '_') v += c;
  }
  return IEquals(compact, v) || value == std::to_string(static_cast<int>(status));
}

// A search attribute payload's data, unquoted when it is a JSON string.
std::string PayloadText(const temporal::api::common::v1::Payload& p) {
  std::string data = p.data();
  if (data.size() >= 2 && data.front() == '"' && data.back() == '"') data = data.substr(1, data.size() - 2);
  return data;
}

bool ConditionHolds(const VisibilityCondition& c, const v1::RunState& run) {
  bool eq;
  if (c.key == "WorkflowId") {
    eq = run.workflow_id() == c.value;
  } else if (c.key == "WorkflowType") {
    eq = run.started().workflow_type().name() == c.value;
  } else if (c.key == "RunId") {
    eq = run.run_id() == c.value;
  } else if (c.key == "TaskQueue") {
    eq = run.started().task_queue().name() == c.value;
  } else if (c.key == "ExecutionStatus") {
    eq = StatusMatches(run.status(), c.value);
  } else {
    const auto& fields = run.search_attributes().indexed_fields();
    auto it = fields.find(c.key);
    if (it == fields.end()) {
      eq = false;
    } else {
      const std::string text = PayloadText(it->second);
      // Keyword lists arrive as JSON arrays: match any element.
      eq = text == c.value || text.find("\"" + c.value + "\"") != std::string::npos;
    }
  }
  return c.negated ? !eq : eq;
}

// After ORDER: "BY StartTime [DESC]" and nothing else (results are always
// newest first).
std::optional<ipc::Error> ParseOrderByTail(Lexer& lex) {
  if (!IEquals(lex.Word(), "BY") || lex.Word() != "StartTime") {
    return Bad("only ORDER BY StartTime DESC is supported");
  }
  const std::string dir = lex.Word();
  if (!dir.empty() && !IEquals(dir, "DESC")) return Bad("only ORDER BY StartTime DESC is supported");
  if (!lex.AtEnd()) return Bad("unexpected text after ORDER BY");
  return std::nullopt;
}

}  // namespace

ipc::Result<VisibilityQuery> ParseVisibilityQuery(const std::string& text) {
  VisibilityQuery query;
  Lexer lex(text);
  if (lex.AtEnd()) return query;
  for (;;) {
    std::string key = lex.Word();
    if (key.empty()) return Bad("expected a search attribute name in \"" + text + "\"");
    if (IEquals(key, "ORDER")) {
      if (auto bad = ParseOrderByTail(lex)) return *bad;
      return query;
    }
    VisibilityCondition c;
    c.key = key;
    const std::string op = lex.Operator();
    if (op.empty()) return Bad("expected = or != after " + key);
    c.negated = op == "!=";
    if (!lex.Value(c.value)) return Bad("expected a value after " + key + " " + op);
    query.conditions.push_back(std::move(c));
    if (lex.AtEnd()) return query;
    const std::string conj = lex.Word();
    if (!IEquals(conj, "AND")) {
      if (IEquals(conj, "ORDER")) {
        if (auto bad = ParseOrderByTail(lex)) return *bad;
        return query;
      }
      return Bad("only AND between conditions is supported, got \"" + conj + "\"");
    }
  }
}

bool Matches(const VisibilityQuery& query, const v1::RunState& run) {
  for (const auto& c : query.conditions) {
    if (!ConditionHolds(c, run)) return false;
  }
  return true;
}

}  // namespace hourglass::devserver
