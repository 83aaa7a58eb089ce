#include "core/export/destination_lock.h"

#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "gtest/gtest.h"

namespace neobert::core {
namespace {
namespace fs = std::filesystem;

class DestinationLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("neobert_lock_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    dest_ = (root_ / "hf" / "run_100").string();
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  std::string dest_;
  base::CancelToken no_cancel_;
};

TEST_F(DestinationLockTest, CreatesParentsAndAHiddenLockFileBesideTheDestination) {
  auto lock = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_);
  ASSERT_TRUE(lock.ok()) << lock.status();
  EXPECT_EQ((*lock)->path(), (root_ / "hf" / ".run_100.lock").string());
  EXPECT_TRUE(fs::is_regular_file((*lock)->path()));
  EXPECT_FALSE(fs::exists(dest_));  // the destination itself is not created
}

TEST_F(DestinationLockTest, SecondHolderTimesOutWhileTheFirstHoldsIt) {
  auto first = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_);
  ASSERT_TRUE(first.ok());
  int waits = 0;
  auto second = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_, absl::Milliseconds(200),
                                         [&](const std::string&) { ++waits; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(second.status().message().find(".run_100.lock"), std::string::npos);
  EXPECT_EQ(waits, 1);
}

TEST_F(DestinationLockTest, CancelStopsTheWait) {
  auto first = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_);
  ASSERT_TRUE(first.ok());
  base::CancelToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.Cancel();
  });
  auto second = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, cancel);
  canceller.join();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(DestinationLockTest, WaiterGetsTheLockOnceItIsReleased) {
  auto first = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_);
  ASSERT_TRUE(first.ok());
  std::atomic<bool> released{false};
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    released = true;
    first->reset();
  });
  auto second = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_, absl::Seconds(10));
  releaser.join();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(released);
}

TEST_F(DestinationLockTest, ALockHeldByAnotherProcessIsHonouredAndDiesWithIt) {
  // A child process takes the lock the way another replica would, then exits.
  auto probe = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_);  // creates the file
  ASSERT_TRUE(probe.ok());
  const std::string path = (*probe)->path();
  probe->reset();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    base::CancelToken none;
    auto held = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, none);
    char c = held.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::usleep(300 * 1000);
    ::_exit(0);  // no destructor: the kernel releases the flock
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto busy = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_, absl::Milliseconds(50));
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kDeadlineExceeded);
  auto after = DestinationLock::Acquire(neobert::base::FsRoot(), dest_, no_cancel_, absl::Seconds(10));
  EXPECT_TRUE(after.ok()) << after.status();
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(DestinationLockTest, RefusesADestinationWithoutAName) {
  auto lock = DestinationLock::Acquire(neobert::base::FsRoot(), "/", no_cancel_);
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace neobert::core
