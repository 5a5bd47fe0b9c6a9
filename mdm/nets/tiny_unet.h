// The original work's TinyUNet (after Song et al.'s tutorial score model):
// channels 32, 64, 128, 256; a fixed Gaussian Fourier time embedding
// (256-d, scale 30) and a dense layer; per-level dense projections of the
// embedding added to the feature maps; GroupNorm and SiLU; unpadded 3x3
// convolutions (28 -> 26 -> 12 -> 5 -> 2 for MNIST) and transposed
// convolutions back up with skip concatenations. Parameter names are the
// original's (`conv1`, `dense1.dense`, `tgnorm4`, `embed.0.W`, ...), so its
// state dicts load by name.
//
// The original hard-codes the transposed convolutions' output paddings
// (0, 1, 1), which fit 28x28 alone; here each is chosen so the output
// matches its skip connection: the same function at 28x28, and the network
// also runs on other sizes of at least 17 (32x32, 64x64).
//
// `padded` (TINY_UNET_PADDED, not the original's) pads every 3x3
// convolution and transposed convolution by 1, so the sides halve instead
// of shrinking (28 -> 28 -> 14 -> 7 -> 4): the same layers, parameters and
// names, about twice the arithmetic per image, any side of at least 1.
#ifndef MDM_NETS_TINY_UNET_H_
#define MDM_NETS_TINY_UNET_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "mdm/nets/embeddings.h"
#include "mdm/nets/score_model.h"

namespace mdm::nets {

struct TinyUNetOptions {
  TinyUNetOptions(int64_t num_vars, int64_t channels)
      : num_vars_(num_vars), channels_(channels) {}
  TORCH_ARG(int64_t, num_vars);
  TORCH_ARG(int64_t, channels);  // C of the data.
  TORCH_ARG(std::vector<int64_t>,
            widths) = std::vector<int64_t>({32, 64, 128, 256});
  TORCH_ARG(int64_t, embed_dim) = 256;
  TORCH_ARG(double, fourier_scale) = 30.0;
  TORCH_ARG(uint64_t, seed) = 0;  // Draws the fixed Fourier weights.
  TORCH_ARG(bool, padded) = false;  // Convolutions padded by 1.
};

// The smallest image side the unpadded network takes (the padded one
// takes any).
constexpr int64_t kTinyUNetMinSize = 17;

// Multiply-adds of one forward pass of TinyUNet on one [K, C, height,
// width] state: every convolution, transposed convolution and dense layer
// (normalizations and activations, a few per cent of the arithmetic, are
// left out). A training step's arithmetic is about 3x this (the backward
// computes gradients of both inputs and weights), each multiply-add two
// floating-point operations.
int64_t TinyUNetMultiplyAdds(const TinyUNetOptions& options, int64_t height,
                             int64_t width);

// A linear layer whose output is a per-channel bias of a feature map (the
// original's `Dense`): [batch, in] -> [batch, out, 1, 1].
class DenseImpl : public torch::nn::Module {
 public:
  DenseImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear dense_{nullptr};
};
TORCH_MODULE(Dense);

// Maps u [batch, K, C, H, W] and t [batch] to [batch, K, C, H, W];
// H, W >= kTinyUNetMinSize unless padded.
class TinyUNetImpl : public ScoreModel {
 public:
  explicit TinyUNetImpl(const TinyUNetOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;

 private:
  TinyUNetOptions options_;
  torch::nn::Sequential embed_{nullptr};  // Fourier features, then linear.
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr},
      conv4_{nullptr};
  torch::nn::ConvTranspose2d tconv4_{nullptr}, tconv3_{nullptr},
      tconv2_{nullptr}, tconv1_{nullptr};
  Dense dense1_{nullptr}, dense2_{nullptr}, dense3_{nullptr}, dense4_{nullptr},
      dense5_{nullptr}, dense6_{nullptr}, dense7_{nullptr};
  torch::nn::GroupNorm gnorm1_{nullptr}, gnorm2_{nullptr}, gnorm3_{nullptr},
      gnorm4_{nullptr}, tgnorm4_{nullptr}, tgnorm3_{nullptr},
      tgnorm2_{nullptr};
};
TORCH_MODULE(TinyUNet);

}  // namespace mdm::nets

#endif  // MDM_NETS_TINY_UNET_H_
