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
  EXPECT_EQ(ProgressLine(7, 0, -0.5, 10, -1), "step 7  loss -0.5  10 examples/s");
}

TEST(ProgressTest, NonInteractiveReporterLogsWithoutCrashing) {
  ProgressReporter reporter(10, /*log_interval_seconds=*/0.0, /*interactive=*/false);
  for (int step = 1; step <= 10; ++step) reporter.Update(step, 1.0 / step, 100);
}

}  // namespace
}  // namespace mdm::util
