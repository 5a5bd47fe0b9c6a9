#include "mdm/sde/cholesky.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace mdm::sde {
namespace {

using ::testing::HasSubstr;

at::Tensor Reconstruct(const at::Tensor& L) {
  return at::matmul(L, L.transpose(-1, -2));
}

TEST(SafeCholeskyTest, PositiveDefiniteBatchNeedsNoJitter) {
  const at::Tensor B = at::randn({5, 3, 3}, at::kDouble);
  const at::Tensor cov =
      at::matmul(B, B.transpose(1, 2)) + 0.1 * at::eye(3, at::kDouble);
  absl::StatusOr<CholeskyFactor> factor = SafeCholesky(cov);
  ASSERT_TRUE(factor.ok()) << factor.status();
  EXPECT_EQ(factor->num_jittered, 0);
  EXPECT_EQ(factor->jitter.sizes(), at::IntArrayRef({5}));
  EXPECT_TRUE(factor->jitter.eq(0).all().item<bool>());
  EXPECT_TRUE(at::allclose(Reconstruct(factor->chol), cov, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(factor->chol, factor->chol.tril()));
}

// A rank-one matrix perturbed to be slightly indefinite sits between two
// well-conditioned ones: only it gets jitter, and the factor reconstructs
// it to within that jitter.
TEST(SafeCholeskyTest, JittersOnlyTheMatricesThatFail) {
  const at::Tensor v = at::tensor({1.0, 2.0, -1.0}, at::kDouble);
  const at::Tensor singular = at::outer(v, v) - 1e-14 * at::eye(3, at::kDouble);
  const at::Tensor good = at::diag(at::tensor({1.0, 2.0, 3.0}, at::kDouble));
  const at::Tensor cov = at::stack({good, singular, 2.0 * good});
  absl::StatusOr<CholeskyFactor> factor = SafeCholesky(cov);
  ASSERT_TRUE(factor.ok()) << factor.status();
  EXPECT_EQ(factor->num_jittered, 1);
  EXPECT_EQ(factor->jitter[0].item<double>(), 0.0);
  EXPECT_EQ(factor->jitter[2].item<double>(), 0.0);
  const double jitter = factor->jitter[1].item<double>();
  EXPECT_GT(jitter, 1e-14);
  // Bounded by the largest relative jitter times the mean diagonal (2).
  EXPECT_LE(jitter, CholeskyOptions().max_relative_jitter * 2.0);
  const at::Tensor error = Reconstruct(factor->chol) - cov;
  EXPECT_LE(error[1].abs().max().item<double>(), jitter * (1 + 1e-6));
  EXPECT_TRUE(
      at::allclose(error[1], jitter * at::eye(3, at::kDouble), 0, 1e-15));
  EXPECT_LT(error[0].abs().max().item<double>(), 1e-15);
  EXPECT_LT(error[2].abs().max().item<double>(), 1e-15);
}

TEST(SafeCholeskyTest, KeepsTheBatchShape) {
  const at::Tensor cov = at::eye(2, at::kFloat).expand({4, 3, 2, 2});
  absl::StatusOr<CholeskyFactor> factor = SafeCholesky(cov);
  ASSERT_TRUE(factor.ok()) << factor.status();
  EXPECT_EQ(factor->chol.sizes(), cov.sizes());
  EXPECT_EQ(factor->jitter.sizes(), at::IntArrayRef({4, 3}));
  EXPECT_EQ(factor->chol.scalar_type(), at::kFloat);
}

TEST(SafeCholeskyTest, IndefiniteMatrixIsAnErrorNamingIt) {
  const at::Tensor cov =
      at::stack({at::eye(2, at::kDouble),
                 at::diag(at::tensor({1.0, -0.5}, at::kDouble))});
  absl::StatusOr<CholeskyFactor> factor = SafeCholesky(cov);
  ASSERT_FALSE(factor.ok());
  EXPECT_EQ(factor.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(factor.status().message(),
              HasSubstr("covariance matrix 1 is not positive definite"));
}

TEST(SafeCholeskyTest, NonFiniteOrZeroMatrixIsAnErrorWithTheCallersName) {
  const at::Tensor nan_cov = at::full(
      {1, 2, 2}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
  absl::StatusOr<CholeskyFactor> factor = SafeCholesky(
      nan_cov, {},
      [](int64_t i) { return "Sigma(t_" + std::to_string(i) + ")"; });
  ASSERT_FALSE(factor.ok());
  EXPECT_THAT(factor.status().message(), HasSubstr("Sigma(t_0) is not finite"));
  EXPECT_FALSE(SafeCholesky(at::zeros({2, 2}, at::kDouble)).ok());
}

TEST(SafeCholeskyTest, GradientMatchesFiniteDifferences) {
  const at::Tensor B = at::randn({3, 3}, at::kDouble);
  const at::Tensor cov0 = at::matmul(B, B.t()) + at::eye(3, at::kDouble);
  const at::Tensor weights = at::randn({3, 3}, at::kDouble);
  auto f = [&](const at::Tensor& cov) {
    return (SafeCholesky(cov)->chol * weights).sum();
  };
  const at::Tensor cov = cov0.clone().requires_grad_();
  f(cov).backward();
  // Perturb symmetrically: a covariance is a symmetric matrix, and the
  // gradient w.r.t. it is the symmetric one.
  const double h = 1e-6;
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      at::Tensor delta = at::zeros({3, 3}, at::kDouble);
      delta[i][j] = h;
      delta[j][i] = h;
      const double fd =
          (f(cov0 + delta).item<double>() - f(cov0 - delta).item<double>()) /
          (2 * h);
      const double grad = (cov.grad() * delta).sum().item<double>() / h;
      EXPECT_NEAR(grad, fd, 1e-7) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace mdm::sde
