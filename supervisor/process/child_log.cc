#include "supervisor/process/child_log.h"

#include <cctype>

namespace hourglass::supervisor {

namespace {

// Takes "[...]" (and one following space) off the front of `s`.
bool TakeBracket(std::string_view& s, std::string_view* inside) {
  if (s.empty() || s.front() != '[') return false;
  const auto close = s.find(']');
  if (close == std::string_view::npos) return false;
  *inside = s.substr(1, close - 1);
  s.remove_prefix(close + 1);
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return true;
}

bool LooksLikeTimestamp(std::string_view s) {
  // "2026-11-22 08:11:06.816": digits first, a dash at 4.
  return s.size() >= 19 && std::isdigit(static_cast<unsigned char>(s[0])) != 0 && s[4] == '-' &&
         s[10] == ' ';
}

}  // namespace

ChildLogLine ParseChildLogLine(std::string_view line, bool is_stderr) {
  std::string_view rest = line;
  std::string_view stamp, logger, level;
  if (TakeBracket(rest, &stamp) && LooksLikeTimestamp(stamp) && TakeBracket(rest, &logger) &&
      TakeBracket(rest, &level)) {
    const auto parsed = spdlog::level::from_str(std::string(level));
    // from_str answers "off" for words it does not know; "off" itself never
    // appears as a line's level.
    if (parsed != spdlog::level::off) return {parsed, std::string(rest)};
  }
  return {is_stderr ? spdlog::level::warn : spdlog::level::info, std::string(line)};
}

}  // namespace hourglass::supervisor
