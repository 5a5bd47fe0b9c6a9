// NCSN++ / DDPM++ (Song et al. 2021), the original work's largest score
// model: BigGAN-style residual blocks that resample inside the block (or
// DDPM-style blocks with separate resampling layers), GroupNorm with
// min(C/4, 32) groups (eps 1e-6), optional skip rescaling by 1/sqrt(2),
// positional (of t) or Gaussian-Fourier (of log t) time embedding, FIR (or
// naive) resampling, DDPM's variance-scaling initialization, and last
// convolutions of each branch at scale `init_scale` (0: near zero). Progressive
// growing of inputs and outputs (`progressive*` in score_sde) is not
// implemented.
#ifndef MDM_NETS_NCSNPP_H_
#define MDM_NETS_NCSNPP_H_

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "mdm/nets/embeddings.h"
#include "mdm/nets/layers.h"
#include "mdm/nets/score_model.h"

namespace mdm::nets {

enum class ResblockType { kBigGan, kDdpm };
enum class TimeEmbedding { kPositional, kFourier };

struct NcsnppOptions {
  NcsnppOptions(int64_t num_vars, int64_t channels, int64_t resolution)
      : num_vars_(num_vars), channels_(channels), resolution_(resolution) {}
  TORCH_ARG(int64_t, num_vars);
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t,
            resolution);  // Input height: decides where attention goes.
  TORCH_ARG(int64_t, nf) = 128;
  TORCH_ARG(std::vector<int64_t>, ch_mult) = std::vector<int64_t>({1, 2, 2, 2});
  TORCH_ARG(int64_t, num_res_blocks) = 4;
  TORCH_ARG(std::vector<int64_t>,
            attn_resolutions) = std::vector<int64_t>({16});
  TORCH_ARG(double, dropout) = 0.1;
  TORCH_ARG(ResblockType, resblock_type) = ResblockType::kBigGan;
  TORCH_ARG(TimeEmbedding, embedding_type) = TimeEmbedding::kPositional;
  TORCH_ARG(double, fourier_scale) = 16.0;
  // As the original: positional embeddings see t * time_scale (1: t
  // itself), Fourier ones log t.
  TORCH_ARG(double, time_scale) = 1.0;
  TORCH_ARG(bool, skip_rescale) = true;
  TORCH_ARG(bool, resamp_with_conv) = true;  // DDPM blocks' resampling.
  TORCH_ARG(bool, fir) = false;
  TORCH_ARG(std::vector<double>,
            fir_kernel) = std::vector<double>({1, 3, 3, 1});
  // 0 zero-initializes the last convolution of every residual branch, of
  // attention and of the output; otherwise they are scaled by it.
  TORCH_ARG(double, init_scale) = 0.0;
  TORCH_ARG(uint64_t, seed) = 0;  // Fourier features.
};

// FIR up/down-sampling by 2 (StyleGAN2's upfirdn2d with a separable
// kernel), exposed for tests. x: [B, C, H, W].
at::Tensor FirUpsample2x(const at::Tensor& x,
                         const std::vector<double>& kernel);
at::Tensor FirDownsample2x(const at::Tensor& x,
                           const std::vector<double>& kernel);

class NcsnppImpl : public ScoreModel {
 public:
  explicit NcsnppImpl(const NcsnppOptions& options);
  at::Tensor forward(const at::Tensor& u, const at::Tensor& t) override;
  bool draws_random_numbers() const override {
    return is_training() && options_.dropout() > 0;
  }

 private:
  // The layers in call order; `kinds_` says what each one is.
  enum class Kind {
    kBlock,
    kDownBlock,
    kUpBlock,
    kAttn,
    kDownsample,
    kUpsample
  };
  NcsnppOptions options_;
  GaussianFourierProjection fourier_{nullptr};
  torch::nn::Linear temb0_{nullptr}, temb1_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::GroupNorm norm_out_{nullptr};
  torch::nn::ModuleList down_, mid_, up_;
  std::vector<Kind> down_kinds_, mid_kinds_, up_kinds_;
  // Which up-path blocks take a skip connection.
  std::vector<bool> up_takes_skip_;
};
TORCH_MODULE(Ncsnpp);

}  // namespace mdm::nets

#endif  // MDM_NETS_NCSNPP_H_
