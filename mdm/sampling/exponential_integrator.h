// An exponential integrator for the reverse process of any linear MDM
// (any K, Q, D): everything linear in u is solved exactly with matrix
// exponentials and matrix-fraction covariances of the diffusion's own
// matrices, and only the score's non-Gaussian part is approximated, frozen
// over each step as noise (a zeroth-order exponential integrator in the
// spirit of DEIS, Zhang and Chen 2023, split around the stationary score
// as CLD's splitting sampler is, for every linear process).
//
// In forward time the reverse dynamics are du = beta (A u - c D s) dt
// (+ sqrt(2 beta D) dW for the SDE, c = 2; the probability-flow ODE has
// c = 1 and no noise). Write s = -S^{-1} u + rho: the stationary score plus
// a residual that vanishes as t grows. Then du = beta (A_c u - c D rho) dt
// with A_c = A + c D S^{-1} (for the ODE, -Q S^{-1}: the fast Hamiltonian
// rotation of CLD-like processes, which first-order schemes resolve only
// with small steps). With rho(u, r) ~ -L(r)^{-T} eps frozen at the step's
// start (eps = -L(t)^T rho(u, t)), one step from t to t' < t is exact:
//   u' = Phi u - [int_{t'}^{t} Phi(t', r) c beta(r) D L(r)^{-T} dr] eps + xi,
//   Phi(t', r) = exp(-(B(r) - B(t')) A_c),
//   xi ~ N(0, int_0^{B(t)-B(t')} exp(-b A_c) 2D exp(-b A_c^T) db) (SDE),
// where Phi and the covariance come from one matrix-fraction call (of -A_c)
// and the [K, K] integral is Gauss-Legendre quadrature in log r. So data
// drawn from the stationary law are sampled exactly in any number of steps.
// Everything is computed once per step for the whole batch; by default the
// last step adds no noise.
//
// Between the two, a share eta^2 of the SDE's noise gives another reverse
// process with the data's marginals: c = 1 + eta^2 and noise
// sqrt(2 eta^2 beta D) dW (`noise_fraction`).
//
// Multistep (order p > 1; `expint_ms` in sample, on the ODE): instead of
// freezing eps over the step, it is the polynomial in t, or in sqrt(t),
// through the last p evaluations (fewer on the first steps), so the same
// quadrature integrates the extrapolated noise (DEIS's tAB-p, Zhang and
// Chen 2023, for any K, Q and D: the weights are [K, K] matrices, one per
// remembered evaluation). The cost per step is unchanged: one score
// evaluation. Order 1 is the single-step integrator above, bit for bit.
// The polynomial's variable matters most near t = 0, where eps changes
// fastest: sqrt(t) where the data coordinate is noised directly, t on
// CLD-like processes (`MultistepVariable`). With noise the extrapolation is
// sound only where the noise reaches the data through auxiliary variables
// (CLD: x's path stays smooth; there, order 2 with eta^2 = 0.8 on equal
// steps beats the SDE at twice the evaluations); noise on the data itself
// (VPSDE, a learned D) makes the path too rough to extrapolate.
//
// A time-binned process (Q, D piecewise constant in B(t)) is solved the
// same way: a step that crosses bin boundaries is cut there into pieces,
// each exact with its own bin's matrices, for the same extrapolated eps
// (no extra score evaluations).
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
