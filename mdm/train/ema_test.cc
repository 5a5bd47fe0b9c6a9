#include "mdm/train/ema.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace mdm::train {
namespace {

TEST(EmaTest, AveragesAndSwaps) {
  const at::Tensor p = at::tensor({1.0, 2.0}, at::kDouble).requires_grad_();
  Ema ema({p}, 0.5);
  {
    at::NoGradGuard no_grad;
    p.copy_(at::tensor({3.0, 6.0}, at::kDouble));
  }
  ema.Update();  // 0.5 * (1, 2) + 0.5 * (3, 6).
  EXPECT_TRUE(
      at::allclose(ema.shadow()[0], at::tensor({2.0, 4.0}, at::kDouble)));
  ema.Swap();
  EXPECT_TRUE(at::allclose(p, at::tensor({2.0, 4.0}, at::kDouble)));
  ema.Swap();
  EXPECT_TRUE(at::allclose(p, at::tensor({3.0, 6.0}, at::kDouble)));
  EXPECT_TRUE(p.requires_grad());
}

}  // namespace
}  // namespace mdm::train
