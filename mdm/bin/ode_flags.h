// The adaptive ODE solver's flags that sample and eval share: --rtol,
// --atol and --ode_max_steps.
#ifndef MDM_BIN_ODE_FLAGS_H_
#define MDM_BIN_ODE_FLAGS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "mdm/sampling/ode_solvers.h"

namespace mdm::bin {

// The solver's options from the flags, or one InvalidArgument naming the
// flag that is out of range.
absl::StatusOr<sampling::AdaptiveOptions> OdeFlags(double rtol, double atol,
                                                   int64_t ode_max_steps);

}  // namespace mdm::bin

#endif  // MDM_BIN_ODE_FLAGS_H_
