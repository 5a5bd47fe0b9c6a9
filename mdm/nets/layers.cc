#include "mdm/nets/layers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace mdm::nets {

using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;

Conv2d Conv3x3(int64_t in, int64_t out) {
  return Conv2d(Conv2dOptions(in, out, 3).padding(1));
}

Conv2d Conv1x1(int64_t in, int64_t out) {
  return Conv2d(Conv2dOptions(in, out, 1));
}

at::Tensor ConvTranspose2dTo(torch::nn::ConvTranspose2d& conv,
                             const at::Tensor& x, at::IntArrayRef output_size) {
  const auto& options = conv->options;
  const at::Tensor& weight = conv->weight;  // [Cin, Cout, kh, kw]
  const int64_t batch = x.size(0), in = x.size(1);
  const int64_t pixels = x.size(2) * x.size(3);
  const std::array<int64_t, 2> ones = {1, 1}, zeros = {0, 0};
  const auto* padding =
      c10::get_if<torch::ExpandingArray<2>>(&options.padding());
  const bool plain = options.groups() == 1 && *options.dilation() == ones &&
                     padding != nullptr && **padding == zeros;
  // The single GEMM was measured against LibTorch's CPU kernel only; an
  // accelerator keeps LibTorch's own (cuDNN's).
  if (!plain || pixels > kBatchedTransposedConvPixels || !x.is_cpu()) {
    return conv->forward(x, output_size.vec());
  }
  const int64_t out = weight.size(1);
  const int64_t kh = weight.size(2), kw = weight.size(3);
  // cols [Cout kh kw, B H W] = W^T [Cout kh kw, Cin] x [Cin, B H W].
  const at::Tensor cols =
      weight.reshape({in, out * kh * kw})
          .t()
          .mm(x.transpose(0, 1).reshape({in, batch * pixels}));
  at::Tensor y = at::col2im(
      cols.view({out * kh * kw, batch, pixels}).transpose(0, 1), output_size,
      {kh, kw}, /*dilation=*/{1, 1}, /*padding=*/{0, 0}, *options.stride());
  if (conv->bias.defined()) y = y + conv->bias.view({1, out, 1, 1});
  return y;
}

void VarianceScalingInit(at::Tensor weight, at::Tensor bias, double scale,
                         FanMode mode) {
  TORCH_CHECK(weight.dim() >= 2,
              "variance scaling needs a [out, in, ...] weight");
  const double receptive = static_cast<double>(weight[0][0].numel());
  const double fan_in = weight.size(1) * receptive;
  const double fan_out = weight.size(0) * receptive;
  const double fan = mode == FanMode::kFanIn    ? fan_in
                     : mode == FanMode::kFanOut ? fan_out
                                                : (fan_in + fan_out) / 2;
  const double variance = (scale == 0 ? 1e-10 : scale) / std::max(1.0, fan);
  const double bound = std::sqrt(3 * variance);
  at::NoGradGuard no_grad;
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.zero_();
}

void VarianceScalingInit(const Conv2d& conv, double scale, FanMode mode) {
  VarianceScalingInit(conv->weight, conv->bias, scale, mode);
}

void VarianceScalingInit(const torch::nn::Linear& linear, double scale,
                         FanMode mode) {
  VarianceScalingInit(linear->weight, linear->bias, scale, mode);
}

SelfAttention2dImpl::SelfAttention2dImpl(const SelfAttention2dOptions& options)
    : options_(options) {
  const int64_t c = options.channels();
  // Registration in the original's order.
  q_ = register_module("attn_q", Conv1x1(c, c));
  k_ = register_module("attn_k", Conv1x1(c, c));
  v_ = register_module("attn_v", Conv1x1(c, c));
  proj_out_ = register_module("proj_out", Conv1x1(c, c));
  norm_ = register_module(
      "norm",
      torch::nn::GroupNorm(torch::nn::GroupNormOptions(options.num_groups(), c)
                               .eps(options.norm_eps())));
  for (const Conv2d& conv : {q_, k_, v_})
    VarianceScalingInit(conv, 1.0, options.fan_mode());
  VarianceScalingInit(proj_out_, options.init_scale(), options.fan_mode());
}

at::Tensor SelfAttention2dImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const at::Tensor h = norm_->forward(x);
  const at::Tensor q = q_->forward(h).view({B, C, H * W});
  const at::Tensor k = k_->forward(h).view({B, C, H * W});
  const at::Tensor v = v_->forward(h).view({B, C, H * W});
  // w[b, i, j] = <q_i, k_j> / sqrt(C), normalized over j.
  const at::Tensor w = at::softmax(
      at::bmm(q.transpose(1, 2), k) * std::pow(static_cast<double>(C), -0.5),
      -1);
  const at::Tensor out =
      x + proj_out_->forward(at::bmm(v, w.transpose(1, 2)).view({B, C, H, W}));
  return options_.skip_rescale() ? out / std::sqrt(2.0) : out;
}

}  // namespace mdm::nets
