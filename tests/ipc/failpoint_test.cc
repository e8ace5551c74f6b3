// Fault points (ipc/failpoint.h): the action grammar and HOURGLASS_FAILPOINTS'
// syntax (sans-IO, good and bad inputs), and the registry: points known
// before they are reached, arming, Nth-hit, error, delay, the control
// channel's commands, and what crash and abort do to the process.

#include "ipc/failpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <chrono>

namespace hourglass::failpoint {

// Never called: its point must be listed all the same (external linkage, so
// it is compiled like any real call site).
bool FailpointTestNeverReached() { return HOURGLASS_FAILPOINT("executor.test.never_reached"); }

namespace {

using ::testing::HasSubstr;
namespace v1 = ipc::v1;

// Declared (and so registered) here, reached only when the tests call them.
bool HitAlpha() { return HOURGLASS_FAILPOINT("worker.test.alpha"); }
bool HitBeta() { return HOURGLASS_FAILPOINT("worker.test.beta"); }

Action Parse(const std::string& text) {
  std::string error;
  auto a = ParseAction(text, &error);
  EXPECT_TRUE(a.has_value()) << text << ": " << error;
  return a.value_or(Action{});
}

std::string ParseError(const std::string& text) {
  std::string error;
  auto a = ParseAction(text, &error);
  EXPECT_FALSE(a.has_value()) << text << " parsed as " << (a ? FormatAction(*a) : "");
  return error;
}

const PointState* Find(const std::vector<PointState>& list, const std::string& name) {
  for (const auto& p : list) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

class FailpointTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* n : {"worker.test.alpha", "worker.test.beta", "executor.test.never_reached"}) {
      Arm(n, Action{}, nullptr);
    }
  }
};

TEST(FailpointGrammar, ParsesEveryAction) {
  EXPECT_EQ(Parse("off"), (Action{Kind::kOff, 0, 0}));
  EXPECT_EQ(Parse("crash"), (Action{Kind::kCrash, 0, 0}));
  EXPECT_EQ(Parse("abort"), (Action{Kind::kAbort, 0, 0}));
  EXPECT_EQ(Parse("hang"), (Action{Kind::kHang, 0, 0}));
  EXPECT_EQ(Parse("error"), (Action{Kind::kError, 0, 0}));
  EXPECT_EQ(Parse("delay(250)"), (Action{Kind::kDelay, 250, 0}));
  EXPECT_EQ(Parse("delay(0)"), (Action{Kind::kDelay, 0, 0}));
  EXPECT_EQ(Parse("3*crash"), (Action{Kind::kCrash, 0, 3}));
  EXPECT_EQ(Parse("1*delay(300)"), (Action{Kind::kDelay, 300, 1}));
  EXPECT_EQ(Parse(" 2 * error "), (Action{Kind::kError, 0, 2}));
}

TEST(FailpointGrammar, FormatRoundTrips) {
  for (const char* text : {"off", "crash", "abort", "hang", "error", "delay(250)", "3*crash",
                           "1*delay(300)", "7*hang"}) {
    EXPECT_EQ(FormatAction(Parse(text)), text);
  }
}

TEST(FailpointGrammar, RefusesBadActionsWithTheReason) {
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
  EXPECT_THAT(ParseError("crsh"), HasSubstr("\"crsh\": unknown action"));
  EXPECT_THAT(ParseError("CRASH"), HasSubstr("unknown action"));
  EXPECT_THAT(ParseError("delay"), HasSubstr("parentheses"));
  EXPECT_THAT(ParseError("delay(abc)"), HasSubstr("whole number of milliseconds"));
  EXPECT_THAT(ParseError("delay(-5)"), HasSubstr("whole number of milliseconds"));
  EXPECT_THAT(ParseError("delay(250"), HasSubstr("parentheses"));
  EXPECT_THAT(ParseError("delay(99999999999)"), HasSubstr("whole number"));
  EXPECT_THAT(ParseError("delay(3600001)"), HasSubstr("use hang"));
  EXPECT_THAT(ParseError("0*crash"), HasSubstr("at least 1"));
  EXPECT_THAT(ParseError("x*crash"), HasSubstr("count before '*'"));
  EXPECT_THAT(ParseError("*crash"), HasSubstr("count before '*'"));
  EXPECT_THAT(ParseError("-1*crash"), HasSubstr("count before '*'"));
  EXPECT_THAT(ParseError("3*off"), HasSubstr("count makes no sense"));
  EXPECT_THAT(ParseError("3*"), HasSubstr("unknown action"));
  EXPECT_THAT(ParseError("2*3*crash"), HasSubstr("unknown action"));
  EXPECT_THAT(ParseError("crash;abort"), HasSubstr("unknown action"));
}

