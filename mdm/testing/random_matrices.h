// Random valid diffusion matrices (antisymmetric Q, PSD D, positive
// stationary variances) for tests and benchmarks, reproducible from a seed.
#ifndef MDM_TESTING_RANDOM_MATRICES_H_
#define MDM_TESTING_RANDOM_MATRICES_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace mdm::testing {

// A CPU generator seeded with `seed`.
at::Generator MakeGenerator(uint64_t seed);

// Q = W - W^T with W ~ N(0, 1): [K, K] float64.
at::Tensor RandomAntisymmetric(int64_t K, at::Generator& gen);

// D = B B^T / K + floor I with B ~ N(0, 1): [K, K] float64, symmetric and
// positive definite for floor > 0 (PSD for floor = 0).
at::Tensor RandomPsd(int64_t K, at::Generator& gen, double floor = 0.1);

// Stationary variances uniform in [0.5, 2): [K] float64.
at::Tensor RandomStationaryVariances(int64_t K, at::Generator& gen);

}  // namespace mdm::testing

#endif  // MDM_TESTING_RANDOM_MATRICES_H_
