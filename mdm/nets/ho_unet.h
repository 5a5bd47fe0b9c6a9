// The DDPM U-Net of Ho et al. 2020 as the original work ports it
// ("HoUNet"): a sinusoidal embedding of t -> 2 dense layers (4 ch);
// residual blocks with GroupNorm(32, eps 1e-6), swish, Dropout2d and a
// time projection; `num_res_blocks` per level with channels
// ch * ch_mult[level]; self-attention at `attn_resolutions` and in the
// middle; stride-2 convolutions down, nearest + convolution up. Layers
// start from the original's variance scaling (uniform, fan_out, zero
// biases), the branch ends (conv2, proj_out, the last convolution) at scale
// 1e-10. Parameter names are the original's (`temb_net.main.0`,
// `down_modules.0.0a_0a_block.conv1`, `mid_modules.1.attn_q`,
// `end_conv.2`, ...), so its state dicts load by name.
//
// ch = 128, ch_mult = (1, 2, 2, 2) is the CIFAR-10 model (35.7M
// parameters); ch = 32, ch_mult = (1, 2, 2) the original's MNIST model.
// The original feeds t itself to the embedding (time_scale 1); DDPM fed
// its step index, 1000 t.
#ifndef MDM_NETS_HO_UNET_H_
#define MDM_NETS_HO_UNET_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
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
  TORCH_ARG(double, dropout) = 0.0;  // Dropout2d in every residual block.
  // The sinusoidal embedding sees t * time_scale.
  TORCH_ARG(double, time_scale) = 1.0;
};

// GroupNorm -> swish -> conv1 -> + temb_proj(swish(temb)) -> GroupNorm ->
// swish -> Dropout2d -> conv2, plus a 1x1 `shortcut` when the channel count
// changes.
class HoResBlockImpl : public torch::nn::Module {
 public:
  HoResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim,
                 double dropout);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

 private:
  torch::nn::Linear temb_proj_{nullptr};
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
  double dropout_;
};
TORCH_MODULE(HoResBlock);

// The original's `TimestepEmbedding`: sinusoidal features of t * time_scale
// (dim ch) -> `main` = dense, swish, dense: [batch, temb_dim].
class HoTimestepEmbeddingImpl : public torch::nn::Module {
 public:
  HoTimestepEmbeddingImpl(int64_t ch, int64_t temb_dim, double time_scale);
  at::Tensor forward(const at::Tensor& t);

 private:
  int64_t ch_;
  double time_scale_;
  torch::nn::Sequential main_{nullptr};
};
TORCH_MODULE(HoTimestepEmbedding);

// Nearest-neighbour upsampling to a given size (2x when the sizes divide)
// and a 3x3 `up_conv`.
class HoUpsampleImpl : public torch::nn::Module {
 public:
  explicit HoUpsampleImpl(int64_t channels);
  at::Tensor forward(const at::Tensor& x, at::IntArrayRef size);

 private:
  torch::nn::Conv2d up_conv_{nullptr};
};
TORCH_MODULE(HoUpsample);

// Maps u [batch, K, C, H, W] and t [batch] to [batch, K, C, H, W].
class HoUNetImpl : public ScoreModel {
 public:
  explicit HoUNetImpl(const HoUNetOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;
  bool draws_random_numbers() const override {
    return is_training() && options_.dropout() > 0;
  }

 private:
  // One layer of the down or up path in call order.
  struct Layer {
    enum Kind { kBlock, kAttention, kResample } kind;
    torch::nn::Module* module;
  };

  HoUNetOptions options_;
  HoTimestepEmbedding temb_net_{nullptr};
  torch::nn::Conv2d begin_conv_{nullptr};
  torch::nn::ModuleList down_modules_{nullptr}, mid_modules_{nullptr},
      up_modules_{nullptr};
  torch::nn::Sequential end_conv_{nullptr};
  // The layers registered under down_modules_ and up_modules_, in order;
  // `up_` resamples to the size of the skip it will meet next.
  std::vector<Layer> down_, up_;
};
TORCH_MODULE(HoUNet);

}  // namespace mdm::nets

#endif  // MDM_NETS_HO_UNET_H_
