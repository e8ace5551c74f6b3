#include "ipc/failpoint.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace hourglass::failpoint {

namespace {

// The roles that own points, each the prefix of its points' names.
constexpr std::string_view kRoles[] = {"bridgehost", "worker", "executor", "devserver"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A decimal number without sign or leading '+', fitting in uint32_t.
std::optional<uint32_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(value);
}

std::string_view RoleOf(std::string_view name) {
  const auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

bool IsKnownRole(std::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
}

const char* KindWord(Kind kind) {
  switch (kind) {
    case Kind::kOff:
      return "off";
    case Kind::kCrash:
      return "crash";
    case Kind::kAbort:
      return "abort";
    case Kind::kHang:
      return "hang";
    case Kind::kDelay:
      return "delay";
    case Kind::kError:
      return "error";
  }
  return "off";
}

}  // namespace

std::optional<Action> ParseAction(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Action> {
    if (error != nullptr) *error = "bad fault point action \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  std::string_view rest = Trim(text);
  if (rest.empty()) return fail("empty (want off, crash, abort, hang, error or delay(MS))");
  Action action;
  if (const auto star = rest.find('*'); star != std::string_view::npos) {
    const auto n = ParseNumber(Trim(rest.substr(0, star)));
    if (!n) return fail("the count before '*' must be a whole number, as in 3*crash");
    if (*n == 0) return fail("the count before '*' must be at least 1 (hits count from 1)");
    action.nth = *n;
    rest = Trim(rest.substr(star + 1));
  }
  if (rest == "off") {
    if (action.nth != 0) return fail("a count makes no sense with off");
    return action;
  }
  if (rest == "crash") {
    action.kind = Kind::kCrash;
  } else if (rest == "abort") {
    action.kind = Kind::kAbort;
  } else if (rest == "hang") {
    action.kind = Kind::kHang;
  } else if (rest == "error") {
    action.kind = Kind::kError;
  } else if (rest.starts_with("delay")) {
    std::string_view arg = Trim(rest.substr(5));
    if (arg.size() < 2 || arg.front() != '(' || arg.back() != ')') {
      return fail("delay needs its milliseconds in parentheses, as in delay(250)");
    }
    const auto ms = ParseNumber(Trim(arg.substr(1, arg.size() - 2)));
    if (!ms) return fail("delay(MS) needs a whole number of milliseconds");
    if (*ms > kMaxDelayMs) {
      return fail("delay of more than " + std::to_string(kMaxDelayMs) + " ms (use hang)");
    }
    action.kind = Kind::kDelay;
    action.delay_ms = *ms;
  } else {
    return fail("unknown action (want off, crash, abort, hang, error or delay(MS), optionally N*)");
  }
  return action;
}

std::string FormatAction(const Action& action) {
  std::string out = action.nth != 0 ? std::to_string(action.nth) + "*" : "";
  out += KindWord(action.kind);
  if (action.kind == Kind::kDelay) out += "(" + std::to_string(action.delay_ms) + ")";
  return out;
}

Spec ParseSpec(std::string_view text) {
  Spec spec;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view entry = Trim(text.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) {
      spec.errors.push_back("fault point entry \"" + std::string(entry) + "\" is not name=action");
      continue;
    }
    const std::string_view name = Trim(entry.substr(0, eq));
    if (name.empty()) {
      spec.errors.push_back("fault point entry \"" + std::string(entry) + "\" has no name");
      continue;
    }
    std::string error;
    auto action = ParseAction(entry.substr(eq + 1), &error);
    if (!action) {
      spec.errors.push_back(std::string(name) + ": " + error);
      continue;
    }
    spec.entries.push_back(SpecEntry{std::string(name), *action});
  }
  return spec;
}

// The process's points by name. A function-local static, so points in any
// translation unit may register during static initialisation.
class Registry {
 public:
  static Registry& Get() {
    static Registry* registry = new Registry();  // never destroyed: points may outlive exit
    return *registry;
  }

  void Add(Point& point) {
    std::lock_guard lock(mu_);
    if (!points_.emplace(point.name(), &point).second) {
      spdlog::error("fault point {} is declared twice; the second is ignored", point.name());
    }
  }
  void Remove(Point& point) {
    std::lock_guard lock(mu_);
    auto it = points_.find(point.name());
    if (it != points_.end() && it->second == &point) points_.erase(it);
  }

  bool Arm(std::string_view name, const Action& action, std::string* error) {
    std::lock_guard lock(mu_);
    auto it = points_.find(name);
    if (it == points_.end()) {
      if (error != nullptr) *error = UnknownLocked(name);
      return false;
    }
    Point& p = *it->second;
    p.action_ = action;
    p.hits_ = 0;
    p.armed_.store(action.kind != Kind::kOff, std::memory_order_relaxed);
    return true;
  }

  std::vector<PointState> List() {
    std::lock_guard lock(mu_);
    std::vector<PointState> out;
    for (const auto& [name, p] : points_) out.push_back(PointState{name, p->action_, p->hits_});
    return out;
  }

  // The slow path of Point::Hit: counts the hit and decides, under the lock;
  // the action itself runs after it is released (a hang must not hold it).
  std::optional<Action> Take(Point& p) {
    std::lock_guard lock(mu_);
    if (p.action_.kind == Kind::kOff) return std::nullopt;  // cleared meanwhile
    ++p.hits_;
    const Action action = p.action_;
    if (action.nth == 0) return action;
    if (p.hits_ < action.nth) return std::nullopt;
    p.action_ = Action{};
    p.armed_.store(false, std::memory_order_relaxed);
    return action;
  }

