#include "mdm/nets/ncsnpp.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace mdm::nets {
namespace {

namespace F = torch::nn::functional;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::GroupNorm;
using torch::nn::GroupNormOptions;
using torch::nn::Linear;

GroupNorm Norm(int64_t channels) {
  return GroupNorm(GroupNormOptions(
                       std::max<int64_t>(1, std::min<int64_t>(channels / 4, 32)),
                       channels)
                       .eps(1e-6));
}

// score_sde's DDPM initialization of every convolution and dense layer.
template <typename Layer>
Layer Init(Layer layer, double scale = 1.0) {
  VarianceScalingInit(layer, scale, FanMode::kFanAvg);
  return layer;
}

// upfirdn2d: zero-insertion upsampling by `up`, padding (negative crops),
// filtering with the flipped 2-D kernel, and keeping every `down`-th pixel.
at::Tensor UpFirDn2d(const at::Tensor& x, const at::Tensor& kernel, int64_t up,
                     int64_t down, int64_t pad0, int64_t pad1) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  at::Tensor h = x.reshape({B * C, 1, H, 1, W, 1});
  h = F::pad(h, F::PadFuncOptions({0, up - 1, 0, 0, 0, up - 1}));
  h = h.view({B * C, 1, H * up, W * up});
  h = F::pad(h, F::PadFuncOptions({pad0, pad1, pad0, pad1}));
  const at::Tensor w = kernel.flip({0, 1})
                           .to(h.options())
                           .view({1, 1, kernel.size(0), kernel.size(1)});
  h = at::conv2d(h, w);
  h = h.slice(2, 0, h.size(2), down).slice(3, 0, h.size(3), down);
  return h.reshape({B, C, h.size(2), h.size(3)});
}

at::Tensor MakeKernel(const std::vector<double>& k1d) {
  // host: a buffer made on the host, as PyTorch's; Module::to moves it
  const at::Tensor k = at::tensor(k1d, at::kFloat);
  const at::Tensor k2d = at::outer(k, k);
  return k2d / k2d.sum();
}

at::Tensor NaiveUpsample2x(const at::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .scale_factor(std::vector<double>{2.0, 2.0})
                               .mode(torch::kNearest));
}

at::Tensor NaiveDownsample2x(const at::Tensor& x) {
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(2));
}

struct BlockConfig {
  int64_t in_ch;
  int64_t out_ch;
  int64_t temb_dim;
  bool up = false;
  bool down = false;
};

// A residual block of either type. BigGAN blocks resample both paths
// inside the block when `up` or `down`; DDPM blocks never resample.
class NcsnResBlockImpl : public torch::nn::Module {
 public:
  NcsnResBlockImpl(const BlockConfig& block, const NcsnppOptions& options)
      : block_(block),
        dropout_(options.dropout()),
        skip_rescale_(options.skip_rescale()),
        fir_(options.fir()),
        fir_kernel_(options.fir_kernel()) {
    norm0_ = register_module("norm0", Norm(block.in_ch));
    conv0_ =
        register_module("conv0", Init(Conv3x3(block.in_ch, block.out_ch)));
    dense0_ = register_module(
        "dense0", Init(Linear(block.temb_dim, block.out_ch)));
    norm1_ = register_module("norm1", Norm(block.out_ch));
    conv1_ = register_module(
        "conv1",
        Init(Conv3x3(block.out_ch, block.out_ch), options.init_scale()));
    if (block.in_ch != block.out_ch || block.up || block.down) {
      shortcut_ =
          register_module("shortcut", Init(Conv1x1(block.in_ch, block.out_ch)));
    }
  }

