#include "mdm/model/ema.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mdm::model {

Ema::Ema(NamedTensors params, double decay)
    : params_(std::move(params)), decay_(decay) {
  TORCH_CHECK(decay >= 0 && decay < 1, "EMA decay must be in [0, 1)");
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : params_) shadows_.emplace(name, p.detach().clone());
}

void Ema::Update() {
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : params_)
    shadows_.at(name).mul_(decay_).add_(p.detach(), 1 - decay_);
}

void Ema::Swap() {
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : params_) {
    at::Tensor& shadow = shadows_.at(name);
    const at::Tensor live = p.detach().clone();
    at::Tensor(p).copy_(shadow);
    shadow.copy_(live);
  }
}

absl::Status Ema::Load(const util::TensorDict& shadows,
                       const std::string& what) {
  for (const auto& [name, shadow] : shadows_) {
    const auto it = shadows.find(name);
    if (it == shadows.end()) {
      return absl::NotFoundError(
          absl::StrCat("the EMA of ", name, " is missing from ", what));
    }
    if (it->second.sizes() != shadow.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the EMA of ", name, " has shape [",
          absl::StrJoin(it->second.sizes(), ", "), "] in ", what, " but [",
          absl::StrJoin(shadow.sizes(), ", "), "] in the model"));
    }
  }
  at::NoGradGuard no_grad;
  for (auto& [name, shadow] : shadows_) shadow.copy_(shadows.at(name));
  return absl::OkStatus();
}

}  // namespace mdm::model
