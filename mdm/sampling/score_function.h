// What every sampler shares: the score as a function of (u, t), a
// network's score under its parameterization, a per-step callback and the
// result with its count of score evaluations.
#ifndef MDM_SAMPLING_SCORE_FUNCTION_H_
#define MDM_SAMPLING_SCORE_FUNCTION_H_

#include <ATen/core/Tensor.h>

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

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_SCORE_FUNCTION_H_
