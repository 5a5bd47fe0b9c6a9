// The original work's small U-Net for MNIST-sized images (after Song et
// al.'s tutorial score model): channels 32, 64, 128, 256; a fixed Gaussian
// Fourier time embedding (256-d, scale 30) and a dense layer; per-level
// dense projections of the embedding added to the feature maps; GroupNorm
// and SiLU; three stride-2 convolutions down and transposed convolutions up
// with skip concatenations. Padded convolutions and transposed convolutions
// sized to their skip make it work for 28x28, 32x32 and other sizes.
#ifndef MDM_NETS_TINY_UNET_H_
#define MDM_NETS_TINY_UNET_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
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
};

// Maps u [batch, K, C, H, W] and t [batch] to [batch, K, C, H, W].
class TinyUNetImpl : public ScoreModel {
 public:
  explicit TinyUNetImpl(const TinyUNetOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;

 private:
  TinyUNetOptions options_;
  GaussianFourierProjection fourier_{nullptr};
  torch::nn::Linear embed_{nullptr};
  // Per level (4 down, 3 up): convolution, embedding projection, norm.
  torch::nn::ModuleList down_convs_, down_dense_, down_norms_;
  torch::nn::ModuleList up_convs_, up_dense_, up_norms_;
  torch::nn::Module* final_conv_ = nullptr;
};
TORCH_MODULE(TinyUNet);

}  // namespace mdm::nets

#endif  // MDM_NETS_TINY_UNET_H_
