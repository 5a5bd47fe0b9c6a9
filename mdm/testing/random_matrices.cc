#include "mdm/testing/random_matrices.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace mdm::testing {

at::Generator MakeGenerator(uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Tensor RandomAntisymmetric(int64_t K, at::Generator& gen) {
  const at::Tensor W = at::randn({K, K}, gen, at::kDouble);
  return W - W.t();
}

at::Tensor RandomPsd(int64_t K, at::Generator& gen, double floor) {
  const at::Tensor B = at::randn({K, K}, gen, at::kDouble);
  return at::matmul(B, B.t()) / static_cast<double>(K) +
         floor * at::eye(K, at::kDouble);
}

at::Tensor RandomStationaryVariances(int64_t K, at::Generator& gen) {
  return 0.5 + 1.5 * at::rand({K}, gen, at::kDouble);
}

}  // namespace mdm::testing
