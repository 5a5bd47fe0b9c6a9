#include "mdm/nets/layers.h"

#include <ATen/ATen.h>

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

void ScaleInit(const Conv2d& conv, double scale) {
  at::NoGradGuard no_grad;
  conv->weight.mul_(scale);
  if (conv->bias.defined()) conv->bias.zero_();
}

SelfAttention2dImpl::SelfAttention2dImpl(const SelfAttention2dOptions& options)
    : options_(options) {
  const int64_t c = options.channels();
  norm_ =
      register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(
                                  options.num_groups(), c)));
  q_ = register_module("q", Conv1x1(c, c));
  k_ = register_module("k", Conv1x1(c, c));
  v_ = register_module("v", Conv1x1(c, c));
  proj_out_ = register_module("proj_out", Conv1x1(c, c));
  ScaleInit(proj_out_, options.init_scale());
}

at::Tensor SelfAttention2dImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const at::Tensor h = norm_->forward(x);
  const at::Tensor q = q_->forward(h).view({B, C, H * W});
  const at::Tensor k = k_->forward(h).view({B, C, H * W});
  const at::Tensor v = v_->forward(h).view({B, C, H * W});
  // w[b, i, j] = <q_i, k_j> / sqrt(C), normalized over j.
  const at::Tensor w = at::softmax(
      at::bmm(q.transpose(1, 2), k) / std::sqrt(static_cast<double>(C)), -1);
  const at::Tensor out =
      x + proj_out_->forward(at::bmm(v, w.transpose(1, 2)).view({B, C, H, W}));
  return options_.skip_rescale() ? out / std::sqrt(2.0) : out;
}

}  // namespace mdm::nets
