// Sampling by integrating the reverse-time SDE (docs/math.md section 4),
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

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/sampling/score_function.h"

namespace mdm::sampling {

// Integrates from u_T (e.g. a prior draw) along `time_grid` ([n + 1],
// decreasing). Runs under no-grad.
absl::StatusOr<SamplerResult> EulerMaruyama(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, const at::Tensor& time_grid,
    c10::optional<at::Generator> gen = c10::nullopt,
    const StepCallback& callback = nullptr);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_EULER_MARUYAMA_H_
