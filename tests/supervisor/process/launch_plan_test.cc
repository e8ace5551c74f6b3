#include "supervisor/config/launch_plan.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

namespace hourglass::supervisor {
namespace {

using Argv = std::vector<std::string>;

const LaunchPaths kPaths{"/opt/hg/bin", "/run/hg"};

TEST(LaunchPlan, BridgeHost_TargetTlsAndTheKeyOnlyInTheEnvironment) {
  auto r = ParseConfig(R"(
target = "ns.tmprl.cloud:7233"
namespace = "ns"
[tls]
ca = "/etc/ca.pem"
)");
  ASSERT_TRUE(r.ok());
  const Command c = BridgeHostCommand(r.config, kPaths, r.config.target, "s3cret");
  EXPECT_EQ(c.argv, (Argv{"/opt/hg/bin/hourglass-bridgehost", "--target", "ns.tmprl.cloud:7233", "--namespace", "ns",
                          "--runtime-dir", "/run/hg", "--control-fd", "3", "--heartbeat-ms", "1000", "--tls",
                          "--tls-ca", "/etc/ca.pem"}));
  EXPECT_TRUE(std::none_of(c.argv.begin(), c.argv.end(), [](const auto& a) { return a.find("s3cret") != a.npos; }));
  ASSERT_EQ(c.env.size(), 1u);
  EXPECT_EQ(c.env[0], (std::pair<std::string, std::string>{"TEMPORAL_API_KEY", "s3cret"}));
}

TEST(LaunchPlan, Worker_DefaultBinaryLimitsIsolationAndExtraArgs) {
  auto r = ParseConfig(R"(
[[queue]]
name = "orders"
max_concurrent_activities = 64
isolation = "process"
args = ["--deadlock-timeout-ms", "5000"]
[[queue]]
name = "mine"
exec = "/usr/local/bin/my-worker"
)");
  ASSERT_TRUE(r.ok());
  const Command orders = WorkerCommand(r.config, r.config.queues[0], kPaths, "/run/hg/bridge.sock");
  EXPECT_EQ(orders.argv,
            (Argv{"/opt/hg/bin/hourglass-workerproc", "--bridge-socket", "/run/hg/bridge.sock", "--task-queue", "orders",
                  "--namespace", "default", "--control-fd", "3", "--heartbeat-ms", "1000", "--graceful-shutdown-ms",
                  "10000", "--max-concurrent-activities", "64", "--isolation", "process", "--deadlock-timeout-ms",
                  "5000"}));
  EXPECT_EQ(WorkerCommand(r.config, r.config.queues[1], kPaths, "s").argv[0], "/usr/local/bin/my-worker");
}

TEST(LaunchPlan, DevServer_DatabaseInTheRuntimeDirUnlessConfigured) {
  Config c;
  EXPECT_EQ(DevServerCommand(c, kPaths).argv,
            (Argv{"/opt/hg/bin/hourglass-devserver", "--port", "0", "--db-filename", "/run/hg/dev.db", "--namespace",
                  "default", "--log-level", "warn", "--control-fd", "3", "--heartbeat-ms", "1000"}));
}

TEST(LaunchPlan, ApiKey_ConfigThenEnvironmentVariable) {
  Config c;
  c.api_key_env = "HG_TEST_KEY";
  ::setenv("HG_TEST_KEY", "from-env", 1);
  EXPECT_EQ(ResolveApiKey(c), "from-env");
  c.api_key = "from-config";
  EXPECT_EQ(ResolveApiKey(c), "from-config");
  ::unsetenv("HG_TEST_KEY");
}

}  // namespace
}  // namespace hourglass::supervisor
