#include "mdm/data/toy.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace mdm::data {

at::Tensor SampleToy(ToyKind kind, int64_t n, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // host: data is made and kept on the host; batches move
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor x, y;
  switch (kind) {
    case ToyKind::kCheckerboard: {
      // 8 alternating unit squares of [-2, 2]^2, scaled by 2.
      x = at::rand({n}, gen, f64) * 4 - 2;
      const at::Tensor row = at::randint(0, 2, {n}, gen, f64) * 2;
      y = at::rand({n}, gen, f64) - row + at::remainder(at::floor(x), 2);
      x = x * 2;
      y = y * 2;
      break;
    }
    case ToyKind::kSwissRoll: {
      // The 2-D roll r = theta, theta in [1.5 pi, 4.5 pi], with noise.
      const at::Tensor theta = 1.5 * M_PI * (1 + 2 * at::rand({n}, gen, f64));
      x = (theta * at::cos(theta) + at::randn({n}, gen, f64)) / 5;
      y = (theta * at::sin(theta) + at::randn({n}, gen, f64)) / 5;
      break;
    }
    case ToyKind::kEightGaussians: {
      // Unit-variance-0.25 blobs at 8 points of the radius-4 circle, / sqrt 2.
      const at::Tensor angle = at::randint(0, 8, {n}, gen, f64) * (M_PI / 4);
      x = (4 * at::cos(angle) + 0.5 * at::randn({n}, gen, f64)) /
          std::sqrt(2.0);
      y = (4 * at::sin(angle) + 0.5 * at::randn({n}, gen, f64)) /
          std::sqrt(2.0);
      break;
    }
    case ToyKind::kTwoMoons: {
      // Two interleaved half circles with N(0, 0.1^2) noise, scaled by 2.
      const at::Tensor upper = at::randint(0, 2, {n}, gen, f64);
      const at::Tensor angle = at::rand({n}, gen, f64) * M_PI;
      x = at::where(upper.gt(0), at::cos(angle), 1 - at::cos(angle));
      y = at::where(upper.gt(0), at::sin(angle), 0.5 - at::sin(angle));
      x = 2 * (x + 0.1 * at::randn({n}, gen, f64)) - 1;
      y = 2 * (y + 0.1 * at::randn({n}, gen, f64)) - 0.5;
      break;
    }
  }
  return at::stack({x, y}, 1).to(at::kFloat);
}

}  // namespace mdm::data
