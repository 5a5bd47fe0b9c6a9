#include "mdm/sde/linear_sde.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mdm/sde/block_ops.h"
#include "mdm/testing/random_matrices.h"
#include "mdm/util/logging.h"

namespace mdm::sde {
namespace {

using ::testing::HasSubstr;
using ::testing::TestWithParam;
using ::testing::Values;

double MaxAbs(const at::Tensor& x) { return x.abs().max().item<double>(); }

double MaxRelativeError(const at::Tensor& actual, const at::Tensor& expected) {
  return MaxAbs(actual - expected) / MaxAbs(expected);
}

at::Tensor Times(std::vector<double> t) { return at::tensor(t, at::kDouble); }

// CLD (docs/math.md section 3) with stationary_aux_var = 1: Gamma = 2.
LinearSde Cld() {
  return LinearSde(at::tensor({0.0, -1.0, 1.0, 0.0}, at::kDouble).view({2, 2}),
                   at::diag(at::tensor({0.0, 2.0}, at::kDouble)),
                   StationaryVariances(2, 1.0, 1.0),
                   BetaSchedule::Linear(0.1, 10.0));
}

// ALDA with L = 1 / stationary_aux_var = 1, gamma = psi = 1.
LinearSde Alda() {
  return LinearSde(
      at::tensor({0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0}, at::kDouble)
          .view({3, 3}),
      at::diag(at::tensor({0.0, 0.0, 1.0}, at::kDouble)),
      StationaryVariances(3, 1.0, 1.0), BetaSchedule::Linear(0.1, 10.0));
}

LinearSde RandomSde(int64_t K, uint64_t seed) {
  at::Generator gen = testing::MakeGenerator(seed);
  at::Tensor Q = testing::RandomAntisymmetric(K, gen);
  at::Tensor D = testing::RandomPsd(K, gen);
  at::Tensor s = testing::RandomStationaryVariances(K, gen);
  return LinearSde(Q, D, s, BetaSchedule::Linear(0.1, 10.0));
}

// VPSDE: K = 1, Q = 0, D = 1/2, so M = exp(-B/2) and Sigma = 1 - exp(-B).
TEST(LinearSdeTest, VpKernelMatchesClosedForm) {
  const LinearSde vp(
      at::zeros({1, 1}, at::kDouble), at::full({1, 1}, 0.5, at::kDouble),
      StationaryVariances(1, 1.0, 1.0), BetaSchedule::Linear(0.1, 10.0));
  const at::Tensor t = Times({1e-5, 1e-3, 0.1, 0.5, 1.0});
  absl::StatusOr<TransitionKernel> kernel = vp.Kernel(t, FullInitialCov(1));
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  for (int64_t i = 0; i < t.size(0); ++i) {
    const double B = vp.schedule().IntegratedBeta(t[i].item<double>());
    EXPECT_NEAR(kernel->mean_coef[i][0][0].item<double>(), std::exp(-B / 2),
                1e-14);
    const double var = -std::expm1(-B);
    EXPECT_NEAR(kernel->cov[i][0][0].item<double>(), var, 1e-12 * var);
    EXPECT_NEAR(kernel->chol[i][0][0].item<double>(), std::sqrt(var),
                1e-12 * std::sqrt(var));
    EXPECT_NEAR(kernel->chol_inv_t[i][0][0].item<double>(), 1 / std::sqrt(var),
                1e-12 / std::sqrt(var));
  }
  EXPECT_TRUE(kernel->jitter.eq(0).all().item<bool>());
}

// The complete recipe: A S + S A^T + 2 D = -(Q + Q^T) = 0 for every
// antisymmetric Q and symmetric D, so N(0, S) is stationary.
TEST(LinearSdeTest, StationaryCovarianceSolvesTheLyapunovEquation) {
  for (int64_t K : {1, 2, 3, 4, 6}) {
    const LinearSde sde = RandomSde(K, 100 + K);
    const at::Tensor A = sde.A(), S = sde.StationaryCov();
    const at::Tensor residual =
        at::matmul(A, S) + at::matmul(S, A.t()) + 2.0 * sde.D();
    EXPECT_LT(MaxAbs(residual), 1e-12) << "K = " << K;
  }
}

TEST(LinearSdeTest, KernelAtTimeZeroIsIdentityAndInitialCov) {
  const LinearSde sde = RandomSde(3, 7);
  const at::Tensor sigma0 = HybridInitialCov(3, 0.25);
  const KernelMoments moments = sde.Moments(Times({0.0}), sigma0);
  EXPECT_LT(MaxAbs(moments.mean_coef[0] - at::eye(3, at::kDouble)), 1e-15);
  EXPECT_LT(MaxAbs(moments.cov[0] - sigma0), 1e-15);
  EXPECT_DOUBLE_EQ(sigma0[1][1].item<double>(), 0.25);
  EXPECT_DOUBLE_EQ(sigma0[0][0].item<double>(), 0.0);
}

// M(t) -> 0 and Sigma(t) -> S, from either initial covariance. B(10) ~ 496,
// far past where exp(-B A^T) overflows, so this also exercises doubling.
TEST(LinearSdeTest, KernelTendsToTheStationaryLaw) {
  for (const LinearSde& sde :
       {Cld(), Alda(), RandomSde(2, 1), RandomSde(4, 2)}) {
    for (const at::Tensor& sigma0 : {FullInitialCov(sde.num_vars()),
                                     HybridInitialCov(sde.num_vars(), 0.3)}) {
      absl::StatusOr<TransitionKernel> kernel =
          sde.Kernel(Times({10.0}), sigma0);
      ASSERT_TRUE(kernel.ok()) << kernel.status();
      EXPECT_LT(MaxAbs(kernel->mean_coef), 1e-10);
      EXPECT_LT(MaxAbs(kernel->cov[0] - sde.StationaryCov()), 1e-10);
      EXPECT_TRUE(at::isfinite(kernel->chol_inv_t).all().item<bool>());
    }
  }
}

// An independent solution: RK4 on dM/dt = beta A M and the Lyapunov ODE
// dSigma/dt = beta (A Sigma + Sigma A^T + 2 D), in plain doubles.
struct Rk4Reference {
  std::vector<double> M, Sigma;  // Row-major K x K at the requested times.
};

std::vector<Rk4Reference> IntegrateRk4(const LinearSde& sde,
                                       const at::Tensor& sigma0,
                                       const std::vector<double>& times,
                                       int steps_per_unit_time) {
  const int64_t K = sde.num_vars();
  const at::Tensor A_t = sde.A().contiguous(), D_t = sde.D().contiguous();
  const std::vector<double> A(A_t.data_ptr<double>(),
                              A_t.data_ptr<double>() + K * K);
  const std::vector<double> D(D_t.data_ptr<double>(),
                              D_t.data_ptr<double>() + K * K);
  // State: M then Sigma, each K x K.
  auto rhs = [&](double t, const std::vector<double>& y) {
    const double beta = sde.schedule().Beta(t);
    std::vector<double> dy(2 * K * K, 0.0);
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j) {
        double dm = 0, ds = 2 * D[i * K + j];
        for (int64_t k = 0; k < K; ++k) {
          dm += A[i * K + k] * y[k * K + j];
          ds += A[i * K + k] * y[K * K + k * K + j] +
                y[K * K + i * K + k] * A[j * K + k];
        }
        dy[i * K + j] = beta * dm;
        dy[K * K + i * K + j] = beta * ds;
      }
    }
    return dy;
  };
  std::vector<double> y(2 * K * K, 0.0);
  const at::Tensor s0 = sigma0.contiguous();
  for (int64_t i = 0; i < K; ++i) {
    y[i * K + i] = 1.0;
    for (int64_t j = 0; j < K; ++j) {
      y[K * K + i * K + j] = s0[i][j].item<double>();
    }
  }
  std::vector<Rk4Reference> out;
  double t = 0;
  for (double target : times) {
    const int steps =
        static_cast<int>(std::ceil((target - t) * steps_per_unit_time));
    const double h = (target - t) / steps;
    for (int s = 0; s < steps; ++s, t += h) {
      auto axpy = [](const std::vector<double>& a, double c,
                     const std::vector<double>& b) {
        std::vector<double> r(a.size());
        for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] + c * b[i];
        return r;
      };
      const auto k1 = rhs(t, y);
      const auto k2 = rhs(t + h / 2, axpy(y, h / 2, k1));
      const auto k3 = rhs(t + h / 2, axpy(y, h / 2, k2));
      const auto k4 = rhs(t + h, axpy(y, h, k3));
      for (size_t i = 0; i < y.size(); ++i) {
        y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
      }
    }
    t = target;
    out.push_back({std::vector<double>(y.begin(), y.begin() + K * K),
                   std::vector<double>(y.begin() + K * K, y.end())});
  }
  return out;
}

