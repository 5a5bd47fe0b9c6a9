#include "mdm/nets/tiny_unet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>

namespace mdm::nets {
namespace {

using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::ConvTranspose2d;
using torch::nn::ConvTranspose2dOptions;
using torch::nn::GroupNorm;
using torch::nn::GroupNormOptions;
using torch::nn::Linear;

// The tutorial model's norms: 4 groups at the first level, 32 elsewhere.
GroupNorm Norm(int64_t channels, bool first) {
  return GroupNorm(GroupNormOptions(first ? 4 : 32, channels));
}

// Adds the embedding projected to `channels` as a per-channel bias.
at::Tensor AddEmbedding(const at::Tensor& h, torch::nn::Module& dense,
                        const at::Tensor& embed) {
  return h + dense.as<Linear>()->forward(embed).unsqueeze(-1).unsqueeze(-1);
}

}  // namespace

TinyUNetImpl::TinyUNetImpl(const TinyUNetOptions& options) : options_(options) {
  const std::vector<int64_t>& w = options.widths();
  TORCH_CHECK(w.size() == 4, "TinyUNet has 4 levels");
  const int64_t io = options.num_vars() * options.channels();
  const int64_t e = options.embed_dim();
  fourier_ = register_module(
      "fourier",
      GaussianFourierProjection(e, options.fourier_scale(), options.seed()));
  embed_ = register_module("embed", Linear(e, e));
  down_convs_ = register_module("down_convs", torch::nn::ModuleList());
  down_dense_ = register_module("down_dense", torch::nn::ModuleList());
  down_norms_ = register_module("down_norms", torch::nn::ModuleList());
  for (int level = 0; level < 4; ++level) {
    const int64_t in = level == 0 ? io : w[level - 1];
    down_convs_->push_back(Conv2d(Conv2dOptions(in, w[level], 3)
                                      .stride(level == 0 ? 1 : 2)
                                      .padding(1)
                                      .bias(false)));
    down_dense_->push_back(Linear(e, w[level]));
    down_norms_->push_back(Norm(w[level], level == 0));
  }
  up_convs_ = register_module("up_convs", torch::nn::ModuleList());
  up_dense_ = register_module("up_dense", torch::nn::ModuleList());
  up_norms_ = register_module("up_norms", torch::nn::ModuleList());
  for (int level = 3; level >= 1; --level) {
    // The deepest level has no skip to concatenate.
    const int64_t in = level == 3 ? w[3] : 2 * w[level];
    up_convs_->push_back(
        ConvTranspose2d(ConvTranspose2dOptions(in, w[level - 1], 3)
                            .stride(2)
                            .padding(1)
                            .bias(false)));
    up_dense_->push_back(Linear(e, w[level - 1]));
    up_norms_->push_back(Norm(w[level - 1], /*first=*/false));
  }
  final_conv_ =
      register_module(
          "final_conv",
          ConvTranspose2d(ConvTranspose2dOptions(2 * w[0], io, 3).padding(1)))
          .get();
}

at::Tensor TinyUNetImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  TORCH_CHECK(u.dim() == 5 && u.size(1) == options_.num_vars() &&
                  u.size(2) == options_.channels(),
              "TinyUNet expects [batch, ", options_.num_vars(), ", ",
              options_.channels(), ", H, W], got ", u.sizes());
  const at::Tensor embed = at::silu(embed_->forward(fourier_->forward(t)));
  at::Tensor h = StateToChannels(u);
  std::vector<at::Tensor> skips;
  for (int level = 0; level < 4; ++level) {
    h = down_convs_[level]->as<Conv2d>()->forward(h);
    h = AddEmbedding(h, *down_dense_[level], embed);
    h = at::silu(down_norms_[level]->as<GroupNorm>()->forward(h));
    skips.push_back(h);
  }
  for (int i = 0; i < 3; ++i) {
    const int level = 3 - i;  // Going up to level - 1.
    if (i > 0) h = at::cat({h, skips[level]}, 1);
    const at::Tensor& target = skips[level - 1];
    h = up_convs_[i]->as<ConvTranspose2d>()->forward(
        h, std::vector<int64_t>{target.size(2), target.size(3)});
    h = AddEmbedding(h, *up_dense_[i], embed);
    h = at::silu(up_norms_[i]->as<GroupNorm>()->forward(h));
  }
  h = final_conv_->as<ConvTranspose2d>()->forward(at::cat({h, skips[0]}, 1));
  return h.view(u.sizes());
}

}  // namespace mdm::nets
