#include "mdm/nets/embeddings.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace mdm::nets {

at::Tensor SinusoidalEmbedding(const at::Tensor& t, int64_t dim) {
  TORCH_CHECK(dim >= 4 && dim % 2 == 0, "embedding dim must be even and >= 4");
  const int64_t half = dim / 2;
  const double step = std::log(10000.0) / (half - 1);
  const at::Tensor freqs =
      at::exp(-step * at::arange(half, t.options().dtype(at::kFloat)));
  const at::Tensor args = t.to(at::kFloat).view({-1, 1}) * freqs.view({1, -1});
  return at::cat({at::sin(args), at::cos(args)}, 1).to(t.dtype());
}

GaussianFourierProjectionImpl::GaussianFourierProjectionImpl(int64_t dim,
                                                             double scale,
                                                             uint64_t seed) {
  TORCH_CHECK(dim % 2 == 0, "Fourier embedding dim must be even");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // host: a buffer made on the host, as PyTorch's; Module::to moves it
  W_ = register_buffer("W", at::randn({dim / 2}, gen, at::kFloat) * scale);
}

at::Tensor GaussianFourierProjectionImpl::forward(const at::Tensor& t) {
  // (t W) 2 pi in this order, as the original rounds it.
  const at::Tensor proj =
      t.view({-1, 1}).to(W_.dtype()) * W_.view({1, -1}) * 2 * M_PI;
  return at::cat({at::sin(proj), at::cos(proj)}, 1);
}

at::Tensor StateToChannels(const at::Tensor& u) {
  TORCH_CHECK(u.dim() == 5, "image states are [batch, K, C, H, W], got ",
              u.sizes());
  return u.flatten(1, 2);
}

}  // namespace mdm::nets
