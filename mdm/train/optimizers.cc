#include "mdm/train/optimizers.h"

#include <ATen/ATen.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mdm/util/torch_compat.h"

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
      auto it = state_.find(util::OptimizerStateKey(p));
      if (it == state_.end()) {
        auto state = std::make_unique<AdamaxParamState>();
        state->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        state->exp_inf(at::zeros_like(p, at::MemoryFormat::Preserve));
        it = state_
                 .emplace(util::OptimizerStateKey(p), std::move(state))
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

namespace {

// The tensor slots of each optimizer's parameter state.
enum class Kind { kAdam, kAdamW, kAdamax, kOther };

Kind KindOf(const torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<const torch::optim::Adam*>(&optimizer)) return Kind::kAdam;
  if (dynamic_cast<const torch::optim::AdamW*>(&optimizer)) return Kind::kAdamW;
  if (dynamic_cast<const Adamax*>(&optimizer)) return Kind::kAdamax;
  return Kind::kOther;
}

// Reads (`save`) or writes the slots of one parameter's state.
template <typename State>
void AdamSlots(State& state, bool amsgrad, util::TensorDict& slots,
               bool save) {
  if (save) {
    // host: a checkpoint entry, as PyTorch keeps Adam's step
    slots["step"] = at::full({1}, static_cast<double>(state.step()), at::kDouble);
    slots["exp_avg"] = state.exp_avg();
    slots["exp_avg_sq"] = state.exp_avg_sq();
    if (amsgrad) slots["max_exp_avg_sq"] = state.max_exp_avg_sq();
    return;
  }
  state.step(static_cast<int64_t>(slots.at("step").template item<double>()));
  state.exp_avg(slots.at("exp_avg"));
  state.exp_avg_sq(slots.at("exp_avg_sq"));
  if (amsgrad) state.max_exp_avg_sq(slots.at("max_exp_avg_sq"));
}

std::vector<std::string> SlotNames(Kind kind, bool amsgrad) {
  if (kind == Kind::kAdamax) return {"step", "exp_avg", "exp_inf"};
  std::vector<std::string> names = {"step", "exp_avg", "exp_avg_sq"};
  if (amsgrad) names.push_back("max_exp_avg_sq");
  return names;
}

bool Amsgrad(const torch::optim::Optimizer& optimizer, Kind kind) {
  const auto& options = optimizer.param_groups().at(0).options();
  if (kind == Kind::kAdam)
    return static_cast<const torch::optim::AdamOptions&>(options).amsgrad();
  if (kind == Kind::kAdamW)
    return static_cast<const torch::optim::AdamWOptions&>(options).amsgrad();
  return false;
}

}  // namespace

util::TensorDict OptimizerState(const torch::optim::Optimizer& optimizer,
                                const model::NamedTensors& params) {
  const Kind kind = KindOf(optimizer);
  TORCH_CHECK(kind != Kind::kOther, "unsupported optimizer");
  const bool amsgrad = Amsgrad(optimizer, kind);
  util::TensorDict out;
  for (const auto& [name, p] : params) {
    const auto it = optimizer.state().find(util::OptimizerStateKey(p));
    if (it == optimizer.state().end()) continue;
    util::TensorDict slots;
    switch (kind) {
      case Kind::kAdam:
        AdamSlots(static_cast<torch::optim::AdamParamState&>(*it->second),
                  amsgrad, slots, /*save=*/true);
        break;
      case Kind::kAdamW:
        AdamSlots(static_cast<torch::optim::AdamWParamState&>(*it->second),
                  amsgrad, slots, /*save=*/true);
        break;
      case Kind::kAdamax: {
        auto& state = static_cast<AdamaxParamState&>(*it->second);
        slots["step"] =
            // host: a checkpoint entry, as PyTorch keeps Adam's step
            at::full({1}, static_cast<double>(state.step()), at::kDouble);
        slots["exp_avg"] = state.exp_avg();
        slots["exp_inf"] = state.exp_inf();
        break;
      }
      case Kind::kOther:
        break;
    }
    for (auto& [slot, tensor] : slots) out.emplace(name + "." + slot, tensor);
  }
  return out;
}

absl::Status LoadOptimizerState(torch::optim::Optimizer& optimizer,
                                const model::NamedTensors& params,
                                const util::TensorDict& state,
                                const std::string& what) {
  const Kind kind = KindOf(optimizer);
  if (kind == Kind::kOther) {
    return absl::InvalidArgumentError("unsupported optimizer");
  }
  const bool amsgrad = Amsgrad(optimizer, kind);
  const std::vector<std::string> slot_names = SlotNames(kind, amsgrad);
  // Every entry must belong to a parameter and a slot of this optimizer.
  size_t matched = 0;
  for (const auto& [name, p] : params) {
    util::TensorDict slots;
    for (const std::string& slot : slot_names) {
      const auto it = state.find(name + "." + slot);
      if (it != state.end()) slots.emplace(slot, it->second);
    }
    if (slots.empty()) continue;
    for (const std::string& slot : slot_names) {
      if (!slots.count(slot)) {
        return absl::NotFoundError(absl::StrCat(
            "optimizer state ", name, ".", slot, " is missing from ", what));
      }
      if (slot != "step" && slots.at(slot).sizes() != p.sizes()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "optimizer state ", name, ".", slot, " has shape [",
            absl::StrJoin(slots.at(slot).sizes(), ", "), "] in ", what,
            " but the parameter has [", absl::StrJoin(p.sizes(), ", "), "]"));
      }
      // Copies: the optimizer must own its state.
      slots[slot] = slot == "step"
                        ? slots.at(slot).to(at::kDouble)
                        : slots.at(slot).to(p.options(), /*non_blocking=*/false,
                                            /*copy=*/true);
    }
    matched += slots.size();
    std::unique_ptr<torch::optim::OptimizerParamState> param_state;
    switch (kind) {
      case Kind::kAdam: {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        AdamSlots(*s, amsgrad, slots, /*save=*/false);
        param_state = std::move(s);
        break;
      }
      case Kind::kAdamW: {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        AdamSlots(*s, amsgrad, slots, /*save=*/false);
        param_state = std::move(s);
        break;
      }
      case Kind::kAdamax: {
        auto s = std::make_unique<AdamaxParamState>();
        s->step(static_cast<int64_t>(slots.at("step").item<double>()));
        s->exp_avg(slots.at("exp_avg"));
        s->exp_inf(slots.at("exp_inf"));
        param_state = std::move(s);
        break;
      }
      case Kind::kOther:
        break;
    }
    optimizer.state()[util::OptimizerStateKey(p)] = std::move(param_state);
  }
  if (matched != state.size()) {
    for (const auto& [key, tensor] : state) {
      bool known = false;
      for (const auto& [name, p] : params) {
        for (const std::string& slot : slot_names)
          known = known || key == name + "." + slot;
      }
      if (!known) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, " has optimizer state ", key,
            ", which belongs to no parameter or slot of this optimizer"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mdm::train
