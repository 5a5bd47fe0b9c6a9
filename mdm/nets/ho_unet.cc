#include "mdm/nets/ho_unet.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/container/any.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "mdm/nets/embeddings.h"

namespace mdm::nets {
namespace {

namespace F = torch::nn::functional;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::GroupNorm;
using torch::nn::GroupNormOptions;
using torch::nn::Linear;

GroupNorm Norm(int64_t channels) {
  return GroupNorm(GroupNormOptions(std::min<int64_t>(32, channels), channels));
}

// DDPM's attention: GroupNorm(32), zero-initialized output projection.
SelfAttention2d Attention(int64_t channels) {
  return SelfAttention2d(
      SelfAttention2dOptions(channels, std::min<int64_t>(32, channels)));
}

// TensorFlow's "SAME" padding for a 3x3, stride-2 convolution: output
// ceil(n / 2), the extra row or column (if any) at the bottom or right.
at::Tensor PadSameStride2(const at::Tensor& x) {
  auto pads = [](int64_t n) {
    const int64_t total = std::max<int64_t>(((n + 1) / 2 - 1) * 2 + 3 - n, 0);
    return std::pair<int64_t, int64_t>(total / 2, total - total / 2);
  };
  const auto [top, bottom] = pads(x.size(2));
  const auto [left, right] = pads(x.size(3));
  return F::pad(x, F::PadFuncOptions({left, right, top, bottom}));
}

}  // namespace

HoResBlockImpl::HoResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim,
                               double dropout)
    : dropout_(dropout) {
  norm1_ = register_module("norm1", Norm(in_ch));
  conv1_ = register_module("conv1", Conv3x3(in_ch, out_ch));
  temb_proj_ = register_module("temb_proj", Linear(temb_dim, out_ch));
  norm2_ = register_module("norm2", Norm(out_ch));
  conv2_ = register_module("conv2", Conv3x3(out_ch, out_ch));
  ScaleInit(conv2_, 0.0);
  if (in_ch != out_ch)
    shortcut_ = register_module("nin_shortcut", Conv1x1(in_ch, out_ch));
}

at::Tensor HoResBlockImpl::forward(const at::Tensor& x,
                                   const at::Tensor& temb) {
  at::Tensor h = conv1_->forward(at::silu(norm1_->forward(x)));
  h = h + temb_proj_->forward(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = at::silu(norm2_->forward(h));
  h = F::dropout(h,
                 F::DropoutFuncOptions().p(dropout_).training(is_training()));
  h = conv2_->forward(h);
  return (shortcut_ ? shortcut_->forward(x) : x) + h;
}

HoUNetImpl::HoUNetImpl(const HoUNetOptions& options) : options_(options) {
  const int64_t ch = options.ch();
  const std::vector<int64_t>& mult = options.ch_mult();
  const int64_t levels = static_cast<int64_t>(mult.size());
  TORCH_CHECK(levels >= 1, "ch_mult must not be empty");
  const int64_t io = options.num_vars() * options.channels();
  const int64_t temb_dim = 4 * ch;
  auto attn_at = [&](int64_t resolution) {
    const auto& r = options.attn_resolutions();
    return std::find(r.begin(), r.end(), resolution) != r.end();
  };

  temb0_ = register_module("temb_dense0", Linear(ch, temb_dim));
  temb1_ = register_module("temb_dense1", Linear(temb_dim, temb_dim));
  conv_in_ = register_module("conv_in", Conv3x3(io, ch));
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  down_attns_ = register_module("down_attns", torch::nn::ModuleList());
  downsamples_ = register_module("downsamples", torch::nn::ModuleList());
  std::vector<int64_t> skip_channels = {ch};
  int64_t in = ch;
  int64_t resolution = options.resolution();
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t out = ch * mult[level];
    for (int64_t b = 0; b < options.num_res_blocks(); ++b) {
      down_blocks_->push_back(HoResBlock(in, out, temb_dim, options.dropout()));
      in = out;
      down_has_attn_.push_back(attn_at(resolution));
      if (down_has_attn_.back()) down_attns_->push_back(Attention(in));
      skip_channels.push_back(in);
    }
    if (level + 1 < levels) {
      downsamples_->push_back(Conv2d(Conv2dOptions(in, in, 3).stride(2)));
      skip_channels.push_back(in);
      resolution = (resolution + 1) / 2;
    }
  }
  mid_block1_ = register_module(
      "mid_block1", HoResBlock(in, in, temb_dim, options.dropout()));
  mid_attn_ = register_module("mid_attn", Attention(in));
  mid_block2_ = register_module(
      "mid_block2", HoResBlock(in, in, temb_dim, options.dropout()));
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  up_attns_ = register_module("up_attns", torch::nn::ModuleList());
  upsamples_ = register_module("upsamples", torch::nn::ModuleList());
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t out = ch * mult[level];
    for (int64_t b = 0; b <= options.num_res_blocks(); ++b) {
      up_blocks_->push_back(HoResBlock(in + skip_channels.back(), out, temb_dim,
                                       options.dropout()));
      skip_channels.pop_back();
      in = out;
      up_has_attn_.push_back(attn_at(resolution));
      if (up_has_attn_.back()) up_attns_->push_back(Attention(in));
    }
    if (level > 0) {
      upsamples_->push_back(Conv3x3(in, in));
      resolution *= 2;
    }
  }
  norm_out_ = register_module("norm_out", Norm(in));
  conv_out_ = register_module("conv_out", Conv3x3(in, io));
  ScaleInit(conv_out_, 0.0);
}

