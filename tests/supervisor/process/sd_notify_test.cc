#include "supervisor/process/sd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "ipc/unique_fd.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::supervisor {
namespace {

using namespace std::chrono_literals;

TEST(SdNotify, NoNotifySocket_IsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(SdNotify("READY=1"));
}

TEST(SdNotify, Ready_ArrivesAsOneDatagramOnTheSocket) {
  testing::TempDir dir("hg-notify");
  const std::string path = dir.path() + "/notify";
  ipc::UniqueFd listener(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_TRUE(SdNotify("READY=1\nSTATUS=3 queues"));
  ::unsetenv("NOTIFY_SOCKET");
  char buf[64] = {};
  ASSERT_GT(::recv(listener.get(), buf, sizeof(buf) - 1, MSG_DONTWAIT), 0);
  EXPECT_STREQ(buf, "READY=1\nSTATUS=3 queues");
}

TEST(SdNotify, WatchdogPeriod_IsHalfTheTimeoutAndOnlyForUs) {
  ::setenv("WATCHDOG_USEC", "4000000", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(SdWatchdogPeriod(), 2000ms);
  ::setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(SdWatchdogPeriod(), std::nullopt);
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SdWatchdogPeriod(), std::nullopt);
}

}  // namespace
}  // namespace hourglass::supervisor
