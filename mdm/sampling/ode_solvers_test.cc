#include "mdm/sampling/ode_solvers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "mdm/sampling/time_grid.h"

namespace mdm::sampling {
namespace {

// y' = -2 t y: y(t) = y0 exp(-t^2).
absl::StatusOr<at::Tensor> Gaussian(double t, const at::Tensor& y) {
  return -2 * t * y;
}

// A harmonic oscillator: (q, p)' = (p, -q), a rotation.
absl::StatusOr<at::Tensor> Oscillator(double, const at::Tensor& y) {
  return at::stack({y[1], -y[0]});
}

TEST(Rk4Test, FourthOrderConvergence) {
  const at::Tensor y0 = at::ones({3}, at::kDouble);
  double previous = 0;
  for (int n : {40, 80, 160}) {
    absl::StatusOr<OdeResult> r =
        Rk4(Gaussian, y0, at::linspace(0, 2, n + 1, at::kDouble));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->function_evaluations, 4 * n);
    const double error = (r->y - std::exp(-4.0)).abs().max().item<double>();
    if (previous > 0) EXPECT_NEAR(previous / error, 16, 1.5) << n;
    previous = error;
  }
}

TEST(Rk4Test, RunsBackwardsOnADecreasingGrid) {
  const at::Tensor y2 = at::full({2}, std::exp(-4.0), at::kDouble);
  absl::StatusOr<OdeResult> r =
      Rk4(Gaussian, y2, at::linspace(2, 0, 201, at::kDouble));
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->y[0].item<double>(), 1.0, 1e-7);
}

TEST(DormandPrinceTest, MeetsTheToleranceForwardAndBackward) {
  for (double tol : {1e-4, 1e-7, 1e-10}) {
    AdaptiveOptions options;
    options.rtol = options.atol = tol;
    const at::Tensor y0 = at::tensor({1.0, 0.0}, at::kDouble);
    absl::StatusOr<OdeResult> r = DormandPrince(Oscillator, y0, 0, 10, options);
    ASSERT_TRUE(r.ok()) << r.status();
    const double error =
        (r->y - at::tensor({std::cos(10.0), -std::sin(10.0)}, at::kDouble))
            .abs()
            .max()
            .item<double>();
    // The global error stays within a few hundred local tolerances...
    EXPECT_LT(error, 300 * tol) << tol;
    // ...and FSAL: 6 evaluations per step plus the start and the probe.
    EXPECT_EQ(r->function_evaluations,
              6 * (r->accepted_steps + r->rejected_steps) + 2);
    absl::StatusOr<OdeResult> back =
        DormandPrince(Oscillator, r->y, 10, 0, options);
    ASSERT_TRUE(back.ok());
    EXPECT_LT((back->y - y0).abs().max().item<double>(), 600 * tol);
  }
  // Tighter tolerances take more steps.
  AdaptiveOptions loose, tight;
  loose.rtol = loose.atol = 1e-3;
  tight.rtol = tight.atol = 1e-9;
  const at::Tensor y0 = at::tensor({1.0, 0.0}, at::kDouble);
  EXPECT_LT(DormandPrince(Oscillator, y0, 0, 10, loose)->accepted_steps * 4,
            DormandPrince(Oscillator, y0, 0, 10, tight)->accepted_steps);
}

TEST(DormandPrinceTest, FailsClearly) {
  const at::Tensor y0 = at::ones({1}, at::kDouble);
  AdaptiveOptions few;
  few.max_steps = 3;
  few.rtol = few.atol = 1e-12;
  absl::StatusOr<OdeResult> r = DormandPrince(Gaussian, y0, 0, 5, few);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  auto blow_up = [](double t,
                    const at::Tensor& y) -> absl::StatusOr<at::Tensor> {
    return y / (1 - t);  // Infinite at t = 1.
  };
  EXPECT_FALSE(DormandPrince(blow_up, y0, 0, 2).ok());
}

}  // namespace
}  // namespace mdm::sampling
