#include "mdm/train/gradient_step.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/model/ema.h"
#include "mdm/model/model.h"
#include "mdm/proto/experiment_config.h"
#include "mdm/util/host_reads.h"

namespace mdm::train {
namespace {

// The model's parameters by name (copies).
std::map<std::string, at::Tensor> ByName(const model::Model& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, p] : model.NamedParameters())
    out[name] = p.detach().clone();
  return out;
}

// The checkerboard run's model (a learned K = 2 diffusion and an MLP), a
// plain SGD over its parameters, and a batch of 2-D points.
struct Rig {
  proto::Experiment experiment;
  std::optional<model::Model> model;
  std::unique_ptr<torch::optim::SGD> sgd;
  std::unique_ptr<model::Ema> ema;
  at::Tensor x;

  explicit Rig(std::vector<std::string> overrides) {
    absl::StatusOr<proto::Experiment> loaded =
        proto::LoadExperiment("configs/toy/checkerboard.textproto", overrides);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    experiment = *loaded;
    absl::StatusOr<model::Model> created =
        model::Model::Create(experiment, at::kCPU);
    EXPECT_TRUE(created.ok()) << created.status();
    model.emplace(*std::move(created));
    sgd = std::make_unique<torch::optim::SGD>(model->Parameters(),
                                              torch::optim::SGDOptions(1.0));
    if (experiment.optimizer().use_ema()) {
      ema = std::make_unique<model::Ema>(model->NamedParameters(),
                                         experiment.optimizer().ema_decay());
    }
    torch::manual_seed(3);
    x = at::randn({64, 2});
  }

  GradientStep Step(int rank = 0) {
    return GradientStep({.experiment = &experiment,
                         .model = &*model,
                         .optimizer = sgd.get(),
                         .ema = ema.get(),
                         .rank = rank,
                         .eight_bit_data = false});
  }

  // Every trained parameter, flattened into one vector (a copy).
  at::Tensor Flat() const {
    std::vector<at::Tensor> flat;
    for (const at::Tensor& p : model->Parameters())
      flat.push_back(p.detach().flatten().to(at::kDouble));
    return at::cat(flat);
  }
};

// With clipping to a small norm, an SGD step moves the parameters by
// exactly the scheduled learning rate times the clip norm: the warm-up's
// (k + 1) / 10 of lr at optimizer step k, so 0.05 at step 0 and 0.25 at
// step 4. The step counter advances; one process passes the stop signal
// through.
TEST(GradientStepTest, ClippedStepHasTheScheduledLength) {
  Rig setup({"optimizer.grad_clip_val=0.01", "optimizer.lr=0.5",
               "optimizer.lr_schedule=WARMUP_THEN_COSINE",
               "optimizer.warmup_iters=10"});
  GradientStep step = setup.Step();
  for (const auto& [at_step, lr] : {std::pair<int64_t, double>{0, 0.05},
                                    std::pair<int64_t, double>{4, 0.25}}) {
    const at::Tensor before = setup.Flat();
    ASSERT_TRUE(step.AddMicroBatch(setup.x, at_step, 0).ok());
    EXPECT_EQ(step.micro_batches(), 1);
    int64_t counter = at_step;
    int stop = 0;
    absl::StatusOr<StepStats> stats = step.Finish(counter, stop);
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(counter, at_step + 1);
    EXPECT_EQ(stop, 0);
    EXPECT_EQ(step.micro_batches(), 0);
    EXPECT_FALSE(stats->nonfinite);
    EXPECT_GT(stats->grad_norm, 0.01);  // Reported before clipping.
    const double moved = (setup.Flat() - before).norm().item<double>();
    EXPECT_NEAR(moved, lr * 0.01, 1e-2 * lr * 0.01) << "step " << at_step;
  }
}

// Two micro-batches of one step (accumulate_grad_batches 2) take the mean
// of the gradients that micro-batch slots 0 and 1 give alone: slot m of
// rank r draws the training stream's (step, r * accumulate + m), so rank 1
// of a one-micro-batch run draws what slot 1 draws here.
TEST(GradientStepTest, AccumulationAveragesTheMicroBatchesGradients) {
  const std::vector<std::string> constant = {
      "optimizer.grad_clip_val=0", "optimizer.lr=0.1",
      "optimizer.lr_schedule=ORIGINAL"};
  std::vector<std::string> accumulated = constant;
  accumulated.push_back("training.accumulate_grad_batches=2");
  Rig two(accumulated), slot0(constant), slot1(constant);
  const at::Tensor start = two.Flat();
  ASSERT_TRUE(at::equal(start, slot0.Flat()));
  int stop = 0;
  GradientStep both = two.Step();
  ASSERT_TRUE(both.AddMicroBatch(two.x, 0, 0).ok());
  ASSERT_TRUE(both.AddMicroBatch(two.x, 0, 0).ok());
  EXPECT_EQ(both.micro_batches(), 2);
  int64_t step = 0;
  ASSERT_TRUE(both.Finish(step, stop).ok());
  for (auto [setup, rank] : {std::pair{&slot0, 0}, std::pair{&slot1, 1}}) {
    GradientStep one = setup->Step(rank);
    ASSERT_TRUE(one.AddMicroBatch(setup->x, 0, 0).ok());
    int64_t at = 0;
    ASSERT_TRUE(one.Finish(at, stop).ok());
  }
  const at::Tensor expected =
      start + ((slot0.Flat() - start) + (slot1.Flat() - start)) / 2;
  EXPECT_TRUE(at::allclose(two.Flat(), expected, 1e-5, 1e-7))
      << (two.Flat() - expected).abs().max().item<double>();
  // Another slot draws other noise: the two single steps differ.
  EXPECT_FALSE(at::allclose(slot0.Flat(), slot1.Flat()));
}

