#include "mdm/train/optimizers.h"

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"

namespace mdm::train {

void AdamaxOptions::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, lr);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, beta1);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, beta2);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, eps);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(double, weight_decay);
}

void AdamaxOptions::serialize(torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(lr);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(beta1);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(beta2);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(eps);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(weight_decay);
}

void AdamaxParamState::serialize(torch::serialize::InputArchive& archive) {
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(int64_t, step);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, exp_avg);
  _TORCH_OPTIM_DESERIALIZE_TORCH_ARG(at::Tensor, exp_inf);
}

void AdamaxParamState::serialize(
    torch::serialize::OutputArchive& archive) const {
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(step);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(exp_avg);
  _TORCH_OPTIM_SERIALIZE_TORCH_ARG(exp_inf);
}

Adamax::Adamax(std::vector<at::Tensor> params, AdamaxOptions defaults)
    : Optimizer({torch::optim::OptimizerParamGroup(std::move(params))},
                std::make_unique<AdamaxOptions>(defaults)) {
  TORCH_CHECK(defaults.lr() >= 0 && defaults.eps() >= 0 &&
                  defaults.beta1() >= 0 && defaults.beta1() < 1 &&
                  defaults.beta2() >= 0 && defaults.beta2() < 1,
              "invalid Adamax options");
}

at::Tensor Adamax::step(LossClosure closure) {
  at::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const AdamaxOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      at::Tensor grad = p.grad();
      if (options.weight_decay() != 0)
        grad = grad.add(p, options.weight_decay());
      auto it = state_.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it == state_.end()) {
        auto state = std::make_unique<AdamaxParamState>();
        state->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        state->exp_inf(at::zeros_like(p, at::MemoryFormat::Preserve));
        it = state_
                 .emplace(c10::guts::to_string(p.unsafeGetTensorImpl()),
                          std::move(state))
                 .first;
      }
      auto& state = static_cast<AdamaxParamState&>(*it->second);
      state.step(state.step() + 1);
      state.exp_avg().mul_(options.beta1()).add_(grad, 1 - options.beta1());
      state.exp_inf().copy_(at::maximum(state.exp_inf() * options.beta2(),
                                        grad.abs() + options.eps()));
      const double step_size =
          options.lr() /
          (1 - std::pow(options.beta1(), static_cast<double>(state.step())));
      p.addcdiv_(state.exp_avg(), state.exp_inf(), -step_size);
    }
  }
  return loss;
}

void Adamax::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<AdamaxParamState, AdamaxOptions>(archive, *this);
}

void Adamax::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<AdamaxParamState, AdamaxOptions>(archive, *this);
}

absl::StatusOr<std::unique_ptr<torch::optim::Optimizer>> CreateOptimizer(
    const proto::OptimizerConfig& config, std::vector<at::Tensor> params) {
  const double lr = config.lr(), wd = config.weight_decay();
  switch (config.optim_type()) {
    case proto::OptimizerConfig::ADAM:
      return std::unique_ptr<torch::optim::Optimizer>(
          std::make_unique<torch::optim::Adam>(
              std::move(params),
              torch::optim::AdamOptions(lr).weight_decay(wd)));
    case proto::OptimizerConfig::ADAMW:
      return std::unique_ptr<torch::optim::Optimizer>(
          std::make_unique<torch::optim::AdamW>(
              std::move(params),
              torch::optim::AdamWOptions(lr).weight_decay(wd)));
    case proto::OptimizerConfig::ADAMAX:
      return std::unique_ptr<torch::optim::Optimizer>(std::make_unique<Adamax>(
          std::move(params), AdamaxOptions(lr).weight_decay(wd)));
    default:
      return absl::InvalidArgumentError("optimizer.optim_type is not set");
  }
}

double LearningRateAt(const proto::OptimizerConfig& config, int64_t step) {
  const double lr = config.lr();
  const int64_t warmup = config.warmup_iters();
  const double max_iters = static_cast<double>(config.lr_sched_max_iters());
  if (config.lr_schedule() == proto::OptimizerConfig::WARMUP_THEN_COSINE) {
    if (step < warmup) return lr * static_cast<double>(step + 1) / warmup;
    if (!config.lr_scheduling()) return lr;
    const double progress =
        std::min(1.0, static_cast<double>(step - warmup) / max_iters);
    return 0.5 * lr * (1 + std::cos(M_PI * progress));
  }
  // The original's CosineWarmupScheduler, stepped once at construction
  // and after every optimizer step: step k runs at its factor(k).
  if (!config.lr_scheduling()) return lr;
  double factor = 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / max_iters));
  if (step <= warmup) factor *= static_cast<double>(step) / warmup;
  return lr * factor;
}

void SetLearningRate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace mdm::train