  at::Tensor forward(at::Tensor x, const at::Tensor& temb) {
    at::Tensor h = at::silu(norm0_->forward(x));
    if (block_.up || block_.down) {
      h = Resample(h);
      x = Resample(x);
    }
    h = conv0_->forward(h);
    h = h + dense0_->forward(at::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    h = at::silu(norm1_->forward(h));
    h = F::dropout(h,
                   F::DropoutFuncOptions().p(dropout_).training(is_training()));
    h = conv1_->forward(h);
    if (shortcut_) x = shortcut_->forward(x);
    return skip_rescale_ ? (x + h) / std::sqrt(2.0) : x + h;
  }

 private:
  at::Tensor Resample(const at::Tensor& x) const {
    if (block_.up)
      return fir_ ? FirUpsample2x(x, fir_kernel_) : NaiveUpsample2x(x);
    return fir_ ? FirDownsample2x(x, fir_kernel_) : NaiveDownsample2x(x);
  }

  BlockConfig block_;
  double dropout_;
  bool skip_rescale_;
  bool fir_;
  std::vector<double> fir_kernel_;
  GroupNorm norm0_{nullptr}, norm1_{nullptr};
  Conv2d conv0_{nullptr}, conv1_{nullptr}, shortcut_{nullptr};
  Linear dense0_{nullptr};
};
TORCH_MODULE(NcsnResBlock);

// NCSN++'s attention: GroupNorm(min(C/4, 32)), optional skip rescaling.
SelfAttention2d Attention(int64_t channels, const NcsnppOptions& options) {
  return SelfAttention2d(
      SelfAttention2dOptions(
          channels, std::max<int64_t>(1, std::min<int64_t>(channels / 4, 32)))
          .skip_rescale(options.skip_rescale())
          .init_scale(options.init_scale()));
}

// DDPM-type resampling between blocks: FIR or naive, then (optionally) a
// 3x3 convolution (stride 2 when downsampling without FIR).
class ResampleImpl : public torch::nn::Module {
 public:
  ResampleImpl(int64_t channels, bool up, const NcsnppOptions& options)
      : up_(up), fir_(options.fir()), fir_kernel_(options.fir_kernel()) {
    if (options.resamp_with_conv()) {
      conv_ = register_module(
          "conv", Init(Conv2d(Conv2dOptions(channels, channels, 3)
                                  .stride(!up && !fir_ ? 2 : 1)
                                  .padding(up || fir_ ? 1 : 0))));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    if (up_) {
      const at::Tensor h =
          fir_ ? FirUpsample2x(x, fir_kernel_) : NaiveUpsample2x(x);
      return conv_ ? conv_->forward(h) : h;
    }
    if (fir_) {
      const at::Tensor h = FirDownsample2x(x, fir_kernel_);
      return conv_ ? conv_->forward(h) : h;
    }
    if (conv_)
      return conv_->forward(F::pad(x, F::PadFuncOptions({0, 1, 0, 1})));
    return NaiveDownsample2x(x);
  }

 private:
  bool up_;
  bool fir_;
  std::vector<double> fir_kernel_;
  Conv2d conv_{nullptr};
};
TORCH_MODULE(Resample);

}  // namespace

at::Tensor FirUpsample2x(const at::Tensor& x,
                         const std::vector<double>& kernel) {
  const at::Tensor k = MakeKernel(kernel) * 4.0;  // gain * factor^2.
  const int64_t p = k.size(0) - 2;
  return UpFirDn2d(x, k, /*up=*/2, /*down=*/1, (p + 1) / 2 + 1, p / 2);
}

at::Tensor FirDownsample2x(const at::Tensor& x,
                           const std::vector<double>& kernel) {
  const at::Tensor k = MakeKernel(kernel);
  const int64_t p = k.size(0) - 2;
  return UpFirDn2d(x, k, /*up=*/1, /*down=*/2, (p + 1) / 2, p / 2);
}

// One piece on purpose (about 90 lines): the modules are registered in
// score_sde's order, which fixes the parameter order that imported
// checkpoints are matched in; split up, that order would no longer read as
// one list.
NcsnppImpl::NcsnppImpl(const NcsnppOptions& options) : options_(options) {
  const int64_t nf = options.nf();
  const std::vector<int64_t>& mult = options.ch_mult();
  const int64_t levels = static_cast<int64_t>(mult.size());
  TORCH_CHECK(levels >= 1, "ch_mult must not be empty");
  const int64_t io = options.num_vars() * options.channels();
  const bool biggan = options.resblock_type() == ResblockType::kBigGan;
  auto attn_at = [&](int64_t resolution) {
    const auto& r = options.attn_resolutions();
    return std::find(r.begin(), r.end(), resolution) != r.end();
  };

  int64_t embed_dim = nf;
  if (options.embedding_type() == TimeEmbedding::kFourier) {
    fourier_ = register_module(
        "fourier", GaussianFourierProjection(2 * nf, options.fourier_scale(),
                                             options.seed()));
    embed_dim = 2 * nf;
  }
  const int64_t temb_dim = 4 * nf;
  temb0_ = register_module("temb_dense0", Init(Linear(embed_dim, temb_dim)));
  temb1_ = register_module("temb_dense1", Init(Linear(temb_dim, temb_dim)));
  conv_in_ = register_module("conv_in", Init(Conv3x3(io, nf)));

  down_ = register_module("down", torch::nn::ModuleList());
  mid_ = register_module("mid", torch::nn::ModuleList());
  up_ = register_module("up", torch::nn::ModuleList());
  std::vector<int64_t> skip_channels = {nf};
  int64_t in = nf;
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t resolution = options.resolution() >> level;
    const int64_t out = nf * mult[level];
    for (int64_t b = 0; b < options.num_res_blocks(); ++b) {
      down_->push_back(NcsnResBlock(BlockConfig{in, out, temb_dim}, options));
      down_kinds_.push_back(Kind::kBlock);
      in = out;
      if (attn_at(resolution)) {
        down_->push_back(Attention(in, options));
        down_kinds_.push_back(Kind::kAttn);
      }
      skip_channels.push_back(in);
    }
    if (level + 1 < levels) {
      if (biggan) {
        down_->push_back(NcsnResBlock(
            BlockConfig{in, in, temb_dim, /*up=*/false, /*down=*/true},
            options));
        down_kinds_.push_back(Kind::kDownBlock);
      } else {
        down_->push_back(Resample(in, /*up=*/false, options));
        down_kinds_.push_back(Kind::kDownsample);
      }
      skip_channels.push_back(in);
    }
  }
  mid_->push_back(NcsnResBlock(BlockConfig{in, in, temb_dim}, options));
  mid_->push_back(Attention(in, options));
  mid_->push_back(NcsnResBlock(BlockConfig{in, in, temb_dim}, options));
  mid_kinds_ = {Kind::kBlock, Kind::kAttn, Kind::kBlock};
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t resolution = options.resolution() >> level;
    const int64_t out = nf * mult[level];
    for (int64_t b = 0; b <= options.num_res_blocks(); ++b) {
      up_->push_back(NcsnResBlock(
          BlockConfig{in + skip_channels.back(), out, temb_dim}, options));
      skip_channels.pop_back();
      up_kinds_.push_back(Kind::kBlock);
      up_takes_skip_.push_back(true);
      in = out;
    }
    if (attn_at(resolution)) {
      up_->push_back(Attention(in, options));
      up_kinds_.push_back(Kind::kAttn);
      up_takes_skip_.push_back(false);
    }
    if (level > 0) {
      if (biggan) {
        up_->push_back(NcsnResBlock(
            BlockConfig{in, in, temb_dim, /*up=*/true, /*down=*/false},
            options));
        up_kinds_.push_back(Kind::kUpBlock);
      } else {
        up_->push_back(Resample(in, /*up=*/true, options));
        up_kinds_.push_back(Kind::kUpsample);
      }
      up_takes_skip_.push_back(false);
    }
  }
  norm_out_ = register_module("norm_out", Norm(in));
  conv_out_ = register_module("conv_out",
                              Init(Conv3x3(in, io), options.init_scale()));
}

