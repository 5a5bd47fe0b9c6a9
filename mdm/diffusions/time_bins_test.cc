// Learned processes with time bins: Q and D piecewise constant over equal
// bins of B(t). The kernel is checked against an independent integration
// of the moment ODEs, equal bins against the one-bin process, and its
// gradients against finite differences.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/diffusions/factory.h"
#include "mdm/proto/experiment.pb.h"
#include "mdm/sde/block_ops.h"
#include "mdm/testing/textproto.h"

namespace mdm::diffusions {
namespace {

using ::mdm::proto::DiffusionConfig;
using ::mdm::testing::ParseTextProtoOrDie;

constexpr char kCommon[] =
    "sde_type: LEARNED n_vars: 3 stationary_x_var: 1.5 "
    "stationary_aux_var: 0.5 init_aux_var: 0.2 ";

Diffusion Make(int time_bins, bool set_bins = true) {
  const std::string config =
      set_bins ? absl::StrCat(kCommon, "time_bins: ", time_bins) : kCommon;
  absl::StatusOr<Diffusion> diffusion =
      CreateDiffusion(ParseTextProtoOrDie<DiffusionConfig>(config), 4);
  TORCH_CHECK(diffusion.ok(), std::string(diffusion.status().message()));
  (*diffusion)->to(at::kDouble);
  return *diffusion;
}

// Three bins that differ: every parameter moved off the shared start.
Diffusion DistinctBins() {
  Diffusion diffusion = Make(3);
  at::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
  for (at::Tensor& p : diffusion->parameters())
    p.add_(0.7 * at::randn(p.sizes(), gen, p.options()));
  return diffusion;
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(TimeBinsTest, OneBinIsTheLearnedProcessUnderItsOwnNames) {
  const Diffusion plain = Make(1, /*set_bins=*/false);
  const Diffusion one = Make(1);
  EXPECT_EQ(one->time_bins(), 1);
  EXPECT_EQ(plain->named_parameters().keys(), one->named_parameters().keys());
  const at::Tensor t = at::linspace(1e-4, 1.0, 17, at::kDouble);
  const sde::KernelMoments a = plain->Moments(t, KernelType::kHybrid);
  const sde::KernelMoments b = one->Moments(t, KernelType::kHybrid);
  EXPECT_TRUE(at::equal(a.mean_coef, b.mean_coef));
  EXPECT_TRUE(at::equal(a.cov, b.cov));
}

// Bins that hold the same matrices are the one-bin process: the recursion
// through the boundaries reproduces the single kernel to float64 rounding,
// and so do the drift, G G^T and log |det M|.
TEST(TimeBinsTest, EqualBinsReproduceTheOneBinProcess) {
  const Diffusion one = Make(1);
  const Diffusion four = Make(4);
  ASSERT_EQ(four->time_bins(), 4);
  std::vector<double> times = {1e-5, 1e-3, 0.05, 0.3, 0.77, 1.0};
  for (double b : four->BinBoundaries()) {
    times.push_back(b);
    times.push_back(b * (1 + 1e-9));
  }
  const at::Tensor t = at::tensor(times, at::kDouble);
  for (KernelType type : {KernelType::kFull, KernelType::kHybrid}) {
    const sde::KernelMoments a = one->Moments(t, type);
    const sde::KernelMoments b = four->Moments(t, type);
    EXPECT_LT(MaxDiff(a.mean_coef, b.mean_coef), 1e-13);
    EXPECT_LT(MaxDiff(a.cov, b.cov), 1e-13);
  }
  const at::Tensor u = at::randn({t.size(0), 3, 2}, at::kDouble);
  EXPECT_LT(MaxDiff(one->Drift(u, t), four->Drift(u, t)), 1e-13);
  EXPECT_LT(MaxDiff(one->DiffusionMatrix(t), four->DiffusionMatrix(t)), 1e-13);
  EXPECT_LT(MaxDiff(one->DiffusionSqrt(t), four->DiffusionSqrt(t)), 1e-13);
  for (double time : {1e-3, 0.5, 1.0}) {
    EXPECT_NEAR(one->IntegratedDriftTrace(time).item<double>(),
                four->IntegratedDriftTrace(time).item<double>(), 1e-12);
  }
}

TEST(TimeBinsTest, BinsAreEqualStretchesOfIntegratedBeta) {
  const Diffusion diffusion = Make(4);
  const sde::BetaSchedule& schedule = diffusion->options().schedule();
  const double width = schedule.IntegratedBeta(1.0) / 4;
  const std::vector<double> boundaries = diffusion->BinBoundaries();
  ASSERT_EQ(boundaries.size(), 3u);
  for (int k = 1; k <= 3; ++k) {
    const double b = boundaries[k - 1];
    EXPECT_NEAR(schedule.IntegratedBeta(b), k * width, 1e-12);
    EXPECT_EQ(diffusion->BinOf(b * (1 - 1e-9)), k - 1);
    EXPECT_EQ(diffusion->BinOf(b * (1 + 1e-9)), k);
  }
  EXPECT_EQ(diffusion->BinOf(0.0), 0);
  EXPECT_EQ(diffusion->BinOf(1.0), 3);
  EXPECT_EQ(diffusion->BinOf(1.5), 3);  // Past t_max: the last bin.
}

// The kernel against RK4 on the moment ODEs in B, bin by bin from
// Sigma_0: dM/dB = A_k M, dSigma/dB = A_k Sigma + Sigma A_k^T + 2 D_k.
TEST(TimeBinsTest, KernelMatchesAnRk4IntegrationOfTheMomentOdes) {
  const Diffusion diffusion = DistinctBins();
  at::NoGradGuard no_grad;
  const sde::BetaSchedule& schedule = diffusion->options().schedule();
  const double width = schedule.IntegratedBeta(1.0) / 3;
  std::vector<at::Tensor> A, D;
  for (int k = 0; k < 3; ++k) {
    A.push_back(diffusion->BinSde(k).A());
    D.push_back(diffusion->BinSde(k).D().to(at::kDouble));
  }
  // Matrices differ from bin to bin (else the test shows nothing).
  ASSERT_GT(MaxDiff(A[0], A[1]), 0.1);
  ASSERT_GT(MaxDiff(A[1], A[2]), 0.1);
  for (KernelType type : {KernelType::kFull, KernelType::kHybrid}) {
    for (double t : {0.02, 0.3, 0.55, 0.8, 1.0}) {
      const double B = schedule.IntegratedBeta(t);
      at::Tensor M = at::eye(3, at::kDouble);
      at::Tensor Sigma = diffusion->InitialCov(type);
      for (int k = 0; k < 3; ++k) {
        const double span =
            std::min(std::max(B - k * width, 0.0), k < 2 ? width : 1e9);
        const int steps = 4000;
        const double h = span / steps;
        auto f = [&](const at::Tensor& m, const at::Tensor& s) {
          return std::make_pair(at::matmul(A[k], m),
                                at::matmul(A[k], s) +
                                    at::matmul(s, A[k].t()) + 2 * D[k]);
        };
        for (int i = 0; i < steps && span > 0; ++i) {
          auto [m1, s1] = f(M, Sigma);
          auto [m2, s2] = f(M + 0.5 * h * m1, Sigma + 0.5 * h * s1);
          auto [m3, s3] = f(M + 0.5 * h * m2, Sigma + 0.5 * h * s2);
          auto [m4, s4] = f(M + h * m3, Sigma + h * s3);
          M = M + h / 6 * (m1 + 2 * m2 + 2 * m3 + m4);
          Sigma = Sigma + h / 6 * (s1 + 2 * s2 + 2 * s3 + s4);
        }
      }
      const sde::KernelMoments k =
          diffusion->Moments(at::full({1}, t, at::kDouble), type);
      EXPECT_LT(MaxDiff(k.mean_coef[0], M), 1e-9) << "t = " << t;
      EXPECT_LT(MaxDiff(k.cov[0], Sigma), 1e-9) << "t = " << t;
      // log |det M| is the integral of beta tr(A).
      EXPECT_NEAR(diffusion->IntegratedDriftTrace(t).item<double>(),
                  std::log(std::abs(at::det(M).item<double>())), 1e-9);
    }
  }
}

TEST(TimeBinsTest, DriftAndNoiseAreThoseOfEachTimesBin) {
  const Diffusion diffusion = DistinctBins();
  at::NoGradGuard no_grad;
  // One time in each bin (boundaries at t = 0.573 and 0.815).
  const at::Tensor t = at::tensor({0.3, 0.7, 0.95}, at::kDouble);
  const at::Tensor bins = diffusion->BinOf(t);
  const at::Tensor u = at::randn({3, 3, 4}, at::kDouble);
  const at::Tensor drift = diffusion->Drift(u, t);
  const at::Tensor GGt = diffusion->DiffusionMatrix(t);
  const at::Tensor G = diffusion->DiffusionSqrt(t);
  const at::Tensor divergence = diffusion->DriftDivergence(t, 4);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t k = bins[i].item<int64_t>();
    EXPECT_EQ(k, i);
    const sde::LinearSde sde = diffusion->BinSde(k);
    const double beta = diffusion->options().schedule().Beta(t[i].item<double>());
    EXPECT_LT(MaxDiff(drift[i], beta * at::matmul(sde.A(), u[i])), 1e-12);
    EXPECT_LT(MaxDiff(GGt[i], 2 * beta * sde.D()), 1e-12);
    EXPECT_LT(MaxDiff(at::matmul(G[i], G[i]), 2 * beta * sde.D()), 1e-12);
    EXPECT_NEAR(divergence[i].item<double>(),
                beta * sde::Trace(sde.A()).item<double>() * 4, 1e-12);
    // One bin for every time when asked.
    EXPECT_LT(MaxDiff(diffusion->Drift(u, t, 2)[i],
                      beta * at::matmul(diffusion->BinSde(2).A(), u[i])),
              1e-12);
  }
}

// Exact gradients through the boundaries: autograd against central
// differences in every bin's W, and none from bins a time has not reached.
TEST(TimeBinsTest, KernelGradientsMatchFiniteDifferences) {
  const Diffusion diffusion = DistinctBins();
  const at::Tensor t = at::tensor({0.9}, at::kDouble);  // In the last bin.
  const at::Tensor early = at::tensor({0.05}, at::kDouble);  // The first.
  const at::Tensor R = at::randn({3, 3}, at::kDouble);
  auto objective = [&](const at::Tensor& time) {
    const sde::KernelMoments m = diffusion->Moments(time, KernelType::kHybrid);
    return (m.cov[0] * R).sum() + (m.mean_coef[0] * R.t()).sum();
  };
  auto params = diffusion->named_parameters();
  for (int k = 0; k < 3; ++k) {
    at::Tensor W = params[absl::StrCat("qd.bins.", k, ".W")];
    const at::Tensor grad = torch::autograd::grad({objective(t)}, {W})[0];
    const at::Tensor early_grad =
        torch::autograd::grad({objective(early)}, {W}, {}, false, false, true)[0];
    if (k > 0) {
      EXPECT_TRUE(!early_grad.defined() || early_grad.abs().max().item<double>() == 0)
          << "bin " << k;
    }
    const double h = 1e-6;
    double numeric;
    {
      at::NoGradGuard no_grad;
      W[0][1] += h;
      const double up = objective(t).item<double>();
      W[0][1] -= 2 * h;
      const double down = objective(t).item<double>();
      W[0][1] += h;
      numeric = (up - down) / (2 * h);
    }
    EXPECT_NEAR(grad[0][1].item<double>(), numeric,
                1e-6 * std::max(1.0, std::abs(numeric)))
        << "bin " << k;
  }
}

}  // namespace
}  // namespace mdm::diffusions
