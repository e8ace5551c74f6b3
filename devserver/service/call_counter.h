#pragma once

// Counts the calls the dev server serves, by method, for its exit log line:
// how many calls a workload costs the server is the first question when one
// client makes it work harder than another for the same histories
// (BENCHMARKS.md, "Hourglass worker vs the official TS worker").
//
// A gRPC interceptor factory that creates no interceptor: it only sees each
// call's method name as the call starts, on gRPC's threads.

#include <grpcpp/support/server_interceptor.h>

#include <map>
#include <mutex>
#include <string>

namespace hourglass::devserver {

class CallCounter : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // "Method N, Method N, ..." by descending count; methods are named without
  // their service ("PollWorkflowTaskQueue").
  std::string Summary() const;
  uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
};

}  // namespace hourglass::devserver
