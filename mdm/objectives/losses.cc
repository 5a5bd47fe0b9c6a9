#include "mdm/objectives/losses.h"

#include <ATen/ATen.h>

#include "mdm/objectives/time_sampling.h"

namespace mdm::objectives {

using diffusions::KernelType;
using proto::ObjectiveConfig;

absl::StatusOr<at::Tensor> NoisePredictionLoss(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, double t_min, Parameterization parameterization,
    bool aux_only, c10::optional<at::Generator> gen) {
  const int64_t K = diffusion.num_vars();
  TORCH_CHECK(!aux_only || K > 1,
              "the auxiliary-only noise loss needs auxiliary variables");
  const UniformTimeSampler sampler(t_min, diffusion.options().t_max());
  const at::Tensor t = sampler.Sample(x_0.size(0), x_0.options(), gen).t;
  const at::Tensor u_0 = diffusions::DiffusionImpl::JoinState(
      x_0, at::zeros_like(diffusion.SampleV0(x_0)));
  absl::StatusOr<diffusions::TransitionSample> sample =
      diffusion.SampleTransition(u_0, t, KernelType::kHybrid, gen);
  if (!sample.ok()) return sample.status();
  const at::Tensor eps_hat =
      NoiseFromOutput(network(sample->u_t, t.to(x_0.dtype())), sample->kernel,
                      parameterization);
  at::Tensor error = eps_hat - sample->eps;
  if (aux_only) error = error.narrow(1, 1, K - 1);
  return error.pow(2).flatten(1).sum(1);
}

absl::StatusOr<at::Tensor> TrainingLoss(
    LossType type, const diffusions::DiffusionImpl& diffusion,
    const ScoreNetwork& network, const at::Tensor& x_0,
    const ElboOptions& options, c10::optional<at::Generator> gen) {
  absl::StatusOr<at::Tensor> per_example;
  switch (type) {
    case LossType::kDsmElbo:
    case LossType::kIsmElbo: {
      ElboOptions elbo_options = options;
      elbo_options.with_offset = false;
      elbo_options.create_graph = true;
      absl::StatusOr<ElboTerms> terms =
          type == LossType::kDsmElbo
              ? DsmElbo(diffusion, network, x_0, elbo_options, gen)
              : IsmElbo(diffusion, network, x_0, elbo_options, gen);
      if (!terms.ok()) return terms.status();
      per_example = -terms->elbo;
      break;
    }
    case LossType::kNoisePred:
    case LossType::kCldNoisePred:
      per_example = NoisePredictionLoss(diffusion, network, x_0, options.t_min,
                                        options.parameterization,
                                        type == LossType::kCldNoisePred, gen);
      break;
  }
  if (!per_example.ok()) return per_example.status();
  return per_example->mean();
}

LossType ToLossType(ObjectiveConfig::LossType type, int epoch,
                    int switch_epoch) {
  switch (type) {
    case ObjectiveConfig::ISM_ELBO:
      return LossType::kIsmElbo;
    case ObjectiveConfig::NOISE_PRED_LOSS:
      return LossType::kNoisePred;
    case ObjectiveConfig::CLD_NOISE_PRED:
      return LossType::kCldNoisePred;
    case ObjectiveConfig::NOISE_PRED_TO_ELBO:
      return switch_epoch >= 0 && epoch >= switch_epoch ? LossType::kDsmElbo
                                                        : LossType::kNoisePred;
    default:
      return LossType::kDsmElbo;
  }
}

LossType TrainLossForEpoch(const ObjectiveConfig& config, int epoch) {
  return ToLossType(config.train_loss_type(), epoch, config.switch_epoch());
}

ElboOptions TrainElboOptions(const ObjectiveConfig& objective,
                             const proto::DiffusionConfig& diffusion,
                             const proto::ScoreModelConfig& score_model) {
  ElboOptions options;
  options.t_min = objective.t_min_train();
  options.importance_sampling = objective.imp_weight_train();
  options.mc_samples = objective.elbo_mc_samples_train();
  options.with_offset = objective.elbo_offset_train();
  options.kernel = diffusion.hybrid_transition_kernel() ? KernelType::kHybrid
                                                        : KernelType::kFull;
  options.parameterization = score_model.score_parameterization() ==
                                     proto::ScoreModelConfig::SCORE_PRED
                                 ? Parameterization::kScorePred
                                 : Parameterization::kNoisePred;
  options.hutchinson_probes = objective.hutch_mc();
  return options;
}

}  // namespace mdm::objectives
