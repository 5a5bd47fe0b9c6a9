#include "mdm/objectives/losses.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "mdm/diffusions/factory.h"
#include "mdm/testing/random_matrices.h"
#include "mdm/testing/textproto.h"

namespace mdm::objectives {
namespace {

using diffusions::Diffusion;
using ::mdm::proto::DiffusionConfig;
using ::mdm::proto::ObjectiveConfig;
using ::mdm::testing::MakeGenerator;
using ::mdm::testing::ParseTextProtoOrDie;

Diffusion Make(const std::string& config) {
  absl::StatusOr<Diffusion> d = diffusions::CreateDiffusion(
      ParseTextProtoOrDie<DiffusionConfig>(config), /*seed=*/3);
  TORCH_CHECK(d.ok(), std::string(d.status().message()));
  return *d;
}

// A network predicting zero noise: E ||0 - eps||^2 = (number of entries),
// over every variable or over those with D_kk > 0: MALDA's two auxiliary
// variables, ALDA's last one (the original's cld_noise_pred).
TEST(NoisePredictionLossTest, ZeroPredictorCostsTheNoiseDimension) {
  const ScoreNetwork zero = [](const at::Tensor& u, const at::Tensor&) {
    return at::zeros_like(u);
  };
  const at::Tensor x = at::rand({20000, 1, 2, 2}, MakeGenerator(1));
  for (const auto& [config, noised] :
       std::vector<std::pair<std::string, int>>{{"sde_type: MALDA n_vars: 3", 2},
                                                {"sde_type: ALDA", 1}}) {
    const Diffusion diffusion = Make(config);
    for (bool noised_only : {false, true}) {
      absl::StatusOr<at::Tensor> loss = NoisePredictionLoss(
          *diffusion, zero, x, 1e-3, diffusions::KernelType::kHybrid,
          Parameterization::kNoisePred, noised_only, MakeGenerator(2));
      ASSERT_TRUE(loss.ok());
      const double entries = (noised_only ? noised : 3) * 4;
      // Each example's loss is chi-squared with `entries` degrees of freedom.
      const double se = std::sqrt(2 * entries / 20000);
      EXPECT_NEAR(loss->mean().item<double>(), entries, 4 * se)
          << config << " " << noised_only;
    }
  }
  // A process whose data variable is noised has no such loss.
  EXPECT_FALSE(NoisePredictionLoss(*Make("sde_type: LEARNED"), zero, x, 1e-3,
                                   diffusions::KernelType::kHybrid,
                                   Parameterization::kNoisePred, true)
                   .ok());
}

// The perfect noise predictor for a point mass at x = 0 with u_t = L eps:
// eps_hat = L^{-1} u_t recovers eps exactly, so the loss vanishes.
TEST(NoisePredictionLossTest, PerfectPredictorHasZeroLoss) {
  const Diffusion diffusion = Make("sde_type: CLD init_aux_var: 0.3");
  const ScoreNetwork oracle = [&](const at::Tensor& u, const at::Tensor& t) {
    absl::StatusOr<sde::TransitionKernel> k =
        diffusion->Kernel(t, diffusions::KernelType::kHybrid);
    TORCH_CHECK(k.ok());
    return at::matmul(k->chol_inv_t.transpose(1, 2).to(u.dtype()), u.flatten(2))
        .view(u.sizes());
  };
  const at::Tensor x = at::zeros({16, 5});
  absl::StatusOr<at::Tensor> loss = NoisePredictionLoss(
      *diffusion, oracle, x, 1e-3, diffusions::KernelType::kHybrid,
      Parameterization::kNoisePred, false, MakeGenerator(3));
  ASSERT_TRUE(loss.ok());
  EXPECT_LT(loss->max().item<double>(), 1e-6);
}

// Every loss trains the network and, for a learned process, Q and D.
TEST(TrainingLossTest, GradientsReachNetworkAndLearnedDiffusion) {
  Diffusion diffusion = Make("sde_type: LEARNED n_vars: 2");
  const at::Tensor weight = at::full({1}, -0.5).requires_grad_();
  const ScoreNetwork network = [&](const at::Tensor& u, const at::Tensor& t) {
    return weight * u + 0.1 * t.view({-1, 1, 1});
  };
  const at::Tensor x = at::randn({8, 3}, MakeGenerator(4));
  ElboOptions options;
  options.parameterization = Parameterization::kScorePred;
  for (LossType type :
       {LossType::kDsmElbo, LossType::kIsmElbo, LossType::kNoisePred}) {
    diffusion->zero_grad();
    weight.mutable_grad() = at::Tensor();
    absl::StatusOr<at::Tensor> loss =
        TrainingLoss(type, *diffusion, network, x, options, MakeGenerator(5));
    ASSERT_TRUE(loss.ok()) << loss.status();
    ASSERT_EQ(loss->dim(), 0);
    EXPECT_TRUE(std::isfinite(loss->item<double>()));
    loss->backward();
    EXPECT_GT(weight.grad().abs().item<double>(), 0.0)
        << static_cast<int>(type);
    for (const at::Tensor& p : diffusion->parameters()) {
      ASSERT_TRUE(p.grad().defined()) << static_cast<int>(type);
      EXPECT_GT(p.grad().abs().max().item<double>(), 0.0)
          << static_cast<int>(type);
    }
  }
}

// The original's decide_loss: the ELBO once epoch >= switch_epoch (from
// the start for -1), before that cld_noise_pred for processes with
// D_00 = 0 and noise_pred otherwise.
TEST(TrainingLossTest, ConfiguredScheduleSwitchesAtSwitchEpoch) {
  const ObjectiveConfig to_elbo = ParseTextProtoOrDie<ObjectiveConfig>(
      "train_loss_type: NOISE_PRED_TO_ELBO switch_epoch: 3");
  EXPECT_EQ(TrainLossForEpoch(to_elbo, 0, false), LossType::kNoisePred);
  EXPECT_EQ(TrainLossForEpoch(to_elbo, 2, false), LossType::kNoisePred);
  EXPECT_EQ(TrainLossForEpoch(to_elbo, 2, true), LossType::kCldNoisePred);
  EXPECT_EQ(TrainLossForEpoch(to_elbo, 3, true), LossType::kDsmElbo);
  const ObjectiveConfig from_start = ParseTextProtoOrDie<ObjectiveConfig>(
      "train_loss_type: NOISE_PRED_TO_ELBO switch_epoch: -1");
  EXPECT_EQ(TrainLossForEpoch(from_start, 0, true), LossType::kDsmElbo);
  EXPECT_EQ(TrainLossForEpoch(ObjectiveConfig(), 0, false), LossType::kDsmElbo);
  EXPECT_EQ(TrainLossForEpoch(ParseTextProtoOrDie<ObjectiveConfig>(
                                  "train_loss_type: CLD_NOISE_PRED"),
                              0, true),
            LossType::kCldNoisePred);
  EXPECT_TRUE(DataIsNoiseFree(*Make("sde_type: ALDA")));
  EXPECT_FALSE(DataIsNoiseFree(*Make("sde_type: VPSDE")));
}

// The training ELBO includes the offset when configured: the loss moves
// by exactly the batch's mean offset term.
TEST(TrainingLossTest, OffsetEntersTheTrainingElboWhenConfigured) {
  Diffusion diffusion = Make("sde_type: CLD");
  diffusion->to(at::kDouble);
  const ScoreNetwork network = [](const at::Tensor& u, const at::Tensor&) {
    return 3 * u;
  };
  const at::Tensor x = at::randn({64, 4}, MakeGenerator(6)).to(at::kDouble);
  ElboOptions options;
  absl::StatusOr<at::Tensor> without =
      TrainingLoss(LossType::kDsmElbo, *diffusion, network, x, options,
                   MakeGenerator(7));
  options.with_offset = true;
  absl::StatusOr<at::Tensor> with = TrainingLoss(
      LossType::kDsmElbo, *diffusion, network, x, options, MakeGenerator(7));
  absl::StatusOr<ElboTerms> terms =
      DsmElbo(*diffusion, network, x, options, MakeGenerator(7));
  ASSERT_TRUE(without.ok() && with.ok() && terms.ok());
  const double offset = terms->offset.mean().item<double>();
  EXPECT_GT(std::abs(offset), 0.01);
  EXPECT_NEAR((*with - *without).item<double>(), -offset, 1e-9);
}

TEST(TrainingLossTest, ElboOptionsComeFromTheConfig) {
  const ElboOptions options = TrainElboOptions(
      ParseTextProtoOrDie<ObjectiveConfig>(
          "t_min_train: 0.01 imp_weight_train: false elbo_mc_samples_train: 3 "
          "hutch_mc: 4"),
      ParseTextProtoOrDie<DiffusionConfig>("hybrid_transition_kernel: false"),
      ParseTextProtoOrDie<proto::ScoreModelConfig>(
          "score_parameterization: SCORE_PRED"));
  EXPECT_EQ(options.t_min, 0.01);
  EXPECT_FALSE(options.importance_sampling);
  EXPECT_EQ(options.mc_samples, 3);
  EXPECT_EQ(options.hutchinson_probes, 4);
  EXPECT_EQ(options.kernel, diffusions::KernelType::kFull);
  EXPECT_EQ(options.parameterization, Parameterization::kScorePred);
}

}  // namespace
}  // namespace mdm::objectives
