// Time grids for the reverse-time samplers: n + 1 decreasing times from T
// to t_min (the original's `sampling_t_arr_fn`).
#ifndef MDM_SAMPLING_TIME_GRID_H_
#define MDM_SAMPLING_TIME_GRID_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mdm::sampling {

enum class TimeGridKind {
  kLinear,     // Equal steps.
  // The original's: t_i = t_min + (T - t_min) (1 - i/n)^2, steps shrinking
  // linearly to (T - t_min) / n^2 at t_min.
  kQuadratic,
  // Equal steps in sqrt(t): t_i = (sqrt(T) + i/n (sqrt(t_min) - sqrt(T)))^2,
  // a last step ~30x longer than kQuadratic's at n = 500.
  kSqrt,
};

// [n + 1] float64 times, t[0] = t_max > ... > t[n] = t_min.
at::Tensor MakeTimeGrid(TimeGridKind kind, int64_t n, double t_min,
                        double t_max);

}  // namespace mdm::sampling

#endif  // MDM_SAMPLING_TIME_GRID_H_
