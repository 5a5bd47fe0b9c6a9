#include "mdm/util/progress.h"

#include <gtest/gtest.h>

namespace mdm::util {
namespace {

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(247), "4:07");
  EXPECT_EQ(FormatDuration(3725), "1:02:05");
  EXPECT_EQ(FormatDuration(-1), "?");
}

TEST(ProgressTest, LinesNameStepLossThroughputAndEta) {
  EXPECT_EQ(ProgressLine(120, 2000, 736.114, 252.4, 444),
            "step 120/2000  loss 736.1  252 examples/s  ETA 7:24");
  EXPECT_EQ(ProgressLine(7, 0, -0.5, 10, -1),
            "step 7  loss -0.5  10 examples/s");
}

// Throughput is averaged over the interval since the previous report:
// steps of uneven duration between two reports do not show, a slowdown
// after them does; the ETA follows the run's average.
TEST(ProgressTest, ThroughputIsAveragedBetweenReports) {
  double now = 100.0;
  ProgressReporter reporter(/*total_steps=*/100, /*log_interval_seconds=*/10,
                            /*interactive=*/false, [&now] { return now; });
  int64_t examples = 0;
  // Ten steps of 64 examples in 10 s, one of them taking 8.875 of them.
  for (int step = 1; step <= 10; ++step) {
    now += step == 3 ? 8.875 : 0.125;
    examples += 64;
    reporter.Update(step, 0.5, examples);
    if (step < 10) EXPECT_EQ(reporter.last_line(), "") << step;
  }
  EXPECT_EQ(reporter.last_line(),
            "step 10/100  loss 0.5  64 examples/s  ETA 1:30");
  // The next ten steps take twice as long: 32 examples/s, and the ETA
  // (80 steps at the average 1.5 s per step) follows.
  for (int step = 11; step <= 20; ++step) {
    now += 2.0;
    examples += 64;
    reporter.Update(step, 0.25, examples);
  }
  EXPECT_EQ(reporter.last_line(),
            "step 20/100  loss 0.25  32 examples/s  ETA 2:00");
}

TEST(ProgressTest, TheLastStepIsAlwaysReported) {
  double now = 0.0;
  ProgressReporter reporter(/*total_steps=*/3, /*log_interval_seconds=*/60,
                            /*interactive=*/false, [&now] { return now; });
  now = 1.0;
  reporter.Update(1, 2.0, 10);
  EXPECT_EQ(reporter.last_line(), "");
  now = 2.0;
  reporter.Update(3, 1.0, 30);
  EXPECT_EQ(reporter.last_line(), "step 3/3  loss 1  15 examples/s  ETA 0:00");
}

}  // namespace
}  // namespace mdm::util
