// Layers shared by the U-Nets: padded convolutions, scaled initialization
// of the layers that end a residual branch, and 2-D self-attention.
#ifndef MDM_NETS_LAYERS_H_
#define MDM_NETS_LAYERS_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace mdm::nets {

// 3x3 convolution with "same" padding, and a 1x1 convolution.
torch::nn::Conv2d Conv3x3(int64_t in, int64_t out);
torch::nn::Conv2d Conv1x1(int64_t in, int64_t out);

// Multiplies the layer's initial weights by `scale` and zeroes its bias;
// scale 0 makes a residual branch start as the identity.
void ScaleInit(const torch::nn::Conv2d& conv, double scale);

struct SelfAttention2dOptions {
  SelfAttention2dOptions(int64_t channels, int64_t num_groups)
      : channels_(channels), num_groups_(num_groups) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, num_groups);  // Of the GroupNorm before q, k, v.
  // Divide the residual sum by sqrt(2) (NCSN++'s skip_rescale).
  TORCH_ARG(bool, skip_rescale) = false;
  // ScaleInit of the output projection.
  TORCH_ARG(double, init_scale) = 0.0;
};

// Single-head self-attention over all H*W positions with 1x1 projections
// q, k, v, proj_out and a residual connection: x + proj_out(softmax(q^T k /
// sqrt(C)) v).
class SelfAttention2dImpl : public torch::nn::Module {
 public:
  explicit SelfAttention2dImpl(const SelfAttention2dOptions& options);
  at::Tensor forward(const at::Tensor& x);

 private:
  SelfAttention2dOptions options_;
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Conv2d q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_out_{nullptr};
};
TORCH_MODULE(SelfAttention2d);

}  // namespace mdm::nets

#endif  // MDM_NETS_LAYERS_H_
