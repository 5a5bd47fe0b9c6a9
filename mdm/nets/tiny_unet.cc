#include "mdm/nets/tiny_unet.h"

#include <ATen/ATen.h>

#include "mdm/nets/layers.h"

namespace mdm::nets {
namespace {

using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::ConvTranspose2d;
using torch::nn::ConvTranspose2dOptions;
using torch::nn::GroupNorm;
using torch::nn::GroupNormOptions;

// The embedding's bias, GroupNorm and SiLU: the step after every encoder
// convolution. One node keeps the pre-norm sum only (GroupNormSiLU).
at::Tensor Condition(const at::Tensor& h, DenseImpl& dense,
                     const at::Tensor& embed, GroupNorm& norm) {
  return GroupNormSiLU(h + dense.forward(embed), norm);
}

// A decoder step: the normalized, activated pre-norm sum h concatenated
// with the encoder's skip and transposed-convolved to skip_to's size, as
// one node that keeps h and skip but neither the concatenation nor the
// normalized values (GroupNormSiLUCatConvTranspose2d).
at::Tensor Up(const at::Tensor& h, GroupNorm& norm, const at::Tensor& skip,
              ConvTranspose2d& conv, const at::Tensor& skip_to) {
  return GroupNormSiLUCatConvTranspose2d(h, norm, skip, conv,
                                         {skip_to.size(2), skip_to.size(3)});
}

}  // namespace

DenseImpl::DenseImpl(int64_t in, int64_t out)
    : dense_(register_module("dense", torch::nn::Linear(in, out))) {}

at::Tensor DenseImpl::forward(const at::Tensor& x) {
  return dense_->forward(x).unsqueeze(-1).unsqueeze(-1);
}

TinyUNetImpl::TinyUNetImpl(const TinyUNetOptions& options) : options_(options) {
  const std::vector<int64_t>& w = options.widths();
  TORCH_CHECK(w.size() == 4, "TinyUNet has 4 levels");
  const int64_t io = options.num_vars() * options.channels();
  const int64_t e = options.embed_dim();
  const int64_t pad = options.padded() ? 1 : 0;
  auto conv = [pad](int64_t in, int64_t out, int64_t stride) {
    return Conv2d(
        Conv2dOptions(in, out, 3).stride(stride).padding(pad).bias(false));
  };
  auto tconv = [pad](int64_t in, int64_t out) {
    return ConvTranspose2d(
        ConvTranspose2dOptions(in, out, 3).stride(2).padding(pad).bias(false));
  };
  auto norm = [](int64_t groups, int64_t channels) {
    return GroupNorm(GroupNormOptions(groups, channels));
  };
  // Registration order is the original's, so parameters() lists them in
  // the original's order too.
  embed_ = register_module(
      "embed",
      torch::nn::Sequential(
          GaussianFourierProjection(e, options.fourier_scale(), options.seed()),
          torch::nn::Linear(e, e)));
  conv1_ = register_module("conv1", conv(io, w[0], 1));
  dense1_ = register_module("dense1", Dense(e, w[0]));
  gnorm1_ = register_module("gnorm1", norm(4, w[0]));
  conv2_ = register_module("conv2", conv(w[0], w[1], 2));
  dense2_ = register_module("dense2", Dense(e, w[1]));
  gnorm2_ = register_module("gnorm2", norm(32, w[1]));
  conv3_ = register_module("conv3", conv(w[1], w[2], 2));
  dense3_ = register_module("dense3", Dense(e, w[2]));
  gnorm3_ = register_module("gnorm3", norm(32, w[2]));
  conv4_ = register_module("conv4", conv(w[2], w[3], 2));
  dense4_ = register_module("dense4", Dense(e, w[3]));
  gnorm4_ = register_module("gnorm4", norm(32, w[3]));
  tconv4_ = register_module("tconv4", tconv(w[3], w[2]));
  dense5_ = register_module("dense5", Dense(e, w[2]));
  tgnorm4_ = register_module("tgnorm4", norm(32, w[2]));
  tconv3_ = register_module("tconv3", tconv(2 * w[2], w[1]));
  dense6_ = register_module("dense6", Dense(e, w[1]));
  tgnorm3_ = register_module("tgnorm3", norm(32, w[1]));
  tconv2_ = register_module("tconv2", tconv(2 * w[1], w[0]));
  dense7_ = register_module("dense7", Dense(e, w[0]));
  tgnorm2_ = register_module("tgnorm2", norm(32, w[0]));
  tconv1_ = register_module(
      "tconv1",
      ConvTranspose2d(ConvTranspose2dOptions(2 * w[0], io, 3).padding(pad)));
}

at::Tensor TinyUNetImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  TORCH_CHECK(u.dim() == 5 && u.size(1) == options_.num_vars() &&
                  u.size(2) == options_.channels(),
              "TinyUNet expects [batch, ", options_.num_vars(), ", ",
              options_.channels(), ", H, W], got ", u.sizes());
  TORCH_CHECK(options_.padded() || (u.size(3) >= kTinyUNetMinSize &&
                                    u.size(4) >= kTinyUNetMinSize),
              "TinyUNet needs images of at least ", kTinyUNetMinSize, "x",
              kTinyUNetMinSize, ", got ", u.size(3), "x", u.size(4));
  const at::Tensor embed = at::silu(embed_->forward(t));
  const at::Tensor x = StateToChannels(u);
  // The decoder's h are pre-norm sums (conv output plus embedding bias);
  // Up normalizes and activates each before the next transposed conv.
  const at::Tensor h1 = Condition(conv1_->forward(x), *dense1_, embed, gnorm1_);
  const at::Tensor h2 =
      Condition(conv2_->forward(h1), *dense2_, embed, gnorm2_);
  const at::Tensor h3 =
      Condition(conv3_->forward(h2), *dense3_, embed, gnorm3_);
  const at::Tensor h4 =
      Condition(conv4_->forward(h3), *dense4_, embed, gnorm4_);
  at::Tensor h = ConvTranspose2dTo(tconv4_, h4, {h3.size(2), h3.size(3)}) +
                 dense5_->forward(embed);
  h = Up(h, tgnorm4_, h3, tconv3_, h2) + dense6_->forward(embed);
  h = Up(h, tgnorm3_, h2, tconv2_, h1) + dense7_->forward(embed);
  h = Up(h, tgnorm2_, h1, tconv1_, x);
  return h.view(u.sizes());
}

