#include "mdm/nets/ho_unet.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/moduledict.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "mdm/nets/embeddings.h"

namespace mdm::nets {
namespace {

namespace F = torch::nn::functional;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::GroupNorm;
using torch::nn::GroupNormOptions;
using torch::nn::Linear;

constexpr FanMode kFan = FanMode::kFanOut;

GroupNorm Norm(int64_t channels) {
  return GroupNorm(
      GroupNormOptions(std::min<int64_t>(32, channels), channels).eps(1e-6));
}

Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
            double init_scale) {
  Conv2d conv(
      Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
  VarianceScalingInit(conv, init_scale, kFan);
  return conv;
}

Linear Dense(int64_t in, int64_t out) {
  Linear linear(in, out);
  VarianceScalingInit(linear, 1.0, kFan);
  return linear;
}

SelfAttention2d Attention(int64_t channels) {
  return SelfAttention2d(
      SelfAttention2dOptions(channels, std::min<int64_t>(32, channels))
          .fan_mode(kFan));
}

}  // namespace

HoResBlockImpl::HoResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim,
                               double dropout)
    : dropout_(dropout) {
  temb_proj_ = register_module("temb_proj", Dense(temb_dim, out_ch));
  norm1_ = register_module("norm1", Norm(in_ch));
  conv1_ = register_module("conv1", Conv(in_ch, out_ch, 3, 1, 1.0));
  norm2_ = register_module("norm2", Norm(out_ch));
  conv2_ = register_module("conv2", Conv(out_ch, out_ch, 3, 1, 0.0));
  if (in_ch != out_ch)
    shortcut_ = register_module("shortcut", Conv(in_ch, out_ch, 1, 1, 1.0));
}

