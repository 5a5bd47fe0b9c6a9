// Explicit Runge-Kutta solvers for dy/dt = F(t, y) on one tensor state,
// forwards or backwards in time: the classical fixed-step RK4 on a given
// grid, and the adaptive Dormand-Prince 5(4) pair (Dormand and Prince 1980;
// the method of scipy's RK45 and torchdiffeq's dopri5) with first-same-as-
// last reuse, the standard step-size controller and Hairer's initial-step
// heuristic. The whole tensor takes one step size, so a batch shares its
// time points (and a sampler's t-dependent matrices).
#ifndef MDM_SAMPLING_ODE_SOLVERS_H_
#define MDM_SAMPLING_ODE_SOLVERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mdm::sampling {

// F(t, y), shaped like y.
using OdeFunction =
    std::function<absl::StatusOr<at::Tensor>(double t, const at::Tensor& y)>;

struct OdeResult {
  at::Tensor y;  // The state at the final time.
  int64_t function_evaluations = 0;
  int64_t accepted_steps = 0;
  int64_t rejected_steps = 0;
};

// Four evaluations per interval of `time_grid` ([n + 1], monotone).
absl::StatusOr<OdeResult> Rk4(const OdeFunction& f, const at::Tensor& y0,
                              const at::Tensor& time_grid);

struct AdaptiveOptions {
  // A step is accepted when the RMS over all elements of
  // error / (atol + rtol * max(|y_old|, |y_new|)) is at most 1.
  double rtol = 1e-5;
  double atol = 1e-5;
  double initial_step = 0;  // 0: chosen from F(t0, y0).
  int64_t max_steps = 100000;
};

// OK when rtol and atol are positive and finite and max_steps positive;
// otherwise InvalidArgument naming the option after `prefix` (e.g. "--").
absl::Status ValidateAdaptiveOptions(const AdaptiveOptions& options,
                                     absl::string_view prefix = "");

// Integrates from t0 to t1 (either direction). Fails when the options are
// invalid, the step size underflows, max_steps is reached or F is not
// finite.
absl::StatusOr<OdeResult> DormandPrince(const OdeFunction& f,
                                        const at::Tensor& y0, double t0,
                                        double t1,
                                        const AdaptiveOptions& options = {});

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_ODE_SOLVERS_H_
