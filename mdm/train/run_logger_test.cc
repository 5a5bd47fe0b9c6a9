#include "mdm/train/run_logger.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mdm::train {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

StepRecord Step(int64_t step) {
  return {.step = step,
          .epoch = 0,
          .loss = 1.5,
          .lr = 1e-3,
          .grad_norm = 0.5,
          .examples_per_s = 100,
          .train_bpd = std::nan(""),
          .Q = at::zeros({2, 2}),
          .D = at::eye(2)};
}

// Columns as documented, and a resumed run's logs cut back to the
// checkpoint's step: rows written after it by a run that then stopped are
// dropped, so no step appears twice.
TEST(RunLoggerTest, WritesRowsAndCutsBackOnResume) {
  const std::string dir = ::testing::TempDir() + "/logger";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<RunLogger>> logger =
        RunLogger::Open(dir, 2, std::nullopt);
    ASSERT_TRUE(logger.ok()) << logger.status();
    for (int64_t step : {10, 20, 30}) ASSERT_TRUE((*logger)->LogStep(Step(step)).ok());
    eval::ElboEvaluation evaluation{.bpd = {3.0, 0.1}, .examples = 100};
    ASSERT_TRUE((*logger)->LogEvaluation(20, 1, "test", evaluation).ok());
    ASSERT_TRUE((*logger)->LogEvaluation(30, 1, "test", evaluation).ok());
  }
  std::vector<std::string> metrics = Lines(dir + "/metrics.csv");
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics[0],
            "step,epoch,loss,lr,grad_norm,examples_per_s,Q_00,Q_01,Q_10,Q_11,"
            "D_00,D_01,D_10,D_11,train_bpd");
  EXPECT_EQ(metrics[1], "10,0,1.5,0.001,0.5,100,0,0,0,0,1,0,0,1,nan");
  std::vector<std::string> evals = Lines(dir + "/eval.csv");
  ASSERT_EQ(evals.size(), 3u);
  EXPECT_EQ(evals[0], "step,epoch,split,bpd,bpd_ci95,bpd_with_offset,examples");
  EXPECT_EQ(evals[1], "20,1,test,3,0.196,nan,100");

  absl::StatusOr<std::unique_ptr<RunLogger>> resumed =
      RunLogger::Open(dir, 2, ResumePoint{.step = 20});
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE((*resumed)->LogStep(Step(30)).ok());
  metrics = Lines(dir + "/metrics.csv");
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics[2].substr(0, 3), "20,");
  EXPECT_EQ(metrics[3].substr(0, 3), "30,");
  EXPECT_EQ(Lines(dir + "/eval.csv").size(), 2u);
}

// A resume that redoes the evaluation cycle of its step drops that step's
// evaluation rows (not its metrics row); a held-out run's final test row
// goes whatever its step, since the run's end writes it again.
TEST(RunLoggerTest, DropsTheEvaluationsTheResumedRunRedoes) {
  const std::string dir = ::testing::TempDir() + "/logger_owed";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const eval::ElboEvaluation evaluation{.bpd = {3.0, 0.1}, .examples = 100};
  {
    absl::StatusOr<std::unique_ptr<RunLogger>> logger =
        RunLogger::Open(dir, 2, std::nullopt);
    ASSERT_TRUE(logger.ok()) << logger.status();
    for (int64_t step : {10, 20}) {
      ASSERT_TRUE((*logger)->LogStep(Step(step)).ok());
      ASSERT_TRUE(
          (*logger)->LogEvaluation(step, 1, "validation", evaluation).ok());
    }
    ASSERT_TRUE((*logger)->LogEvaluation(10, 2, "test", evaluation).ok());
  }
  absl::StatusOr<std::unique_ptr<RunLogger>> resumed = RunLogger::Open(
      dir, 2,
      ResumePoint{.step = 20, .evaluation_owed = true, .final_split = "test"});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(Lines(dir + "/metrics.csv").size(), 3u);
  const std::vector<std::string> evals = Lines(dir + "/eval.csv");
  ASSERT_EQ(evals.size(), 2u);
  EXPECT_EQ(evals[1], "10,1,validation,3,0.196,nan,100");
}

// The run's closing lines from eval.csv: one line per split (last and best
// when it was evaluated more than once), the picture of the last
// evaluation when there is one, and where to look.
TEST(RunLoggerTest, SummarizesTheRunFromItsEvaluations) {
  const std::string dir = ::testing::TempDir() + "/logger_summary";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/samples");
  {
    absl::StatusOr<std::unique_ptr<RunLogger>> logger =
        RunLogger::Open(dir, 2, std::nullopt);
    ASSERT_TRUE(logger.ok()) << logger.status();
    ASSERT_TRUE((*logger)
                    ->LogEvaluation(100, 0, "validation",
                                    {.bpd = {4.5, 0.05}, .examples = 10})
                    .ok());
    ASSERT_TRUE((*logger)
                    ->LogEvaluation(200, 1, "validation",
                                    {.bpd = {4.25, 0.1}, .examples = 10})
                    .ok());
    ASSERT_TRUE((*logger)
                    ->LogEvaluation(300, 2, "validation",
                                    {.bpd = {4.375, 0.05}, .examples = 10})
                    .ok());
    ASSERT_TRUE(
        (*logger)
            ->LogEvaluation(200, 2, "test", {.bpd = {4.0, 0.1}, .examples = 10})
            .ok());
  }
  std::ofstream(dir + "/samples/step_300.png") << "png";
  absl::StatusOr<std::vector<EvaluationRow>> rows = ReadEvaluations(dir);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[3].split, "test");
  EXPECT_DOUBLE_EQ((*rows)[1].bpd_ci95, 0.196);
  EXPECT_THAT(
      RunSummary(dir, "finished", 300, 125.4, *rows),
      ::testing::ElementsAre(
          "finished: 300 steps in 2 min 05 s",
          "validation bits/dim: last 4.375 +- 0.098 (step 300), best 4.250 "
          "+- 0.196 (step 200)",
          "test bits/dim 4.000 +- 0.196 (step 200)",
          "checkpoints: " + dir + "/checkpoints",
          "samples: " + dir + "/samples/step_300.png",
          "TensorBoard: tensorboard --logdir " + dir));
  // No evaluation yet (a run stopped early): no bits/dim, no picture.
  EXPECT_THAT(RunSummary(dir, "stopped by SIGTERM", 40, 3, {}),
              ::testing::ElementsAre("stopped by SIGTERM: 40 steps in 0 min 03 s",
                                     "checkpoints: " + dir + "/checkpoints",
                                     "TensorBoard: tensorboard --logdir " + dir));
  std::ofstream(dir + "/eval.csv", std::ios::app) << "7,0,test,x,1,2,3\n";
  EXPECT_EQ(ReadEvaluations(dir).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace mdm::train
