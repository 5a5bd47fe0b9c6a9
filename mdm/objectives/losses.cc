#include "mdm/objectives/losses.h"

#include <ATen/ATen.h>

#include "mdm/objectives/time_sampling.h"

namespace mdm::objectives {

using diffusions::KernelType;
using proto::ObjectiveConfig;

bool DataIsNoiseFree(const diffusions::DiffusionImpl& diffusion) {
  at::NoGradGuard no_grad;
  // D_00 in every time bin.
  return diffusion.BinnedD().select(-1, 0).select(-1, 0).eq(0).all().item<bool>();
}

absl::StatusOr<at::Tensor> NoisePredictionLoss(
    const diffusions::DiffusionImpl& diffusion, const ScoreNetwork& network,
    const at::Tensor& x_0, double t_min, KernelType kernel,
    Parameterization parameterization, bool noised_only,
    c10::optional<at::Generator> gen) {
  if (noised_only && !DataIsNoiseFree(diffusion)) {
    return absl::InvalidArgumentError(
        "CLD_NOISE_PRED needs a process whose data variable gets no noise "
        "(D_00 = 0, as in CLD, ALDA and MALDA)");
  }
  const UniformTimeSampler sampler(t_min, diffusion.options().t_max());
  const at::Tensor t = sampler.Sample(x_0.size(0), x_0.options(), gen).t;
  const at::Tensor u_0 =
      diffusions::DiffusionImpl::JoinState(x_0, diffusion.SampleV0(x_0, gen));
  absl::StatusOr<diffusions::TransitionSample> sample =
      diffusion.SampleTransition(u_0, t, kernel, gen);
  if (!sample.ok()) return sample.status();
  const at::Tensor eps_hat =
      NoiseFromOutput(network(sample->u_t, t.to(x_0.dtype())), sample->kernel,
                      parameterization);
  at::Tensor error = (eps_hat - sample->eps).pow(2);
  if (noised_only) {
    // Variables k with D_kk > 0: a [K] mask broadcast over the data.
    at::Tensor mask = diffusion.BinnedD()
                          .diagonal(0, -2, -1)
                          .detach()
                          .gt(0)
                          .any(0)
                          .to(error.dtype());
    for (int64_t i = 2; i < error.dim(); ++i) mask = mask.unsqueeze(-1);
    error = error * mask;
  }
  return error.flatten(1).sum(1);
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
      elbo_options.create_graph = true;
      absl::StatusOr<ElboTerms> terms =
          type == LossType::kDsmElbo
              ? DsmElbo(diffusion, network, x_0, elbo_options, gen)
              : IsmElbo(diffusion, network, x_0, elbo_options, gen);
      if (!terms.ok()) return terms.status();
      per_example = -terms->elbo_with_offset;
      break;
    }
    case LossType::kNoisePred:
    case LossType::kCldNoisePred:
      per_example = NoisePredictionLoss(
          diffusion, network, x_0, options.t_min, options.kernel,
          options.parameterization, type == LossType::kCldNoisePred, gen);
      break;
  }
  if (!per_example.ok()) return per_example.status();
  return per_example->mean();
}

LossType TrainLossForEpoch(const ObjectiveConfig& config, int epoch,
                           bool data_noise_free) {
  switch (config.train_loss_type()) {
    case ObjectiveConfig::ISM_ELBO:
      return LossType::kIsmElbo;
    case ObjectiveConfig::NOISE_PRED_LOSS:
      return LossType::kNoisePred;
    case ObjectiveConfig::CLD_NOISE_PRED:
      return LossType::kCldNoisePred;
    case ObjectiveConfig::NOISE_PRED_TO_ELBO:
      if (epoch >= config.switch_epoch()) return LossType::kDsmElbo;
      return data_noise_free ? LossType::kCldNoisePred : LossType::kNoisePred;
    default:
      return LossType::kDsmElbo;
  }
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
  options.original_integral_factor = objective.original_integral_factor();
  return options;
}

ElboOptions EvalElboOptions(const proto::Experiment& experiment) {
  ElboOptions options = TrainElboOptions(
      experiment.objective(), experiment.diffusion(), experiment.score_model());
  options.t_min = experiment.eval().t_min_eval();
  options.importance_sampling = true;
  options.mc_samples = experiment.eval().elbo_mc_samples_eval();
  options.with_offset = experiment.eval().elbo_offset_eval();
  return options;
}

}  // namespace mdm::objectives