  bool Contains(std::string_view name) {
    std::lock_guard lock(mu_);
    return points_.find(name) != points_.end();
  }
  std::set<std::string, std::less<>> Roles() {
    std::lock_guard lock(mu_);
    std::set<std::string, std::less<>> roles;
    for (const auto& [name, p] : points_) roles.emplace(RoleOf(name));
    return roles;
  }

 private:
  std::string UnknownLocked(std::string_view name) const {
    std::string known;
    for (const auto& [n, p] : points_) known += (known.empty() ? "" : ", ") + n;
    return "no fault point \"" + std::string(name) +
           "\" in this process (known: " + (known.empty() ? "none" : known) + ")";
  }

  std::mutex mu_;
  std::map<std::string, Point*, std::less<>> points_;
};

Point::Point(const char* name) : name_(name) { Registry::Get().Add(*this); }

Point::~Point() { Registry::Get().Remove(*this); }

bool Point::HitArmed() {
  const auto action = Registry::Get().Take(*this);
  if (!action) return false;
  const std::string what = FormatAction(*action);
  if (action->kind == Kind::kDelay) {
    spdlog::warn("fault point {} fired: {}", name_, what);
    std::this_thread::sleep_for(std::chrono::milliseconds(action->delay_ms));
    return false;
  }
  if (action->kind == Kind::kError) {
    spdlog::warn("fault point {} fired: error", name_);
    return true;
  }
  // The line must be out before the process stops or dies: it is how a
  // test (or a person reading the supervisor's log) knows the moment.
  spdlog::warn("fault point {} fired: {}", name_, what);
  spdlog::default_logger()->flush();
  switch (action->kind) {
    case Kind::kCrash:
      ::kill(::getpid(), SIGKILL);
      for (;;) ::pause();  // SIGKILL is not delivered synchronously
    case Kind::kAbort:
      std::abort();
    case Kind::kHang:
      // The whole process stops (every thread), like an external SIGSTOP;
      // SIGCONT resumes it here.
      ::kill(::getpid(), SIGSTOP);
      return false;
    default:
      return false;
  }
}

std::vector<PointState> List() { return Registry::Get().List(); }

bool Arm(std::string_view name, const Action& action, std::string* error) {
  return Registry::Get().Arm(name, action, error);
}

ipc::v1::FailpointReply HandleCommand(const ipc::v1::FailpointCommand& command) {
  ipc::v1::FailpointReply reply;
  std::string error;
  switch (command.op()) {
    case ipc::v1::FailpointCommand::OP_SET: {
      auto action = ParseAction(command.action(), &error);
      if (action && Arm(command.name(), *action, &error)) {
        reply.set_ok(true);
        reply.set_message(command.name() + " = " + FormatAction(*action));
        spdlog::info("fault point {} armed: {}", command.name(), FormatAction(*action));
      } else {
        reply.set_message(error);
      }
      return reply;
    }
    case ipc::v1::FailpointCommand::OP_CLEAR:
      if (Arm(command.name(), Action{}, &error)) {
        reply.set_ok(true);
        reply.set_message(command.name() + " = off");
        spdlog::info("fault point {} cleared", command.name());
      } else {
        reply.set_message(error);
      }
      return reply;
    case ipc::v1::FailpointCommand::OP_LIST:
      reply.set_ok(true);
      for (const auto& p : List()) {
        (*reply.mutable_points())[p.name] = FormatAction(p.action);
        (*reply.mutable_hits())[p.name] = p.hits;
      }
      return reply;
    default:
      reply.set_message("unknown failpoint op " + std::to_string(command.op()));
      return reply;
  }
}

void ArmFromEnvironment() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* value = std::getenv(kEnvVar);
    if (value == nullptr || *value == '\0') return;
    const Spec spec = ParseSpec(value);
    for (const auto& e : spec.errors) spdlog::error("{}: {}", kEnvVar, e);
    auto& registry = Registry::Get();
    const auto mine = registry.Roles();
    for (const auto& e : spec.entries) {
      const std::string_view role = RoleOf(e.name);
      if (!registry.Contains(e.name)) {
        if (!IsKnownRole(role)) {
          spdlog::error(
              "{}: fault point \"{}\" names no process role (bridgehost., worker., "
              "executor., devserver.)",
              kEnvVar, e.name);
        } else if (mine.find(role) != mine.end()) {
          std::string error;
          Arm(e.name, e.action, &error);
          spdlog::error("{}: {}", kEnvVar, error);
        }
        continue;  // another process's point
      }
      std::string error;
      if (Arm(e.name, e.action, &error)) {
        spdlog::info("fault point {} armed from {}: {}", e.name, kEnvVar, FormatAction(e.action));
      }
    }
  });
}

std::string HandOn(std::string_view prefix) {
  std::string out;
  for (const auto& p : List()) {
    if (p.action.kind == Kind::kOff || !std::string_view(p.name).starts_with(prefix)) continue;
    if (!out.empty()) out += ';';
    out += p.name + "=" + FormatAction(p.action);
    if (p.action.nth != 0) Arm(p.name, Action{}, nullptr);
  }
  return out;
}

std::string ErrorMessage(std::string_view name) { return "failpoint " + std::string(name); }

std::string ErrorMessage(const Point& point) { return ErrorMessage(point.name()); }

}  // namespace hourglass::failpoint
