// An exponential integrator for the reverse process of any linear MDM
// (any K, Q, D): everything linear in u is solved exactly with matrix
// exponentials and matrix-fraction covariances of the diffusion's own
// matrices; only the score's residual around the stationary score,
// -L^{-T} eps, is approximated: frozen over each step (order 1), or
// extrapolated through the last p evaluations (multistep, `expint_ms`).
// A share eta^2 of the SDE's noise (`noise_fraction`) interpolates between
// the probability-flow ODE and the reverse SDE; time-binned processes are
// solved bin piece by bin piece. docs/math.md section 8 derives the step
// and says where each variant works.
#ifndef MDM_SAMPLING_EXPONENTIAL_INTEGRATOR_H_
#define MDM_SAMPLING_EXPONENTIAL_INTEGRATOR_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/sampling/score_function.h"

namespace mdm::sampling {

// The variable the multistep polynomial is in. Near t = 0, where eps
// changes fastest, it should make eps smooth: sqrt(t) where the data
// coordinate gets noise directly (its kernel's spread grows like sqrt(t):
// VPSDE, learned D), t where the noise reaches it only through auxiliary
// variables (CLD, ALDA, MALDA, whose x spreads faster than linearly in t).
// MultistepVariableFor chooses; Sample uses it for expint_ms. samplers_test
// measures both: with exact scores, sqrt(t) is the better on VPSDE and a
// learned K = 3 process, t on CLD.
enum class MultistepVariable { kTime, kSqrtTime };

struct ExponentialIntegratorOptions {
  bool stochastic = true;  // The reverse SDE; false: the ODE.
  // With `stochastic`: the share eta^2 in [0, 1] of the SDE's noise
  // variance kept (1: the reverse SDE; towards 0, the ODE).
  double noise_fraction = 1.0;
  // Evaluations the noise is extrapolated from (1 to 4).
  int order = 1;
  // The variable of the multistep polynomial (order > 1).
  MultistepVariable multistep_variable = MultistepVariable::kTime;
  int quadrature_nodes = 12;
  // The SDE's last step adds its noise too (by default it returns the
  // step's mean, as the original's samplers do).
  bool noise_last_step = false;
};

// kSqrtTime if the diffusion's D puts noise on the data coordinate (D_00 > 0
// in its first time bin, the one nearest t = 0), else kTime. A learned D is
// floored above zero, so every learned process gets kSqrtTime.
MultistepVariable MultistepVariableFor(
    const diffusions::DiffusionImpl& diffusion);

// Integrates from u_T along `time_grid` ([n + 1], decreasing) under no-grad.
absl::StatusOr<SamplerResult> ExponentialIntegrator(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, const at::Tensor& time_grid,
    const ExponentialIntegratorOptions& options = {},
    c10::optional<at::Generator> gen = c10::nullopt,
    const StepCallback& callback = nullptr);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_EXPONENTIAL_INTEGRATOR_H_
