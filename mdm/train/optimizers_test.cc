#include "mdm/train/optimizers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/archive.h>

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mdm/testing/textproto.h"

namespace mdm::train {
namespace {

using ::mdm::proto::OptimizerConfig;
using ::mdm::testing::ParseTextProtoOrDie;

// Two Adamax steps against the update rule written out by hand.
TEST(AdamaxTest, MatchesTheUpdateRule) {
  const at::Tensor p = at::tensor({1.0, -2.0}, at::kDouble).requires_grad_();
  Adamax adamax({p}, AdamaxOptions(0.1).beta1(0.9).beta2(0.99).eps(1e-8));
  const double g1[] = {0.5, -3.0}, g2[] = {-1.0, 0.2};
  double m[2] = {0, 0}, u[2] = {0, 0}, expected[2] = {1.0, -2.0};
  for (int t = 1; t <= 2; ++t) {
    const double* g = t == 1 ? g1 : g2;
    p.mutable_grad() = at::tensor({g[0], g[1]}, at::kDouble);
    adamax.step();
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      u[i] = std::max(0.99 * u[i], std::abs(g[i]) + 1e-8);
      expected[i] -= 0.1 / (1 - std::pow(0.9, t)) * m[i] / u[i];
      EXPECT_NEAR(p[i].item<double>(), expected[i], 1e-12) << "step " << t;
    }
  }
}

// Saving and loading the optimizer's state continues exactly where an
// uninterrupted run goes.
TEST(AdamaxTest, StateSurvivesSaveAndLoad) {
  auto run = [](bool reload) {
    const at::Tensor p = at::tensor({0.3, 0.7}, at::kDouble).requires_grad_();
    auto make = [&] {
      return std::make_unique<Adamax>(std::vector<at::Tensor>{p},
                                      AdamaxOptions(0.05));
    };
    std::unique_ptr<Adamax> opt = make();
    for (int step = 0; step < 6; ++step) {
      if (reload && step == 3) {
        torch::serialize::OutputArchive out;
        opt->save(out);
        std::ostringstream bytes;
        out.save_to(bytes);
        opt = make();
        torch::serialize::InputArchive in;
        std::istringstream read(bytes.str());
        in.load_from(read);
        opt->load(in);
      }
      p.mutable_grad() = at::sin(p.detach() * (step + 1));
      opt->step();
    }
    return p.detach().clone();
  };
  EXPECT_TRUE(at::equal(run(false), run(true)));
}

TEST(OptimizersTest, CreatesTheConfiguredType) {
  const at::Tensor p = at::zeros({2}).requires_grad_();
  auto adam = CreateOptimizer(
      ParseTextProtoOrDie<OptimizerConfig>("optim_type: ADAM"), {p});
  auto adamw = CreateOptimizer(
      ParseTextProtoOrDie<OptimizerConfig>("optim_type: ADAMW"), {p});
  auto adamax = CreateOptimizer(
      ParseTextProtoOrDie<OptimizerConfig>("optim_type: ADAMAX"), {p});
  ASSERT_TRUE(adam.ok() && adamw.ok() && adamax.ok());
  EXPECT_NE(dynamic_cast<torch::optim::Adam*>(adam->get()), nullptr);
  EXPECT_NE(dynamic_cast<torch::optim::AdamW*>(adamw->get()), nullptr);
  EXPECT_NE(dynamic_cast<Adamax*>(adamax->get()), nullptr);
  SetLearningRate(**adamax, 0.25);
  EXPECT_EQ((*adamax)->param_groups()[0].options().get_lr(), 0.25);
}

// The original's schedule: constant without lr_scheduling (warmup_iters
// ignored); with it, the learning rates its CosineWarmupScheduler gave
// Debian's PyTorch at these optimizer steps (lr 0.01, warm-up 100, cosine
// over 1000 steps): zero at step 0, cosine times warm-up, not clamped.
TEST(OptimizersTest, OriginalScheduleMatchesItsScheduler) {
  const OptimizerConfig constant =
      ParseTextProtoOrDie<OptimizerConfig>("lr: 0.01 warmup_iters: 100");
  EXPECT_EQ(LearningRateAt(constant, 0), 0.01);
  EXPECT_EQ(LearningRateAt(constant, 5000), 0.01);
  const OptimizerConfig cosine = ParseTextProtoOrDie<OptimizerConfig>(
      "lr: 0.01 warmup_iters: 100 lr_scheduling: true lr_sched_max_iters: "
      "1000");
  for (const auto& [step, lr] : std::vector<std::pair<int64_t, double>>{
           {0, 0.0},
           {1, 9.999975326009292e-05},
           {50, 0.0049692208514878445},
           {100, 0.009755282581475769},
           {101, 0.009750405095503858},
           {600, 0.0034549150281252628},
           {1000, 0.0},
           {1500, 0.004999999999999999},
           {2000, 0.01}}) {
    EXPECT_NEAR(LearningRateAt(cosine, step), lr, 1e-17) << "step " << step;
  }
}

// Our explicit alternative: warm-up always, then constant or a cosine
// decay held at zero.
TEST(OptimizersTest, WarmupThenCosineOrConstant) {
  const OptimizerConfig constant = ParseTextProtoOrDie<OptimizerConfig>(
      "lr: 0.01 warmup_iters: 100 lr_schedule: WARMUP_THEN_COSINE");
  EXPECT_DOUBLE_EQ(LearningRateAt(constant, 0), 0.0001);
  EXPECT_DOUBLE_EQ(LearningRateAt(constant, 49), 0.005);
  EXPECT_DOUBLE_EQ(LearningRateAt(constant, 99), 0.01);
  EXPECT_DOUBLE_EQ(LearningRateAt(constant, 5000), 0.01);
  const OptimizerConfig cosine = ParseTextProtoOrDie<OptimizerConfig>(
      "lr: 0.01 warmup_iters: 100 lr_scheduling: true lr_sched_max_iters: "
      "1000 lr_schedule: WARMUP_THEN_COSINE");
  EXPECT_DOUBLE_EQ(LearningRateAt(cosine, 100), 0.01);
  EXPECT_NEAR(LearningRateAt(cosine, 600), 0.005, 1e-15);
  EXPECT_NEAR(LearningRateAt(cosine, 1100), 0.0, 1e-15);
  EXPECT_NEAR(LearningRateAt(cosine, 5000), 0.0, 1e-15);
  const OptimizerConfig no_warmup = ParseTextProtoOrDie<OptimizerConfig>(
      "lr: 0.5 warmup_iters: 0 lr_schedule: WARMUP_THEN_COSINE");
  EXPECT_DOUBLE_EQ(LearningRateAt(no_warmup, 0), 0.5);
}

// The state saved by name restores each optimizer exactly: two more
// steps from the restored state equal two more steps of the original.
TEST(OptimizersTest, StateRoundTripsByName) {
  for (const char* type : {"ADAM", "ADAMW", "ADAMAX"}) {
    const OptimizerConfig config = ParseTextProtoOrDie<OptimizerConfig>(
        std::string("lr: 0.1 weight_decay: 0.01 optim_type: ") + type);
    auto make = [] {
      return std::vector<at::Tensor>{
          at::tensor({1.0, -2.0}, at::kDouble).requires_grad_(),
          at::tensor({0.5}, at::kDouble).requires_grad_()};
    };
    auto step = [](torch::optim::Optimizer& optimizer,
                   const std::vector<at::Tensor>& params, double scale) {
      optimizer.zero_grad();
      (params[0].pow(3).sum() * scale + params[1].exp().sum()).backward();
      optimizer.step();
    };
    std::vector<at::Tensor> a = make();
    auto optimizer_a = CreateOptimizer(config, a);
    ASSERT_TRUE(optimizer_a.ok());
    step(**optimizer_a, a, 1.0);
    step(**optimizer_a, a, 0.3);
    const model::NamedTensors named_a = {{"network.w", a[0]}, {"diffusion.d", a[1]}};
    const util::TensorDict state = OptimizerState(**optimizer_a, named_a);
    EXPECT_EQ(state.at("network.w.step").item<double>(), 2.0) << type;

    std::vector<at::Tensor> b = make();
    {
      at::NoGradGuard no_grad;
      b[0].copy_(a[0]);
      b[1].copy_(a[1]);
    }
    auto optimizer_b = CreateOptimizer(config, b);
    ASSERT_TRUE(optimizer_b.ok());
    ASSERT_TRUE(LoadOptimizerState(**optimizer_b,
                                   {{"network.w", b[0]}, {"diffusion.d", b[1]}},
                                   state, "test")
                    .ok())
        << type;
    for (double scale : {2.0, -1.0}) {
      step(**optimizer_a, a, scale);
      step(**optimizer_b, b, scale);
    }
    EXPECT_TRUE(at::equal(a[0], b[0])) << type;
    EXPECT_TRUE(at::equal(a[1], b[1])) << type;
    // A fresh optimizer would have moved differently.
    util::TensorDict wrong = state;
    wrong["network.x.step"] = at::ones({1});
    EXPECT_FALSE(LoadOptimizerState(**optimizer_b, named_a, wrong, "test").ok());
  }
}

}  // namespace
}  // namespace mdm::train