TEST(FailpointGrammar, ParsesTheEnvironmentSpec) {
  Spec s = ParseSpec("bridgehost.a.b=crash; worker.c.d = 1*crash;;devserver.e.f=delay(5);");
  ASSERT_TRUE(s.errors.empty()) << s.errors.front();
  ASSERT_EQ(s.entries.size(), 3u);
  EXPECT_EQ(s.entries[0].name, "bridgehost.a.b");
  EXPECT_EQ(s.entries[0].action, (Action{Kind::kCrash, 0, 0}));
  EXPECT_EQ(s.entries[1].name, "worker.c.d");
  EXPECT_EQ(s.entries[1].action, (Action{Kind::kCrash, 0, 1}));
  EXPECT_EQ(s.entries[2].action, (Action{Kind::kDelay, 5, 0}));
  EXPECT_TRUE(ParseSpec("").entries.empty());
  EXPECT_TRUE(ParseSpec(";;").errors.empty());
}

TEST(FailpointGrammar, KeepsGoodEntriesAndReportsBadOnes) {
  Spec s = ParseSpec("worker.a=crash;nonsense;=crash;worker.b=explode;worker.c=hang");
  ASSERT_EQ(s.entries.size(), 2u);
  EXPECT_EQ(s.entries[0].name, "worker.a");
  EXPECT_EQ(s.entries[1].name, "worker.c");
  ASSERT_EQ(s.errors.size(), 3u);
  EXPECT_THAT(s.errors[0], HasSubstr("\"nonsense\" is not name=action"));
  EXPECT_THAT(s.errors[1], HasSubstr("has no name"));
  EXPECT_THAT(s.errors[2], HasSubstr("worker.b: bad fault point action \"explode\""));
}

TEST_F(FailpointTest, EveryDeclaredPointIsKnownBeforeItIsReached) {
  const auto list = List();
  for (const char* n : {"worker.test.alpha", "worker.test.beta", "executor.test.never_reached"}) {
    const PointState* p = Find(list, n);
    ASSERT_NE(p, nullptr) << n;
    EXPECT_EQ(p->action.kind, Kind::kOff);
  }
}

TEST_F(FailpointTest, DisarmedDoesNothing) {
  EXPECT_FALSE(HitAlpha());
  EXPECT_EQ(Find(List(), "worker.test.alpha")->hits, 0u);
}

TEST_F(FailpointTest, ErrorFiresOnEveryHitUntilCleared) {
  ASSERT_TRUE(Arm("worker.test.alpha", Parse("error"), nullptr));
  EXPECT_TRUE(HitAlpha());
  EXPECT_TRUE(HitAlpha());
  EXPECT_FALSE(HitBeta());  // only the armed point
  EXPECT_EQ(Find(List(), "worker.test.alpha")->hits, 2u);
  ASSERT_TRUE(Arm("worker.test.alpha", Action{}, nullptr));
  EXPECT_FALSE(HitAlpha());
}

TEST_F(FailpointTest, NthHitFiresOnceThenDisarms) {
  ASSERT_TRUE(Arm("worker.test.beta", Parse("3*error"), nullptr));
  EXPECT_FALSE(HitBeta());
  EXPECT_FALSE(HitBeta());
  EXPECT_TRUE(HitBeta());
  EXPECT_FALSE(HitBeta());
  const auto list = List();  // Find points into it: keep it alive
  const PointState* p = Find(list, "worker.test.beta");
  EXPECT_EQ(p->action.kind, Kind::kOff);
  EXPECT_EQ(p->hits, 3u);
}

