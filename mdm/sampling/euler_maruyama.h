// Sampling by integrating the reverse-time SDE (mdm_math.md section 4),
//   du = [-f(u, t) + G G^T s(u, t)] dt + G dW-bar,
// backwards over a time grid with the Euler-Maruyama method (Kloeden and
// Platen 1992; Song et al. 2021, eq. 6), for any linear diffusion. The
// last step adds no noise. The t-dependent matrices are computed once per
// step for the whole batch.
#ifndef MDM_SAMPLING_EULER_MARUYAMA_H_
#define MDM_SAMPLING_EULER_MARUYAMA_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/objectives/score_parameterization.h"

namespace mdm::sampling {

// The score s(u, t) at states u [batch, K, ...] and one time t.
using ScoreFunction =
    std::function<absl::StatusOr<at::Tensor>(const at::Tensor& u, double t)>;

// The score of a network under a parameterization: the hybrid kernel at t
// is computed once per call and shared by the batch.
ScoreFunction NetworkScore(const diffusions::DiffusionImpl& diffusion,
                           objectives::ScoreNetwork network,
                           objectives::Parameterization parameterization);

// Called after each step with the step index, the new time and state.
using StepCallback =
    std::function<void(int64_t step, double t, const at::Tensor& u)>;

struct SamplerResult {
  at::Tensor u;                   // The state at the grid's last time.
  int64_t score_evaluations = 0;  // Calls of the score function.
};

// Integrates from u_T (e.g. a prior draw) along `time_grid` ([n + 1],
// decreasing). Runs under no-grad.
absl::StatusOr<SamplerResult> EulerMaruyama(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, const at::Tensor& time_grid,
    c10::optional<at::Generator> gen = c10::nullopt,
    const StepCallback& callback = nullptr);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_EULER_MARUYAMA_H_