// A non-finite loss takes no step: the parameters and the step counter
// stay, the gradients are dropped, and the EMA is not updated.
TEST(GradientStepTest, NonFiniteLossTakesNoStep) {
  Rig setup({"optimizer.use_ema=true", "optimizer.ema_decay=0.75"});
  const at::Tensor before = setup.Flat();
  GradientStep step = setup.Step();
  at::Tensor x = setup.x.clone();
  x[0][0] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(step.AddMicroBatch(x, 7, 0).ok());
  int64_t counter = 7;
  int stop = 0;
  absl::StatusOr<StepStats> stats = step.Finish(counter, stop);
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(stats->nonfinite);
  EXPECT_EQ(counter, 7);
  EXPECT_TRUE(at::equal(setup.Flat(), before));
  for (const at::Tensor& p : setup.model->Parameters()) {
    EXPECT_TRUE(!p.grad().defined() ||
                p.grad().abs().max().item<double>() == 0);
  }
  const std::map<std::string, at::Tensor> now = ByName(*setup.model);
  for (const auto& [name, shadow] : setup.ema->shadows()) {
    EXPECT_TRUE(at::equal(shadow, now.at(name))) << name;
  }
}

// The EMA follows each step taken: shadow = 0.75 old + 0.25 new.
TEST(GradientStepTest, TheEmaAveragesTheUpdatedParameters) {
  Rig setup({"optimizer.use_ema=true", "optimizer.ema_decay=0.75"});
  const std::map<std::string, at::Tensor> old = ByName(*setup.model);
  GradientStep step = setup.Step();
  ASSERT_TRUE(step.AddMicroBatch(setup.x, 0, 0).ok());
  int64_t counter = 0;
  int stop = 0;
  ASSERT_TRUE(step.Finish(counter, stop).ok());
  for (const auto& [name, p] : ByName(*setup.model)) {
    EXPECT_TRUE(at::allclose(setup.ema->shadows().at(name),
                             0.75 * old.at(name) + 0.25 * p))
        << name;
  }
}


// A step's reads back to the host (util/host_reads.h), each a host-device
// synchronization on a GPU unless it reads a host scalar. Per micro-batch:
// the process's matrix norm, which sets the transition kernel's squarings
// (twice: the ELBO's moments and the kernel), the Cholesky factorization's
// one verdict, and two host scalars of the time proposal; per step, one
// read of the loss, log-det and gradient norm together, and the training
// bits/dim (host scalars). So 3 synchronizations per micro-batch and 1 per
// step on a GPU. Was 9 per step: reading the loss and log-det of every
// micro-batch, clip_grad_norm_'s own read or the Cholesky check's three
// gives more.
TEST(GradientStepTest, HostReadsPerStep) {
  for (const char* process : {"LEARNED", "VPSDE"}) {
    for (int accumulate : {1, 2}) {
      Rig setup(
          {absl::StrCat("diffusion.sde_type=", process),
           absl::StrCat("diffusion.n_vars=",
                        std::string(process) == "VPSDE" ? 1 : 2),
           absl::StrCat("training.accumulate_grad_batches=", accumulate)});
      GradientStep step = setup.Step();
      int64_t counter = 0;
      int stop = 0;
      util::HostReadCounter reads;
      for (int m = 0; m < accumulate; ++m)
        ASSERT_TRUE(step.AddMicroBatch(setup.x, counter, 0).ok());
      EXPECT_EQ(reads.count(), 5 * accumulate) << process;
      reads.Reset();
      ASSERT_TRUE(step.Finish(counter, stop).ok());
      EXPECT_EQ(reads.count(), 2) << process;
      EXPECT_EQ(counter, 1);
      // Nothing accumulated: no step to finish.
      EXPECT_EQ(step.Finish(counter, stop).status().code(),
                absl::StatusCode::kFailedPrecondition);
    }
  }
}

}  // namespace
}  // namespace mdm::train
