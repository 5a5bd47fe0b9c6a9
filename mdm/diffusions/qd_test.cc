#include <ATen/ATen.h>
#include <cmath>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>

#include "mdm/diffusions/fixed_qd.h"
#include "mdm/diffusions/learned_qd.h"

namespace mdm::diffusions {
namespace {

double MaxAbs(const at::Tensor& x) { return x.abs().max().item<double>(); }

double MinEigenvalue(const at::Tensor& symmetric) {
  return at::linalg_eigvalsh(symmetric.to(at::kDouble)).min().item<double>();
}

TEST(FixedQdTest, HoldsMatricesAsBuffersNotParameters) {
  const at::Tensor Q =
      at::tensor({0.0, -1.0, 1.0, 0.0}, at::kDouble).view({2, 2});
  const at::Tensor D = at::diag(at::tensor({0.0, 2.0}, at::kDouble));
  FixedQd qd(Q, D);
  EXPECT_FALSE(qd->learned());
  EXPECT_EQ(qd->num_vars(), 2);
  EXPECT_TRUE(qd->parameters().empty());
  EXPECT_EQ(qd->buffers().size(), 2u);
  EXPECT_TRUE(at::equal(qd->Q(), Q));
  EXPECT_TRUE(at::equal(qd->D(), D));
}

TEST(FixedQdTest, RejectsInvalidMatrices) {
  const at::Tensor D = at::eye(2, at::kDouble);
  EXPECT_THROW(FixedQd(at::ones({2, 2}, at::kDouble), D), c10::Error);
  EXPECT_THROW(FixedQd(at::zeros({2, 2}, at::kDouble),
                       at::diag(at::tensor({1.0, -1.0}, at::kDouble))),
               c10::Error);
  EXPECT_THROW(FixedQd(at::zeros({2, 3}, at::kDouble), D), c10::Error);
}

TEST(LearnedQdTest, InitializationIsReproducibleFromTheSeed) {
  LearnedQd a(LearnedQdOptions(3).seed(5));
  LearnedQd b(LearnedQdOptions(3).seed(5));
  LearnedQd c(LearnedQdOptions(3).seed(6));
  EXPECT_TRUE(at::equal(a->Q(), b->Q()));
  EXPECT_TRUE(at::equal(a->D(), b->D()));
  EXPECT_FALSE(at::equal(a->Q(), c->Q()));
  // Uniform(-1/sqrt(3), 1/sqrt(3)).
  for (const at::Tensor& p : a->parameters()) {
    EXPECT_LE(MaxAbs(p), 1.0 / std::sqrt(3.0));
  }
  EXPECT_EQ(a->named_parameters().size(), 2u);
  EXPECT_NE(a->named_parameters().find("W"), nullptr);
  EXPECT_NE(a->named_parameters().find("d"), nullptr);
}

// Whatever the optimizer does to the raw parameters, Q stays antisymmetric
// and D symmetric with eigenvalues >= the floor, and gradients reach every
// parameter.
TEST(LearnedQdTest, ConstraintsSurviveOptimizerSteps) {
  for (bool d_full : {false, true}) {
    LearnedQd qd(LearnedQdOptions(3)
                     .d_full(d_full)
                     .d_full_cholesky(d_full)
                     .seed(1)
                     .dtype(at::kDouble));
    torch::optim::Adam optimizer(qd->parameters(),
                                 torch::optim::AdamOptions(0.5));
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
    for (int step = 0; step < 25; ++step) {
      const at::Tensor target_q = at::randn({3, 3}, gen, at::kDouble);
      const at::Tensor target_d = at::randn({3, 3}, gen, at::kDouble);
      optimizer.zero_grad();
      const at::Tensor loss = (qd->Q() * target_q).sum() +
                              (qd->D() * target_d).sum() + qd->D().pow(2).sum();
      loss.backward();
      for (const auto& named : qd->named_parameters()) {
        ASSERT_TRUE(named.value().grad().defined()) << named.key();
        EXPECT_GT(MaxAbs(named.value().grad()), 0.0) << named.key();
      }
      optimizer.step();
    }
    const at::Tensor Q = qd->Q(), D = qd->D();
    EXPECT_EQ(MaxAbs(Q + Q.t()), 0.0);
    EXPECT_EQ(MaxAbs(D - D.t()), 0.0);
    EXPECT_GE(MinEigenvalue(D), 1e-3 * (1 - 1e-9)) << "d_full " << d_full;
    if (d_full) {
      EXPECT_NE(qd->named_parameters().find("L"), nullptr);
      EXPECT_GT(MaxAbs(D - at::diag(D.diagonal())), 1e-3);
    }
  }
}

// The original's d_full: softplus applied to every entry of d d^T, plus
// 1e-3, from a K x K parameter d; positive definite at initialization.
TEST(LearnedQdTest, OriginalFullDIsElementwiseSoftplusOfDDt) {
  LearnedQd qd(LearnedQdOptions(3).d_full(true).seed(4).dtype(at::kDouble));
  const at::Tensor d = qd->named_parameters()["d"];
  ASSERT_EQ(d.sizes(), at::IntArrayRef({3, 3}));
  const at::Tensor D = qd->D();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double dot = (d[i] * d[j]).sum().item<double>();
      EXPECT_NEAR(D[i][j].item<double>(), std::log1p(std::exp(dot)) + 1e-3,
                  1e-15);
    }
  }
  EXPECT_GT(MinEigenvalue(D), 0.0);
  EXPECT_EQ(qd->named_parameters().find("L"), nullptr);
}

}  // namespace
}  // namespace mdm::diffusions