class MatrixFractionVsRk4Test : public TestWithParam<int64_t> {};

// At t = 1, B |block| > 1 for these matrices, so the doubling path is
// compared too; at t = 0.02 the exponential is taken directly.
TEST_P(MatrixFractionVsRk4Test, MomentsMatchLyapunovOde) {
  const int64_t K = GetParam();
  const std::vector<double> times = {0.02, 0.3, 1.0};
  for (uint64_t seed : {11u, 12u}) {
    const LinearSde sde = RandomSde(K, seed * 10 + K);
    for (const at::Tensor& sigma0 :
         {FullInitialCov(K), HybridInitialCov(K, 0.3)}) {
      const KernelMoments moments = sde.Moments(Times(times), sigma0);
      const std::vector<Rk4Reference> reference =
          IntegrateRk4(sde, sigma0, times, /*steps_per_unit_time=*/20000);
      for (size_t i = 0; i < times.size(); ++i) {
        const at::Tensor M_ref =
            at::tensor(reference[i].M, at::kDouble).view({K, K});
        const at::Tensor Sigma_ref =
            at::tensor(reference[i].Sigma, at::kDouble).view({K, K});
        EXPECT_LT(MaxRelativeError(moments.mean_coef[i], M_ref), 1e-8)
            << "K = " << K << " t = " << times[i];
        EXPECT_LT(MaxRelativeError(moments.cov[i], Sigma_ref), 1e-8)
            << "K = " << K << " t = " << times[i];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(K, MatrixFractionVsRk4Test, Values(2, 3, 4));

// The doubling count is chosen per time, so a time's kernel does not depend
// on which other times share its batch.
// exp(B A) at many B by the kernel's Taylor series and squarings: LibTorch's
// matrix_exp to rounding, over small and large B, with the same gradient.
TEST(LinearSdeTest, MatrixExponentialsMatchMatrixExp) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor A = at::randn({3, 3}, gen, at::kDouble).requires_grad_(true);
  const at::Tensor B = at::tensor({0.0, 1e-6, 0.3, 2.0, 9.0}, at::kDouble);
  const at::Tensor ours = MatrixExponentials(A, B);
  const at::Tensor theirs = at::linalg_matrix_exp(B.view({-1, 1, 1}) * A);
  EXPECT_LT((ours - theirs).abs().max().item<double>(),
            1e-12 * theirs.abs().max().item<double>());
  EXPECT_TRUE(at::equal(ours[0], at::eye(3, at::kDouble)));
  const at::Tensor R = at::randn({5, 3, 3}, gen, at::kDouble);
  const at::Tensor g_ours = torch::autograd::grad({(ours * R).sum()}, {A})[0];
  const at::Tensor g_theirs =
      torch::autograd::grad({(theirs * R).sum()}, {A})[0];
  EXPECT_LT((g_ours - g_theirs).abs().max().item<double>(),
            1e-10 * g_theirs.abs().max().item<double>());
}

// The fused squarings (one autograd node per call, hand-written backward;
// the CPU's path) against the batched operations (every other device's):
// the same moments and the same gradients to Q and D, at times that need
// 0 to 9 halvings.
TEST(LinearSdeTest, FusedAndBatchedSquaringsAgreeWithGradients) {
  constexpr int64_t K = 3;
  at::Generator gen = testing::MakeGenerator(5);
  const at::Tensor W = at::randn({K, K}, gen, at::kDouble).requires_grad_();
  const at::Tensor F = at::randn({K, K}, gen, at::kDouble).requires_grad_();
  const at::Tensor B = at::cat({at::zeros({1}, at::kDouble),
                                at::logspace(-4, 1.3, 40, 10.0, at::kDouble)});
  const at::Tensor weights = at::randn({3, B.size(0), K, K}, gen, at::kDouble);
  const at::Tensor sigma0 = HybridInitialCov(K, 0.2);
  auto run = [&](SquaringPath path) {
    const at::Tensor D = at::matmul(F, F.t()) + 0.1 * at::eye(K, at::kDouble);
    const at::Tensor A = -(W - W.t()) - D;
    const KernelMoments m = MatrixFractionMoments(A, D, B, sigma0, path);
    const at::Tensor exps = MatrixExponentials(A, B, path);
    const at::Tensor loss = (m.mean_coef * weights[0]).sum() +
                            (m.cov * weights[1]).sum() +
                            (exps * weights[2]).sum();
    const auto grads = torch::autograd::grad({loss}, {W, F});
    return std::vector<at::Tensor>{m.mean_coef, m.cov, exps, grads[0],
                                   grads[1]};
  };
  const std::vector<at::Tensor> fused = run(SquaringPath::kAuto);
  const std::vector<at::Tensor> batched = run(SquaringPath::kBatchedOperations);
  const char* names[] = {"M", "Sigma", "exp(B A)", "dW", "dF"};
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_LT(MaxRelativeError(fused[i], batched[i]), 1e-13) << names[i];
  }
  EXPECT_GT(MaxAbs(fused[3]), 1e-2);
  EXPECT_GT(MaxAbs(fused[4]), 1e-2);
}

TEST(LinearSdeTest, KernelOfATimeDoesNotDependOnTheBatch) {
  const LinearSde alda = Alda();
  const KernelMoments alone = alda.Moments(Times({1e-4}), FullInitialCov(3));
  const KernelMoments mixed =
      alda.Moments(Times({0.9, 1e-4, 10.0}), FullInitialCov(3));
  EXPECT_TRUE(at::equal(alone.cov[0], mixed.cov[1]));
  EXPECT_TRUE(at::equal(alone.mean_coef[0], mixed.mean_coef[1]));
}

TEST(LinearSdeTest, CholeskyFactorsAndInverseTranspose) {
  const LinearSde sde = RandomSde(3, 5);
  absl::StatusOr<TransitionKernel> kernel =
      sde.Kernel(Times({0.01, 0.5, 1.0}), HybridInitialCov(3, 0.1));
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  const at::Tensor L = kernel->chol;
  EXPECT_LT(MaxRelativeError(at::matmul(L, L.transpose(1, 2)), kernel->cov),
            1e-12);
  EXPECT_LT(MaxAbs(L - L.tril()), 0.0 + 1e-300);
  const at::Tensor eye = at::eye(3, at::kDouble).expand({3, 3, 3});
  EXPECT_LT(MaxAbs(at::matmul(kernel->chol_inv_t.transpose(1, 2), L) - eye),
            1e-10);
}

// CLD's full kernel at t = 1e-5 has a smallest eigenvalue ~3e-19 (it
// vanishes like t^3), yet float64 factorizes it without jitter.
TEST(LinearSdeTest, CldFullKernelAtTinyTimeFactorizesWithoutJitter) {
  const LinearSde cld = Cld();
  absl::StatusOr<TransitionKernel> kernel =
      cld.Kernel(Times({1e-5}), FullInitialCov(2));
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  const double smallest = at::linalg_eigvalsh(kernel->cov[0])[0].item<double>();
  EXPECT_GT(smallest, 1e-19);
  EXPECT_LT(smallest, 1e-18);
  EXPECT_EQ(kernel->jitter[0].item<double>(), 0.0);
  const at::Tensor L = kernel->chol[0];
  EXPECT_LT(MaxRelativeError(at::matmul(L, L.t()), kernel->cov[0]), 1e-12);
}

// ALDA's full kernel at tiny times: x gets noise only through two
// couplings, so Var(x_t) falls like B(t)^5, and the smallest eigenvalue of
// Sigma(t) with it (~3e-28 at t = 1e-4, against ~2e-16 for the next). The
// kernel keeps Sigma(t) positive definite, without jitter, down to
// t = 1e-6: each step of its computation adds positive semi-definite
// terms. (Where a covariance does round to indefinite, SafeCholesky
// jitters that matrix alone: cholesky_test.)
TEST(LinearSdeTest, AldaFullKernelAtTinyTimesStaysPositiveDefinite) {
  const LinearSde alda = Alda();
  const at::Tensor t = Times({0.5, 1e-4, 1e-5, 1e-6});
  const KernelMoments moments = alda.Moments(t, FullInitialCov(3));
  EXPECT_LT(at::linalg_eigvalsh(moments.cov[1])[0].item<double>(), 1e-26);
  for (int64_t i = 1; i < 3; ++i) {
    auto B = [&](int64_t j) {
      const double tj = t[j].item<double>();
      return 0.1 * tj + 4.95 * tj * tj;
    };
    const double var_ratio = moments.cov[i][0][0].item<double>() /
                             moments.cov[i + 1][0][0].item<double>();
    EXPECT_NEAR(std::log(var_ratio), 5 * std::log(B(i) / B(i + 1)), 1e-3) << i;
  }
  absl::StatusOr<TransitionKernel> kernel = alda.Kernel(t, FullInitialCov(3));
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->jitter.abs().max().item<double>(), 0.0);
  for (int64_t i = 0; i < 4; ++i) {
    const at::Tensor L = kernel->chol[i];
    EXPECT_LT(
        MaxAbs(at::matmul(L, L.t()) - moments.cov[i]),
        8 * std::numeric_limits<double>::epsilon() * MaxAbs(moments.cov[i]))
        << i;
  }
}

TEST(LinearSdeTest, UnfactorizableKernelIsAnErrorNamingTimeQAndD) {
  // An invalid (indefinite) D makes Sigma(t) indefinite.
  const LinearSde bad(at::zeros({2, 2}, at::kDouble),
                      at::diag(at::tensor({-1.0, 0.5}, at::kDouble)),
                      StationaryVariances(2, 1.0, 1.0),
                      BetaSchedule::Linear(0.1, 10.0));
  absl::StatusOr<TransitionKernel> kernel =
      bad.Kernel(Times({0.25, 0.5}), FullInitialCov(2));
  ASSERT_FALSE(kernel.ok());
  EXPECT_THAT(kernel.status().message(), HasSubstr("at t = 0.25"));
  EXPECT_THAT(kernel.status().message(), HasSubstr("Q = [[0, 0], [0, 0]]"));
  EXPECT_THAT(kernel.status().message(), HasSubstr("D = [[-1, 0], [0, 0.5]]"));
}

// Kernels of a float32-parameterized SDE are still computed in float64.
TEST(LinearSdeTest, ComputesInFloat64ForFloat32Parameters) {
  const LinearSde sde(at::tensor({0.0f, -1.0f, 1.0f, 0.0f}).view({2, 2}),
                      at::diag(at::tensor({0.0f, 2.0f})),
                      StationaryVariances(2, 1.0, 1.0).to(at::kFloat),
                      BetaSchedule::Linear(0.1, 10.0));
  absl::StatusOr<TransitionKernel> kernel =
      sde.Kernel(at::tensor({0.5f}), FullInitialCov(2));
  ASSERT_TRUE(kernel.ok()) << kernel.status();
  EXPECT_EQ(kernel->cov.scalar_type(), at::kDouble);
  EXPECT_EQ(kernel->chol_inv_t.scalar_type(), at::kDouble);
  absl::StatusOr<TransitionKernel> reference =
      Cld().Kernel(Times({0.5}), FullInitialCov(2));
  EXPECT_LT(MaxRelativeError(kernel->cov, reference->cov), 1e-14);
}

// Gradients of Sigma(t) and L w.r.t. the unconstrained parameters of a
// learned process (Q = W - W^T, D = F F^T + 0.1 I) against central finite
// differences in float64. t = 1 takes the doubling path.
TEST(LinearSdeTest, KernelGradientsMatchFiniteDifferences) {
  constexpr int64_t K = 3;
  at::Generator gen = testing::MakeGenerator(3);
  const at::Tensor W0 = at::randn({K, K}, gen, at::kDouble);
  const at::Tensor F0 = at::randn({K, K}, gen, at::kDouble);
  const at::Tensor weights_cov = at::randn({2, K, K}, gen, at::kDouble);
  const at::Tensor weights_chol = at::randn({2, K, K}, gen, at::kDouble);
  const at::Tensor s = testing::RandomStationaryVariances(K, gen);
  const at::Tensor t = Times({0.2, 1.0});
  const at::Tensor sigma0 = HybridInitialCov(K, 0.2);

  enum Output { kCov, kChol };
  auto f = [&](const at::Tensor& W, const at::Tensor& F, Output output) {
    const LinearSde sde(W - W.t(),
                        at::matmul(F, F.t()) + 0.1 * at::eye(K, at::kDouble), s,
                        BetaSchedule::Linear(0.1, 10.0));
    absl::StatusOr<TransitionKernel> kernel = sde.Kernel(t, sigma0);
    CHECK(kernel.ok()) << kernel.status();
    return output == kCov ? (kernel->cov * weights_cov).sum()
                          : (kernel->chol * weights_chol).sum();
  };
  for (Output output : {kCov, kChol}) {
    const at::Tensor W = W0.clone().requires_grad_();
    const at::Tensor F = F0.clone().requires_grad_();
    f(W, F, output).backward();
    const double h = 1e-6;
    for (int64_t i = 0; i < K; ++i) {
      for (int64_t j = 0; j < K; ++j) {
        at::Tensor delta = at::zeros({K, K}, at::kDouble);
        delta[i][j] = h;
        const double fd_W = (f(W0 + delta, F0, output).item<double>() -
                             f(W0 - delta, F0, output).item<double>()) /
                            (2 * h);
        const double fd_F = (f(W0, F0 + delta, output).item<double>() -
                             f(W0, F0 - delta, output).item<double>()) /
                            (2 * h);
        const double g_W = W.grad()[i][j].item<double>();
        const double g_F = F.grad()[i][j].item<double>();
        EXPECT_NEAR(g_W, fd_W, 1e-6 * (1 + std::abs(fd_W)))
            << "output " << output << " dW " << i << j;
        EXPECT_NEAR(g_F, fd_F, 1e-6 * (1 + std::abs(fd_F)))
            << "output " << output << " dF " << i << j;
      }
    }
    EXPECT_GT(MaxAbs(W.grad()), 1e-3);
    EXPECT_GT(MaxAbs(F.grad()), 1e-3);
  }
}

// u_t = M u_0 + L eps with the block operations: the empirical covariance
// of many draws matches Sigma(t) (a smoke check of the whole path; the
// statistical tests of sampling belong to the diffusions).
TEST(LinearSdeTest, SamplesFromTheKernelHaveItsMoments) {
  const LinearSde sde = Cld();
  absl::StatusOr<TransitionKernel> kernel =
      sde.Kernel(Times({0.4}), HybridInitialCov(2, 0.04));
  ASSERT_TRUE(kernel.ok());
  constexpr int64_t n = 200000;
  at::Generator gen = testing::MakeGenerator(9);
  const at::Tensor eps = at::randn({1, 2, n}, gen, at::kDouble);
  const at::Tensor u0 = at::zeros({1, 2, n}, at::kDouble);
  const at::Tensor u =
      ApplyMatrix(kernel->mean_coef, u0) + ApplyMatrix(kernel->chol, eps);
  const at::Tensor empirical = at::matmul(u[0], u[0].t()) / n;
  // Each entry's standard error is <= sqrt(2/n) Sigma_max ~ 0.003 Sigma_max.
  EXPECT_LT(MaxAbs(empirical - kernel->cov[0]),
            5 * std::sqrt(2.0 / n) * MaxAbs(kernel->cov[0]));
}

}  // namespace
}  // namespace mdm::sde