at::Tensor NcsnppImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  TORCH_CHECK(u.dim() == 5 && u.size(1) == options_.num_vars() &&
                  u.size(2) == options_.channels(),
              "NCSN++ expects [batch, ", options_.num_vars(), ", ",
              options_.channels(), ", H, W], got ", u.sizes());
  const int64_t factor = int64_t{1} << (options_.ch_mult().size() - 1);
  TORCH_CHECK(u.size(3) % factor == 0 && u.size(4) % factor == 0,
              "NCSN++ with ", options_.ch_mult().size(),
              " levels needs image sizes divisible by ", factor, ", got ",
              u.size(3), "x", u.size(4));
  at::Tensor temb =
      options_.embedding_type() == TimeEmbedding::kFourier
          ? fourier_->forward(at::log(t.to(u.dtype())))
          : SinusoidalEmbedding(t.to(u.dtype()) * options_.time_scale(),
                                options_.nf());
  temb = temb1_->forward(at::silu(temb0_->forward(temb)));

  auto apply = [&](torch::nn::Module& layer, Kind kind, const at::Tensor& h) {
    switch (kind) {
      case Kind::kBlock:
      case Kind::kDownBlock:
      case Kind::kUpBlock:
        return layer.as<NcsnResBlock>()->forward(h, temb);
      case Kind::kAttn:
        return layer.as<SelfAttention2d>()->forward(h);
      case Kind::kDownsample:
      case Kind::kUpsample:
        return layer.as<Resample>()->forward(h);
    }
    TORCH_CHECK(false, "unknown layer kind");
  };

  std::vector<at::Tensor> skips = {conv_in_->forward(StateToChannels(u))};
  for (size_t i = 0; i < down_->size(); ++i) {
    const at::Tensor h = apply(*down_[i], down_kinds_[i], skips.back());
    // Attention refines the block output it follows rather than adding a skip.
    if (down_kinds_[i] == Kind::kAttn) {
      skips.back() = h;
    } else {
      skips.push_back(h);
    }
  }
  at::Tensor h = skips.back();
  for (size_t i = 0; i < mid_->size(); ++i)
    h = apply(*mid_[i], mid_kinds_[i], h);
  for (size_t i = 0; i < up_->size(); ++i) {
    if (up_takes_skip_[i]) {
      h = at::cat({h, skips.back()}, 1);
      skips.pop_back();
    }
    h = apply(*up_[i], up_kinds_[i], h);
  }
  h = conv_out_->forward(at::silu(norm_out_->forward(h)));
  return h.view(u.sizes());
}

}  // namespace mdm::nets
