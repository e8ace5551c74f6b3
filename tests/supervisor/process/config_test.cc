#include "supervisor/config/config.h"

#include <gtest/gtest.h>

namespace hourglass::supervisor {
namespace {

using namespace std::chrono_literals;

TEST(Config, Empty_DefaultsRunTheDevServerAndTheDefaultQueue) {
  auto r = ParseConfig("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.config.target.empty());
  EXPECT_EQ(r.config.namespace_name, "default");
  ASSERT_EQ(r.config.queues.size(), 1u);
  EXPECT_EQ(r.config.queues[0].name, "default");
  EXPECT_EQ(r.config.subsystem.max_restarts, 3);
}

TEST(Config, Full_EveryKeyLandsWhereItShould) {
  auto r = ParseConfig(R"(
target = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
runtime_dir = "/run/hourglass"
user = "hourglass"
api_key_env = "MY_KEY"
[tls]
ca = "/etc/ca.pem"
server_name = "x"
[subsystem]
max_restarts = 2
period_ms = 30000
[timeouts]
ready_ms = 5000
watchdog_ms = 3000
[[queue]]
name = "orders"
exec = "/usr/local/bin/orders-worker"
args = ["--isolation", "process"]
max_concurrent_activities = 64
[[queue]]
name = "emails"
isolation = "thread"
)");
  ASSERT_TRUE(r.ok()) << r.errors[0];
  const auto& c = r.config;
  EXPECT_EQ(c.target, "my-ns.a1b2c.tmprl.cloud:7233");
  EXPECT_TRUE(c.tls);
  EXPECT_EQ(c.tls_ca, "/etc/ca.pem");
  EXPECT_EQ(c.api_key_env, "MY_KEY");
  EXPECT_EQ(c.subsystem.max_restarts, 2);
  EXPECT_EQ(c.subsystem.period, 30s);
  EXPECT_EQ(c.ready_timeout, 5s);
  EXPECT_EQ(c.watchdog_timeout, 3s);
  ASSERT_EQ(c.queues.size(), 2u);
  EXPECT_EQ(c.queues[0].exec, "/usr/local/bin/orders-worker");
  EXPECT_EQ(c.queues[0].args, (std::vector<std::string>{"--isolation", "process"}));
  EXPECT_EQ(c.queues[0].max_concurrent_activities, 64u);
  EXPECT_FALSE(c.queues[0].max_cached_workflows.has_value());
  EXPECT_EQ(c.queues[1].isolation, "thread");
}

TEST(Config, Errors_NameTheKeyForTyposTypesAndMissingValues) {
  auto r = ParseConfig(R"(
targett = "x:1"
[subsystem]
max_restarts = -1
[[queue]]
exec = "/bin/w"
[[queue]]
name = "a"
isolation = "fork"
[[queue]]
name = "a"
)");
  EXPECT_EQ(r.errors, (std::vector<std::string>{
                          "subsystem.max_restarts: must be an integer from 0 to 1000",
                          "queue[0].name: required",
                          "queue[1].isolation: must be \"thread\" or \"process\"",
                          "queue[2].name: \"a\" configured twice",
                          "targett: unknown key",
                      }));
}

TEST(Config, SyntaxError_ReportsFileLineAndColumn) {
  auto r = ParseConfig("target = \"unterminated\n", "hourglass.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rfind("hourglass.toml:1:", 0), 0u) << r.errors[0];
}

}  // namespace
}  // namespace hourglass::supervisor
