// Test-set likelihoods of a trained model, per example:
// - the DSM ELBO (docs/math.md section 5) as bits/dim, with and without the
//   offset for [0, t_min];
// - the exact likelihood of the probability-flow ODE (instantaneous change
//   of variables; Chen et al. 2018, Song et al. 2021): for the ODE
//   du/dt = F(u, t) = f - 1/2 G G^T s,
//     log p(u_0) = log pi(u_T) + int_{t_min}^{T} div F(u_t, t) dt,
//   integrated together with u_t by Dormand-Prince, div f = beta tr(A) d
//   exactly and div(1/2 G G^T s) exactly (small d) or by Hutchinson probes
//   held fixed along the trajectory. The data's likelihood integrates the
//   auxiliary variables out by importance weighting over q(v_0):
//     log p(x) >= log 1/n sum_i p(x, v_i) / q(v_i),  v_i ~ q(v_0),
//   which tightens as n grows.
#ifndef MDM_EVAL_LIKELIHOOD_H_
#define MDM_EVAL_LIKELIHOOD_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/objectives/divergence.h"
#include "mdm/objectives/elbo.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/score_function.h"

namespace mdm::eval {

struct OdeLikelihoodOptions {
  double t_min = 1e-3;  // The ODE starts at t_min (the data's time).
  double t_max = 1.0;
  sampling::AdaptiveOptions adaptive;
  objectives::DivergenceEstimator divergence =
      objectives::DivergenceEstimator::kRademacher;
  int64_t v0_draws = 1;  // Importance samples of the auxiliary variables.
};

struct OdeLikelihood {
  at::Tensor log_p;  // [batch] float64.
  int64_t function_evaluations = 0;
};

// log p(u_0) of full states u_0 [batch, K, ...data] at time t_min.
absl::StatusOr<OdeLikelihood> OdeLogLikelihood(
    const diffusions::DiffusionImpl& diffusion,
    const sampling::ScoreFunction& score, const at::Tensor& u_0,
    const OdeLikelihoodOptions& options, c10::optional<at::Generator> gen);

// The importance-weighted bound on log p(y) for data y [batch, ...data]
// (exact for K = 1).
absl::StatusOr<OdeLikelihood> OdeDataLogLikelihood(
    const diffusions::DiffusionImpl& diffusion,
    const sampling::ScoreFunction& score, const at::Tensor& y,
    const OdeLikelihoodOptions& options, c10::optional<at::Generator> gen);

}  // namespace mdm::eval

#endif  // MDM_EVAL_LIKELIHOOD_H_
