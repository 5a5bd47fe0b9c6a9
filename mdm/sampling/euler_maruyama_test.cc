#include "mdm/sampling/euler_maruyama.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mdm/diffusions/factory.h"
#include "mdm/sampling/time_grid.h"
#include "mdm/testing/textproto.h"

namespace mdm::sampling {
namespace {

using diffusions::Diffusion;
using diffusions::KernelType;

Diffusion Make(const std::string& config) {
  absl::StatusOr<Diffusion> d = diffusions::CreateDiffusion(
      testing::ParseTextProtoOrDie<proto::DiffusionConfig>(config), 0);
  TORCH_CHECK(d.ok());
  (*d)->to(at::kDouble);
  return *d;
}

TEST(TimeGridTest, EndpointsOrderAndSpacing) {
  for (TimeGridKind kind :
       {TimeGridKind::kLinear, TimeGridKind::kQuadratic, TimeGridKind::kSqrt}) {
    const at::Tensor grid = MakeTimeGrid(kind, 10, 1e-3, 1.0);
    ASSERT_EQ(grid.size(0), 11);
    EXPECT_EQ(grid[0].item<double>(), 1.0);
    EXPECT_EQ(grid[10].item<double>(), 1e-3);
    EXPECT_TRUE(
        (grid.slice(0, 0, 10) > grid.slice(0, 1, 11)).all().item<bool>());
  }
  const at::Tensor s = MakeTimeGrid(TimeGridKind::kSqrt, 10, 0.0, 1.0);
  // Equal steps in sqrt(t): t_i = (1 - i / 10)^2.
  EXPECT_NEAR(s[5].item<double>(), 0.25, 1e-15);
}

// The original's quadratic grid (its get_sampling_t_arr, mapped to forward
// times T - t): these are its float32 values for N = 10, t_min = 1e-3, to
// float32 rounding.
TEST(TimeGridTest, QuadraticIsTheOriginals) {
  const at::Tensor q = MakeTimeGrid(TimeGridKind::kQuadratic, 10, 1e-3, 1.0);
  const std::vector<double> original = {
      1.0,         0.810189962, 0.640359998, 0.490509987,
      0.360639989, 0.250750005, 0.160840034, 0.090909958,
      0.040960014, 0.010989964, 0.000999987};
  for (int i = 0; i <= 10; ++i)
    EXPECT_NEAR(q[i].item<double>(), original[i], 1e-7) << i;
  // Its last step at N = 500 is (T - t_min) / N^2 ~ 4e-6; equal steps in
  // sqrt(t) end with a step ~30 times longer.
  const at::Tensor q500 = MakeTimeGrid(TimeGridKind::kQuadratic, 500, 1e-3, 1.0);
  const at::Tensor s500 = MakeTimeGrid(TimeGridKind::kSqrt, 500, 1e-3, 1.0);
  EXPECT_NEAR((q500[499] - q500[500]).item<double>(), 0.999 / 250000, 1e-12);
  EXPECT_GT((s500[499] - s500[500]).item<double>(), 1.2e-4);
}

// With the exact score of data concentrated at x_0 (the hybrid kernel's
// score -Sigma^{-1}(u - M (x_0, 0))), the reverse SDE started from the
// prior must end near x_0, for the scalar VPSDE and for CLD, whose noise
// enters x only through its auxiliary variable.
TEST(EulerMaruyamaTest, ExactScoreOfAPointMassReturnsToIt) {
  const double x0 = 0.5;
  for (const char* config : {"sde_type: VPSDE", "sde_type: CLD"}) {
    const Diffusion diffusion = Make(config);
    const int64_t K = diffusion->num_vars();
    const ScoreFunction exact = [&](const at::Tensor& u,
                                    double t) -> absl::StatusOr<at::Tensor> {
      absl::StatusOr<sde::TransitionKernel> k =
          diffusion->Kernel(at::full({1}, t, at::kDouble), KernelType::kHybrid);
      if (!k.ok()) return k.status();
      const at::Tensor mean =
          k->mean_coef[0].select(1, 0) * x0;  // M (x0, 0, ...).
      const at::Tensor centered = u - mean.view({1, K, 1});
      return -at::matmul(at::inverse(k->cov[0]), centered);
    };
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const at::Tensor u_T =
        diffusion->SamplePrior({1, K, 4000}, at::kDouble, gen);
    const at::Tensor grid =
        MakeTimeGrid(TimeGridKind::kQuadratic, 400, 1e-3, 1.0);
    int64_t callbacks = 0;
    absl::StatusOr<SamplerResult> result =
        EulerMaruyama(*diffusion, exact, u_T, grid, gen,
                      [&](int64_t, double, const at::Tensor&) { ++callbacks; });
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->score_evaluations, 400);
    EXPECT_EQ(callbacks, 400);
    const at::Tensor x = result->u[0][0];
    EXPECT_NEAR(x.mean().item<double>(), x0, 0.01) << config;
    EXPECT_LT(x.std().item<double>(), 0.05) << config;
  }
}

// Started in the stationary law with the exact stationary score, the
// reverse SDE keeps the law N(0, S) (up to discretization error).
TEST(EulerMaruyamaTest, StationaryLawIsPreserved) {
  const Diffusion diffusion =
      Make("sde_type: MALDA n_vars: 3 stationary_aux_var: 0.5");
  const at::Tensor inv_var = 1.0 / diffusion->stationary_var();
  const ScoreFunction exact = [&](const at::Tensor& u,
                                  double) -> absl::StatusOr<at::Tensor> {
    return -u * inv_var.view({1, 3, 1});
  };
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor u_T =
      diffusion->SamplePrior({1, 3, 20000}, at::kDouble, gen);
  absl::StatusOr<SamplerResult> result =
      EulerMaruyama(*diffusion, exact, u_T,
                    MakeTimeGrid(TimeGridKind::kLinear, 200, 0.3, 1.0), gen);
  ASSERT_TRUE(result.ok());
  const at::Tensor var = result->u[0].var(1);
  for (int64_t k = 0; k < 3; ++k) {
    const double expected = diffusion->stationary_var()[k].item<double>();
    EXPECT_NEAR(var[k].item<double>(), expected, 0.06 * expected)
        << "variable " << k;
  }
}

}  // namespace
}  // namespace mdm::sampling
