// The trainer's handling of a step whose loss or gradient norm is not
// finite (training.on_nonfinite).
#include "mdm/train/trainer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/data/factory.h"
#include "mdm/proto/experiment_config.h"

namespace mdm::train {
namespace {

struct Fixture {
  std::unique_ptr<Trainer> trainer;
  at::Tensor x;  // The first training batch.
  std::string dir;
};

// The checkerboard quick start, batch 64.
Fixture Make(const std::string& name, std::vector<std::string> overrides) {
  Fixture run;
  run.dir = ::testing::TempDir() + "/trainer_test_" + name;
  std::filesystem::remove_all(run.dir);
  overrides.push_back("training.batch_size=64");
  absl::StatusOr<proto::Experiment> experiment =
      proto::LoadExperiment("configs/toy/checkerboard.textproto", overrides);
  EXPECT_TRUE(experiment.ok()) << experiment.status();
  if (!experiment.ok()) return run;
  absl::StatusOr<std::unique_ptr<Trainer>> trainer =
      Trainer::Create(*experiment, {.output_dir = run.dir});
  EXPECT_TRUE(trainer.ok()) << trainer.status();
  if (!trainer.ok()) return run;
  run.trainer = *std::move(trainer);
  absl::StatusOr<std::shared_ptr<const data::Dataset>> dataset =
      data::CreateDataset(experiment->data(), "train", experiment->seed());
  EXPECT_TRUE(dataset.ok());
  std::vector<int64_t> indices(64);
  for (int64_t i = 0; i < 64; ++i) indices[i] = i;
  absl::StatusOr<data::Examples> examples = (*dataset)->Get(indices);
  EXPECT_TRUE(examples.ok());
  run.x = examples->x;
  return run;
}

at::Tensor Flat(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> flat;
  for (const at::Tensor& t : tensors) flat.push_back(t.detach().flatten());
  return at::cat(flat).clone();
}

TEST(NonfiniteStepTest, TakesNoStepAndLeavesNoGradient) {
  Fixture run = Make("no_step", {});
  ASSERT_TRUE(run.trainer);
  const at::Tensor before = Flat(run.trainer->Parameters());
  at::Tensor poisoned = run.x.clone();
  poisoned[3][0] = NAN;
  absl::StatusOr<StepStats> stats = run.trainer->TrainStep(poisoned);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(stats->nonfinite);
  EXPECT_EQ(run.trainer->step(), 0);
  EXPECT_TRUE(at::equal(Flat(run.trainer->Parameters()), before));
  for (const at::Tensor& p : run.trainer->Parameters()) {
    EXPECT_TRUE(!p.grad().defined() || p.grad().abs().max().item<double>() == 0);
  }
  // The next, finite batch steps from the same weights.
  stats = run.trainer->TrainStep(run.x);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_FALSE(stats->nonfinite);
  EXPECT_EQ(run.trainer->step(), 1);
  EXPECT_FALSE(at::equal(Flat(run.trainer->Parameters()), before));
}

// A learning rate of 1e30 makes the network's output overflow once it has
// stepped (a fixed process: a learned one's Q would overflow first, an
// error of its own).
TEST(NonfiniteStepTest, StopEndsTheRunAndSkipGivesUpAfterAHundredInARow) {
  for (const std::string mode : {"STOP", "SKIP"}) {
    Fixture run = Make(absl::StrCat("run_", mode),
                       {"diffusion.sde_type=VPSDE", "diffusion.n_vars=1",
                        "optimizer.lr=1e30", "training.on_nonfinite=" + mode});
    ASSERT_TRUE(run.trainer);
    const absl::Status status = run.trainer->Run();
    ASSERT_FALSE(status.ok()) << mode;
    const std::string message(status.message());
    EXPECT_NE(message.find("is not finite at step "), std::string::npos)
        << mode << ": " << message;
    EXPECT_EQ(message.find("100 steps in a row") != std::string::npos,
              mode == "SKIP")
        << message;
    EXPECT_TRUE(
        std::filesystem::exists(run.dir + "/checkpoints/nonfinite.pt"))
        << mode;
  }
}

}  // namespace
}  // namespace mdm::train
