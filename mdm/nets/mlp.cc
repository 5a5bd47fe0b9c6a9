#include "mdm/nets/mlp.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

namespace mdm::nets {

MlpImpl::MlpImpl(const MlpOptions& options) : options_(options) {
  const int64_t io = options.num_vars() * options.dim();
  net_ = torch::nn::Sequential();
  int64_t in = io + 1;  // The state and t.
  for (int64_t i = 0; i < options.num_hidden_layers(); ++i) {
    net_->push_back(torch::nn::Linear(in, options.hidden_dim()));
    net_->push_back(torch::nn::SiLU());
    in = options.hidden_dim();
  }
  net_->push_back(torch::nn::Linear(in, io));
  register_module("net", net_);
}

at::Tensor MlpImpl::forward(const at::Tensor& u, const at::Tensor& t) {
  // [batch, K, dim], or [batch, K, C, H, W] with C H W = dim, flattened
  // variable by variable as the original's state is.
  TORCH_CHECK(u.dim() >= 3 && u.size(1) == options_.num_vars() &&
                  u.numel() == u.size(0) * options_.num_vars() * options_.dim(),
              "Mlp expects [batch, ", options_.num_vars(), ", ", options_.dim(),
              "] or images of ", options_.dim(), " values, got ", u.sizes());
  const at::Tensor h =
      at::cat({u.flatten(1), t.view({-1, 1}).to(u.dtype())}, 1);
  return net_->forward(h).view(u.sizes());
}

}  // namespace mdm::nets
