#include "supervisor/process/line_splitter.h"

namespace hourglass::supervisor {

std::vector<std::string> LineSplitter::Feed(std::string_view bytes) {
  std::vector<std::string> lines;
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view chunk = bytes.substr(0, nl);
    if (!cutting_) {
      const size_t room = max_line_ - partial_.size();
      if (chunk.size() > room) {
        partial_.append(chunk.substr(0, room));
        lines.push_back(std::move(partial_) + " [line truncated]");
        partial_.clear();
        ++truncated_;
        cutting_ = true;
      } else {
        partial_.append(chunk);
      }
    }
    if (nl == std::string_view::npos) break;
    if (!cutting_) lines.push_back(std::move(partial_));
    partial_.clear();
    cutting_ = false;
    bytes.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string> LineSplitter::Finish() {
  std::vector<std::string> lines;
  if (!partial_.empty() && !cutting_) lines.push_back(std::move(partial_));
  partial_.clear();
  cutting_ = false;
  return lines;
}

}  // namespace hourglass::supervisor
