// The MDM evidence lower bound (docs/math.md section 5) per example, in its
// denoising (DSM) and implicit (ISM) score-matching forms:
//   log p(x) >= E_{v_0 ~ q(v_0)} [ L(x, v_0) - log q(v_0) ],
//   L(u_0) = E log pi(u_T) + int_{t_min}^T E l(u_t, t) dt  (+ offset),
// valid for every linear diffusion, so the same code trains and evaluates
// VPSDE, CLD, ALDA, MALDA and learned processes. Gradients reach the score
// network and, through the kernels, learned Q and D.
#ifndef MDM_OBJECTIVES_ELBO_H_
#define MDM_OBJECTIVES_ELBO_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <functional>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/objectives/divergence.h"
#include "mdm/objectives/score_parameterization.h"
#include "mdm/objectives/time_sampling.h"

namespace mdm::objectives {

struct ElboOptions {
  // The time integral runs over [t_min, T]; [0, t_min] is the offset.
  double t_min = 1e-3;
  // Draw t from the importance proposal (else uniformly).
  bool importance_sampling = true;
  // Monte-Carlo repeats of (t, noise) averaged per example.
  int mc_samples = 1;
  // Also estimate the [0, t_min] offset term (costs one network call).
  bool with_offset = false;
  // kHybrid integrates out v_0 (the original's choice); kFull draws v_0 and
  // conditions on it.
  diffusions::KernelType kernel = diffusions::KernelType::kHybrid;
  Parameterization parameterization = Parameterization::kNoisePred;
  // ISM only: the divergence estimator and its probe count.
  DivergenceEstimator divergence = DivergenceEstimator::kRademacher;
  int hutchinson_probes = 1;
  // ISM only: keep the divergence's graph so the bound can be trained.
  bool create_graph = false;
  // Scale the time integral as the original does: by (1 - t_min) when t is
  // importance-sampled, by (1 - t_min) / (T - t_min) when uniform.
  bool original_integral_factor = false;
  // Another proposal for t than the VP or uniform one above (e.g. the
  // run's AdaptiveTimeSampler, on [t_min, T]); not owned.
  const TimeSampler* time_sampler = nullptr;
  // Called with each draw of t and its integrand values [batch] (what an
  // adaptive proposal learns from).
  std::function<void(const at::Tensor& t, const at::Tensor& integrand)>
      observe;
};

// Named per-example terms, each [batch] float64 (nats). Averaging and bits
// per dimension belong to the caller.
struct ElboTerms {
  at::Tensor prior;       // E log pi(u_T), exact Gaussian expectation.
  at::Tensor diffusion;   // The time integral's Monte-Carlo estimate.
  at::Tensor entropy_v0;  // -E log q(v_0) (exact under the hybrid kernel).
  at::Tensor offset;      // [0, t_min] term; zeros unless requested.
  at::Tensor elbo;        // prior + diffusion + entropy_v0.
  at::Tensor elbo_with_offset;  // elbo + offset.
};

// DSM integrand at the sampled t, with g = grad log q(u_t | .) = -L^{-T} eps:
//   l = -1/2 (s - g)^T G G^T (s - g) + 1/2 d tr(L^{-1} G G^T L^{-T}) + div f.
// x_0: [batch, ...data], already transformed.
absl::StatusOr<ElboTerms> DsmElbo(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, const ElboOptions& options,
    c10::optional<at::Generator> gen = c10::nullopt);

// ISM integrand: l = -1/2 s^T G G^T s - div(G G^T s) + div f, the
// divergence by Hutchinson probes or exactly.
absl::StatusOr<ElboTerms> IsmElbo(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, const ElboOptions& options,
    c10::optional<at::Generator> gen = c10::nullopt);

}  // namespace mdm::objectives

#endif  // MDM_OBJECTIVES_ELBO_H_
