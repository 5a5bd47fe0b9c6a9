// Toy 2-D distributions generated in memory from a seed (the usual
// density-estimation benchmarks): fast data for tests, demos and the MLP.
#ifndef MDM_DATA_TOY_H_
#define MDM_DATA_TOY_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mdm::data {

enum class ToyKind { kCheckerboard, kSwissRoll, kEightGaussians, kTwoMoons };

// n points [n, 2] float32, the same for the same seed. Roughly centered,
// with coordinates within about [-4, 4].
at::Tensor SampleToy(ToyKind kind, int64_t n, uint64_t seed);

}  // namespace mdm::data

#endif  // MDM_DATA_TOY_H_
