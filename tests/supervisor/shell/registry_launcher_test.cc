// The shell's two tables: the registry (queue -> worker process, fed by the
// tree's node events) and the launcher (queues re-established after every
// cascade).

#include <gtest/gtest.h>

#include <variant>

#include "supervisor/shell/launcher.h"
#include "supervisor/shell/registry.h"

namespace hourglass::supervisor {
namespace {

TEST(Registry, QueueOf_OnlyWorkerIds) {
  EXPECT_EQ(Registry::QueueOf("worker:orders"), "orders");
  EXPECT_EQ(Registry::QueueOf("worker:a:b"), "a:b");
  EXPECT_EQ(Registry::QueueOf("worker:"), std::nullopt);
  EXPECT_EQ(Registry::QueueOf("bridgehost"), std::nullopt);
  EXPECT_EQ(Registry::QueueOf("devserver"), std::nullopt);
}

TEST(Registry, SpawnedThenReady_ThenExitRemovesIt) {
  Registry r;
  r.Spawned("worker:orders", 41, "/bin/w");
  r.Spawned("bridgehost", 40, "/bin/b");  // not a worker: ignored
  ASSERT_NE(r.Find("orders"), nullptr);
  EXPECT_EQ(r.Find("orders")->pid, 41);
  EXPECT_FALSE(r.Find("orders")->ready);
  EXPECT_EQ(r.size(), 1u);
  r.Ready("worker:orders");
  EXPECT_TRUE(r.Find("orders")->ready);
  EXPECT_EQ(r.ready_count(), 1u);
  r.Exited("worker:orders");
  EXPECT_EQ(r.Find("orders"), nullptr);
}

TEST(Registry, Cascade_EveryWorkerExits_RegistryEmpty_ThenRefilledWithNewPids) {
  Registry r;
  r.Spawned("worker:a", 10, "w");
  r.Spawned("worker:b", 11, "w");
  r.Ready("worker:a");
  r.Ready("worker:b");
  r.Exited("worker:b");  // reverse start order
  r.Exited("worker:a");
  EXPECT_EQ(r.size(), 0u);
  r.Spawned("worker:a", 20, "w");
  EXPECT_EQ(r.Find("a")->pid, 20);
  EXPECT_FALSE(r.Find("a")->ready) << "a new process is not ready until it says so";
}

TEST(Registry, ReadyForAnUnknownWorker_Ignored) {
  Registry r;
  r.Ready("worker:ghost");
  EXPECT_EQ(r.size(), 0u);
}

QueueConfig Queue(const std::string& name) {
  QueueConfig q;
  q.name = name;
  return q;
}

TEST(Launcher, StartAll_OneAddChildPerKeptQueueInOrder) {
  Launcher l({Queue("a"), Queue("b")}, core::HourglassTreeOptions{});
  ASSERT_TRUE(l.Keep(Queue("c")));
  const auto events = l.StartAll();
  ASSERT_EQ(events.size(), 3u);
  std::vector<std::string> ids;
  for (const auto& e : events) {
    const auto& add = std::get<core::AddChild>(e);
    EXPECT_EQ(add.group, core::kWorkersId);
    EXPECT_EQ(add.spec.restart, core::RestartType::kTransient);
    EXPECT_TRUE(add.spec.needs_ready);
    ids.push_back(add.spec.id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"worker:a", "worker:b", "worker:c"}));
}

TEST(Launcher, KeepTwice_Refused_ForgetDropsItFromTheNextCascade) {
  Launcher l({Queue("a")}, core::HourglassTreeOptions{});
  EXPECT_FALSE(l.Keep(Queue("a")));
  EXPECT_TRUE(l.Forget("a"));
  EXPECT_FALSE(l.Forget("a"));
  EXPECT_TRUE(l.StartAll().empty());
  EXPECT_EQ(l.Find("a"), nullptr);
}

}  // namespace
}  // namespace hourglass::supervisor
