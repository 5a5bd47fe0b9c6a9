// The DDPM U-Net of Ho et al. 2020 ("HoUNet"): sinusoidal time embedding
// -> 2 dense layers (4 ch); residual blocks with GroupNorm(32), swish,
// dropout and a time projection; `num_res_blocks` per level with channels
// ch * ch_mult[level]; self-attention at `attn_resolutions` and in the
// middle; strided-convolution downsampling, nearest + convolution
// upsampling; the last convolution of every residual branch, the
// attention output and the network output start at zero, so the untrained
// network outputs exactly 0. ch = 128, ch_mult = (1, 2, 2, 2) is the
// CIFAR-10 model (35.7M parameters); ch = 32, ch_mult = (1, 2, 2) the
// paper's 1.5M MNIST model.
#ifndef MDM_NETS_HO_UNET_H_
#define MDM_NETS_HO_UNET_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "mdm/nets/layers.h"
#include "mdm/nets/score_model.h"

namespace mdm::nets {

struct HoUNetOptions {
  HoUNetOptions(int64_t num_vars, int64_t channels, int64_t resolution)
      : num_vars_(num_vars), channels_(channels), resolution_(resolution) {}
  TORCH_ARG(int64_t, num_vars);
  TORCH_ARG(int64_t, channels);  // C of the data.
  TORCH_ARG(int64_t,
            resolution);  // Input height: decides where attention goes.
  TORCH_ARG(int64_t, ch) = 128;
  TORCH_ARG(std::vector<int64_t>, ch_mult) = std::vector<int64_t>({1, 2, 2, 2});
  TORCH_ARG(int64_t, num_res_blocks) = 2;
  TORCH_ARG(std::vector<int64_t>,
            attn_resolutions) = std::vector<int64_t>({16});
  TORCH_ARG(double, dropout) = 0.1;
  // The sinusoidal embedding sees t * time_scale (DDPM's 1000 steps).
  TORCH_ARG(double, time_scale) = 1000.0;
};

// GroupNorm -> swish -> conv -> + time projection -> GroupNorm -> swish ->
// dropout -> zero-initialized conv, plus a 1x1 ("nin") shortcut when the
// channel count changes.
class HoResBlockImpl : public torch::nn::Module {
 public:
  HoResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim,
                 double dropout);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
  torch::nn::Linear temb_proj_{nullptr};
  double dropout_;
};
TORCH_MODULE(HoResBlock);

// Maps u [batch, K, C, H, W] and t [batch] to [batch, K, C, H, W].
class HoUNetImpl : public ScoreModel {
 public:
  explicit HoUNetImpl(const HoUNetOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;

 private:
  HoUNetOptions options_;
  torch::nn::Linear temb0_{nullptr}, temb1_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
  // Down path, in order: per level, num_res_blocks blocks (each optionally
  // followed by attention) and a downsampling conv except at the last level.
  torch::nn::ModuleList down_blocks_, down_attns_, downsamples_;
  HoResBlock mid_block1_{nullptr}, mid_block2_{nullptr};
  SelfAttention2d mid_attn_{nullptr};
  torch::nn::ModuleList up_blocks_, up_attns_, upsamples_;
  std::vector<bool> down_has_attn_, up_has_attn_;
};
TORCH_MODULE(HoUNet);

}  // namespace mdm::nets

#endif  // MDM_NETS_HO_UNET_H_
