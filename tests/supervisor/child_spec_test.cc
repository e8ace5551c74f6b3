#include "supervisor/core/child_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "supervisor/core/hourglass_tree.h"
#include "supervisor/core/tree.h"

namespace hourglass::supervisor::core {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ChildSpec, Validate_AcceptsAWellFormedTree) {
  EXPECT_THAT(ValidateTree(HourglassTree({})), IsEmpty());
}

TEST(ChildSpec, Validate_RejectsDuplicateAndEmptyIds) {
  SupervisorSpec spec{.id = "app",
                      .children = {ChildSpec{.id = "a"},
                                   SupervisorSpec{.id = "sub", .children = {ChildSpec{.id = "a"}}},
                                   ChildSpec{.id = ""}}};
  EXPECT_THAT(ValidateTree(spec),
              ElementsAre("duplicate id 'a'", "supervisor 'app': a child has an empty id"));
}

TEST(ChildSpec, Validate_RejectsBadFlags) {
  SupervisorSpec spec{
      .id = "app",
      .intensity = -1,
      .period = 0ms,
      .children = {SupervisorSpec{.id = "group",
                                  .strategy = Strategy::kRestForOne,
                                  .dynamic = true,
                                  .children = {ChildSpec{.id = "x"}}},
                   ChildSpec{.id = "c",
                             .shutdown = Shutdown::Timeout(-1ms),
                             .ready_timeout = 10ms}}};
  EXPECT_THAT(ValidateTree(spec),
              ElementsAre("supervisor 'app': intensity must be >= 0",
                          "supervisor 'app': period must be > 0",
                          "supervisor 'group': a dynamic group is one_for_one",
                          "supervisor 'group': a dynamic group has no static children",
                          "child 'c': shutdown timeout must be >= 0",
                          "child 'c': ready_timeout without needs_ready"));
  std::vector<std::string> errors;
  EXPECT_EQ(Tree::Create(spec, &errors), nullptr);
  EXPECT_EQ(errors.size(), 6u);
}

TEST(ChildSpec, NodeSpec_CopiesAreDeep) {
  NodeSpec a = SupervisorSpec{.id = "sup", .children = {ChildSpec{.id = "x"}}};
  NodeSpec b = a;
  ASSERT_TRUE(b.is_supervisor());
  EXPECT_NE(a.supervisor(), b.supervisor());
  EXPECT_EQ(b.supervisor()->children.at(0).id(), "x");
  b = ChildSpec{.id = "y"};
  EXPECT_EQ(b.id(), "y");
  EXPECT_EQ(b.supervisor(), nullptr);
  EXPECT_EQ(a.id(), "sup");
}

TEST(HourglassTree, ShapeFollowsTheDesign) {
  HourglassTreeOptions options;
  auto tree = Tree::Create(HourglassTree(options), nullptr);
  ASSERT_NE(tree, nullptr);
  std::vector<std::string> shape;
  for (const NodeStatus& s : tree->Snapshot(TimePoint{})) {
    shape.push_back(std::string(s.depth * 2, ' ') + s.id + " " +
                    (s.kind == NodeKind::kSupervisor
                         ? std::string(ToString(s.strategy)) + (s.dynamic ? " dynamic" : "")
                         : std::string(ToString(s.restart)) + (s.needs_ready ? " ready" : "")));
  }
  EXPECT_THAT(shape, ElementsAre("application one_for_one", "  devserver permanent ready",
                                 "  subsystem rest_for_one", "    bridgehost permanent ready",
                                 "    workers one_for_one dynamic",
                                 "  executors one_for_one dynamic"));
  options.devserver = false;
  EXPECT_EQ(HourglassTree(options).children.size(), 2u);
  EXPECT_EQ(WorkerSpec("q", options).id, "worker:q");
  EXPECT_EQ(WorkerSpec("q", options).restart, RestartType::kTransient);
  EXPECT_EQ(ExecutorSpec("x1", options).restart, RestartType::kTemporary);
}

}  // namespace
}  // namespace hourglass::supervisor::core