at::Tensor HoUNetImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  TORCH_CHECK(u.dim() == 5 && u.size(1) == options_.num_vars() &&
                  u.size(2) == options_.channels(),
              "HoUNet expects [batch, ", options_.num_vars(), ", ",
              options_.channels(), ", H, W], got ", u.sizes());
  const int64_t levels = static_cast<int64_t>(options_.ch_mult().size());
  at::Tensor temb = SinusoidalEmbedding(t.to(u.dtype()) * options_.time_scale(),
                                        options_.ch());
  temb = temb1_->forward(at::silu(temb0_->forward(temb)));

  std::vector<at::Tensor> skips = {conv_in_->forward(StateToChannels(u))};
  size_t block = 0, attn = 0;
  for (int64_t level = 0; level < levels; ++level) {
    for (int64_t b = 0; b < options_.num_res_blocks(); ++b, ++block) {
      at::Tensor h =
          down_blocks_[block]->as<HoResBlock>()->forward(skips.back(), temb);
      if (down_has_attn_[block])
        h = down_attns_[attn++]->as<SelfAttention2d>()->forward(h);
      skips.push_back(h);
    }
    if (level + 1 < levels) {
      skips.push_back(downsamples_[level]->as<Conv2d>()->forward(
          PadSameStride2(skips.back())));
    }
  }
  at::Tensor h = mid_block1_->forward(skips.back(), temb);
  h = mid_attn_->forward(h);
  h = mid_block2_->forward(h, temb);

  block = 0;
  attn = 0;
  size_t upsample = 0;
  for (int64_t level = levels - 1; level >= 0; --level) {
    for (int64_t b = 0; b <= options_.num_res_blocks(); ++b, ++block) {
      h = up_blocks_[block]->as<HoResBlock>()->forward(
          at::cat({h, skips.back()}, 1), temb);
      skips.pop_back();
      if (up_has_attn_[block])
        h = up_attns_[attn++]->as<SelfAttention2d>()->forward(h);
    }
    if (level > 0) {
      // Nearest-neighbour upsampling to the next skip's size (2x, or one
      // less where an odd size was rounded up on the way down).
      const at::Tensor& next = skips.back();
      h = F::interpolate(
          h, F::InterpolateFuncOptions()
                 .size(std::vector<int64_t>{next.size(2), next.size(3)})
                 .mode(torch::kNearest));
      h = upsamples_[upsample++]->as<Conv2d>()->forward(h);
    }
  }
  h = conv_out_->forward(at::silu(norm_out_->forward(h)));
  return h.view(u.sizes());
}

}  // namespace mdm::nets
