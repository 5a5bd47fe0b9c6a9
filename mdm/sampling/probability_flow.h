// Deterministic sampling with the probability-flow ODE (mdm_math.md
// section 4): the marginals of
//   du/dt = f(u, t) - 1/2 G G^T s(u, t) = beta(t) (A u - D s(u, t))
// equal the diffusion's, so integrating it from a prior draw at T down to
// t_min maps noise to data deterministically, with adaptive Dormand-Prince
// or fixed-step RK4.
#ifndef MDM_SAMPLING_PROBABILITY_FLOW_H_
#define MDM_SAMPLING_PROBABILITY_FLOW_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/score_function.h"

namespace mdm::sampling {

// The ODE's vector field F(t, u) for `score`: beta A and beta D are
// computed once per call and shared by the batch.
OdeFunction ProbabilityFlowField(const diffusions::DiffusionImpl& diffusion,
                                 const ScoreFunction& score);

struct ProbabilityFlowOptions {
  enum class Solver { kRk45, kRk4 };
  Solver solver = Solver::kRk45;
  AdaptiveOptions adaptive;  // kRk45.
  at::Tensor time_grid;      // kRk4: [n + 1] decreasing times.
};

// Integrates u_T at time t_max down to t_min under no-grad. For kRk4 the
// grid's ends are the times and t_max, t_min are ignored.
absl::StatusOr<SamplerResult> ProbabilityFlowSample(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, double t_max, double t_min,
    const ProbabilityFlowOptions& options);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_PROBABILITY_FLOW_H_
