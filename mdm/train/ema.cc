#include "mdm/train/ema.h"

#include <ATen/ATen.h>

#include <utility>

namespace mdm::train {

Ema::Ema(std::vector<at::Tensor> params, double decay)
    : params_(std::move(params)), decay_(decay) {
  TORCH_CHECK(decay >= 0 && decay < 1, "EMA decay must be in [0, 1)");
  for (const at::Tensor& p : params_) shadow_.push_back(p.detach().clone());
}

void Ema::Update() {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    shadow_[i].mul_(decay_).add_(params_[i].detach(), 1 - decay_);
  }
}

void Ema::Swap() {
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor live = params_[i].detach().clone();
    params_[i].copy_(shadow_[i]);
    shadow_[i].copy_(live);
  }
}

}  // namespace mdm::train
