#include "mdm/bin/ode_flags.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mdm::bin {

absl::StatusOr<sampling::AdaptiveOptions> OdeFlags(double rtol, double atol,
                                                   int64_t ode_max_steps) {
  // The step limit's flag is not "--max_steps": named here, the tolerances
  // by the solver's own check.
  if (ode_max_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--ode_max_steps must be positive, got ", ode_max_steps));
  }
  const sampling::AdaptiveOptions options = {
      .rtol = rtol, .atol = atol, .max_steps = ode_max_steps};
  if (absl::Status s = sampling::ValidateAdaptiveOptions(options, "--");
      !s.ok()) {
    return s;
  }
  return options;
}

}  // namespace mdm::bin
