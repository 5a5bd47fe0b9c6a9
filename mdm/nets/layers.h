// Layers shared by the U-Nets: padded convolutions, transposed
// convolutions for small inputs, the variance-scaling initialization of
// DDPM and the original work, and 2-D self-attention.
#ifndef MDM_NETS_LAYERS_H_
#define MDM_NETS_LAYERS_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace mdm::nets {

// 3x3 convolution with "same" padding, and a 1x1 convolution.
torch::nn::Conv2d Conv3x3(int64_t in, int64_t out);
torch::nn::Conv2d Conv1x1(int64_t in, int64_t out);

// Which fan the variance-scaling initialization divides by. kFanAvg is
// DDPM's (and score_sde's NCSN++); the original work's HoUNet port asks for
// "fan_avg" but its helper returns fan_out, so HoUNet uses kFanOut.
enum class FanMode { kFanIn, kFanOut, kFanAvg };

// weight ~ U(-sqrt(3 v), sqrt(3 v)) with v = scale / max(1, fan), where a
// scale of 0 is taken as 1e-10 (a residual branch starts near, not at,
// the identity), and bias = 0. Fans of a [out, in, kh, kw] or [out, in]
// weight: in * kh * kw and out * kh * kw. Draws from the default generator.
void VarianceScalingInit(at::Tensor weight, at::Tensor bias, double scale,
                         FanMode mode);
void VarianceScalingInit(const torch::nn::Conv2d& conv, double scale,
                         FanMode mode);
void VarianceScalingInit(const torch::nn::Linear& linear, double scale,
                         FanMode mode);

// conv's transposed convolution of x [B, Cin, H, W] to `output_size`
// (H', W') as LibTorch computes it, but for small CPU inputs (H * W <=
// kBatchedTransposedConvPixels; explicit padding, no groups or dilation)
// with one GEMM over the whole batch before the col2im (LibTorch runs one
// GEMM per example: at TinyUNet's 2x2 and 5x5 levels, batch 128, forward
// and backward take 2.4x and 1.3x longer that way). The same sums in the
// same order: equal to LibTorch's output bit for bit.
at::Tensor ConvTranspose2dTo(torch::nn::ConvTranspose2d& conv,
                             const at::Tensor& x, at::IntArrayRef output_size);
inline constexpr int64_t kBatchedTransposedConvPixels = 32;

// SiLU(GroupNorm(x)) as one autograd node that keeps only x for the
// backward and recomputes the normalized values there: the values and
// gradients of norm->forward followed by at::silu, bit for bit (the same
// ATen kernels), with one saved activation of x's size instead of two.
at::Tensor GroupNormSiLU(const at::Tensor& x, torch::nn::GroupNorm& norm);

// A U-Net decoder step: ConvTranspose2dTo(conv, cat({GroupNormSiLU(x,
// norm), skip}, 1), output_size) as one autograd node that keeps x and skip
// (which the encoder keeps anyway) and recomputes the normalized values and
// the concatenation in the backward, instead of saving a concatenated copy
// of the skip connection and the normalized values: the values and
// gradients of the composition, bit for bit. Where the output is narrow
// (Cout kh kw <= Cin, a U-Net's last layer) it instead convolves the two
// halves of the concatenation by the two halves of the weight and never
// builds it; values and gradients then agree with the composition to
// rounding. Inputs small enough for ConvTranspose2dTo's single GEMM, and
// dilated convolutions, take the composition itself.
at::Tensor GroupNormSiLUCatConvTranspose2d(const at::Tensor& x,
                                           torch::nn::GroupNorm& norm,
                                           const at::Tensor& skip,
                                           torch::nn::ConvTranspose2d& conv,
                                           at::IntArrayRef output_size);

struct SelfAttention2dOptions {
  SelfAttention2dOptions(int64_t channels, int64_t num_groups)
      : channels_(channels), num_groups_(num_groups) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, num_groups);  // Of the GroupNorm before q, k, v.
  TORCH_ARG(double, norm_eps) = 1e-6;
  // Divide the residual sum by sqrt(2) (NCSN++'s skip_rescale).
  TORCH_ARG(bool, skip_rescale) = false;
  // Variance-scaling initialization of the projections; the output
  // projection's scale (0: near zero).
  TORCH_ARG(FanMode, fan_mode) = FanMode::kFanAvg;
  TORCH_ARG(double, init_scale) = 0.0;
};

// Single-head self-attention over all H*W positions with 1x1 projections
// attn_q, attn_k, attn_v, proj_out (the original HoUNet's names) and a
// residual connection: x + proj_out(v softmax(q^T k / sqrt(C))^T).
class SelfAttention2dImpl : public torch::nn::Module {
 public:
  explicit SelfAttention2dImpl(const SelfAttention2dOptions& options);
  at::Tensor forward(const at::Tensor& x);

 private:
  SelfAttention2dOptions options_;
  torch::nn::Conv2d q_{nullptr}, k_{nullptr}, v_{nullptr}, proj_out_{nullptr};
  torch::nn::GroupNorm norm_{nullptr};
};
TORCH_MODULE(SelfAttention2d);

}  // namespace mdm::nets

#endif  // MDM_NETS_LAYERS_H_
