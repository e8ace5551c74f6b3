#include "devserver/service/call_counter.h"

#include <algorithm>
#include <vector>

namespace hourglass::devserver {

grpc::experimental::Interceptor* CallCounter::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string method = info->method() != nullptr ? info->method() : "?";
  if (auto slash = method.rfind('/'); slash != std::string::npos) method.erase(0, slash + 1);
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[method];
  return nullptr;  // nothing to intercept: the count is all
}

std::string CallCounter::Summary() const {
  std::vector<std::pair<std::string, uint64_t>> sorted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sorted.assign(counts_.begin(), counts_.end());
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [method, n] : sorted) {
    if (!out.empty()) out += ", ";
    out += method + " " + std::to_string(n);
  }
  return out.empty() ? "none" : out;
}

uint64_t CallCounter::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t n = 0;
  for (const auto& [method, count] : counts_) n += count;
  return n;
}

}  // namespace hourglass::devserver