at::Tensor HoResBlockImpl::forward(const at::Tensor& x,
                                   const at::Tensor& temb) {
  at::Tensor h = conv1_->forward(at::silu(norm1_->forward(x)));
  h = h + temb_proj_->forward(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = at::silu(norm2_->forward(h));
  if (dropout_ > 0) {
    h = F::dropout2d(
        h, F::Dropout2dFuncOptions().p(dropout_).training(is_training()));
  }
  h = conv2_->forward(h);
  return (shortcut_ ? shortcut_->forward(x) : x) + h;
}

HoTimestepEmbeddingImpl::HoTimestepEmbeddingImpl(int64_t ch, int64_t temb_dim,
                                                 double time_scale)
    : ch_(ch), time_scale_(time_scale) {
  main_ = register_module(
      "main", torch::nn::Sequential(Dense(ch, temb_dim), torch::nn::SiLU(),
                                    Dense(temb_dim, temb_dim)));
}

at::Tensor HoTimestepEmbeddingImpl::forward(const at::Tensor& t) {
  const at::Tensor scaled = time_scale_ == 1.0 ? t : t * time_scale_;
  return main_->forward(SinusoidalEmbedding(scaled, ch_));
}

HoUpsampleImpl::HoUpsampleImpl(int64_t channels)
    : up_conv_(register_module("up_conv", Conv(channels, channels, 3, 1, 1.0))) {}

at::Tensor HoUpsampleImpl::forward(const at::Tensor& x, at::IntArrayRef size) {
  return up_conv_->forward(F::interpolate(
      x, F::InterpolateFuncOptions().size(size.vec()).mode(torch::kNearest)));
}

// One piece on purpose (about 80 lines): the modules are registered in the
// original's order, which fixes the parameter order that imported
// checkpoints are matched in; split up, that order would no longer read as
// one list.
HoUNetImpl::HoUNetImpl(const HoUNetOptions& options) : options_(options) {
  const int64_t ch = options.ch();
  const std::vector<int64_t>& mult = options.ch_mult();
  const int64_t levels = static_cast<int64_t>(mult.size());
  TORCH_CHECK(levels >= 1, "ch_mult must not be empty");
  const int64_t io = options.num_vars() * options.channels();
  const int64_t temb_dim = 4 * ch;
  const double dropout = options.dropout();
  auto attn_at = [&](int64_t resolution) {
    const auto& r = options.attn_resolutions();
    return std::find(r.begin(), r.end(), resolution) != r.end();
  };
  // Adds `module` to `dict` under `key` and to the path's call order.
  auto add = [](torch::nn::ModuleDict& dict, const std::string& key,
                std::shared_ptr<torch::nn::Module> module, Layer::Kind kind,
                std::vector<Layer>& path) {
    path.push_back({kind, module.get()});
    dict->update(std::vector<std::pair<std::string,
                                       std::shared_ptr<torch::nn::Module>>>{
        {key, std::move(module)}});
  };

  temb_net_ = register_module(
      "temb_net", HoTimestepEmbedding(ch, temb_dim, options.time_scale()));
  begin_conv_ = register_module("begin_conv", Conv(io, ch, 3, 1, 1.0));
  down_modules_ = register_module("down_modules", torch::nn::ModuleList());
  std::vector<int64_t> skip_channels = {ch};
  int64_t in = ch;
  int64_t resolution = options.resolution();
  for (int64_t level = 0; level < levels; ++level) {
    torch::nn::ModuleDict blocks;
    const int64_t out = ch * mult[level];
    for (int64_t b = 0; b < options.num_res_blocks(); ++b) {
      const std::string prefix = absl::StrCat(level, "a_", b);
      add(blocks, prefix + "a_block",
          HoResBlock(in, out, temb_dim, dropout).ptr(), Layer::kBlock, down_);
      in = out;
      if (attn_at(resolution)) {
        add(blocks, prefix + "b_attn", Attention(out).ptr(), Layer::kAttention,
            down_);
      }
      skip_channels.push_back(out);
    }
    if (level + 1 < levels) {
      add(blocks, absl::StrCat(level, "b_downsample"),
          Conv(out, out, 3, 2, 1.0).ptr(), Layer::kResample, down_);
      resolution = (resolution + 1) / 2;
      skip_channels.push_back(out);
    }
    down_modules_->push_back(blocks);
  }
  mid_modules_ = register_module(
      "mid_modules",
      torch::nn::ModuleList(HoResBlock(in, in, temb_dim, dropout),
                            Attention(in),
                            HoResBlock(in, in, temb_dim, dropout)));
  up_modules_ = register_module("up_modules", torch::nn::ModuleList());
  for (int64_t level = levels - 1; level >= 0; --level) {
    torch::nn::ModuleDict blocks;
    const int64_t out = ch * mult[level];
    for (int64_t b = 0; b <= options.num_res_blocks(); ++b) {
      const std::string prefix = absl::StrCat(level, "a_", b);
      add(blocks, prefix + "a_block",
          HoResBlock(in + skip_channels.back(), out, temb_dim, dropout).ptr(),
          Layer::kBlock, up_);
      skip_channels.pop_back();
      in = out;
      if (attn_at(resolution)) {
        add(blocks, prefix + "b_attn", Attention(out).ptr(), Layer::kAttention,
            up_);
      }
    }
    if (level > 0) {
      add(blocks, absl::StrCat(level, "b_upsample"), HoUpsample(out).ptr(),
          Layer::kResample, up_);
      resolution *= 2;
    }
    up_modules_->push_back(blocks);
  }
  end_conv_ = register_module(
      "end_conv", torch::nn::Sequential(Norm(in), torch::nn::SiLU(),
                                        Conv(in, io, 3, 1, 0.0)));
}

at::Tensor HoUNetImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  TORCH_CHECK(u.dim() == 5 && u.size(1) == options_.num_vars() &&
                  u.size(2) == options_.channels(),
              "HoUNet expects [batch, ", options_.num_vars(), ", ",
              options_.channels(), ", H, W], got ", u.sizes());
  const at::Tensor temb = temb_net_->forward(t);
  std::vector<at::Tensor> skips = {
      begin_conv_->forward(StateToChannels(u))};
  for (const Layer& layer : down_) {
    switch (layer.kind) {
      case Layer::kBlock:
        skips.push_back(
            layer.module->as<HoResBlockImpl>()->forward(skips.back(), temb));
        break;
      case Layer::kAttention:  // Refines the block output it follows.
        skips.back() =
            layer.module->as<SelfAttention2dImpl>()->forward(skips.back());
        break;
      case Layer::kResample:
        skips.push_back(
            layer.module->as<torch::nn::Conv2dImpl>()->forward(skips.back()));
        break;
    }
  }
  at::Tensor h = skips.back();
  h = mid_modules_[0]->as<HoResBlock>()->forward(h, temb);
  h = mid_modules_[1]->as<SelfAttention2d>()->forward(h);
  h = mid_modules_[2]->as<HoResBlock>()->forward(h, temb);
  for (const Layer& layer : up_) {
    switch (layer.kind) {
      case Layer::kBlock:
        h = layer.module->as<HoResBlockImpl>()
                ->forward(at::cat({h, skips.back()}, 1), temb);
        skips.pop_back();
        break;
      case Layer::kAttention:
        h = layer.module->as<SelfAttention2dImpl>()->forward(h);
        break;
      case Layer::kResample:  // To the next skip's size.
        h = layer.module->as<HoUpsampleImpl>()
                ->forward(h, skips.back().sizes().slice(2));
        break;
    }
  }
  return end_conv_->forward(h).view(u.sizes());
}

}  // namespace mdm::nets
