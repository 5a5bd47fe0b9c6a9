#include "mdm/model/ema.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace mdm::model {
namespace {

// Decay 0.75 tells the decay from 1 - decay: shadow = 0.75 shadow + 0.25
// parameter (the swapped rule would give (2.5, 5) after one update).
TEST(EmaTest, AveragesAndSwapsByName) {
  const at::Tensor p = at::tensor({1.0, 2.0}, at::kDouble).requires_grad_();
  const at::Tensor q = at::tensor({5.0}, at::kDouble).requires_grad_();
  Ema ema({{"network.p", p}, {"diffusion.q", q}}, 0.75);
  {
    at::NoGradGuard no_grad;
    p.copy_(at::tensor({3.0, 6.0}, at::kDouble));
  }
  ema.Update();  // 0.75 * (1, 2) + 0.25 * (3, 6).
  EXPECT_TRUE(at::allclose(ema.shadows().at("network.p"),
                           at::tensor({1.5, 3.0}, at::kDouble)));
  EXPECT_TRUE(at::allclose(ema.shadows().at("diffusion.q"),
                           at::tensor({5.0}, at::kDouble)));
  ema.Swap();
  EXPECT_TRUE(at::allclose(p, at::tensor({1.5, 3.0}, at::kDouble)));
  ema.Swap();
  EXPECT_TRUE(at::allclose(p, at::tensor({3.0, 6.0}, at::kDouble)));
  EXPECT_TRUE(p.requires_grad());
  ema.Update();  // 0.75 * (1.5, 3) + 0.25 * (3, 6).
  EXPECT_TRUE(at::allclose(ema.shadows().at("network.p"),
                           at::tensor({1.875, 3.75}, at::kDouble)));
}

// Saved shadows are matched by name, whatever their order, and a missing
// or misshapen one is an error naming it.
TEST(EmaTest, LoadsShadowsByName) {
  const at::Tensor p = at::zeros({2}, at::kDouble).requires_grad_();
  const at::Tensor q = at::zeros({1}, at::kDouble).requires_grad_();
  Ema ema({{"network.p", p}, {"diffusion.q", q}}, 0.9);
  ASSERT_TRUE(ema.Load({{"diffusion.q", at::full({1}, 7.0, at::kDouble)},
                        {"network.p", at::full({2}, 3.0, at::kDouble)}},
                       "ckpt")
                  .ok());
  EXPECT_EQ(ema.shadows().at("diffusion.q").item<double>(), 7.0);
  EXPECT_EQ(ema.shadows().at("network.p")[1].item<double>(), 3.0);
  EXPECT_EQ(ema.Load({{"network.p", at::zeros({2})}}, "ckpt").message(),
            "the EMA of diffusion.q is missing from ckpt");
  EXPECT_EQ(ema.Load({{"network.p", at::zeros({3})}, {"diffusion.q", at::zeros({1})}},
                     "ckpt")
                .message(),
            "the EMA of network.p has shape [3] in ckpt but [2] in the model");
}

}  // namespace
}  // namespace mdm::model
