// The non-blocking log sink on real descriptors: a pipe nobody reads, a
// device whose writes fail, an over-long line.

#include "ipc/log_sink.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "ipc/unique_fd.h"

namespace hourglass::logging {
namespace {

std::string ReadAvailable(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

TEST(NonBlockingLogger, StalledReader_LinesAreDroppedCountedAndReportedOnceItReadsAgain) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::UniqueFd read_end(fds[0]), write_end(fds[1]);
  // The write end blocking, as a process's inherited stderr usually is: a
  // plain write would wait here forever once the pipe is full.
  ASSERT_EQ(::fcntl(write_end.get(), F_SETFL, 0), 0);
  auto logger = NonBlockingLogger("test", write_end.get());
  logger->set_pattern("%v");
  const std::string line(1000, 'x');
  for (int i = 0; i < 200; ++i) logger->info(line);  // 200 KB into a 64 KiB pipe
  const uint64_t dropped = DroppedLines(*logger);
  EXPECT_GT(dropped, 100u);
  EXPECT_LT(dropped, 200u);
  const std::string first = ReadAvailable(read_end.get());
  EXPECT_EQ(first.size() % (line.size() + 1), 0u) << "a line was written in part";
  logger->info("after");
  const std::string second = ReadAvailable(read_end.get());
  EXPECT_EQ(second, "[log] " + std::to_string(dropped) +
                        " line(s) dropped: the log reader did not keep up or the write failed\n"
                        "after\n");
}

TEST(NonBlockingLogger, FailingWrites_AreCountedNeverThrown) {
  ipc::UniqueFd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(full);
  auto logger = NonBlockingLogger("test", full.get());
  EXPECT_NO_THROW({
    logger->info("one");
    logger->error("two");
    logger->flush();
  });
  EXPECT_EQ(DroppedLines(*logger), 2u);
}

TEST(NonBlockingLogger, LongLine_IsCutAndStillEndsTheLine) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  ipc::UniqueFd read_end(fds[0]), write_end(fds[1]);
  auto logger = NonBlockingLogger("test", write_end.get());
  logger->set_pattern("%v");
  logger->info(std::string(10000, 'y'));
  const std::string out = ReadAvailable(read_end.get());
  ASSERT_EQ(out.size(), 4000u);
  EXPECT_EQ(out.substr(out.size() - 4), "...\n");
  EXPECT_EQ(DroppedLines(*logger), 0u);
}

}  // namespace
}  // namespace hourglass::logging
