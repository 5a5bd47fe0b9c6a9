#include "mdm/sampling/time_grid.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mdm::sampling {

at::Tensor MakeTimeGrid(TimeGridKind kind, int64_t n, double t_min,
                        double t_max) {
  TORCH_CHECK(n >= 1, "a time grid needs at least one step");
  TORCH_CHECK(0 <= t_min && t_min < t_max, "need 0 <= t_min < t_max");
  at::Tensor grid;
  switch (kind) {
    case TimeGridKind::kLinear:
      // host: samplers read a grid's times as doubles
      return at::linspace(t_max, t_min, n + 1, at::kDouble);
    case TimeGridKind::kQuadratic:
      grid = t_min + (t_max - t_min) *
                         // host: samplers read a grid's times as doubles
                         at::linspace(1.0, 0.0, n + 1, at::kDouble).square();
      break;
    case TimeGridKind::kSqrt:
      // host: samplers read a grid's times as doubles
      grid = at::linspace(std::sqrt(t_max), std::sqrt(t_min), n + 1,
                          at::kDouble)
                 .square();
      break;
  }
  // Exact endpoints despite rounding.
  grid[0] = t_max;
  grid[n] = t_min;
  return grid;
}

}  // namespace mdm::sampling