TEST_F(FailpointTest, DelaySleepsAndContinues) {
  ASSERT_TRUE(Arm("worker.test.alpha", Parse("delay(50)"), nullptr));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(HitAlpha());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
}

TEST_F(FailpointTest, UnknownNameIsRefusedNamingTheKnownOnes) {
  std::string error;
  EXPECT_FALSE(Arm("worker.test.gamma", Parse("crash"), &error));
  EXPECT_THAT(error, HasSubstr("no fault point \"worker.test.gamma\""));
  EXPECT_THAT(error, HasSubstr("worker.test.alpha"));
}

TEST_F(FailpointTest, ControlCommands) {
  v1::FailpointCommand set;
  set.set_op(v1::FailpointCommand::OP_SET);
  set.set_name("worker.test.alpha");
  set.set_action("2*delay(1)");
  auto r = HandleCommand(set);
  EXPECT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE(HitAlpha());

  v1::FailpointCommand list;
  list.set_op(v1::FailpointCommand::OP_LIST);
  r = HandleCommand(list);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.points().at("worker.test.alpha"), "2*delay(1)");
  EXPECT_EQ(r.hits().at("worker.test.alpha"), 1u);
  EXPECT_EQ(r.points().at("worker.test.beta"), "off");
  EXPECT_EQ(r.points().at("executor.test.never_reached"), "off");

  v1::FailpointCommand clear;
  clear.set_op(v1::FailpointCommand::OP_CLEAR);
  clear.set_name("worker.test.alpha");
  EXPECT_TRUE(HandleCommand(clear).ok());
  EXPECT_EQ(HandleCommand(list).points().at("worker.test.alpha"), "off");

  set.set_action("explode");
  r = HandleCommand(set);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.message(), HasSubstr("bad fault point action \"explode\""));
  set.set_name("worker.test.nope");
  set.set_action("crash");
  r = HandleCommand(set);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.message(), HasSubstr("no fault point"));
  EXPECT_FALSE(HandleCommand(v1::FailpointCommand()).ok());
}

TEST_F(FailpointTest, HandOnGivesAOneShotPointToOneProcessOnly) {
  ASSERT_TRUE(Arm("executor.test.never_reached", Parse("1*crash"), nullptr));
  ASSERT_TRUE(Arm("worker.test.alpha", Parse("hang"), nullptr));
  EXPECT_EQ(HandOn("executor."), "executor.test.never_reached=1*crash");
  EXPECT_EQ(HandOn("executor."), "");  // the next executor gets nothing
  EXPECT_EQ(HandOn(""), "worker.test.alpha=hang");
  EXPECT_EQ(HandOn(""), "worker.test.alpha=hang");  // every hit: kept
}

TEST(FailpointDeathTest, CrashIsSigkill) {
  EXPECT_EXIT(
      {
        Arm("worker.test.alpha", Action{Kind::kCrash, 0, 0}, nullptr);
        (void)HitAlpha();
      },
      ::testing::KilledBySignal(SIGKILL), "");
}

TEST(FailpointDeathTest, AbortIsSigabrt) {
  EXPECT_EXIT(
      {
        Arm("worker.test.alpha", Action{Kind::kAbort, 0, 0}, nullptr);
        (void)HitAlpha();
      },
      ::testing::KilledBySignal(SIGABRT), "");
}

TEST(FailpointDeathTest, EnvironmentArmsThisProcessesPointsOnly) {
  // In a child: ArmFromEnvironment runs once per process.
  EXPECT_EXIT(
      {
        spdlog::set_default_logger(spdlog::stderr_color_mt("failpoint_test"));
        ::setenv(kEnvVar,
                 "worker.test.alpha=error;bridgehost.elsewhere=crash;worker.test.nope=crash;"
                 "nobody.x=crash;worker.test.beta=explode",
                 1);
        ArmFromEnvironment();
        const bool fired = HitAlpha() && !HitBeta();
        std::_Exit(fired ? 7 : 1);
      },
      ::testing::ExitedWithCode(7), "no fault point \"worker.test.nope\"");
}

}  // namespace
}  // namespace hourglass::failpoint
