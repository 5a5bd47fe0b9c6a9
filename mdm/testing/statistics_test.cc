#include "mdm/testing/statistics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "mdm/testing/random_matrices.h"

namespace mdm::testing {
namespace {

TEST(StatisticsTest, TwoSidedZMatchesTables) {
  EXPECT_NEAR(TwoSidedZ(0.05), 1.959964, 1e-5);
  EXPECT_NEAR(TwoSidedZ(1e-6), 4.891638, 1e-5);
}

TEST(StatisticsTest, AcceptsSamplesOfTheRightGaussianOnly) {
  at::Generator gen = MakeGenerator(1);
  const at::Tensor mean = at::tensor({1.0, -2.0}, at::kDouble);
  const at::Tensor chol =
      at::tensor({1.0, 0.0, 0.5, 0.3}, at::kDouble).view({2, 2});
  const at::Tensor cov = at::matmul(chol, chol.t());
  const at::Tensor samples =
      mean + at::matmul(at::randn({100000, 2}, gen, at::kDouble), chol.t());
  EXPECT_TRUE(MatchesGaussianMoments(samples, mean, cov));
  // At n = 1e5 a 5% error in a variance is ~11 standard errors and a 0.02
  // shift of the means ~6: both beyond the corrected z ~ 5.2.
  at::Tensor wrong_cov = cov.clone();
  wrong_cov[1][1] *= 1.05;
  EXPECT_FALSE(MatchesGaussianMoments(samples, mean, wrong_cov));
  EXPECT_FALSE(MatchesGaussianMoments(samples, mean + 0.02, cov));
}

}  // namespace
}  // namespace mdm::testing
