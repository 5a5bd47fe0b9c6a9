#include "mdm/eval/likelihood.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>

#include "mdm/diffusions/factory.h"
#include "mdm/sde/block_ops.h"
#include "mdm/testing/textproto.h"

namespace mdm::eval {
namespace {

using diffusions::Diffusion;
using diffusions::KernelType;

constexpr double kDataVar = 0.09;  // x ~ N(0, 0.3^2), not the stationary 1.

Diffusion Make(const std::string& config) {
  absl::StatusOr<Diffusion> d = diffusions::CreateDiffusion(
      testing::ParseTextProtoOrDie<proto::DiffusionConfig>(config), 3);
  TORCH_CHECK(d.ok());
  (*d)->to(at::kDouble);
  return *d;
}

// Gaussian data stay Gaussian: u_t ~ N(0, Sigma_t) per data coordinate,
// Sigma_t = Sigma_hybrid(t) + var M e_0 e_0^T M^T, so the exact score and
// log-density are known in closed form.
at::Tensor MarginalCov(const diffusions::DiffusionImpl& diffusion, double t) {
  const sde::TransitionKernel k =
      *diffusion.KernelAtTime(t, KernelType::kHybrid);
  const at::Tensor m0 = k.mean_coef.select(1, 0);
  return k.cov + kDataVar * at::outer(m0, m0);
}

sampling::ScoreFunction GaussianScore(
    const diffusions::DiffusionImpl& diffusion) {
  return [&diffusion](const at::Tensor& u,
                      double t) -> absl::StatusOr<at::Tensor> {
    return -sde::ApplyMatrix(at::linalg_inv(MarginalCov(diffusion, t)), u);
  };
}

// log N(u; 0, cov) summed over data coordinates: u [batch, K, d].
at::Tensor GaussianLogDensity(const at::Tensor& u, const at::Tensor& cov) {
  const int64_t K = cov.size(0), d = u.size(2);
  const at::Tensor quad =
      (u * sde::ApplyMatrix(at::linalg_inv(cov), u)).sum({1, 2});
  return -0.5 * quad - 0.5 * d * (K * std::log(2 * M_PI) + at::logdet(cov));
}

TEST(OdeLikelihoodTest, EqualsTheExactDensityOfGaussianData) {
  for (const char* config :
       {"sde_type: VPSDE", "sde_type: CLD",
        "sde_type: LEARNED n_vars: 3 init_aux_var: 0.05",
        "sde_type: LEARNED n_vars: 3 init_aux_var: 0.05 time_bins: 3"}) {
    const Diffusion diffusion = Make(config);
    if (diffusion->time_bins() > 1) {
      // Bins that differ: the solver must stop at their boundaries.
      at::NoGradGuard no_grad;
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(9);
      for (at::Tensor& p : diffusion->parameters())
        p.add_(0.5 * at::randn(p.sizes(), gen, p.options()));
    }
    const int64_t K = diffusion->num_vars();
    const double t_min = 1e-2;
    const at::Tensor cov = MarginalCov(*diffusion, t_min);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const at::Tensor u_0 = sde::ApplyMatrix(
        at::linalg_cholesky(cov), at::randn({8, K, 3}, gen, at::kDouble));
    OdeLikelihoodOptions options;
    options.t_min = t_min;
    // Far enough that the marginal at t_max is the prior N(0, S) to double
    // precision (B(3) = 45), so the only error left is the solver's.
    options.t_max = 3.0;
    options.adaptive.rtol = options.adaptive.atol = 1e-8;
    options.divergence = objectives::DivergenceEstimator::kExact;
    absl::StatusOr<OdeLikelihood> ode = OdeLogLikelihood(
        *diffusion, GaussianScore(*diffusion), u_0, options, gen);
    ASSERT_TRUE(ode.ok()) << ode.status();
    const at::Tensor exact = GaussianLogDensity(u_0, cov);
    const double max_error = (ode->log_p - exact).abs().max().item<double>();
    EXPECT_LT(max_error, 1e-5) << config;
    std::cout << config << ": max |ODE - exact| = " << max_error << " nats, "
              << ode->function_evaluations << " evaluations\n";
    // Hutchinson probes are unbiased: many examples average to the same.
    const at::Tensor many = sde::ApplyMatrix(
        at::linalg_cholesky(cov), at::randn({400, K, 3}, gen, at::kDouble));
    options.divergence = objectives::DivergenceEstimator::kRademacher;
    options.adaptive.rtol = options.adaptive.atol = 1e-6;
    absl::StatusOr<OdeLikelihood> hutchinson = OdeLogLikelihood(
        *diffusion, GaussianScore(*diffusion), many, options, gen);
    ASSERT_TRUE(hutchinson.ok());
    const at::Tensor diff = hutchinson->log_p - GaussianLogDensity(many, cov);
    // (Solver tolerance 1e-6 allows ~1e-5; for VPSDE the probes' variance
    // is zero: the score's Jacobian is a multiple of the identity.)
    EXPECT_LT(diff.mean().abs().item<double>(),
              1e-4 + 4 * diff.std().item<double>() / 20)
        << config;
  }
}

}  // namespace
}  // namespace mdm::eval
