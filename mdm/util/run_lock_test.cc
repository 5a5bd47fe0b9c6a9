#include "mdm/util/run_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace mdm::util {
namespace {

using ::testing::HasSubstr;

std::string Fresh(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// flock locks belong to open file descriptions: a second Acquire in this
// process conflicts just as another process would.
TEST(RunLockTest, ASecondWriterIsRefusedUntilTheFirstReleases) {
  const std::string dir = Fresh("locked/run");
  absl::StatusOr<std::unique_ptr<RunLock>> first = RunLock::Acquire(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  absl::StatusOr<std::unique_ptr<RunLock>> second = RunLock::Acquire(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              HasSubstr(dir + " is in use by another run (pid " +
                        std::to_string(::getpid())));
  first->reset();
  EXPECT_TRUE(RunLock::Acquire(dir).ok());
}

// A process killed while holding the lock leaves the file but not the lock.
TEST(RunLockTest, ALockOfAKilledProcessDoesNotBlock) {
  const std::string dir = Fresh("stale");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<RunLock>> lock = RunLock::Acquire(dir);
    if (!lock.ok()) ::_exit(2);
    ::pause();  // Until killed.
    ::_exit(0);
  }
  // Wait until the child holds the lock.
  for (int i = 0; i < 500 && !std::filesystem::exists(dir + "/.lock"); ++i) {
    ::usleep(10000);
  }
  absl::StatusOr<std::unique_ptr<RunLock>> busy;
  for (int i = 0; i < 500; ++i) {
    busy = RunLock::Acquire(dir);
    if (!busy.ok()) break;
    busy->reset();
    ::usleep(10000);
  }
  EXPECT_FALSE(busy.ok()) << "the child never held the lock";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/.lock"));
  EXPECT_TRUE(RunLock::Acquire(dir).ok());
}

TEST(RunLockTest, AnUncreatableDirectoryIsOneError) {
  absl::StatusOr<std::unique_ptr<RunLock>> lock =
      RunLock::Acquire("/proc/mdm_cannot_exist/run");
  ASSERT_FALSE(lock.ok());
  EXPECT_THAT(lock.status().message(),
              HasSubstr("cannot create output directory /proc/mdm_cannot_exist/run"));
}

}  // namespace
}  // namespace mdm::util
