// Our networks compute the original's functions: each fixture holds a
// state dict under the original's parameter names (every parameter
// perturbed so that every layer matters), inputs in the original's
// flattened layout [batch, K * C * H * W] (variable k's block at k*C*H*W),
// and the original network's outputs in eval mode, all from Debian's
// PyTorch 1.13 (testdata/original/*.txt says how each was built).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mdm/nets/ho_unet.h"
#include "mdm/nets/mlp.h"
#include "mdm/nets/tiny_unet.h"
#include "mdm/util/state_dict.h"

namespace mdm::nets {
namespace {

util::TensorDict Fixture(const std::string& name) {
  absl::StatusOr<util::TensorDict> dict =
      util::ReadTensorDict("testdata/original/" + name + ".pt");
  EXPECT_TRUE(dict.ok()) << dict.status();
  return dict.ok() ? *dict : util::TensorDict{};
}

// Loads the fixture's weights by name, runs the network on its inputs in
// the state layout and returns the largest error relative to the largest
// output.
double RelativeError(ScoreModel& net, const util::TensorDict& fixture,
                     at::IntArrayRef state_shape) {
  const absl::Status loaded =
      util::LoadStateDict(net, fixture, "state_dict.", "the fixture");
  EXPECT_TRUE(loaded.ok()) << loaded;
  if (!loaded.ok()) return 1e9;
  net.eval();
  at::NoGradGuard no_grad;
  const at::Tensor u = fixture.at("u").view(state_shape);
  const at::Tensor out = net.forward(u, fixture.at("t")).flatten(1);
  const at::Tensor expected = fixture.at("out");
  EXPECT_EQ(out.sizes(), expected.sizes());
  return ((out - expected).abs().max() / expected.abs().max()).item<double>();
}

TEST(OriginalNetworksTest, TinyUNet) {
  const util::TensorDict fixture = Fixture("tiny_unet_k3_28x28x1");
  TinyUNet net(TinyUNetOptions(3, 1));
  // Every tensor of ours has a counterpart: the load is strict.
  EXPECT_EQ(util::StateDict(*net).size() + 3, fixture.size());
  EXPECT_LT(RelativeError(*net, fixture, {-1, 3, 1, 28, 28}), 2e-6);
}

TEST(OriginalNetworksTest, HoUNetMnist) {
  const util::TensorDict fixture = Fixture("ho_unet_ch32_k2_28x28x1");
  HoUNet net(HoUNetOptions(2, 1, 28).ch(32).ch_mult({1, 2, 2}));
  EXPECT_EQ(util::StateDict(*net).size() + 3, fixture.size());
  // Float32 rounding through 30 convolutions and attention: 2.1e-6 with
  // OpenBLAS's AMD Zen kernels, under 2e-6 with its Intel ones; a wrong
  // time input is off by more than 1e-3 (ADifferentTimeInputFails).
  EXPECT_LT(RelativeError(*net, fixture, {-1, 2, 1, 28, 28}), 5e-6);
}

TEST(OriginalNetworksTest, Mlp) {
  const util::TensorDict fixture = Fixture("mlp_k3_dim2");
  Mlp net(MlpOptions(3, 2));
  EXPECT_EQ(util::StateDict(*net).size() + 3, fixture.size());
  EXPECT_LT(RelativeError(*net, fixture, {-1, 3, 2}), 2e-6);
}

// The comparison can fail: the padded convolutions of a different U-Net,
// or t scaled by 1000 as DDPM does, move the outputs far beyond rounding.
TEST(OriginalNetworksTest, ADifferentTimeInputFails) {
  const util::TensorDict fixture = Fixture("ho_unet_ch32_k2_28x28x1");
  HoUNet net(
      HoUNetOptions(2, 1, 28).ch(32).ch_mult({1, 2, 2}).time_scale(1000));
  EXPECT_GT(RelativeError(*net, fixture, {-1, 2, 1, 28, 28}), 1e-3);
}

}  // namespace
}  // namespace mdm::nets
