#include "mdm/objectives/transforms.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "mdm/testing/random_matrices.h"

namespace mdm::objectives {
namespace {

using ::mdm::testing::MakeGenerator;

TEST(TransformsTest, DequantizationStaysInTheBinOfEachLevel) {
  at::Generator gen = MakeGenerator(1);
  const at::Tensor levels = at::arange(256, at::kDouble).repeat({100});
  const at::Tensor x = Dequantize(levels / 255.0, gen);
  const at::Tensor bin = at::floor(x * 256);
  EXPECT_TRUE(at::equal(bin, levels));
  EXPECT_GE(x.min().item<double>(), 0.0);
  EXPECT_LT(x.max().item<double>(), 1.0);
}

TEST(TransformsTest, InverseUndoesForward) {
  at::Generator gen = MakeGenerator(2);
  const at::Tensor x = at::rand({4, 1, 3, 3}, gen, at::kDouble);
  for (TransformKind kind :
       {TransformKind::kLogit, TransformKind::kCenter, TransformKind::kNone}) {
    const DataTransform transform(kind);
    EXPECT_TRUE(
        at::allclose(transform.Inverse(transform.Forward(x)), x, 1e-12, 1e-14));
  }
  EXPECT_NEAR(DataTransform(TransformKind::kLogit)
                  .Forward(at::zeros({1}, at::kDouble))
                  .item<double>(),
              std::log(0.05 / 0.95), 1e-14);
}

// Elementwise transforms have diagonal Jacobians: log |det| is the sum of
// log |dy_i / dx_i|, taken here from autograd.
TEST(TransformsTest, LogDetMatchesAutograd) {
  at::Generator gen = MakeGenerator(3);
  const at::Tensor x =
      (at::rand({3, 2, 4}, gen, at::kDouble) * 0.98 + 0.01).requires_grad_();
  for (TransformKind kind : {TransformKind::kLogit, TransformKind::kCenter}) {
    const DataTransform transform(kind);
    x.mutable_grad() = at::Tensor();
    transform.Forward(x).sum().backward();  // The Jacobian's diagonal.
    const at::Tensor expected = at::log(x.grad().abs()).flatten(1).sum(1);
    EXPECT_TRUE(at::allclose(transform.LogDetJacobian(x.detach()), expected,
                             1e-12, 1e-12));
  }
}

// A known density on known data: x' = 0.3 in every coordinate under the
// logit transform and the model p(y) = N(y; 0, I), so
// log p(x') = log N(logit(s); 0, 1) + log|dy/dx'| per coordinate, and
// bpd = -log2 p(x') + 8.
TEST(TransformsTest, BitsPerDimOfAKnownDensity) {
  const DataTransform transform(TransformKind::kLogit);
  const int64_t d = 5;
  const at::Tensor x = at::full({2, d}, 0.3, at::kDouble);
  const double s = 0.05 + 0.9 * 0.3;
  const double y = std::log(s / (1 - s));
  const double log_py = -0.5 * y * y - 0.5 * std::log(2 * M_PI);
  const double log_dydx = std::log(0.9 / (s * (1 - s)));
  const double bpd_expected = -(log_py + log_dydx) / std::log(2.0) + 8;
  const at::Tensor elbo = at::full({2}, d * log_py, at::kDouble);
  const at::Tensor bpd = BitsPerDim(elbo, transform.LogDetJacobian(x), d,
                                    kEightBitQuantization);
  EXPECT_NEAR(bpd[0].item<double>(), bpd_expected, 1e-12);
  // Uniform 8-bit noise: density 1 on [0, 1)^d is exactly 8 bits per dim.
  EXPECT_DOUBLE_EQ(BitsPerDim(at::zeros({1}, at::kDouble),
                              at::zeros({1}, at::kDouble), d,
                              kEightBitQuantization)
                       .item<double>(),
                   8.0);
  // A continuous density reports its own bits/dim: N(0, 1) at 0 is
  // log2(2 pi) / 2 bits per dimension.
  EXPECT_NEAR(BitsPerDim(at::full({1}, -0.5 * d * std::log(2 * M_PI),
                                  at::kDouble),
                         at::zeros({1}, at::kDouble), d, kContinuous)
                  .item<double>(),
              0.5 * std::log2(2 * M_PI), 1e-12);
}

}  // namespace
}  // namespace mdm::objectives
