// Time embeddings and small layers shared by the score networks.
#ifndef MDM_NETS_EMBEDDINGS_H_
#define MDM_NETS_EMBEDDINGS_H_

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace mdm::nets {

// The transformer/DDPM sinusoidal embedding of `t` ([batch], any scale):
// [sin(t w_i), cos(t w_i)], w_i = 10000^{-i / (dim/2 - 1)}: [batch, dim].
at::Tensor SinusoidalEmbedding(const at::Tensor& t, int64_t dim);

// Gaussian random Fourier features of t: [sin(2 pi t W), cos(2 pi t W)] with
// W ~ N(0, scale^2) of size dim / 2, fixed (a buffer, not trained) and drawn
// from `seed`: [batch, dim].
class GaussianFourierProjectionImpl : public torch::nn::Module {
 public:
  GaussianFourierProjectionImpl(int64_t dim, double scale, uint64_t seed);
  at::Tensor forward(const at::Tensor& t);

 private:
  at::Tensor W_;
};
TORCH_MODULE(GaussianFourierProjection);

// [batch, K, ...] -> [batch, K * C, H, W] (images) for a network's input.
at::Tensor StateToChannels(const at::Tensor& u);

}  // namespace mdm::nets

#endif  // MDM_NETS_EMBEDDINGS_H_
