#include "mdm/sampling/probability_flow.h"

#include <ATen/ATen.h>

#include "mdm/sde/block_ops.h"

namespace mdm::sampling {

OdeFunction ProbabilityFlowField(const diffusions::DiffusionImpl& diffusion,
                                 const ScoreFunction& score) {
  return [&diffusion, score](
             double t, const at::Tensor& u) -> absl::StatusOr<at::Tensor> {
    absl::StatusOr<at::Tensor> s = score(u, t);
    if (!s.ok()) return s.status();
    const at::Tensor t_tensor = at::full({1}, t, at::kDouble);
    // 1/2 G G^T = beta D, [K, K] for the whole batch.
    const at::Tensor half_GGt = 0.5 * diffusion.DiffusionMatrix(t_tensor)[0];
    return diffusion.Drift(u, at::full({u.size(0)}, t, at::kDouble)) -
           sde::ApplyMatrix(half_GGt, *s);
  };
}

absl::StatusOr<SamplerResult> ProbabilityFlowSample(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, double t_max, double t_min,
    const ProbabilityFlowOptions& options) {
  at::NoGradGuard no_grad;
  const OdeFunction field = ProbabilityFlowField(diffusion, score);
  absl::StatusOr<OdeResult> ode =
      options.solver == ProbabilityFlowOptions::Solver::kRk4
          ? Rk4(field, u_T, options.time_grid)
          : DormandPrince(field, u_T, t_max, t_min, options.adaptive);
  if (!ode.ok()) return ode.status();
  SamplerResult result;
  result.u = ode->y;
  result.score_evaluations = ode->function_evaluations;
  return result;
}

}  // namespace mdm::sampling
