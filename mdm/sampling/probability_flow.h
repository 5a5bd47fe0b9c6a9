// Deterministic sampling with the probability-flow ODE (docs/math.md
// section 4): the marginals of
//   du/dt = f(u, t) - 1/2 G G^T s(u, t) = beta(t) (A u - D s(u, t))
// equal the diffusion's, so integrating it from a prior draw at T down to
// t_min maps noise to data deterministically, with adaptive Dormand-Prince
// or fixed-step RK4.
#ifndef MDM_SAMPLING_PROBABILITY_FLOW_H_
#define MDM_SAMPLING_PROBABILITY_FLOW_H_

#include <ATen/core/Tensor.h>

#include <c10/util/Optional.h>

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "mdm/diffusions/diffusion.h"
#include "mdm/sampling/ode_solvers.h"
#include "mdm/sampling/score_function.h"

namespace mdm::sampling {

// The ODE's vector field F(t, u) for `score`: beta A and beta D are
// computed once per call and shared by the batch; those of `bin` at every
// time when given (see below), else of each time's bin.
OdeFunction ProbabilityFlowField(const diffusions::DiffusionImpl& diffusion,
                                 const ScoreFunction& score,
                                 c10::optional<int64_t> bin = c10::nullopt);

// A diffusion's ODE field inside one time bin (nullopt: any time's own).
using BinnedOdeFunction = std::function<OdeFunction(c10::optional<int64_t>)>;

// Integrate `field` from t0 to t1 (either direction) across the time bins
// of `diffusion`: a solver stopped and restarted at every bin boundary in
// between, each stretch with its bin's field, so no step straddles a jump
// of Q and D (the field at a boundary is the stretch's own bin's, from
// either side). With one bin, the plain solver on field(nullopt).
// Adaptive Dormand-Prince:
absl::StatusOr<OdeResult> DormandPrinceAcrossBins(
    const diffusions::DiffusionImpl& diffusion, const BinnedOdeFunction& field,
    const at::Tensor& y0, double t0, double t1,
    const AdaptiveOptions& options);
// RK4 on `time_grid` ([n + 1], monotone) with the boundaries inserted.
absl::StatusOr<OdeResult> Rk4AcrossBins(
    const diffusions::DiffusionImpl& diffusion, const BinnedOdeFunction& field,
    const at::Tensor& y0, const at::Tensor& time_grid);

struct ProbabilityFlowOptions {
  enum class Solver { kRk45, kRk4 };
  Solver solver = Solver::kRk45;
  AdaptiveOptions adaptive;  // kRk45.
  at::Tensor time_grid;      // kRk4: [n + 1] decreasing times.
};

// Integrates u_T at time t_max down to t_min under no-grad. For kRk4 the
// grid's ends are the times and t_max, t_min are ignored. A time-binned
// process's boundaries are stops of the solver (RK4: 4 more evaluations
// per boundary).
absl::StatusOr<SamplerResult> ProbabilityFlowSample(
    const diffusions::DiffusionImpl& diffusion, const ScoreFunction& score,
    const at::Tensor& u_T, double t_max, double t_min,
    const ProbabilityFlowOptions& options);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_PROBABILITY_FLOW_H_