int64_t TinyUNetMultiplyAdds(const TinyUNetOptions& options, int64_t height,
                             int64_t width) {
  const std::vector<int64_t>& w = options.widths();
  const int64_t io = options.num_vars() * options.channels();
  const int64_t e = options.embed_dim();
  // Side after a 3x3 convolution of `stride`; each transposed convolution
  // returns to its skip connection's side.
  const int64_t pad = options.padded() ? 1 : 0;
  auto down = [pad](int64_t side, int64_t stride) {
    return (side + 2 * pad - 3) / stride + 1;
  };
  // Sides of the input (level 0) and of the four encoder levels.
  int64_t hs[5] = {height, down(height, 1)}, ws[5] = {width, down(width, 1)};
  for (int level = 2; level < 5; ++level) {
    hs[level] = down(hs[level - 1], 2);
    ws[level] = down(ws[level - 1], 2);
  }
  auto area = [&](int level) { return hs[level] * ws[level]; };
  // A convolution: output elements x (input channels x 9). A transposed
  // one: input elements x (output channels x 9).
  const int64_t encoder = area(1) * w[0] * io * 9 + area(2) * w[1] * w[0] * 9 +
                          area(3) * w[2] * w[1] * 9 + area(4) * w[3] * w[2] * 9;
  const int64_t decoder =
      area(4) * w[3] * w[2] * 9 + area(3) * 2 * w[2] * w[1] * 9 +
      area(2) * 2 * w[1] * w[0] * 9 + area(1) * 2 * w[0] * io * 9;
  // The time embedding's dense layer and the seven projections of it.
  const int64_t dense =
      e * e + e * (w[0] + w[1] + w[2] + w[3] + w[2] + w[1] + w[0]);
  return encoder + decoder + dense;
}

}  // namespace mdm::nets
