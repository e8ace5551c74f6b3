// `hourglass replay` against recorded histories of the samples and test
// workflows (tests/workerproc/histories/, recorded from real runs against the
// dev server with `hourglass workflow history --full`). The CLI starts its own
// private bridge host; the worker binary replays with its own registry.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct ReplayRun {
  int exit_code = -1;
  std::vector<json> verdicts;
};

ReplayRun Replay(const std::vector<std::string>& files, const std::string& worker = "hourglass-test-worker") {
  std::vector<std::string> argv{testing::BinDir() + "/hourglass", "replay", "--worker", testing::BinDir() + "/" + worker};
  argv.insert(argv.end(), files.begin(), files.end());
  auto p = testing::ChildProcess::Spawn({argv, {}, true, ""});
  EXPECT_TRUE(p.has_value());
  ReplayRun run;
  if (!p) return run;
  for (size_t i = 0; i < files.size(); ++i) {
    auto line = p->WaitForLine("\"ok\":", 60s);
    if (!line) break;
    run.verdicts.push_back(json::parse(*line));
  }
  const int status = p->Wait(60s);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string History(const std::string& name) { return std::string(HOURGLASS_SAMPLE_HISTORIES) + "/" + name; }

TEST(CliReplay, RecordedSampleHistories_ReplayCleanlyAgainstTheCurrentCode) {
  auto run = Replay({History("hello.json"), History("kitchen_sink.json"), History("versioned_v1.json")});
  EXPECT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.verdicts.size(), 3u);
  for (const auto& v : run.verdicts) EXPECT_TRUE(v["ok"].get<bool>()) << v.dump();
  EXPECT_EQ(run.verdicts[0]["workflow_id"], "hello");
}

TEST(CliReplay, SamplesReplayWithTheShippedWorkerToo) {
  auto run = Replay({History("hello.json"), History("kitchen_sink.json")}, "hourglass-workerproc");
  EXPECT_EQ(run.exit_code, 0);
  ASSERT_EQ(run.verdicts.size(), 2u);
}

TEST(CliReplay, ChangedCode_IsReportedAsNondeterminismNamingTheMismatch) {
  // The recorded run started a timer; this code schedules an activity there.
  ::setenv("HG_TEST_VARIANT", "2", 1);
  auto run = Replay({History("hello.json"), History("versioned_v1.json")});
  ::unsetenv("HG_TEST_VARIANT");
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(run.verdicts.size(), 2u);
  EXPECT_TRUE(run.verdicts[0]["ok"].get<bool>());
  const json& bad = run.verdicts[1];
  EXPECT_FALSE(bad["ok"].get<bool>());
  EXPECT_EQ(bad["failure_cause"], "nondeterminism");
  const std::string message = bad["message"];
  EXPECT_NE(message.find("TMPRL1100"), std::string::npos) << message;
  EXPECT_NE(message.find("TIMER_STARTED"), std::string::npos) << message;
  EXPECT_NE(message.find("SCHEDULE_ACTIVITY_TASK"), std::string::npos) << message;
}

TEST(CliReplay, UnreadableHistory_IsAUsageErrorNotAVerdict) {
  testing::TempDir dir("hg-replay-test");
  const std::string bad = dir.path() + "/garbage.json";
  std::ofstream(bad) << "{\"events\": 42}";
  auto run = Replay({bad});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(run.verdicts.empty());
}

}  // namespace
}  // namespace hourglass
